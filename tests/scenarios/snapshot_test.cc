// Snapshots (Raft §7): a leader that compacted its log catches followers up with a snapshot,
// and a follower installs one only when it brings news. PITFALLS #7 lists the races: (a) a
// compaction past a follower's next index with Appends in flight, (b) snapshots older than
// the follower's commit or matching its log, (c) a crash mid-snapshot, (d) a stale Append into
// the compacted prefix. The cluster installs each Ready's snapshot in storage and in the state
// machine (whose content is the list of applied payloads), and reports every Snapshot message
// back to its sender: delivered, or dropped.
#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

#include "support/cluster.h"

namespace skiff::test {
namespace {

// Proposes `n` payloads "<prefix>0", "<prefix>1"... on `leader`, stabilizing after each.
std::vector<std::string> write(Cluster& c, std::uint64_t leader, const std::string& prefix, int n) {
  std::vector<std::string> out;
  for (int k = 0; k < n; ++k) {
    out.push_back(prefix + std::to_string(k));
    EXPECT_TRUE(c.propose(leader, out.back()).ok());
    c.stabilize();
  }
  return out;
}

std::uint64_t rejected(Cluster& c) {
  std::uint64_t n = 0;
  for (std::uint64_t id : c.ids()) {
    n += c.is_up(id) ? c.node(id).counters().messages_rejected : 0;
  }
  return n;
}

bool is_snapshot(const Message& m) {
  return m.type == MessageType::kSnapshot;
}

// Runs Readies and delivers everything but Snapshot messages until one is on the wire (at most
// `rounds` rounds, with a tick of every node between quiet rounds). Returns whether one is.
bool until_snapshot_in_flight(Cluster& c, int rounds = 50) {
  for (int k = 0; k < rounds; ++k) {
    if (c.count_in_flight(is_snapshot) > 0) {
      return true;
    }
    const bool busy = c.process_readies();
    const std::size_t delivered =
        c.deliver_matching([](const Message& m) { return !is_snapshot(m); });
    if (!busy && delivered == 0 && c.count_in_flight(is_snapshot) == 0) {
      for (std::uint64_t id : c.ids()) {
        if (c.is_up(id)) {
          c.tick(id);
        }
      }
    }
  }
  return c.count_in_flight(is_snapshot) > 0;
}

// PITFALLS #7a (hashicorp/raft #212): node 3 was cut off and lags; y is on the wire to it when
// the leader compacts its log past node 3's next index. Node 3 rejects the Append (it lacks
// the entries before y), the leader can no longer send them, and switches to a snapshot
// instead of erroring out. Node 3 converges.
TEST(Snapshots, Pitfall7a_CompactionPastAFollowerWithAppendsInFlight) {
  Cluster c;
  c.elect(1);
  auto before = write(c, 1, "a", 2);
  c.isolate(3);
  auto missed = write(c, 1, "b", 5);  // committed with node 2
  c.heal();

  ASSERT_TRUE(c.propose(1, "y").ok());
  c.process_readies();
  ASSERT_EQ(c.count_in_flight(msg_is(MessageType::kAppend, 1, 3)), 1u);
  const Index snap = c.snapshot_and_compact(1);
  ASSERT_GT(c.storage(1).first_index(), c.node(3).last_index() + 1)
      << "node 3's next entry must be compacted on the leader";

  c.stabilize();
  c.run_ticks(1);
  EXPECT_EQ(c.node(1).counters().snapshots_sent, 1u);
  EXPECT_EQ(c.node(3).counters().snapshots_installed, 1u);
  EXPECT_EQ(c.storage(3).snapshot()->meta.last.index, snap);
  EXPECT_EQ(c.applied(3), c.applied(1)) << c.tail();
  std::vector<std::string> all = before;
  all.insert(all.end(), missed.begin(), missed.end());
  all.push_back("y");
  EXPECT_EQ(c.applied(3), all);
  EXPECT_EQ(c.node(3).commit_index(), c.node(1).last_index());
  EXPECT_EQ(c.node(1).status().progress.at(NodeId{3}).state, ReplicationState::kReplicate);
  EXPECT_EQ(rejected(c), 0u);
}

// PITFALLS #7b: a snapshot older than what node 3 knows is committed (a delayed or duplicated
// message) changes nothing: the log stays, and node 3 tells the leader its commit index.
TEST(Snapshots, Pitfall7b_SnapshotOlderThanTheCommitIsIgnored) {
  Cluster c;
  c.elect(1);
  write(c, 1, "a", 2);
  c.take_snapshot(1);
  const Snapshot old = *c.storage(1).snapshot();
  write(c, 1, "b", 2);
  const auto log = c.stored_log(3);
  const Index commit = c.node(3).commit_index();
  ASSERT_GT(commit, old.meta.last.index);

  std::vector<Message> answers;
  c.set_send_observer([&](const Message& m) {
    if (m.from == NodeId{3}) {
      answers.push_back(m);
    }
  });
  c.inject(snapshot_msg(1, 3, c.node(1).term(), old));
  c.stabilize();

  EXPECT_EQ(c.stored_log(3), log);
  EXPECT_TRUE(c.storage(3).snapshot()->empty());
  EXPECT_EQ(c.node(3).counters().snapshots_installed, 0u);
  EXPECT_EQ(c.applied(3), (std::vector<std::string>{"a0", "a1", "b0", "b1"}));
  ASSERT_EQ(answers.size(), 1u);
  EXPECT_EQ(answers[0].type, MessageType::kAppendResponse);
  EXPECT_FALSE(answers[0].reject);
  EXPECT_EQ(answers[0].index, commit);
}

// Between receiving a snapshot and installing it, the membership at the applied index is no
// longer in the log: applied_conf_state() says so (no voters) instead of failing, and status()
// still answers. Once installed, both describe the snapshot.
TEST(Snapshots, MembershipQueriesWhileASnapshotWaitsToBeInstalled) {
  Cluster c;
  c.elect(1);
  c.isolate(3);
  write(c, 1, "a", 4);
  const Index snap = c.take_snapshot(1);
  ASSERT_GT(snap, c.node(3).commit_index());

  c.heal();
  c.take_matching([](const Message& m) { return m.to == NodeId{3}; });
  c.inject(snapshot_msg(1, 3, c.node(1).term(), *c.storage(1).snapshot()));
  ASSERT_EQ(c.deliver_to(3), 1u);
  EXPECT_TRUE(c.node(3).applied_conf_state().voters.empty());
  EXPECT_EQ(c.node(3).status().commit, snap);
  EXPECT_EQ(c.node(3).status().config, members({1, 2, 3}));

  c.process_ready(3);
  EXPECT_EQ(c.node(3).applied_index(), snap);
  EXPECT_EQ(c.node(3).applied_conf_state(), members({1, 2, 3}));
}

// PITFALLS #7b, the issue's case: "a snapshot arriving while a follower has a longer matching
// log must not truncate it". Node 3 holds e, f, g, h (indexes 4-7) but knows only 3 is
// committed; the leader committed f with node 2 and snapshots at 5. The snapshot matches node
// 3's log: node 3 keeps every entry, including g and h past the snapshot, and just learns
// that 5 is committed. (Raft §7: "retain log entries following it".)
TEST(Snapshots, Pitfall7b_SnapshotMatchingALongerLogKeepsTheSuffix) {
  Cluster c({.tweak = [](Config& cfg) { cfg.max_size_per_msg = 1; }});  // one entry per Append
  c.elect(1);
  write(c, 1, "a", 2);  // indexes 2 and 3
  for (const char* p : {"e", "f", "g", "h"}) {
    ASSERT_TRUE(c.propose(1, p).ok());
  }
  c.process_readies();
  // Node 3 gets all four Appends; its acknowledgements are lost.
  ASSERT_EQ(c.deliver_matching(msg_is(MessageType::kAppend, 1, 3)), 4u);
  c.process_ready(3);
  c.take_matching([](const Message& m) { return m.from == NodeId{3}; });
  // Node 2 gets only e and f, and the leader commits them.
  auto to2 = c.take_matching(msg_is(MessageType::kAppend, 1, 2));
  ASSERT_EQ(to2.size(), 4u);
  c.inject(to2[0]);
  c.inject(to2[1]);
  c.deliver_to(2);
  c.process_ready(2);
  c.deliver_to(1);
  c.process_ready(1);
  c.take_matching([](const Message& m) { return m.to == NodeId{3}; });  // the news of commit 5
  ASSERT_EQ(c.node(1).applied_index(), Index{5});
  const Index snap = c.take_snapshot(1);
  ASSERT_EQ(snap, Index{5});
  ASSERT_EQ(c.node(3).commit_index(), Index{3});
  ASSERT_EQ(c.node(3).last_index(), Index{7});
  const auto log = c.stored_log(3);

  c.inject(snapshot_msg(1, 3, c.node(1).term(), *c.storage(1).snapshot()));
  ASSERT_EQ(c.deliver_to(3), 1u);
  c.process_ready(3);
  EXPECT_EQ(c.stored_log(3), log) << "the matching suffix 6-7 was dropped";
  EXPECT_EQ(c.node(3).last_index(), Index{7});
  EXPECT_EQ(c.node(3).commit_index(), Index{5});
  EXPECT_EQ(c.node(3).counters().snapshots_installed, 0u);
  EXPECT_EQ(c.applied(3), (std::vector<std::string>{"a0", "a1", "e", "f"}));

  // Everyone converges once the network delivers again.
  c.stabilize();
  c.run_ticks(2);
  for (std::uint64_t id : c.ids()) {
    EXPECT_EQ(c.applied(id), (std::vector<std::string>{"a0", "a1", "e", "f", "g", "h"}))
        << "node " << id << "\n"
        << c.tail();
  }
  EXPECT_EQ(rejected(c), 0u);
}

// PITFALLS #7c: node 3 receives the snapshot and crashes before its Ready (which carries the
// snapshot) is on disk. Restarted, it has its old log; the leader, told the snapshot was
// delivered, probes, learns node 3 still lags and sends the snapshot again.
TEST(Snapshots, Pitfall7c_FollowerCrashesMidSnapshotAndStillConverges) {
  Cluster c;
  c.elect(1);
  write(c, 1, "a", 2);
  c.isolate(3);
  write(c, 1, "b", 3);
  const Index snap = c.snapshot_and_compact(1);
  c.heal();

  ASSERT_TRUE(until_snapshot_in_flight(c)) << c.tail();
  ASSERT_EQ(c.deliver_matching(msg_is(MessageType::kSnapshot, 1, 3)), 1u);
  auto rd = c.begin_ready(3);
  ASSERT_TRUE(rd.has_value());
  ASSERT_TRUE(rd->snapshot.has_value());
  EXPECT_TRUE(rd->must_sync);
  EXPECT_TRUE(rd->messages.empty()) << "nothing may promise the snapshot before it is durable";
  c.crash(3);
  EXPECT_TRUE(c.storage(3).snapshot()->empty());
  EXPECT_EQ(c.storage(3).last_index(), Index{3});

  c.restart(3);
  EXPECT_EQ(c.applied(3), (std::vector<std::string>{}));  // replays from its own log next
  c.run_ticks(3);
  EXPECT_EQ(c.node(1).counters().snapshots_sent, 2u);
  EXPECT_EQ(c.storage(3).snapshot()->meta.last.index, snap);
  EXPECT_EQ(c.applied(3), c.applied(1)) << c.tail();
  EXPECT_EQ(c.applied(3), (std::vector<std::string>{"a0", "a1", "b0", "b1", "b2"}));
}

// PITFALLS #7c, the other crash: the snapshot reached the disk but node 3 crashed before
// restoring its state machine or answering. It restarts from the stored snapshot (the state
// machine restored from it, Config::applied at its index) and converges.
TEST(Snapshots, Pitfall7c_FollowerCrashesAfterPersistingTheSnapshot) {
  Cluster c;
  c.elect(1);
  write(c, 1, "a", 2);
  c.isolate(3);
  write(c, 1, "b", 3);
  const Index snap = c.snapshot_and_compact(1);
  c.heal();

  ASSERT_TRUE(until_snapshot_in_flight(c)) << c.tail();
  ASSERT_EQ(c.deliver_matching(msg_is(MessageType::kSnapshot, 1, 3)), 1u);
  c.crash_after_persist(3);
  ASSERT_EQ(c.storage(3).snapshot()->meta.last.index, snap);

  c.restart(3);
  EXPECT_EQ(c.node(3).applied_index(), snap);
  EXPECT_EQ(c.applied(3), (std::vector<std::string>{"a0", "a1", "b0", "b1", "b2"}));
  ASSERT_TRUE(c.propose(1, "z").ok());
  c.stabilize();
  c.run_ticks(2);
  EXPECT_EQ(c.applied(3), (std::vector<std::string>{"a0", "a1", "b0", "b1", "b2", "z"}))
      << c.tail();
}

// PITFALLS #7, the whole story: node 3 is at 50, the leader snapshots at 90 and at 100 and
// compacts. Node 3 gets a stale append(prev=40), the snapshot at 100 (crashing once before it
// is durable), a duplicate older snapshot at 90, the stale append again (now inside its
// compacted prefix, #7d) and then append(prev=100). Nothing committed is lost, nothing is
// refused, and node 3 converges.
TEST(Snapshots, Pitfall7_StaleAppendsAndSnapshotsAroundACrash) {
  Cluster c;
  c.elect(1);
  std::optional<Message> stale;
  c.set_send_observer([&](const Message& m) {
    if (!stale && m.type == MessageType::kAppend && m.to == NodeId{3} && m.index == Index{40} &&
        !m.entries.empty()) {
      stale = m;
    }
  });
  write(c, 1, "a", 49);  // indexes 2-50
  c.set_send_observer(nullptr);
  ASSERT_TRUE(stale.has_value());
  ASSERT_EQ(c.node(3).commit_index(), Index{50});

  c.isolate(3);
  write(c, 1, "b", 40);  // 51-90
  ASSERT_EQ(c.take_snapshot(1), Index{90});
  const Snapshot snap90 = *c.storage(1).snapshot();
  write(c, 1, "c", 10);  // 91-100
  ASSERT_EQ(c.snapshot_and_compact(1), Index{100});
  c.heal();

  std::vector<Message> answers;
  c.set_send_observer([&](const Message& m) {
    if (m.from == NodeId{3} && m.type == MessageType::kAppendResponse) {
      answers.push_back(m);
    }
  });
  // The stale append(prev=40): node 3 has it all; it answers with its commit, no conflict.
  c.inject(*stale);
  ASSERT_EQ(c.deliver_to(3), 1u);
  c.process_ready(3);
  ASSERT_EQ(answers.size(), 1u);
  EXPECT_FALSE(answers[0].reject);
  EXPECT_EQ(answers[0].index, Index{50});

  // The leader sends the snapshot at 100; node 3 crashes before it is durable.
  ASSERT_TRUE(until_snapshot_in_flight(c)) << c.tail();
  auto snaps = c.take_matching(msg_is(MessageType::kSnapshot, 1, 3));
  ASSERT_EQ(snaps.size(), 1u);
  EXPECT_EQ(snaps[0].snapshot.meta.last.index, Index{100});
  c.inject(snaps[0]);
  ASSERT_EQ(c.deliver_to(3), 1u);
  c.crash_before_persist(3);
  c.restart(3);
  EXPECT_EQ(c.storage(3).last_index(), Index{50});

  // The network delivers the snapshot again: installed.
  c.inject(snaps[0]);
  ASSERT_EQ(c.deliver_to(3), 1u);
  c.process_ready(3);
  EXPECT_EQ(c.storage(3).snapshot()->meta.last.index, Index{100});
  EXPECT_EQ(c.storage(3).first_index(), Index{101});
  EXPECT_EQ(c.applied(3).size(), 99u);

  // A duplicate of an older snapshot: ignored.
  answers.clear();
  c.inject(snapshot_msg(1, 3, c.node(1).term(), snap90));
  ASSERT_EQ(c.deliver_to(3), 1u);
  c.process_ready(3);
  EXPECT_EQ(c.storage(3).snapshot()->meta.last.index, Index{100});
  EXPECT_EQ(c.storage(3).first_index(), Index{101});
  EXPECT_EQ(c.node(3).counters().snapshots_installed, 1u);
  ASSERT_EQ(answers.size(), 1u);
  EXPECT_EQ(answers[0].index, Index{100});

  // PITFALLS #7d: the stale append again, its prev now inside node 3's compacted prefix.
  answers.clear();
  c.inject(*stale);
  ASSERT_EQ(c.deliver_to(3), 1u);
  c.process_ready(3);
  ASSERT_EQ(answers.size(), 1u);
  EXPECT_FALSE(answers[0].reject);
  EXPECT_EQ(answers[0].index, Index{100});
  c.set_send_observer(nullptr);

  // append(prev=100) and onwards.
  ASSERT_TRUE(c.propose(1, "z").ok());
  c.stabilize();
  c.run_ticks(2);
  EXPECT_EQ(c.applied(3), c.applied(1)) << c.tail();
  EXPECT_EQ(c.applied(3).size(), 100u);
  EXPECT_EQ(c.applied(3).back(), "z");
  EXPECT_EQ(rejected(c), 0u);
}

// PITFALLS #7d (openraft #511): node 3 compacted its own log up to 9 when a delayed Append
// whose previous entry (4) lies inside that prefix arrives. It is not a conflict: node 3
// answers with its commit index and keeps its log.
TEST(Snapshots, Pitfall7d_StaleAppendIntoTheCompactedPrefixIsNoConflict) {
  Cluster c;
  c.elect(1);
  write(c, 1, "a", 3);  // 2-4
  std::optional<Message> stale;
  c.set_send_observer([&](const Message& m) {
    if (!stale && m.type == MessageType::kAppend && m.to == NodeId{3} && m.entries.size() == 5) {
      stale = m;
    }
  });
  for (int k = 0; k < 5; ++k) {
    ASSERT_TRUE(c.propose(1, "b" + std::to_string(k)).ok());  // 5-9, in one Append
  }
  c.stabilize();
  c.set_send_observer(nullptr);
  ASSERT_TRUE(stale.has_value());
  ASSERT_EQ(stale->index, Index{4});
  ASSERT_EQ(c.snapshot_and_compact(3), Index{9});
  write(c, 1, "c", 2);  // 10-11
  const auto log = c.stored_log(3);

  std::vector<Message> answers;
  c.set_send_observer([&](const Message& m) {
    if (m.from == NodeId{3}) {
      answers.push_back(m);
    }
  });
  c.inject(*stale);
  ASSERT_EQ(c.deliver_to(3), 1u);
  c.process_ready(3);
  ASSERT_EQ(answers.size(), 1u);
  EXPECT_EQ(answers[0].type, MessageType::kAppendResponse);
  EXPECT_FALSE(answers[0].reject);
  EXPECT_EQ(answers[0].index, Index{11});
  EXPECT_EQ(c.stored_log(3), log);
  EXPECT_EQ(c.node(3).commit_index(), Index{11});
  EXPECT_EQ(rejected(c), 0u);
  c.stabilize();
  EXPECT_EQ(c.applied(3), c.applied(1));
}

// Restart from snapshot + log: node 2 snapshots and compacts, more entries follow, it crashes.
// RawNode::create refuses Config::applied below the snapshot (the state machine must be
// restored from it first) with kInvalidArgument; with the snapshot restored and applied at its
// index, node 2 resumes, applies what follows, and can even lead.
TEST(Snapshots, RestartFromSnapshotAndLog) {
  Cluster c;
  c.elect(1);
  write(c, 1, "a", 4);
  const Index snap = c.snapshot_and_compact(2);
  write(c, 1, "b", 2);
  c.crash(2);

  Config cfg = c.config(2);
  for (Index applied : {Index{0}, snap - 1}) {
    cfg.applied = applied;
    auto refused = RawNode::create(cfg, c.storage(2));
    ASSERT_FALSE(refused.ok()) << "applied " << applied.value;
    EXPECT_EQ(refused.status().code(), ErrorCode::kInvalidArgument) << refused.status().to_string();
  }
  cfg.applied = snap;
  EXPECT_TRUE(RawNode::create(cfg, c.storage(2)).ok());

  c.restart(2);
  EXPECT_EQ(c.node(2).applied_index(), snap);
  c.stabilize();
  EXPECT_EQ(c.applied(2), (std::vector<std::string>{"a0", "a1", "a2", "a3", "b0", "b1"}));

  // Node 2 takes over; its log starts after the snapshot.
  c.crash(1);
  ASSERT_GE(c.run_until([&] { return c.leader().has_value(); }, 100), 0);
  if (*c.leader() != 2) {
    ASSERT_TRUE(c.transfer_leadership(*c.leader(), 2).ok());
    c.stabilize();
  }
  ASSERT_EQ(c.node(2).role(), Role::kLeader) << c.tail();
  c.restart(1);
  ASSERT_TRUE(c.propose(2, "c").ok());
  c.stabilize();
  c.run_ticks(1);
  for (std::uint64_t id : c.ids()) {
    EXPECT_EQ(c.applied(id), (std::vector<std::string>{"a0", "a1", "a2", "a3", "b0", "b1", "c"}))
        << "node " << id;
  }
}

// report_snapshot(false): the snapshot to node 3 is lost, so the transport reports a failure.
// The leader leaves the snapshot state at once (instead of waiting on a snapshot that will
// never arrive) and sends it again after the next heartbeat answer.
TEST(Snapshots, FailedSnapshotIsRetried) {
  Cluster c;
  c.elect(1);
  write(c, 1, "a", 2);
  c.isolate(3);
  write(c, 1, "b", 2);
  c.snapshot_and_compact(1);
  c.heal();

  int dropped = 0;
  c.set_drop_filter([&](const Message& m) {
    const bool drop = is_snapshot(m) && dropped == 0;
    dropped += drop ? 1 : 0;
    return drop;
  });
  ASSERT_GE(c.run_until([&] { return dropped == 1; }, 5), 0);
  EXPECT_EQ(c.node(1).counters().snapshots_sent, 1u);
  EXPECT_EQ(c.node(1).status().progress.at(NodeId{3}).state, ReplicationState::kProbe);
  EXPECT_TRUE(c.storage(3).snapshot()->empty());

  c.run_ticks(2);
  EXPECT_EQ(c.node(1).counters().snapshots_sent, 2u);
  EXPECT_EQ(c.node(3).counters().snapshots_installed, 1u);
  EXPECT_EQ(c.applied(3), (std::vector<std::string>{"a0", "a1", "b0", "b1"}));
  EXPECT_EQ(c.node(1).status().progress.at(NodeId{3}).state, ReplicationState::kReplicate);
}

// The follower acknowledges the snapshot it was sent (index S), but the transport never
// reports on it, and meanwhile the leader took a newer snapshot and compacted past S + 1. The
// acknowledgement alone ends the snapshot state (match >= the pending snapshot, etcd-io/raft's
// Progress rule): the leader sends what node 3 needs next, here the newer snapshot, instead
// of waiting forever for a report_snapshot that never comes.
TEST(Snapshots, AcknowledgedSnapshotEndsTheSnapshotStateEvenAfterANewerCompaction) {
  Cluster c;
  c.elect(1);
  write(c, 1, "a", 2);
  c.isolate(3);
  write(c, 1, "b", 2);
  const Index first = c.snapshot_and_compact(1);
  c.heal();
  ASSERT_TRUE(until_snapshot_in_flight(c));
  std::vector<Message> held = c.take_matching(is_snapshot);
  ASSERT_EQ(held.size(), 1u);
  ASSERT_EQ(held.front().snapshot.meta.last.index, first);

  // Node 3 is paused in the leader's eyes; the others go on, and the leader compacts past
  // the snapshot it sent.
  write(c, 1, "c", 2);
  const Index second = c.snapshot_and_compact(1);
  ASSERT_GT(c.storage(1).first_index(), first + 1);

  // The snapshot arrives behind the transport's back: no report_snapshot for it.
  ASSERT_TRUE(c.node(3).step(held.front()).ok());
  c.stabilize();
  c.run_ticks(3);
  EXPECT_EQ(c.node(1).counters().snapshots_sent, 2u) << c.tail();
  EXPECT_EQ(c.storage(3).snapshot()->meta.last.index, second);
  EXPECT_EQ(c.node(1).status().progress.at(NodeId{3}).state, ReplicationState::kReplicate);
  EXPECT_EQ(c.applied(3), c.applied(1)) << c.tail();
  EXPECT_EQ(c.applied(3), (std::vector<std::string>{"a0", "a1", "b0", "b1", "c0", "c1"}));
  ASSERT_TRUE(c.propose(1, "d").ok());
  c.stabilize();
  EXPECT_EQ(c.node(3).commit_index(), c.node(1).last_index());
}

// A report arrives late, about a snapshot the leader no longer waits on: the first snapshot
// to node 3 was lost (reported failed), the leader compacted further and sent a newer one.
// A late report on the first snapshot (delivered or failed) names its index, which is not
// the pending one: it is ignored and counted, and the leader keeps waiting on the newer one.
TEST(Snapshots, LateReportOnAnOlderSnapshotIsIgnored) {
  Cluster c;
  c.elect(1);
  write(c, 1, "a", 2);
  c.isolate(3);
  write(c, 1, "b", 2);
  const Index first = c.snapshot_and_compact(1);
  c.heal();
  ASSERT_TRUE(until_snapshot_in_flight(c));
  ASSERT_EQ(c.take_matching(is_snapshot).size(), 1u);  // lost
  c.node(1).report_snapshot(NodeId{3}, first, false);
  ASSERT_EQ(c.node(1).status().progress.at(NodeId{3}).state, ReplicationState::kProbe);

  c.isolate(3);
  write(c, 1, "c", 2);
  const Index second = c.snapshot_and_compact(1);
  c.heal();
  ASSERT_TRUE(until_snapshot_in_flight(c));
  std::vector<Message> held = c.take_matching(is_snapshot);
  ASSERT_EQ(held.size(), 1u);
  ASSERT_EQ(held.front().snapshot.meta.last.index, second);
  ASSERT_EQ(c.node(1).status().progress.at(NodeId{3}).pending_snapshot, second);

  for (bool ok : {true, false}) {
    c.node(1).report_snapshot(NodeId{3}, first, ok);
    const PeerProgress pr = c.node(1).status().progress.at(NodeId{3});
    EXPECT_EQ(pr.state, ReplicationState::kSnapshot) << "late report ok=" << ok;
    EXPECT_EQ(pr.pending_snapshot, second) << "late report ok=" << ok;
  }
  EXPECT_EQ(c.node(1).counters().snapshot_reports_ignored, 2u);

  // The newer snapshot arrives (and is reported under its own index): node 3 catches up.
  c.inject(held.front());
  c.stabilize();
  c.run_ticks(1);
  EXPECT_EQ(c.node(1).counters().snapshot_reports_ignored, 2u);
  EXPECT_EQ(c.node(1).status().progress.at(NodeId{3}).state, ReplicationState::kReplicate);
  EXPECT_EQ(c.applied(3), c.applied(1)) << c.tail();
}

// PITFALLS #16, second half: a follower the leader probes (a new leader starts every follower
// probing) needs entries that leader compacted. Probing must turn into a snapshot, not stall.
TEST(Snapshots, Pitfall16_FollowerStuckProbingAfterCompactionGetsASnapshot) {
  Cluster c;
  c.elect(1);
  write(c, 1, "a", 2);
  c.isolate(3);
  write(c, 1, "b", 3);
  // Node 2 takes over and compacts everything it has.
  ASSERT_TRUE(c.transfer_leadership(1, 2).ok());
  c.stabilize();
  ASSERT_EQ(c.node(2).role(), Role::kLeader) << c.tail();
  c.stabilize();
  c.snapshot_and_compact(2);
  const NodeStatus before = c.node(2).status();
  ASSERT_EQ(before.progress.at(NodeId{3}).state, ReplicationState::kProbe);
  ASSERT_LE(before.progress.at(NodeId{3}).match + 1, before.first_index - 1)
      << "node 3 needs compacted entries";

  c.heal();
  c.run_ticks(3);
  EXPECT_EQ(c.node(2).counters().snapshots_sent, 1u);
  EXPECT_EQ(c.node(2).status().progress.at(NodeId{3}).state, ReplicationState::kReplicate);
  EXPECT_EQ(c.applied(3), c.applied(2)) << c.tail();
  EXPECT_EQ(c.applied(3), (std::vector<std::string>{"a0", "a1", "b0", "b1", "b2"}));
}

// A node with empty storage joins after the leader compacted: it gets the snapshot (whose
// membership predates it), then the entry that adds it, and votes from then on. Restarted, it
// comes back from its stored snapshot.
TEST(Snapshots, NewNodeJoinsFromASnapshot) {
  Cluster c;
  c.elect(1);
  write(c, 1, "a", 3);
  const Index snap = c.snapshot_and_compact(1);
  c.add_node(4);
  auto p = c.propose_conf_change(1, conf_change({add_voter(4)}));
  ASSERT_TRUE(p.ok()) << p.status().to_string();
  c.stabilize();
  c.run_ticks(1);
  EXPECT_EQ(c.node(4).counters().snapshots_installed, 1u);
  EXPECT_EQ(c.storage(4).snapshot()->meta.last.index, snap);
  EXPECT_EQ(c.storage(4).snapshot()->meta.conf_state, members({1, 2, 3}));
  EXPECT_EQ(c.node(4).status().config, members({1, 2, 3, 4}));
  EXPECT_EQ(c.applied(4), (std::vector<std::string>{"a0", "a1", "a2"}));

  // Node 4 counts: with node 2 cut off, x commits with nodes 1, 3 and 4.
  c.cut(1, 2);
  auto x = c.propose(1, "x");
  ASSERT_TRUE(x.ok());
  c.stabilize();
  EXPECT_EQ(c.node(1).commit_index(), x->id.index);
  EXPECT_EQ(c.applied(4), (std::vector<std::string>{"a0", "a1", "a2", "x"}));
  c.heal();

  c.crash(4);
  c.restart(4);
  EXPECT_EQ(c.node(4).applied_index(), snap);
  c.stabilize();
  c.run_ticks(2);
  EXPECT_EQ(c.applied(4), c.applied(1));
  EXPECT_EQ(c.node(4).status().config, members({1, 2, 3, 4}));
}

}  // namespace
}  // namespace skiff::test
