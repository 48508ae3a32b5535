// Raft §5.1: terms act as a logical clock. A node that sees a higher term adopts it and, if it
// was leader or candidate, reverts to follower; a message from a stale term is not acted upon.
#include <gtest/gtest.h>

#include "support/cluster.h"

namespace skiff::test {
namespace {

// Raft §5.1: "If a candidate or leader discovers that its term is out of date, it immediately
// reverts to follower state."
TEST(Paper_5_1, LeaderStepsDownOnHigherTerm) {
  Cluster c(plain_raft());
  c.elect(1);
  ASSERT_EQ(c.node(1).term(), Term{1});

  // Node 2 campaigns for term 2; only its vote request reaches the leader.
  ASSERT_TRUE(c.campaign(2).ok());
  c.process_readies();
  ASSERT_EQ(c.deliver_matching(msg_is(MessageType::kVote, 2, 1)), 1u);

  // The request alone is enough: the leader adopts term 2 and is a follower with no leader.
  EXPECT_EQ(c.node(1).role(), Role::kFollower);
  EXPECT_EQ(c.node(1).term(), Term{2});
  EXPECT_EQ(c.node(1).leader(), kNoNode);
}

// Raft §5.1: the same holds for a candidate that hears from a leader of a later term.
TEST(Paper_5_1, CandidateStepsDownOnHigherTerm) {
  Cluster c(plain_raft());
  // Node 3, cut off, campaigns in vain: a candidate of term 1.
  c.isolate(3);
  ASSERT_TRUE(c.campaign(3).ok());
  c.stabilize();
  ASSERT_EQ(c.node(3).role(), Role::kCandidate);
  ASSERT_EQ(c.node(3).term(), Term{1});
  // Meanwhile nodes 1 and 2 elect node 1 in term 1, then node 2 in term 2.
  c.elect(1);
  c.elect(2);

  // Healed, the term-2 leader's heartbeat reaches the candidate.
  c.heal();
  c.tick(2);
  c.process_readies();
  ASSERT_EQ(c.deliver_matching(msg_is(MessageType::kHeartbeat, 2, 3)), 1u);
  EXPECT_EQ(c.node(3).role(), Role::kFollower);
  EXPECT_EQ(c.node(3).term(), Term{2});
  EXPECT_EQ(c.node(3).leader(), NodeId{2});
}

// Raft §5.1 with pre-vote (thesis §9.6): a refusal carries the voter's term, so a pre-candidate
// that fell behind learns the current term from it.
TEST(Paper_5_1, PreCandidateLearnsHigherTermFromRefusal) {
  Cluster c;  // pre-vote on
  c.isolate(3);
  c.elect(1);  // term 1, without node 3
  c.heal();
  ASSERT_EQ(c.node(3).term(), Term{0});

  ASSERT_TRUE(c.campaign(3).ok());
  ASSERT_EQ(c.node(3).role(), Role::kPreCandidate);
  c.process_readies();
  ASSERT_EQ(c.deliver_matching(msg_is(MessageType::kPreVote, 3, 2)), 1u);
  c.process_readies();
  auto answers = c.take_matching(msg_is(MessageType::kPreVoteResponse, 2, 3));
  ASSERT_EQ(answers.size(), 1u);
  EXPECT_TRUE(answers[0].reject);  // node 2 follows node 1 in term 1
  EXPECT_EQ(answers[0].term, Term{1});
  c.inject(answers[0]);
  c.deliver_to(3);
  EXPECT_EQ(c.node(3).role(), Role::kFollower);
  EXPECT_EQ(c.node(3).term(), Term{1});
}

// Raft §5.1: "If a server receives a request with a stale term number, it rejects the request",
// and Figure 2 has the refusal carry the current term so the sender learns it. No state change.
TEST(Paper_5_1, StaleTermMessagesAreIgnored) {
  Cluster c(plain_raft());
  c.elect(1);  // term 1
  c.elect(2);  // term 2
  ASSERT_EQ(c.log_terms(3), (std::vector<std::uint64_t>{1, 2}));
  ASSERT_EQ(c.node(3).leader(), NodeId{2});

  // Node 1, still believing in term 1, sends an Append that would overwrite index 2...
  c.inject(append_msg(1, 3, /*term=*/1, /*prev_index=*/1, /*prev_term=*/1, {1}, /*commit=*/2));
  // ...a term-1 vote request...
  Message vote;
  vote.type = MessageType::kVote;
  vote.from = NodeId{1};
  vote.to = NodeId{3};
  vote.term = Term{1};
  vote.log_term = Term{1};
  vote.index = Index{5};
  c.inject(vote);
  // ...and a term-1 heartbeat.
  Message hb;
  hb.type = MessageType::kHeartbeat;
  hb.from = NodeId{1};
  hb.to = NodeId{3};
  hb.term = Term{1};
  c.inject(hb);
  ASSERT_EQ(c.deliver_to(3), 3u);

  // Node 3 is unmoved: same term, vote, leader and log; each request gets a refusal in term 2.
  EXPECT_EQ(c.node(3).term(), Term{2});
  EXPECT_EQ(c.node(3).leader(), NodeId{2});
  c.process_readies();
  EXPECT_EQ(c.storage(3).hard_state().vote, NodeId{2});
  EXPECT_EQ(c.log_terms(3), (std::vector<std::uint64_t>{1, 2}));
  auto answers = c.take_matching([](const Message& m) { return m.from == NodeId{3}; });
  ASSERT_EQ(answers.size(), 3u);
  for (const Message& m : answers) {
    EXPECT_EQ(m.to, NodeId{1}) << describe(m);
    EXPECT_EQ(m.term, Term{2}) << describe(m);
    EXPECT_TRUE(m.type == MessageType::kAppendResponse ||
                (m.type == MessageType::kVoteResponse && m.reject))
        << describe(m);
  }
}

// Raft §5.1 with check-quorum and pre-vote (thesis §6.2, §9.6): a stale leader cut off from
// the cluster could otherwise never learn the new term, because pre-vote keeps the others from
// sending it a higher-term vote request (etcd-io/etcd #8334). So a stale leader's Append or
// heartbeat is answered with the current term, and that answer deposes it.
TEST(Paper_5_1, StaleLeaderIsToldTheNewTerm) {
  Cluster c;  // pre-vote and check-quorum on
  c.elect(1);
  c.isolate(1);
  // Nodes 2 and 3 (only) let time pass: their lease on node 1 expires and one of them wins
  // term 2. Node 1 does not tick, so it still believes it leads term 1.
  for (int k = 0; k < 100 && c.node(2).term() == Term{1}; ++k) {
    c.tick(2);
    c.tick(3);
    c.stabilize();
  }
  c.stabilize();
  ASSERT_EQ(c.node(2).term(), Term{2});
  ASSERT_EQ(c.node(1).role(), Role::kLeader);
  ASSERT_EQ(c.node(1).term(), Term{1});

  // The partition heals and node 1 sends one round of term-1 heartbeats.
  c.heal();
  c.tick(1);
  c.stabilize();
  EXPECT_EQ(c.node(1).role(), Role::kFollower) << c.tail();
  EXPECT_EQ(c.node(1).term(), Term{2});
}

}  // namespace
}  // namespace skiff::test
