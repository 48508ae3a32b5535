// Raft §5.3: log replication.
#include <gtest/gtest.h>

#include <cstdint>
#include <map>

#include "support/cluster.h"

namespace skiff::test {
namespace {

// Raft §5.3, Log Matching: "If two entries in different logs have the same index and term,
// then the logs are identical in all preceding entries." Checked over every pair of durable
// logs after every tick of a run with shifting partitions, crashes and proposals.
TEST(Paper_5_3, LogMatchingHoldsThroughPartitionsAndCrashes) {
  const std::uint64_t seed = seed_from_env(7);
  SCOPED_TRACE("seed " + std::to_string(seed));
  Cluster c({.size = 5, .seed = seed});
  std::uint64_t next_payload = 0;
  auto check_log_matching = [&](int tick) {
    std::map<std::uint64_t, std::vector<Entry>> logs;
    for (std::uint64_t id : c.ids()) {
      logs[id] = c.stored_log(id);
    }
    for (const auto& [a, la] : logs) {
      for (const auto& [b, lb] : logs) {
        const std::size_t n = std::min(la.size(), lb.size());
        // Find the highest index where both have the same term; everything below must agree.
        for (std::size_t k = n; k-- > 0;) {
          if (la[k].term == lb[k].term) {
            for (std::size_t j = 0; j <= k; ++j) {
              ASSERT_EQ(la[j], lb[j])
                  << "tick " << tick << ": nodes " << a << " and " << b << " share "
                  << describe(la[k].id()) << " but differ at index " << j + 1;
            }
            break;
          }
        }
      }
    }
  };
  const std::vector<std::vector<std::vector<std::uint64_t>>> layouts = {
      {{1, 2, 3}, {4, 5}}, {{1, 4}, {2, 3, 5}}, {{1, 2, 3, 4, 5}},
      {{3, 4, 5}, {1, 2}}, {{1}, {2, 3, 4, 5}}, {{2, 5}, {1, 3, 4}}};
  for (int tick = 0; tick < 300; ++tick) {
    if (tick % 25 == 0) {
      c.heal();
      c.partition(layouts[static_cast<std::size_t>(tick / 25) % layouts.size()]);
    }
    if (tick % 70 == 35) {
      const std::uint64_t victim = 1 + static_cast<std::uint64_t>(tick / 70) % 5;
      c.crash(victim);
      c.restart(victim);
    }
    for (std::uint64_t id : c.ids()) {
      if (c.node(id).role() == Role::kLeader) {
        (void)c.propose(id, "p" + std::to_string(next_payload++));
      }
    }
    c.run_ticks(1);
    check_log_matching(tick);
    if (::testing::Test::HasFatalFailure()) {
      return;
    }
  }
  // The run did exercise the property: logs grew and several terms passed.
  EXPECT_GT(c.committed().size(), 20u);
  EXPECT_GE(c.node(1).term(), Term{3});
}

// Raft §5.3: "If the follower does not find an entry in its log with the same index and term,
// then it refuses the new entries." The refusal names the rejected index and hints where the
// follower's log might match (its entry at or below it with a term not above the leader's).
TEST(Paper_5_3, ConsistencyCheckRejectsAMismatchedPrevEntry) {
  Cluster c;
  c.load_log(2, {1, 1, 1});

  // Leader 1 in term 2 claims entry 3 has term 2; node 2 has it with term 1.
  c.inject(append_msg(1, 2, 2, 3, 2, {2}));
  ASSERT_EQ(c.deliver_to(2), 1u);
  c.process_readies();
  auto answers = c.take_matching(msg_is(MessageType::kAppendResponse, 2, 1));
  ASSERT_EQ(answers.size(), 1u);
  EXPECT_TRUE(answers[0].reject);
  EXPECT_EQ(answers[0].index, Index{3});
  EXPECT_EQ(answers[0].reject_hint, Index{3});
  EXPECT_EQ(answers[0].log_term, Term{1});
  EXPECT_EQ(c.log_terms(2), (std::vector<std::uint64_t>{1, 1, 1}));

  // An Append after an entry the follower does not have at all: refused, hint at its end.
  c.inject(append_msg(1, 2, 2, 7, 2, {2}));
  ASSERT_EQ(c.deliver_to(2), 1u);
  c.process_readies();
  answers = c.take_matching(msg_is(MessageType::kAppendResponse, 2, 1));
  ASSERT_EQ(answers.size(), 1u);
  EXPECT_TRUE(answers[0].reject);
  EXPECT_EQ(answers[0].index, Index{7});
  EXPECT_EQ(answers[0].reject_hint, Index{3});
  EXPECT_EQ(answers[0].log_term, Term{1});
  EXPECT_EQ(c.log_terms(2), (std::vector<std::uint64_t>{1, 1, 1}));
}

// Raft §5.3: "If an existing entry conflicts with a new one (same index but different terms),
// delete the existing entry and all that follow it." The leader forces its log on followers.
TEST(Paper_5_3, ConflictingFollowerEntriesAreOverwritten) {
  Cluster c;
  c.load_log(1, {1, 2, 2});
  c.load_log(2, {1, 2, 2});
  c.load_log(3, {1, 1, 1, 1});  // a longer log, but from an older term

  c.elect(1);  // term 3; node 3 votes for it since term 2 beats term 1 (§5.4.1)
  c.stabilize();

  // Node 3's entries 2..4 of term 1 are gone; it holds the leader's log, no-op 4/3 included.
  const std::vector<std::uint64_t> expected = {1, 2, 2, 3};
  EXPECT_EQ(c.log_terms(1), expected);
  EXPECT_EQ(c.log_terms(3), expected);
  EXPECT_EQ(c.stored_log(3), c.stored_log(1));
  EXPECT_EQ(c.applied(3), (std::vector<std::string>{"1/1", "2/2", "3/2"}));
}

// Raft §5.3: "The leader keeps track of the highest index it knows to be committed, and it
// includes that index in future AppendEntries RPCs." No ticks here, so no heartbeats.
TEST(Paper_5_3, FollowerLearnsCommitIndexFromAppend) {
  Cluster c;
  c.elect(1);
  auto p = c.propose(1, "x");
  ASSERT_TRUE(p.ok());
  c.stabilize();
  EXPECT_EQ(c.node(1).commit_index(), p->id.index);
  for (std::uint64_t id : {2, 3}) {
    EXPECT_EQ(c.node(id).commit_index(), p->id.index) << "node " << id;
    EXPECT_EQ(c.applied(id), std::vector<std::string>{"x"}) << "node " << id;
  }
  for (const std::string& line : c.transcript()) {
    EXPECT_EQ(line.find("Heartbeat"), std::string::npos) << line;
  }
}

// Raft §5.3 (and Figure 2): heartbeats are AppendEntries too, so a follower that missed the
// Append announcing a commit learns it from the next heartbeat.
TEST(Paper_5_3, FollowerLearnsCommitIndexFromHeartbeat) {
  Cluster c;
  c.elect(1);
  // Appends that carry no entries (the ones that only announce a commit) are lost.
  c.set_drop_filter(
      [](const Message& m) { return m.type == MessageType::kAppend && m.entries.empty(); });
  auto p = c.propose(1, "x");
  ASSERT_TRUE(p.ok());
  c.stabilize();
  ASSERT_EQ(c.node(1).commit_index(), p->id.index);
  EXPECT_LT(c.node(2).commit_index(), p->id.index);
  EXPECT_LT(c.node(3).commit_index(), p->id.index);

  // One heartbeat round.
  c.tick(1);
  c.stabilize();
  for (std::uint64_t id : {2, 3}) {
    EXPECT_EQ(c.node(id).commit_index(), p->id.index) << "node " << id << "\n" << c.tail();
    EXPECT_EQ(c.applied(id), std::vector<std::string>{"x"}) << "node " << id;
  }
}

}  // namespace
}  // namespace skiff::test
