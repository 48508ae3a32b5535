// Linearizable reads (thesis §6.4): RawNode::read_index hands back a ReadState once the leader
// has confirmed it still leads; serving it after applying its index reflects every write
// acknowledged before the read. PITFALLS #4 (leases and clocks), #5 (a new leader's read index),
// #6 (a partitioned leader's reads).
#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

#include "support/cluster.h"

namespace skiff::test {
namespace {

ReadState read_state(Index index, const std::string& context) {
  return ReadState{index, Bytes(context)};
}

// Thesis §6.4 steps 2-3: a read on the leader is answered at the commit index of the moment it
// was asked, and only once a heartbeat round sent after it was answered by a quorum (the
// leader and node 2 here). Writes after the read do not move its index.
TEST(Reads, ReadIndexWaitsForAQuorumToAnswerAHeartbeatRound) {
  Cluster c;
  c.elect(1);
  ASSERT_TRUE(c.propose(1, "x=1").ok());
  c.stabilize();
  const Index commit = c.node(1).commit_index();

  ASSERT_TRUE(c.read_index(1, "r").ok());
  ASSERT_TRUE(c.propose(1, "x=2").ok());  // after the read: not part of it
  c.process_ready(1);
  EXPECT_TRUE(c.read_states(1).empty());
  EXPECT_EQ(c.node(1).status().pending_reads, 1u);
  ASSERT_EQ(c.count_in_flight(msg_is(MessageType::kHeartbeat, 1)), 2u);
  c.take_matching(msg_is(MessageType::kHeartbeat, 1, 3));  // node 3 never answers
  c.take_matching(msg_is(MessageType::kAppend, 1));

  ASSERT_EQ(c.deliver_matching(msg_is(MessageType::kHeartbeat, 1, 2)), 1u);
  c.process_ready(2);
  EXPECT_TRUE(c.read_states(1).empty());
  ASSERT_EQ(c.deliver_matching(msg_is(MessageType::kHeartbeatResponse, 2, 1)), 1u);
  c.process_ready(1);
  EXPECT_EQ(c.read_states(1), std::vector<ReadState>{read_state(commit, "r")});
  EXPECT_EQ(c.node(1).counters().reads_confirmed, 1u);
}

// Without a quorum's answer there is no ReadState: node 1 cannot hear anyone.
TEST(Reads, NoReadStateWithoutAQuorum) {
  Cluster c({.check_quorum = false});
  c.elect(1);
  c.isolate(1);
  ASSERT_TRUE(c.read_index(1, "r").ok());
  c.run_ticks(30);
  EXPECT_EQ(c.node(1).role(), Role::kLeader);
  EXPECT_TRUE(c.read_states(1).empty());
  EXPECT_EQ(c.node(1).status().pending_reads, 1u);
}

// A read on a follower is forwarded to the leader (a ReadIndex message), confirmed there, and
// comes back as a ReadState on the follower with the leader's commit index.
TEST(Reads, FollowerReadIsForwardedAndComesBack) {
  Cluster c;
  c.elect(1);
  ASSERT_TRUE(c.propose(1, "x=1").ok());
  c.stabilize();
  int forwarded = 0;
  c.set_send_observer(
      [&](const Message& m) { forwarded += m.type == MessageType::kReadIndex ? 1 : 0; });
  ASSERT_TRUE(c.read_index(2, "f").ok());
  c.stabilize();
  EXPECT_EQ(forwarded, 1);
  EXPECT_EQ(c.read_states(2), std::vector<ReadState>{read_state(c.node(1).commit_index(), "f")});
  EXPECT_TRUE(c.read_states(1).empty());
}

// PITFALLS #5 (etcd #7331): x=2 commits on L1 (node 1), which is cut off before telling the
// followers. L2 (node 2) wins and is asked for a read before its own no-op commits: its commit
// index (1) is behind L1's (3). The read waits for the no-op and is answered at an index at
// least L1's commit, so it sees x=2.
TEST(Reads, Pitfall5_NewLeaderReadWaitsForACommitInItsTerm) {
  Cluster c(plain_raft());
  c.elect(1);
  ASSERT_TRUE(c.propose(1, "x=1").ok());
  c.stabilize();
  auto x2 = c.propose(1, "x=2");
  ASSERT_TRUE(x2.ok());
  c.process_ready(1);
  for (std::uint64_t id : {2, 3}) {
    c.deliver_to(id);
    c.process_ready(id);
  }
  c.deliver_to(1);
  const Index l1_commit = c.node(1).commit_index();
  ASSERT_EQ(l1_commit, x2->id.index);
  c.isolate(1);  // the news of the commit never leaves
  ASSERT_LT(c.node(2).commit_index(), l1_commit);

  ASSERT_TRUE(c.campaign(2).ok());
  for (int k = 0; k < 10 && c.node(2).role() != Role::kLeader; ++k) {
    c.process_readies();
    c.deliver_matching([](const Message& m) {
      return m.type == MessageType::kVote || m.type == MessageType::kVoteResponse;
    });
  }
  ASSERT_EQ(c.node(2).role(), Role::kLeader);
  ASSERT_TRUE(c.read_index(2, "r").ok());
  c.process_ready(2);
  EXPECT_TRUE(c.read_states(2).empty());
  EXPECT_EQ(c.node(2).status().pending_reads, 1u);

  c.stabilize();
  ASSERT_EQ(c.read_states(2).size(), 1u) << c.tail();
  EXPECT_GE(c.read_states(2)[0].index, l1_commit);
  EXPECT_EQ(c.read_states(2)[0].index, c.node(2).commit_index());  // its no-op
  EXPECT_EQ(c.applied(2), (std::vector<std::string>{"x=1", "x=2"}));
}

// PITFALLS #6 (etcd #741): node 1 leads and is cut off with a client, which asks it for a
// read. The majority elects a new leader and writes x=2. Node 1 never answers that read (it
// cannot confirm its leadership), and after check-quorum makes it step down, new reads on it
// fail with kUnavailable instead of returning x=1.
TEST(Reads, Pitfall6_PartitionedLeaderNeverAnswersAStaleRead) {
  Cluster c;
  c.elect(1);
  ASSERT_TRUE(c.propose(1, "x=1").ok());
  c.stabilize();
  c.isolate(1);
  ASSERT_TRUE(c.read_index(1, "stale").ok());

  ASSERT_GE(c.run_until(
                [&] {
                  auto l = c.leader();
                  return l && *l != 1;
                },
                100),
            0);
  const std::uint64_t l = *c.leader();
  auto x2 = c.propose(l, "x=2");
  ASSERT_TRUE(x2.ok());
  c.stabilize();
  ASSERT_EQ(c.applied(l), (std::vector<std::string>{"x=1", "x=2"}));
  c.run_ticks(20);
  EXPECT_NE(c.node(1).role(), Role::kLeader);
  EXPECT_TRUE(c.read_states(1).empty());
  EXPECT_EQ(c.read_index(1, "later").code(), ErrorCode::kUnavailable);

  c.heal();
  c.run_ticks(3);
  EXPECT_TRUE(c.read_states(1).empty()) << "a read lost to a leader change is never answered";
  ASSERT_TRUE(c.read_index(1, "fresh").ok());  // forwarded to the new leader
  c.stabilize();
  ASSERT_EQ(c.read_states(1).size(), 1u);
  EXPECT_GE(c.read_states(1)[0].index, x2->id.index);
}

// PITFALLS #4, thesis §6.4.1: with ReadMode::kLease, a leader within its lease answers a read
// at once, without a heartbeat round. Then node 1 is paused (a GC pause or a stopped VM)
// longer than an election timeout; nodes 2 and 3 elect a new leader and commit x=2. Resumed,
// node 1 first catches up on the ticks it missed (Config::max_clock_drift_percent's promise),
// and a read then finds no lease: it falls back to ReadIndex or node 1 has stepped down. It
// never answers with the index of x=1.
TEST(Reads, Pitfall4_LeaseDoesNotOutliveAPause) {
  Cluster c({.tweak = [](Config& cfg) { cfg.read_mode = ReadMode::kLease; }});
  // Fresh nodes ignore votes for an election timeout (a leader's lease may still run), so
  // the first leader comes from the election timeouts.
  ASSERT_GE(c.run_until([&] { return c.leader().has_value(); }, 100), 0);
  const std::uint64_t old = *c.leader();
  ASSERT_TRUE(c.propose(old, "x=1").ok());
  c.stabilize();
  c.run_ticks(1);  // a heartbeat round answered by everyone starts the lease
  const Index x1 = c.node(old).commit_index();

  ASSERT_TRUE(c.read_index(old, "in lease").ok());
  c.process_ready(old);
  EXPECT_EQ(c.read_states(old), std::vector<ReadState>{read_state(x1, "in lease")});
  EXPECT_EQ(c.count_in_flight(msg_is(MessageType::kHeartbeat, old)), 0u) << "no round needed";
  c.stabilize();
  c.clear_read_states(old);

  c.pause(old);
  int missed = 0;
  std::optional<Proposal> x2;
  std::optional<std::uint64_t> next;
  for (; missed < 200 && !x2; ++missed) {
    c.run_ticks(1);
    next = c.leader();
    if (next && *next != old) {
      auto p = c.propose(*next, "x=2");
      ASSERT_TRUE(p.ok());
      x2 = *p;
    }
  }
  ASSERT_TRUE(x2.has_value());
  c.stabilize();
  ASSERT_EQ(c.node(*next).commit_index(), x2->id.index);
  ASSERT_GE(missed, 10);  // longer than an election timeout

  c.resume(old);
  c.tick(old, missed);
  if (c.node(old).role() == Role::kLeader) {
    ASSERT_TRUE(c.read_index(old, "after pause").ok());
    c.process_ready(old);
    EXPECT_TRUE(c.read_states(old).empty()) << "served from a lease that ran out";
  } else {
    EXPECT_EQ(c.read_index(old, "after pause").code(), ErrorCode::kUnavailable);
  }
  c.stabilize();
  c.run_ticks(2);
  EXPECT_NE(c.node(old).role(), Role::kLeader);
  for (const ReadState& rs : c.read_states(old)) {
    EXPECT_GE(rs.index, x2->id.index) << "stale read at " << rs.index.value;
  }
  EXPECT_TRUE(c.read_states(old).empty());
}

}  // namespace
}  // namespace skiff::test
