#include "core/quorum.h"

#include <gtest/gtest.h>

#include <limits>
#include <map>

namespace skiff::detail {
namespace {

MajorityConfig voters(std::initializer_list<std::uint64_t> ids) {
  std::set<NodeId> set;
  for (std::uint64_t id : ids) {
    set.insert(NodeId{id});
  }
  return MajorityConfig(std::move(set));
}

// committed_index over `acks` (voter -> acknowledged index); voters not listed have no progress.
Index committed(const MajorityConfig& c, const std::map<std::uint64_t, std::uint64_t>& acks) {
  return c.committed_index([&](NodeId id) -> std::optional<Index> {
    auto it = acks.find(id.value);
    if (it == acks.end()) {
      return std::nullopt;
    }
    return Index{it->second};
  });
}

// vote_result over `votes` (voter -> granted); voters not listed have not answered.
VoteResult result(const MajorityConfig& c, const std::map<std::uint64_t, bool>& votes) {
  return c.vote_result([&](NodeId id) -> std::optional<bool> {
    auto it = votes.find(id.value);
    if (it == votes.end()) {
      return std::nullopt;
    }
    return it->second;
  });
}

TEST(MajorityConfig, QuorumSizes) {
  EXPECT_EQ(voters({1}).quorum(), 1U);
  EXPECT_EQ(voters({1, 2}).quorum(), 2U);
  EXPECT_EQ(voters({1, 2, 3}).quorum(), 2U);
  EXPECT_EQ(voters({1, 2, 3, 4}).quorum(), 3U);
  EXPECT_EQ(voters({1, 2, 3, 4, 5}).quorum(), 3U);
}

TEST(MajorityConfig, CommittedIndexOneVoter) {
  EXPECT_EQ(committed(voters({1}), {{1, 7}}), Index{7});
  EXPECT_EQ(committed(voters({1}), {}), Index{0});
}

TEST(MajorityConfig, CommittedIndexTwoVotersNeedsBoth) {
  EXPECT_EQ(committed(voters({1, 2}), {{1, 7}, {2, 5}}), Index{5});
  EXPECT_EQ(committed(voters({1, 2}), {{1, 7}}), Index{0});
}

TEST(MajorityConfig, CommittedIndexThreeVoters) {
  const MajorityConfig c = voters({1, 2, 3});
  EXPECT_EQ(committed(c, {{1, 9}, {2, 5}, {3, 2}}), Index{5});
  EXPECT_EQ(committed(c, {{1, 9}, {2, 9}, {3, 2}}), Index{9});
  // A voter without progress counts as having acknowledged nothing.
  EXPECT_EQ(committed(c, {{1, 9}, {3, 4}}), Index{4});
  EXPECT_EQ(committed(c, {{1, 9}}), Index{0});
}

TEST(MajorityConfig, CommittedIndexFourVotersNeedsThree) {
  const MajorityConfig c = voters({1, 2, 3, 4});
  EXPECT_EQ(committed(c, {{1, 8}, {2, 6}, {3, 4}, {4, 2}}), Index{4});
  EXPECT_EQ(committed(c, {{1, 8}, {2, 8}, {3, 1}, {4, 1}}), Index{1});
  EXPECT_EQ(committed(c, {{1, 8}, {2, 8}}), Index{0});
}

TEST(MajorityConfig, CommittedIndexFiveVoters) {
  const MajorityConfig c = voters({1, 2, 3, 4, 5});
  EXPECT_EQ(committed(c, {{1, 10}, {2, 9}, {3, 8}, {4, 7}, {5, 6}}), Index{8});
  EXPECT_EQ(committed(c, {{1, 10}, {2, 10}, {3, 3}}), Index{3});
  EXPECT_EQ(committed(c, {{1, 10}, {5, 10}}), Index{0});
}

TEST(MajorityConfig, CommittedIndexAsksOnlyAboutVoters) {
  const MajorityConfig c = voters({2, 4, 6});
  // Node 1 and 3 are not voters: their acknowledgements do not count.
  EXPECT_EQ(committed(c, {{1, 9}, {2, 9}, {3, 9}, {4, 1}}), Index{1});
}

TEST(MajorityConfig, EmptyConfigCommitsEverything) {
  // The neutral element of joint quorums (thesis §4.3).
  EXPECT_EQ(committed(MajorityConfig(), {}), Index{std::numeric_limits<std::uint64_t>::max()});
  EXPECT_EQ(result(MajorityConfig(), {}), VoteResult::kWon);
}

TEST(MajorityConfig, VoteResultOneVoter) {
  EXPECT_EQ(result(voters({1}), {{1, true}}), VoteResult::kWon);
  EXPECT_EQ(result(voters({1}), {{1, false}}), VoteResult::kLost);
  EXPECT_EQ(result(voters({1}), {}), VoteResult::kPending);
}

TEST(MajorityConfig, VoteResultThreeVoters) {
  const MajorityConfig c = voters({1, 2, 3});
  EXPECT_EQ(result(c, {{1, true}, {2, true}}), VoteResult::kWon);
  EXPECT_EQ(result(c, {{1, true}, {2, false}}), VoteResult::kPending);
  EXPECT_EQ(result(c, {{1, true}, {2, false}, {3, false}}), VoteResult::kLost);
  EXPECT_EQ(result(c, {{2, false}, {3, false}}), VoteResult::kLost);
  EXPECT_EQ(result(c, {{1, true}}), VoteResult::kPending);
}

TEST(MajorityConfig, VoteResultFourVotersTieIsLost) {
  const MajorityConfig c = voters({1, 2, 3, 4});
  EXPECT_EQ(result(c, {{1, true}, {2, true}, {3, false}, {4, false}}), VoteResult::kLost);
  EXPECT_EQ(result(c, {{1, true}, {2, true}, {3, false}}), VoteResult::kPending);
  EXPECT_EQ(result(c, {{1, true}, {2, true}, {4, true}}), VoteResult::kWon);
}

TEST(MajorityConfig, VoteResultFiveVoters) {
  const MajorityConfig c = voters({1, 2, 3, 4, 5});
  EXPECT_EQ(result(c, {{1, true}, {2, true}, {3, true}}), VoteResult::kWon);
  EXPECT_EQ(result(c, {{1, true}, {2, true}, {3, false}, {4, false}}), VoteResult::kPending);
  EXPECT_EQ(result(c, {{1, true}, {3, false}, {4, false}, {5, false}}), VoteResult::kLost);
}

TEST(MajorityConfig, VoteResultIgnoresNonVoters) {
  const MajorityConfig c = voters({1, 2, 3});
  EXPECT_EQ(result(c, {{1, true}, {7, true}, {8, true}}), VoteResult::kPending);
}

TEST(MajorityConfig, Describe) {
  EXPECT_EQ(voters({3, 1, 2}).describe(), "[1 2 3]");
  EXPECT_EQ(MajorityConfig().describe(), "[]");
}

}  // namespace
}  // namespace skiff::detail
