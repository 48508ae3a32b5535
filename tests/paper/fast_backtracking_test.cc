// Raft §5.3's optimisation ("the follower can include the term of the conflicting entry and the
// first index it stores for that term"), in etcd-io/raft's form: a rejection carries a hint
// (index, term) of where the follower's log might match, and the leader skips every entry that
// cannot match in one step. Without it, repairing a long divergent tail costs one round trip
// per entry.
#include <gtest/gtest.h>

#include <utility>
#include <vector>

#include "support/cluster.h"

namespace skiff::test {
namespace {

// `n` copies of `term`, appended to `v`.
std::vector<std::uint64_t> with(std::vector<std::uint64_t> v, std::size_t n, std::uint64_t term) {
  v.insert(v.end(), n, term);
  return v;
}

// What it took node 1 to repair `follower` after winning an election.
struct RoundTrips {
  int appends = 0;                            // Appends sent to the follower
  int rejections = 0;                         // rejections it sent back
  std::vector<std::pair<Index, Term>> prevs;  // (prev index, prev term) of each Append
};

RoundTrips repair(Cluster& c, std::uint64_t follower) {
  RoundTrips trips;
  c.set_send_observer([&](const Message& m) {
    if (m.type == MessageType::kAppend && m.from == NodeId{1} && m.to == NodeId{follower}) {
      ++trips.appends;
      trips.prevs.emplace_back(m.index, m.log_term);
    }
    if (m.type == MessageType::kAppendResponse && m.from == NodeId{follower} && m.reject) {
      ++trips.rejections;
    }
  });
  c.elect(1);
  c.stabilize();
  c.set_send_observer(nullptr);
  return trips;
}

// A follower with a 50-entry tail of term 2 the leader never had; the leader has 20 entries of
// term 3 after the common prefix. One rejection tells the leader that the follower has nothing
// above term 2 at or below index 21, and the leader jumps straight to index 1, the last entry
// of its own with a term not above 2. The second Append repairs the follower.
TEST(FastBacktracking, ConflictingTailIsSkippedInOneRoundTrip) {
  Cluster c;
  const auto leader_log = with({1}, 20, 3);
  c.load_log(1, leader_log);
  c.load_log(2, leader_log);
  c.load_log(3, with({1}, 50, 2));

  const RoundTrips trips = repair(c, 3);

  EXPECT_EQ(trips.rejections, 1);
  // The rejected probe and the repairing Append (node 2 answered first, so that one already
  // carries the new commit index). Decrementing one entry per rejection would take 21.
  EXPECT_EQ(trips.appends, 2) << c.tail();
  EXPECT_EQ(c.log_terms(3), with(leader_log, 1, 4));  // plus the leader's term-4 no-op
  EXPECT_EQ(c.stored_log(3), c.stored_log(1));
}

// A follower far behind: the hint is its last index, and the leader resumes right there.
TEST(FastBacktracking, LaggingFollowerIsFoundInOneRoundTrip) {
  Cluster c;
  const auto leader_log = with({}, 30, 1);
  c.load_log(1, leader_log);
  c.load_log(2, leader_log);
  c.load_log(3, {1, 1});

  const RoundTrips trips = repair(c, 3);

  EXPECT_EQ(trips.rejections, 1);
  EXPECT_EQ(trips.appends, 2) << c.tail();
  ASSERT_EQ(trips.prevs.size(), 2u);
  EXPECT_EQ(trips.prevs[1], std::make_pair(Index{2}, Term{1}));  // right after its last entry
  EXPECT_EQ(c.stored_log(3), c.stored_log(1));
}

// Several conflicting terms on each side: the hint exchange skips a whole term per round trip
// at worst. Leader: 1, then terms 3, 5, 7 (five entries each). Follower: 1, then terms 2, 4, 6
// (ten entries each). The first probe (prev 16/7) is refused with hint 16/4 (the follower's
// entry at 16 has a term not above 7); the leader's last entry with a term not above 4 is 6/3,
// which the follower refuses with hint 6/2; the leader's last entry with a term not above 2 is
// 1/1, which matches.
TEST(FastBacktracking, EachRoundTripSkipsAtLeastAWholeTerm) {
  Cluster c;
  const auto leader_log = with(with(with({1}, 5, 3), 5, 5), 5, 7);
  c.load_log(1, leader_log);
  c.load_log(2, leader_log);
  c.load_log(3, with(with(with({1}, 10, 2), 10, 4), 10, 6));

  const RoundTrips trips = repair(c, 3);

  EXPECT_EQ(trips.rejections, 2);
  ASSERT_GE(trips.prevs.size(), 3u);
  EXPECT_EQ(trips.prevs[0], std::make_pair(Index{16}, Term{7}));
  EXPECT_EQ(trips.prevs[1], std::make_pair(Index{6}, Term{3}));
  EXPECT_EQ(trips.prevs[2], std::make_pair(Index{1}, Term{1}));
  EXPECT_EQ(c.stored_log(3), c.stored_log(1));
}

}  // namespace
}  // namespace skiff::test
