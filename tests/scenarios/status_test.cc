// RawNode::status() (include/skiff/status.h): what an operator sees. On the leader: every
// member's progress (itself and learners included, learners flagged), the configuration and
// whether it is committed, the transfer target and pending reads; on a follower, no progress.
#include <gtest/gtest.h>

#include <vector>

#include "support/cluster.h"

namespace skiff::test {
namespace {

std::vector<NodeId> keys(const NodeStatus& st) {
  std::vector<NodeId> out;
  for (const auto& [id, pr] : st.progress) {
    out.push_back(id);
  }
  return out;
}

TEST(Status, LeaderListsEveryMembersProgress) {
  Cluster c;
  c.add_node(4);
  c.elect(1);
  auto learner = c.propose_conf_change(1, conf_change({add_learner(4)}));
  ASSERT_TRUE(learner.ok());
  c.stabilize();

  NodeStatus st = c.node(1).status();
  EXPECT_EQ(st.id, NodeId{1});
  EXPECT_EQ(st.role, Role::kLeader);
  EXPECT_EQ(st.leader, NodeId{1});
  EXPECT_EQ(st.commit, st.last_index);
  EXPECT_EQ(st.applied, st.last_index);
  EXPECT_EQ(st.config, members({1, 2, 3}, {4}));
  EXPECT_EQ(st.config_index, learner->id.index);
  EXPECT_TRUE(st.config_committed);
  EXPECT_EQ(st.transfer_target, kNoNode);
  EXPECT_EQ(st.pending_reads, 0u);
  ASSERT_EQ(keys(st), (std::vector<NodeId>{NodeId{1}, NodeId{2}, NodeId{3}, NodeId{4}}));
  for (const auto& [id, pr] : st.progress) {
    EXPECT_EQ(pr.match, st.last_index) << "node " << id.value;
    EXPECT_EQ(pr.next, st.last_index + 1) << "node " << id.value;
    EXPECT_EQ(pr.state, ReplicationState::kReplicate) << "node " << id.value;
    EXPECT_EQ(pr.inflight, 0u) << "node " << id.value;
    EXPECT_EQ(pr.learner, id == NodeId{4}) << "node " << id.value;
  }

  // Node 3 misses x: its match stays behind with one Append unacknowledged.
  c.cut(1, 3);
  auto x = c.propose(1, "x");
  ASSERT_TRUE(x.ok());
  c.stabilize();
  st = c.node(1).status();
  EXPECT_EQ(st.progress.at(NodeId{2}).match, x->id.index);
  EXPECT_EQ(st.progress.at(NodeId{3}).match, x->id.index - 1);
  EXPECT_EQ(st.progress.at(NodeId{3}).next, x->id.index + 1);
  EXPECT_EQ(st.progress.at(NodeId{3}).inflight, 1u);
  c.heal();
  c.run_ticks(1);

  // A pending read, then a pending configuration (in effect, not committed).
  c.isolate(1);
  ASSERT_TRUE(c.read_index(1, "r").ok());
  auto promote = c.propose_conf_change(1, conf_change({add_voter(4)}));
  ASSERT_TRUE(promote.ok());
  c.stabilize();
  st = c.node(1).status();
  EXPECT_EQ(st.pending_reads, 1u);
  EXPECT_EQ(st.config, members({1, 2, 3, 4}));
  EXPECT_EQ(st.config_index, promote->id.index);
  EXPECT_FALSE(st.config_committed);
  EXPECT_FALSE(st.progress.at(NodeId{4}).learner);
  c.heal();
  c.run_ticks(1);
  st = c.node(1).status();
  EXPECT_TRUE(st.config_committed);
  EXPECT_EQ(st.pending_reads, 0u);

  // A transfer in progress names its target; node 3 is cut off so it stays in progress.
  c.isolate(3);
  ASSERT_TRUE(c.transfer_leadership(1, 3).ok());
  EXPECT_EQ(c.node(1).status().transfer_target, NodeId{3});
  c.heal();
  c.stabilize();
  c.run_ticks(1);
  EXPECT_EQ(c.node(3).role(), Role::kLeader);
  EXPECT_EQ(c.node(3).status().transfer_target, kNoNode);

  // A follower knows its leader and reports no progress.
  const NodeStatus f = c.node(1).status();
  EXPECT_EQ(f.role, Role::kFollower);
  EXPECT_EQ(f.leader, NodeId{3});
  EXPECT_TRUE(f.progress.empty());
  EXPECT_EQ(f.transfer_target, kNoNode);
  EXPECT_EQ(f.config, members({1, 2, 3, 4}));
}

}  // namespace
}  // namespace skiff::test
