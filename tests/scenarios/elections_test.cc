// Elections as stories: split votes, stale candidates, and liveness with pre-vote and
// check-quorum together.
#include <gtest/gtest.h>

#include "support/cluster.h"

namespace skiff::test {
namespace {

// Three nodes time out together in a five-node cluster. Pre-votes are granted to all three
// (nobody leads), so all three campaign for term 1, and the two remaining votes go to two
// different candidates: nobody has three. Randomized timeouts then pick one winner.
TEST(Elections, SplitVoteAmongThreeCandidatesResolves) {
  Cluster c({.size = 5});
  for (std::uint64_t id : {1, 2, 3}) {
    ASSERT_TRUE(c.campaign(id).ok());
  }
  // Pre-votes out and back.
  c.step_round();
  c.step_round();
  c.process_readies();
  for (std::uint64_t id : {1, 2, 3}) {
    ASSERT_EQ(c.node(id).role(), Role::kCandidate) << "node " << id;
    ASSERT_EQ(c.node(id).term(), Term{1}) << "node " << id;
  }
  ASSERT_EQ(c.count_in_flight(msg_is(MessageType::kVote)), 12u);

  // Node 4 hears node 2 first, node 5 hears node 3 first; the rest arrives afterwards.
  ASSERT_EQ(c.deliver_matching(msg_is(MessageType::kVote, 2, 4)), 1u);
  ASSERT_EQ(c.deliver_matching(msg_is(MessageType::kVote, 3, 5)), 1u);
  c.stabilize();
  for (std::uint64_t id : c.ids()) {
    EXPECT_NE(c.node(id).role(), Role::kLeader) << "node " << id;
    EXPECT_EQ(c.node(id).term(), Term{1}) << "node " << id;
  }
  EXPECT_EQ(c.storage(4).hard_state().vote, NodeId{2});
  EXPECT_EQ(c.storage(5).hard_state().vote, NodeId{3});

  // Time passes: one node times out first, wins term 2, and the cluster works.
  const int ticks = c.run_until([&] { return c.leader().has_value(); }, 60);
  ASSERT_GE(ticks, 10) << c.tail();  // nobody times out before the minimum election timeout
  const std::uint64_t leader = *c.leader();
  EXPECT_EQ(c.node(leader).term(), Term{2});
  ASSERT_TRUE(c.propose(leader, "after the split").ok());
  c.stabilize();
  for (std::uint64_t id : c.ids()) {
    EXPECT_EQ(c.applied(id), std::vector<std::string>{"after the split"}) << "node " << id;
  }
}

// Node 5 misses two committed entries while cut off, then the leader crashes. Node 5 asks for
// pre-votes first, and every voter refuses it for its stale log (Raft §5.4.1), so its term
// does not even move. A node that has the entries wins, and node 5 catches up. (Check-quorum
// is off so that no lease hides the log check.)
TEST(Elections, CandidateWithStaleLogLoses) {
  Cluster c({.size = 5, .check_quorum = false});
  c.elect(1);
  c.isolate(5);
  ASSERT_TRUE(c.propose(1, "a").ok());
  ASSERT_TRUE(c.propose(1, "b").ok());
  c.stabilize();
  c.crash(1);
  c.heal();

  ASSERT_TRUE(c.campaign(5).ok());
  c.process_readies();
  ASSERT_EQ(c.deliver_matching(msg_is(MessageType::kPreVote, 5)), 3u);  // node 1 is down
  c.process_readies();
  auto answers = c.take_matching(msg_is(MessageType::kPreVoteResponse, 0, 5));
  ASSERT_EQ(answers.size(), 3u);
  for (const Message& m : answers) {
    EXPECT_TRUE(m.reject) << describe(m);
    c.inject(m);
  }
  c.stabilize();
  EXPECT_EQ(c.node(5).role(), Role::kFollower);
  EXPECT_EQ(c.node(5).term(), Term{1});
  EXPECT_EQ(c.node(5).counters().elections_started, 0u);

  // Left to time, a node with the entries wins; node 5 never leads.
  bool five_led = false;
  const int ticks = c.run_until(
      [&] {
        five_led |= c.node(5).role() == Role::kLeader;
        return c.leader().has_value();
      },
      100);
  ASSERT_GE(ticks, 0) << c.tail();
  EXPECT_FALSE(five_led);
  EXPECT_NE(*c.leader(), 5u);
  c.run_ticks(1);
  EXPECT_EQ(c.applied(5), (std::vector<std::string>{"a", "b"}));
}

// PITFALLS #3 (etcd #8334, raft-rs #84, openraft #2080): pre-vote and check-quorum together
// must not deadlock. Five nodes; node 5 is cut off entirely, and the leader (node 1) keeps only
// its link to node 2, the "bridge". Node 2 keeps hearing from node 1, so it ignores pre-votes
// while in its lease; nodes 3 and 4 alone cannot win. The old leader must notice it lacks a
// quorum and step down, which ends node 2's lease, and a leader must emerge among 2, 3, 4.
TEST(Elections, Pitfall3_PreVoteAndCheckQuorumWithABridgeNode) {
  Cluster c({.size = 5});
  c.elect(1);
  ASSERT_TRUE(c.propose(1, "before").ok());
  c.stabilize();
  c.isolate(5);
  c.cut(1, 3);
  c.cut(1, 4);

  const int ticks = c.run_until(
      [&] {
        auto l = c.leader();
        return c.node(1).role() != Role::kLeader && l.has_value() && *l != 1 && *l != 5;
      },
      200);
  ASSERT_GE(ticks, 0) << c.tail();
  // A few election timeouts: at most four of the longest (2 * 10 ticks).
  EXPECT_LE(ticks, 80);
  const std::uint64_t leader = *c.leader();
  EXPECT_TRUE(leader == 2 || leader == 3 || leader == 4) << leader;
  // Nodes 2, 3 and 4 may split a vote once node 2's lease ends; the term moves on regardless.
  EXPECT_GE(c.node(leader).term(), Term{2});

  // The connected majority commits.
  auto p = c.propose(leader, "after");
  ASSERT_TRUE(p.ok());
  c.stabilize();
  for (std::uint64_t id : {2, 3, 4}) {
    EXPECT_EQ(c.applied(id), (std::vector<std::string>{"before", "after"})) << "node " << id;
  }

  // Healed, everybody converges under the same leader.
  c.heal();
  c.run_ticks(30);
  for (std::uint64_t id : c.ids()) {
    EXPECT_EQ(c.node(id).leader(), NodeId{leader}) << "node " << id;
    EXPECT_EQ(c.applied(id), (std::vector<std::string>{"before", "after"})) << "node " << id;
  }
}

}  // namespace
}  // namespace skiff::test
