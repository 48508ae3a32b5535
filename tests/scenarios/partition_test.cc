// A leader partitioned away: it steps down (check-quorum, thesis §6.2), the majority moves on,
// and when it comes back it does not disturb anyone (pre-vote, thesis §9.6).
#include <gtest/gtest.h>

#include "support/cluster.h"

namespace skiff::test {
namespace {

TEST(Partition, OldLeaderStepsDownAndRejoinsWithoutDisruption) {
  Cluster c({.size = 5});
  c.elect(1);
  ASSERT_TRUE(c.propose(1, "a").ok());
  c.stabilize();

  // The leader and one follower are cut off from the other three.
  c.partition({{1, 2}, {3, 4, 5}});
  auto lost = c.propose(1, "lost");  // accepted by the old leader, never committed
  ASSERT_TRUE(lost.ok());

  // The old leader notices it has no quorum at its second quorum check at the latest (the
  // first may still count answers from before the cut): within two election timeouts.
  const int step_down = c.run_until([&] { return c.node(1).role() != Role::kLeader; }, 100);
  ASSERT_GE(step_down, 0);
  EXPECT_LE(step_down, 20);
  // The majority elects a leader of its own within a few election timeouts.
  const int elected = c.run_until(
      [&] {
        auto l = c.leader();
        return l.has_value() && *l >= 3;
      },
      100);
  ASSERT_GE(elected, 0) << c.tail();
  EXPECT_LE(step_down + elected, 80);
  const std::uint64_t leader = *c.leader();
  const Term term = c.node(leader).term();
  EXPECT_EQ(term, Term{2});
  ASSERT_TRUE(c.propose(leader, "b").ok());
  c.stabilize();

  // On the minority side, time passes: nodes 1 and 2 cannot win, so with pre-vote they never
  // raise their term.
  c.run_ticks(100);
  EXPECT_EQ(c.node(1).term(), Term{1});
  EXPECT_EQ(c.node(2).term(), Term{1});
  EXPECT_EQ(c.node(1).counters().elections_started, 1u);  // only the one it won in term 1
  EXPECT_EQ(c.node(2).counters().elections_started, 0u);

  // Healed: the cluster's term and leader do not change, and the minority catches up. The
  // old leader's uncommitted entry is overwritten, never applied.
  c.heal();
  c.run_ticks(50);
  for (std::uint64_t id : c.ids()) {
    EXPECT_EQ(c.node(id).term(), term) << "node " << id;
    EXPECT_EQ(c.node(id).leader(), NodeId{leader}) << "node " << id;
    EXPECT_EQ(c.applied(id), (std::vector<std::string>{"a", "b"})) << "node " << id;
    EXPECT_EQ(c.stored_log(id), c.stored_log(leader)) << "node " << id;
  }
  EXPECT_EQ(c.node(leader).counters().leader_elected, 1u);
  EXPECT_NE(c.committed().at(lost->id.index).term, lost->id.term);
}

}  // namespace
}  // namespace skiff::test
