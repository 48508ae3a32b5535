// Raft §5.2: leader election.
#include <gtest/gtest.h>

#include <set>

#include "support/cluster.h"

namespace skiff::test {
namespace {

// Raft §5.2: a follower that hears nothing for an election timeout becomes a candidate.
TEST(Paper_5_2, FollowerTimesOutAndCampaigns) {
  Cluster c(plain_raft());
  for (int k = 0; k < 20 && c.node(1).role() == Role::kFollower; ++k) {
    c.tick(1);
  }
  EXPECT_EQ(c.node(1).role(), Role::kCandidate);
  EXPECT_EQ(c.node(1).term(), Term{1});
}

// Raft §5.2: "election timeouts are chosen randomly from a fixed interval". skiff draws from
// [election_tick, 2 * election_tick); the draw depends on the seed and the node id.
TEST(Paper_5_2, ElectionTimeoutIsRandomizedBetweenTAnd2T) {
  std::set<int> seen;
  for (std::uint64_t seed = 1; seed <= 10; ++seed) {
    Cluster c({.size = 5, .pre_vote = false, .check_quorum = false, .seed = seed});
    for (std::uint64_t id : c.ids()) {
      int ticks = 0;
      while (c.node(id).role() == Role::kFollower && ticks < 100) {
        c.tick(id);
        ++ticks;
      }
      EXPECT_GE(ticks, 10) << "seed " << seed << " node " << id;
      EXPECT_LT(ticks, 20) << "seed " << seed << " node " << id;
      seen.insert(ticks);
    }
  }
  // Fifty draws from ten values: a fixed timeout, or a badly reduced range, shows up here.
  EXPECT_GE(seen.size(), 8u);
}

// Raft §5.2: "A candidate wins an election if it receives votes from a majority of the
// servers in the full cluster for the same term."
TEST(Paper_5_2, CandidateWinsWithMajority) {
  Cluster c(plain_raft(5));
  ASSERT_TRUE(c.campaign(1).ok());
  c.process_readies();  // the vote requests leave once term 1 and the self-vote are durable

  // One other vote: 2 of 5 is not a majority.
  c.deliver_matching(msg_is(MessageType::kVote, 1, 2));
  c.process_readies();
  ASSERT_EQ(c.deliver_matching(msg_is(MessageType::kVoteResponse, 2, 1)), 1u);
  EXPECT_EQ(c.node(1).role(), Role::kCandidate);

  // A second one: 3 of 5 wins.
  c.deliver_matching(msg_is(MessageType::kVote, 1, 3));
  c.process_readies();
  ASSERT_EQ(c.deliver_matching(msg_is(MessageType::kVoteResponse, 3, 1)), 1u);
  EXPECT_EQ(c.node(1).role(), Role::kLeader);
  EXPECT_EQ(c.node(1).term(), Term{1});
}

// Raft §5.2: "Each server will vote for at most one candidate in a given term, on a
// first-come-first-served basis."
TEST(Paper_5_2, AtMostOneVotePerTerm) {
  Cluster c(plain_raft());
  ASSERT_TRUE(c.campaign(1).ok());
  ASSERT_TRUE(c.campaign(2).ok());
  c.process_readies();

  // Node 3 hears node 2 first, then node 1, both for term 1.
  ASSERT_EQ(c.deliver_matching(msg_is(MessageType::kVote, 2, 3)), 1u);
  ASSERT_EQ(c.deliver_matching(msg_is(MessageType::kVote, 1, 3)), 1u);
  c.process_readies();
  auto to_2 = c.take_matching(msg_is(MessageType::kVoteResponse, 3, 2));
  auto to_1 = c.take_matching(msg_is(MessageType::kVoteResponse, 3, 1));
  ASSERT_EQ(to_2.size(), 1u);
  ASSERT_EQ(to_1.size(), 1u);
  EXPECT_FALSE(to_2[0].reject);
  EXPECT_TRUE(to_1[0].reject);
  EXPECT_EQ(c.storage(3).hard_state().vote, NodeId{2});

  // The one vote decides the term: node 2 leads term 1, node 1 does not.
  for (const Message& m : to_2) {
    c.inject(m);
  }
  for (const Message& m : to_1) {
    c.inject(m);
  }
  c.stabilize();
  EXPECT_EQ(c.node(2).role(), Role::kLeader);
  EXPECT_EQ(c.node(1).role(), Role::kFollower);
  EXPECT_EQ(c.node(1).term(), Term{1});
  EXPECT_EQ(c.node(1).leader(), NodeId{2});
}

// Raft §5.2: "If the leader's term is at least as large as the candidate's current term, then
// the candidate recognizes the leader as legitimate and returns to follower state."
TEST(Paper_5_2, CandidateStepsDownOnAppendOfSameTerm) {
  Cluster c(plain_raft());
  ASSERT_TRUE(c.campaign(1).ok());
  ASSERT_TRUE(c.campaign(2).ok());
  c.process_readies();

  // Node 3 votes for node 1; node 1 becomes leader of term 1. Node 2 hears nothing yet.
  ASSERT_EQ(c.deliver_matching(msg_is(MessageType::kVote, 1, 3)), 1u);
  c.process_readies();
  ASSERT_EQ(c.deliver_matching(msg_is(MessageType::kVoteResponse, 3, 1)), 1u);
  ASSERT_EQ(c.node(1).role(), Role::kLeader);
  c.take_matching([](const Message& m) { return m.to == NodeId{2}; });
  ASSERT_EQ(c.node(2).role(), Role::kCandidate);

  // The new leader's first Append (its term-1 no-op) reaches the candidate of the same term.
  c.process_readies();
  ASSERT_EQ(c.deliver_matching(msg_is(MessageType::kAppend, 1, 2)), 1u);
  EXPECT_EQ(c.node(2).role(), Role::kFollower);
  EXPECT_EQ(c.node(2).term(), Term{1});
  EXPECT_EQ(c.node(2).leader(), NodeId{1});
}

// Raft §5.2: split votes happen, and randomized timeouts resolve them in a later term.
TEST(Paper_5_2, SplitVoteEventuallyResolves) {
  Cluster c(plain_raft(4));
  ASSERT_TRUE(c.campaign(1).ok());
  ASSERT_TRUE(c.campaign(2).ok());
  c.process_readies();
  // Node 3 hears node 1 first, node 4 hears node 2 first: two votes each, three needed.
  c.deliver_matching(msg_is(MessageType::kVote, 1, 3));
  c.deliver_matching(msg_is(MessageType::kVote, 2, 4));
  c.stabilize();
  for (std::uint64_t id : c.ids()) {
    EXPECT_NE(c.node(id).role(), Role::kLeader) << "node " << id;
    EXPECT_EQ(c.node(id).term(), Term{1}) << "node " << id;
  }

  // Time passes; someone times out first and wins a later term.
  const int ticks = c.run_until([&] { return c.leader().has_value(); }, 100);
  ASSERT_GE(ticks, 0) << c.tail();
  const std::uint64_t leader = *c.leader();
  EXPECT_GE(c.node(leader).term(), Term{2});
  int leaders = 0;
  for (std::uint64_t id : c.ids()) {
    leaders += c.node(id).role() == Role::kLeader ? 1 : 0;
  }
  EXPECT_EQ(leaders, 1);
}

}  // namespace
}  // namespace skiff::test
