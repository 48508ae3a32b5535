// Thesis §6.2: check-quorum. A leader that has not heard from a quorum for an election timeout
// steps down; a follower that heard from a leader within the minimum election timeout ignores
// vote requests (thesis §4.2.3), so a disruptive node cannot depose a healthy leader.
#include <gtest/gtest.h>

#include "support/cluster.h"

namespace skiff::test {
namespace {

// Thesis §6.2: the leader checks its quorum once per election timeout (10 ticks here), counting
// the followers it heard from since the previous check. Cut off right at a check, it leads
// through the next 9 ticks and steps down on the 10th.
TEST(Thesis_6_2, LeaderStepsDownAfterAnElectionTimeoutWithoutQuorum) {
  Cluster c;
  c.elect(1);
  c.run_ticks(9);  // followers answer every heartbeat
  c.tick(1);       // tick 10: the check passes (2 and 3 answered) and heartbeats leave...
  c.isolate(1);    // ...but are lost: from now on the leader hears from nobody
  c.stabilize();
  ASSERT_EQ(c.node(1).role(), Role::kLeader);

  for (int k = 1; k <= 9; ++k) {
    c.tick(1);
    c.stabilize();
    ASSERT_EQ(c.node(1).role(), Role::kLeader) << "after " << k << " ticks";
  }
  c.tick(1);
  EXPECT_EQ(c.node(1).role(), Role::kFollower);
  EXPECT_EQ(c.node(1).leader(), kNoNode);
  EXPECT_EQ(c.node(1).term(), Term{1});  // stepping down does not change the term
}

// The control experiment: a leader that keeps hearing from one follower (a quorum of three
// with itself) stays leader however long it runs.
TEST(Thesis_6_2, LeaderWithAQuorumStaysLeader) {
  Cluster c;
  c.elect(1);
  c.isolate(3);
  c.run_ticks(100);
  EXPECT_EQ(c.node(1).role(), Role::kLeader);
  EXPECT_EQ(c.node(1).term(), Term{1});
}

// Thesis §6.2 without check-quorum: the isolated leader never notices.
TEST(Thesis_6_2, WithoutCheckQuorumAnIsolatedLeaderStaysLeader) {
  Cluster c({.check_quorum = false});
  c.elect(1);
  c.isolate(1);
  c.run_ticks(100);
  EXPECT_EQ(c.node(1).role(), Role::kLeader);
}

// Thesis §4.2.3 / §6.2: followers in their lease ignore a vote request for a higher term: no
// answer, no term change, no vote.
TEST(Thesis_6_2, FollowersInLeaseIgnoreVoteRequests) {
  Cluster c({.pre_vote = false});  // node 3 goes straight to a real vote
  c.elect(1);
  c.run_ticks(3);  // followers heard from the leader within the last tick

  ASSERT_TRUE(c.campaign(3).ok());
  ASSERT_EQ(c.node(3).term(), Term{2});
  c.process_readies();
  ASSERT_EQ(c.deliver_matching(msg_is(MessageType::kVote, 3, 2)), 1u);
  ASSERT_EQ(c.deliver_matching(msg_is(MessageType::kVote, 3, 1)), 1u);
  c.process_readies();

  EXPECT_EQ(c.count_in_flight(msg_is(MessageType::kVoteResponse)), 0u);
  EXPECT_EQ(c.node(2).term(), Term{1});
  EXPECT_EQ(c.node(2).leader(), NodeId{1});
  EXPECT_EQ(c.storage(2).hard_state().vote, NodeId{1});
  EXPECT_EQ(c.node(1).role(), Role::kLeader);
  EXPECT_EQ(c.node(1).term(), Term{1});
}

// Thesis §6.2: the lease ends a minimum election timeout (10 ticks) after the leader was
// last heard from; then the same kind of request is answered.
TEST(Thesis_6_2, LeaseEndsAnElectionTimeoutAfterTheLeaderWasLastHeard) {
  Cluster c({.pre_vote = false});
  c.elect(1);
  c.crash(1);
  c.tick(2, 9);
  ASSERT_EQ(c.node(2).role(), Role::kFollower);

  // Node 3 campaigns in term 2: node 2, nine ticks after the leader's last word, ignores it.
  ASSERT_TRUE(c.campaign(3).ok());
  c.process_readies();
  ASSERT_EQ(c.deliver_matching(msg_is(MessageType::kVote, 3, 2)), 1u);
  c.process_readies();
  EXPECT_EQ(c.count_in_flight(msg_is(MessageType::kVoteResponse, 2, 3)), 0u);
  EXPECT_EQ(c.node(2).term(), Term{1});

  // One more tick ends the lease (node 2's own timeout, drawn from [10, 20), is later here).
  c.tick(2);
  ASSERT_EQ(c.node(2).role(), Role::kFollower);
  ASSERT_TRUE(c.campaign(3).ok());  // term 3
  c.stabilize();
  EXPECT_EQ(c.node(3).role(), Role::kLeader);
  EXPECT_EQ(c.node(3).term(), Term{3});
  EXPECT_EQ(c.storage(2).hard_state().vote, NodeId{3});
}

}  // namespace
}  // namespace skiff::test
