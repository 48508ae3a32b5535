// Thesis §9.6: pre-vote. A node first asks whether it could win before it raises its term, so
// a node that cannot reach a majority does not inflate its term and depose a healthy leader.
#include <gtest/gtest.h>

#include "support/cluster.h"

namespace skiff::test {
namespace {

// Thesis §9.6: a partitioned node keeps timing out, but its pre-votes go unanswered, so its
// term stays where it was.
TEST(Thesis_9_6, PartitionedNodeDoesNotRaiseItsTerm) {
  Cluster c;  // pre-vote and check-quorum on
  c.elect(1);
  c.isolate(3);
  c.run_ticks(100);  // five to ten election timeouts

  EXPECT_EQ(c.node(3).term(), Term{1});
  EXPECT_EQ(c.node(3).counters().elections_started, 0u);
  EXPECT_NE(c.node(3).role(), Role::kLeader);
  EXPECT_EQ(c.node(3).role(), Role::kPreCandidate);  // it did try
}

// The control experiment: without pre-vote, the same partition inflates the term.
TEST(Thesis_9_6, WithoutPreVoteThePartitionedNodeRaisesItsTerm) {
  Cluster c({.pre_vote = false});
  c.elect(1);
  c.isolate(3);
  c.run_ticks(100);
  EXPECT_GT(c.node(3).term(), Term{3});
  EXPECT_GT(c.node(3).counters().elections_started, 2u);
}

// Thesis §9.6: when the partition heals, the node rejoins without disrupting: the leader and
// the term stay, and the node catches up on what it missed.
TEST(Thesis_9_6, RejoiningNodeDoesNotDisruptTheLeader) {
  Cluster c;
  c.elect(1);
  c.isolate(3);
  ASSERT_TRUE(c.propose(1, "x").ok());
  c.run_ticks(100);
  ASSERT_EQ(c.node(1).role(), Role::kLeader);

  c.heal();
  c.run_ticks(50);
  for (std::uint64_t id : c.ids()) {
    EXPECT_EQ(c.node(id).term(), Term{1}) << "node " << id;
    EXPECT_EQ(c.node(id).leader(), NodeId{1}) << "node " << id;
  }
  EXPECT_EQ(c.node(1).counters().leader_elected, 1u);
  EXPECT_EQ(c.applied(3), std::vector<std::string>{"x"});
}

// Thesis §9.6: a pre-vote changes nothing on the voter: granting one neither raises its term
// nor records a vote, so the voter can still vote for whoever really campaigns.
TEST(Thesis_9_6, GrantingAPreVoteChangesNothing) {
  Cluster c;
  ASSERT_TRUE(c.campaign(1).ok());
  ASSERT_EQ(c.node(1).role(), Role::kPreCandidate);
  ASSERT_EQ(c.node(1).term(), Term{0});
  c.process_readies();
  ASSERT_EQ(c.deliver_matching(msg_is(MessageType::kPreVote, 1, 2)), 1u);
  c.process_readies();
  auto answers = c.take_matching(msg_is(MessageType::kPreVoteResponse, 2, 1));
  ASSERT_EQ(answers.size(), 1u);
  EXPECT_FALSE(answers[0].reject);
  EXPECT_EQ(answers[0].term, Term{1});  // the term node 1 would campaign in
  EXPECT_EQ(c.node(2).term(), Term{0});
  EXPECT_EQ(c.storage(2).hard_state(), HardState{});
}

}  // namespace
}  // namespace skiff::test
