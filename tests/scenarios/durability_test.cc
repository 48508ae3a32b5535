// Crashes around the disk write of a Ready. The Ready contract (ready.h) holds votes and
// acknowledgements until the write they promise is durable, and a leader counts its own copy
// of an entry only once it is durable. MemoryStorage is the disk: crash_before_persist loses
// the Ready's write, crash_after_persist keeps it but nothing that waited for it leaves.
#include <gtest/gtest.h>

#include <algorithm>

#include "support/cluster.h"

namespace skiff::test {
namespace {

bool from(const Message& m, std::uint64_t id) {
  return m.from == NodeId{id};
}

int leaders_in_term(Cluster& c, Term term) {
  int n = 0;
  for (std::uint64_t id : c.ids()) {
    n += c.is_up(id) && c.node(id).role() == Role::kLeader && c.node(id).term() == term ? 1 : 0;
  }
  return n;
}

bool stored(Cluster& c, std::uint64_t id, const Proposal& p) {
  const auto log = c.stored_log(id);
  return std::any_of(log.begin(), log.end(), [&](const Entry& e) { return e.id() == p.id; });
}

// PITFALLS #8: node 3 grants node 2 its vote for term 1 and crashes before the vote is on
// disk. The grant waited for the write, so it never left: node 2 did not get it, and after
// restarting node 3 may vote for someone else in term 1 without making two leaders.
TEST(Durability, Pitfall8_VoteGrantLeavesOnlyOnceTheVoteIsDurable) {
  Cluster c(plain_raft());
  ASSERT_TRUE(c.campaign(2).ok());
  c.process_readies();
  ASSERT_EQ(c.deliver_matching(msg_is(MessageType::kVote, 2, 3)), 1u);

  c.crash_before_persist(3);
  EXPECT_EQ(c.count_in_flight([](const Message& m) { return from(m, 3); }), 0u);
  EXPECT_EQ(c.storage(3).hard_state(), HardState{});

  // Restarted, node 3 knows nothing of term 1 and votes for node 1, the second candidate.
  c.restart(3);
  ASSERT_TRUE(c.campaign(1).ok());
  c.stabilize();
  EXPECT_EQ(c.storage(3).hard_state().vote, NodeId{1});
  EXPECT_EQ(leaders_in_term(c, Term{1}), 1);
  EXPECT_EQ(c.node(1).role(), Role::kLeader);
  EXPECT_NE(c.node(2).role(), Role::kLeader);
}

// PITFALLS #8, the other case: the vote reached the disk, and node 3 crashed before sending
// the grant. Restarted, it refuses a second candidate in term 1 and repeats its grant to the
// first one; one leader in term 1.
TEST(Durability, Pitfall8_DurableVoteIsKeptAcrossARestart) {
  Cluster c(plain_raft());
  ASSERT_TRUE(c.campaign(2).ok());
  c.process_readies();
  auto requests = c.take_matching(msg_is(MessageType::kVote, 2, 3));
  ASSERT_EQ(requests.size(), 1u);
  c.inject(requests[0]);
  ASSERT_EQ(c.deliver_to(3), 1u);

  c.crash_after_persist(3);
  EXPECT_EQ(c.count_in_flight([](const Message& m) { return from(m, 3); }), 0u);
  EXPECT_EQ(c.storage(3).hard_state(), (HardState{Term{1}, NodeId{2}, Index{0}}));
  c.restart(3);

  // Node 1 campaigns in term 1 too: node 3 refuses.
  ASSERT_TRUE(c.campaign(1).ok());
  c.process_readies();
  c.take_matching(msg_is(MessageType::kVote, 1, 2));  // node 2 would refuse anyway
  ASSERT_EQ(c.deliver_matching(msg_is(MessageType::kVote, 1, 3)), 1u);
  c.process_readies();
  auto answers = c.take_matching(msg_is(MessageType::kVoteResponse, 3, 1));
  ASSERT_EQ(answers.size(), 1u);
  EXPECT_TRUE(answers[0].reject);

  // Node 2's request, delivered again (the network duplicates it), is granted again.
  c.take_matching(msg_is(MessageType::kVote, 2, 1));  // node 1 is a candidate itself
  c.inject(requests[0]);
  c.stabilize();
  EXPECT_EQ(c.node(2).role(), Role::kLeader);
  EXPECT_EQ(leaders_in_term(c, Term{1}), 1);
}

// PITFALLS #9 (tikv #994, etcd #14143, cockroach #37102): a follower crashes after receiving
// an entry and before its write is durable. Its acknowledgement waited for the write, so it
// never left: the leader does not count the copy that the crash lost, and nothing committed is
// lost.
TEST(Durability, Pitfall9_FollowerNeverAcknowledgesWhatItDidNotPersist) {
  Cluster c;
  c.elect(1);
  auto a = c.propose(1, "a");
  ASSERT_TRUE(a.ok());
  c.stabilize();
  c.cut(1, 3);  // only node 2 can complete a quorum now

  auto x = c.propose(1, "x");
  ASSERT_TRUE(x.ok());
  c.process_readies();
  ASSERT_EQ(c.deliver_matching(msg_is(MessageType::kAppend, 1, 2)), 1u);
  c.crash_before_persist(2);

  EXPECT_EQ(c.count_in_flight([](const Message& m) { return from(m, 2); }), 0u);
  EXPECT_FALSE(stored(c, 2, *x));
  c.stabilize();
  EXPECT_EQ(c.node(1).commit_index(), a->id.index);  // x is on the leader's disk only

  // Node 2 restarts with its durable log, which still holds everything committed.
  c.restart(2);
  EXPECT_TRUE(stored(c, 2, *a));
  c.run_ticks(1);  // a heartbeat brings node 2 back into replication
  EXPECT_EQ(c.node(1).commit_index(), x->id.index);
  EXPECT_TRUE(stored(c, 2, *x));

  c.heal();
  c.run_ticks(1);
  for (std::uint64_t id : c.ids()) {
    EXPECT_EQ(c.applied(id), (std::vector<std::string>{"a", "x"})) << "node " << id;
  }
}

// PITFALLS #10 (etcd #14370), one node: the leader is the whole quorum, so an entry commits
// only once its own write is durable. A crash before that loses an entry nobody was told about;
// a crash right after the client's acknowledgement loses nothing.
TEST(Durability, Pitfall10_SingleNodeCommitsOnlyWhatItPersisted) {
  Cluster c({.size = 1});
  c.elect(1);

  // "x": the Ready that writes it does not commit it.
  auto x = c.propose(1, "x");
  ASSERT_TRUE(x.ok());
  auto rd = c.begin_ready(1);
  ASSERT_TRUE(rd.has_value());
  ASSERT_EQ(rd->entries.size(), 1u);
  EXPECT_EQ(rd->entries[0].id(), x->id);
  EXPECT_TRUE(rd->committed_entries.empty());
  EXPECT_LT(c.node(1).commit_index(), x->id.index);
  // The write completes; only now is x committed, and the next Ready hands it to the client.
  c.finish_ready(1);
  EXPECT_EQ(c.node(1).commit_index(), x->id.index);
  rd = c.begin_ready(1);
  ASSERT_TRUE(rd.has_value());
  ASSERT_EQ(rd->committed_entries.size(), 1u);
  EXPECT_EQ(rd->committed_entries[0].data.view(), "x");  // the client's acknowledgement
  c.finish_ready(1);

  // "y": the leader crashes mid-write. y was never acknowledged, and is gone.
  auto y = c.propose(1, "y");
  ASSERT_TRUE(y.ok());
  c.crash_before_persist(1);
  EXPECT_FALSE(stored(c, 1, *y));

  // "z": the leader crashes right after acknowledging it, before anything else is written.
  c.restart(1);
  c.elect(1);
  auto z = c.propose(1, "z");
  ASSERT_TRUE(z.ok());
  c.process_ready(1);  // written
  rd = c.begin_ready(1);
  ASSERT_TRUE(rd.has_value());
  ASSERT_EQ(rd->committed_entries.size(), 1u);
  EXPECT_EQ(rd->committed_entries[0].data.view(), "z");
  c.crash(1);

  // Everything acknowledged survives the restart.
  c.restart(1);
  c.elect(1);
  c.stabilize();
  EXPECT_EQ(c.applied(1), (std::vector<std::string>{"x", "z"}));
}

// PITFALLS #10, three nodes: the leader's own copy counts only once durable. With its write
// in progress and one follower's acknowledgement, that is one durable copy of three: not
// committed. When the write completes, x commits and is acknowledged; the leader crashes right
// then, and x survives.
TEST(Durability, Pitfall10_ThreeNodeLeaderCountsItselfOnlyOnceDurable) {
  Cluster c;
  c.elect(1);
  c.cut(1, 3);

  auto x = c.propose(1, "x");
  ASSERT_TRUE(x.ok());
  ASSERT_TRUE(c.begin_ready(1).has_value());  // the Appends leave; the leader's write is slow
  c.stabilize();                              // node 2 writes x and acknowledges it
  EXPECT_TRUE(stored(c, 2, *x));
  EXPECT_FALSE(stored(c, 1, *x));
  EXPECT_LT(c.node(1).commit_index(), x->id.index);

  c.finish_ready(1);  // the leader's write is done: two durable copies of three
  EXPECT_EQ(c.node(1).commit_index(), x->id.index);
  auto rd = c.begin_ready(1);
  ASSERT_TRUE(rd.has_value());
  ASSERT_FALSE(rd->committed_entries.empty());
  EXPECT_EQ(rd->committed_entries.back().data.view(), "x");  // the client's acknowledgement
  c.crash(1);

  c.restart(1);
  c.heal();
  ASSERT_GE(c.run_until([&] { return c.leader().has_value(); }, 100), 0) << c.tail();
  c.run_ticks(1);
  for (std::uint64_t id : c.ids()) {
    EXPECT_EQ(c.applied(id), std::vector<std::string>{"x"}) << "node " << id;
  }
}

// PITFALLS #10, three nodes, the other way round: both followers' writes finish before the
// leader's. Two durable copies of three commit x although the leader's own copy is still in
// flight; the leader then crashes and loses its copy, and x survives on the followers.
TEST(Durability, Pitfall10_FollowersQuorumCommitsWhileLeaderWriteIsInFlight) {
  Cluster c;
  c.elect(1);

  auto x = c.propose(1, "x");
  ASSERT_TRUE(x.ok());
  ASSERT_TRUE(c.begin_ready(1).has_value());
  c.stabilize();  // nodes 2 and 3 write x and acknowledge it
  EXPECT_EQ(c.node(1).commit_index(), x->id.index);

  c.crash(1);  // the leader's write never completes
  EXPECT_FALSE(stored(c, 1, *x));
  c.restart(1);
  ASSERT_GE(c.run_until([&] { return c.leader().has_value(); }, 100), 0) << c.tail();
  EXPECT_NE(*c.leader(), 1u);  // node 1 lacks x: it cannot win (Raft §5.4.1)
  c.run_ticks(1);
  for (std::uint64_t id : c.ids()) {
    EXPECT_EQ(c.applied(id), std::vector<std::string>{"x"}) << "node " << id;
  }
}

}  // namespace
}  // namespace skiff::test
