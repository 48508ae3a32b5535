// PITFALLS #12: "nodes outside the new configuration still campaign until it commits".
// Found by a randomized probe over the scenario cluster and by the simulator; fixed in
// Raft::promotable() (a voter removed by an uncommitted configuration still campaigns).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "support/cluster.h"

namespace skiff::test {
namespace {

// Voters {1,2}. Leader 1 removes itself while cut off from node 2: C(new) = {2} is in node 1's
// log only. Check-quorum makes node 1 step down. Healed, node 2 needs node 1's vote (it still
// uses {1,2}) and node 1 refuses it (node 1's log is longer), while node 1, outside its own
// latest configuration, never campaigns. Both nodes are up and connected; a leader must
// emerge and the removal commit.
TEST(MembershipLiveness, Pitfall12_RemovedLeaderWithTheOnlyCopyOfItsRemovalStillCampaigns) {
  Cluster c({.size = 2});
  c.elect(1);
  c.cut(1, 2);
  auto p = c.propose_conf_change(1, conf_change({remove_node(1)}));
  ASSERT_TRUE(p.ok()) << p.status().to_string();
  c.stabilize();
  ASSERT_GE(c.run_until([&] { return c.node(1).role() != Role::kLeader; }, 50), 0);
  ASSERT_EQ(c.node(1).status().config, members({2}));
  ASSERT_EQ(c.node(2).status().config, members({1, 2}));

  c.heal();
  ASSERT_GE(c.run_until([&] { return c.leader().has_value(); }, 200), 0)
      << "no leader with every node up and connected\n"
      << c.tail(10);
  ASSERT_GE(c.run_until(
                [&] {
                  return c.node(2).status().config == members({2}) &&
                         c.node(2).status().config_committed && c.node(2).role() == Role::kLeader;
                },
                200),
            0)
      << c.tail(10);
  ASSERT_TRUE(c.propose(2, "x").ok());
  c.stabilize();
  EXPECT_EQ(c.applied(2), std::vector<std::string>{"x"});
}

// The 3-voter form found by the probe: committed voters {2,3}; leader 3 removes itself
// (C(new) = {2}) and loses node 2 before node 2 hears of it.
TEST(MembershipLiveness, Pitfall12_ThreeNodeForm) {
  Cluster c;
  c.elect(3);
  ASSERT_TRUE(c.propose_conf_change(3, conf_change({remove_node(1)})).ok());
  c.stabilize();
  ASSERT_EQ(c.node(3).status().config, members({2, 3}));
  c.cut(3, 2);
  ASSERT_TRUE(c.propose_conf_change(3, conf_change({remove_node(3)})).ok());
  c.stabilize();
  ASSERT_GE(c.run_until([&] { return c.node(3).role() != Role::kLeader; }, 50), 0);
  c.heal();
  ASSERT_GE(c.run_until(
                [&] {
                  auto l = c.leader();
                  return l && *l == 2 && c.node(2).status().config == members({2}) &&
                         c.node(2).status().config_committed;
                },
                300),
            0)
      << c.tail(10);
}

}  // namespace
}  // namespace skiff::test
