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

// --- Joint consensus (thesis §4.3): C(old,new) needs a majority of each half ---

// committed_index and vote_result over a JointConfig, with the same conventions as above.
Index committed(const JointConfig& c, const std::map<std::uint64_t, std::uint64_t>& acks) {
  return c.committed_index([&](NodeId id) -> std::optional<Index> {
    auto it = acks.find(id.value);
    if (it == acks.end()) {
      return std::nullopt;
    }
    return Index{it->second};
  });
}

VoteResult result(const JointConfig& c, const std::map<std::uint64_t, bool>& votes) {
  return c.vote_result([&](NodeId id) -> std::optional<bool> {
    auto it = votes.find(id.value);
    if (it == votes.end()) {
      return std::nullopt;
    }
    return it->second;
  });
}

// Replacing voter 3 by voter 4: C(new) = {1 2 4}, C(old) = {1 2 3}.
JointConfig replacing_3_by_4() {
  return JointConfig(voters({1, 2, 4}), voters({1, 2, 3}));
}

TEST(JointConfig, WithoutOutgoingItIsTheIncomingMajority) {
  const JointConfig c(voters({1, 2, 3}), MajorityConfig());
  EXPECT_FALSE(c.joint());
  EXPECT_EQ(committed(c, {{1, 9}, {2, 5}, {3, 2}}), Index{5});
  EXPECT_EQ(committed(c, {{1, 9}}), Index{0});
  EXPECT_EQ(result(c, {{1, true}, {2, true}}), VoteResult::kWon);
  EXPECT_EQ(result(c, {{1, true}, {2, false}}), VoteResult::kPending);
  EXPECT_EQ(result(c, {{2, false}, {3, false}}), VoteResult::kLost);
  EXPECT_EQ(c.describe(), "[1 2 3]");
}

TEST(JointConfig, CommittedIndexIsTheSmallerOfTheTwoHalves) {
  const JointConfig c = replacing_3_by_4();
  EXPECT_TRUE(c.joint());
  // Nodes 1 and 2 are in both halves and form a majority of each.
  EXPECT_EQ(committed(c, {{1, 9}, {2, 9}, {3, 1}, {4, 2}}), Index{9});
  // Node 2 lags: new half {1 4} at 7, old half {1 3} at 3 -> 3.
  EXPECT_EQ(committed(c, {{1, 9}, {2, 1}, {3, 3}, {4, 7}}), Index{3});
  // Same numbers with the roles of 3 and 4 swapped: the new half is now the slow one.
  EXPECT_EQ(committed(c, {{1, 9}, {2, 1}, {3, 7}, {4, 3}}), Index{3});
}

TEST(JointConfig, AMajorityOfOneHalfAloneCommitsNothing) {
  const JointConfig c = replacing_3_by_4();
  // {1 4} is a majority of C(new) but only one voter of C(old).
  EXPECT_EQ(committed(c, {{1, 8}, {4, 8}}), Index{0});
  // {1 3} is a majority of C(old) but only one voter of C(new).
  EXPECT_EQ(committed(c, {{1, 8}, {3, 8}}), Index{0});
  EXPECT_EQ(committed(c, {{1, 8}, {3, 8}, {4, 8}}), Index{8});
}

TEST(JointConfig, DisjointHalves) {
  const JointConfig c(voters({4, 5, 6}), voters({1, 2, 3}));
  EXPECT_EQ(committed(c, {{1, 5}, {2, 5}, {3, 5}}), Index{0});
  EXPECT_EQ(committed(c, {{1, 5}, {2, 5}, {4, 6}, {5, 4}}), Index{4});
}

TEST(JointConfig, VoteResultNeedsBothHalvesToWin) {
  const JointConfig c = replacing_3_by_4();
  EXPECT_EQ(result(c, {{1, true}, {2, true}}), VoteResult::kWon);  // 2 is in both
  EXPECT_EQ(result(c, {{1, true}, {4, true}}), VoteResult::kPending);
  EXPECT_EQ(result(c, {{1, true}, {3, true}}), VoteResult::kPending);
  EXPECT_EQ(result(c, {{1, true}, {3, true}, {4, true}}), VoteResult::kWon);
}

TEST(JointConfig, VoteResultIsLostWhenEitherHalfIsLost) {
  const JointConfig c = replacing_3_by_4();
  // C(new) won ({1 4}) but C(old) lost ({2 3} rejected).
  EXPECT_EQ(result(c, {{1, true}, {4, true}, {2, false}, {3, false}}), VoteResult::kLost);
  // C(old) won ({1 3}) but C(new) lost ({2 4} rejected).
  EXPECT_EQ(result(c, {{1, true}, {3, true}, {2, false}, {4, false}}), VoteResult::kLost);
  // One half lost, the other still pending.
  EXPECT_EQ(result(c, {{2, false}, {4, false}}), VoteResult::kLost);
  EXPECT_EQ(result(c, {}), VoteResult::kPending);
}

TEST(JointConfig, IdsContainsAndDescribeCoverBothHalves) {
  const JointConfig c = replacing_3_by_4();
  EXPECT_EQ(c.ids(), (std::set<NodeId>{NodeId{1}, NodeId{2}, NodeId{3}, NodeId{4}}));
  EXPECT_TRUE(c.contains(NodeId{3}));  // outgoing only
  EXPECT_TRUE(c.contains(NodeId{4}));  // incoming only
  EXPECT_FALSE(c.contains(NodeId{5}));
  EXPECT_EQ(c.describe(), "[1 2 4]&&[1 2 3]");
}

}  // namespace
}  // namespace skiff::detail
