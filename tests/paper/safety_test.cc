// Raft §5.4: safety. §5.4.1, the election restriction; §5.4.2, committing entries from
// previous terms (Figure 8).
#include <gtest/gtest.h>

#include <map>

#include "support/cluster.h"

namespace skiff::test {
namespace {

using Terms = std::vector<std::uint64_t>;

// Raft §5.4.1: "the voter denies its vote if its own log is more up-to-date than that of the
// candidate", so a candidate that missed a committed entry cannot win.
TEST(Paper_5_4_1, CandidateWithStaleLogCannotWin) {
  Cluster c(plain_raft());
  c.elect(1);
  c.isolate(3);
  auto x = c.propose(1, "x");
  ASSERT_TRUE(x.ok());
  c.stabilize();
  ASSERT_EQ(c.node(1).commit_index(), x->id.index);  // committed by nodes 1 and 2
  c.heal();

  // Node 3 lacks x and campaigns in term 2: both voters refuse.
  ASSERT_TRUE(c.campaign(3).ok());
  c.process_readies();
  c.deliver_to(1);
  c.deliver_to(2);
  c.process_readies();
  auto answers = c.take_matching(msg_is(MessageType::kVoteResponse, 0, 3));
  ASSERT_EQ(answers.size(), 2u);
  for (const Message& m : answers) {
    EXPECT_TRUE(m.reject) << describe(m);
    EXPECT_EQ(m.term, Term{2}) << describe(m);
  }
  for (const Message& m : answers) {
    c.inject(m);
  }
  c.stabilize();
  EXPECT_EQ(c.node(3).role(), Role::kFollower);

  // Someone with x wins a later term, and node 3 catches up.
  ASSERT_GE(c.run_until([&] { return c.leader().has_value(); }, 100), 0) << c.tail();
  EXPECT_NE(*c.leader(), 3u);
  c.stabilize();
  EXPECT_EQ(c.applied(3), std::vector<std::string>{"x"});
}

// Raft §5.4.1: "If the logs have last entries with different terms, then the log with the later
// term is more up-to-date. If the logs end with the same term, then whichever log is longer is
// more up-to-date."
TEST(Paper_5_4_1, UpToDateComparesLastTermThenLength) {
  Cluster c(plain_raft());
  c.load_log(1, {1, 2});
  c.load_log(2, {1, 1, 1, 1});  // longer, but its last term is older
  c.load_log(3, {1, 2, 2});     // same last term as node 1, and longer

  ASSERT_TRUE(c.campaign(1).ok());  // term 3
  c.process_readies();
  c.deliver_to(2);
  c.deliver_to(3);
  c.process_readies();
  auto from_2 = c.take_matching(msg_is(MessageType::kVoteResponse, 2, 1));
  auto from_3 = c.take_matching(msg_is(MessageType::kVoteResponse, 3, 1));
  ASSERT_EQ(from_2.size(), 1u);
  ASSERT_EQ(from_3.size(), 1u);
  EXPECT_FALSE(from_2[0].reject);  // last term 2 beats last term 1, whatever the lengths
  EXPECT_TRUE(from_3[0].reject);   // same last term, and node 3's log is longer
}

// Raft §5.4.2, Figure 8 (PITFALLS #1: LogCabin #44, canonical/raft until 2022). A leader must
// not commit an entry of an earlier term by counting replicas, even once a majority stores it:
// a later leader may legitimately overwrite it.
//
// skiff's leaders append a no-op when elected (thesis §6.4), so the figure's entries are those
// no-ops: index 1 is term 1's no-op (committed everywhere), index 2 is S1's term-2 no-op or S5's
// term-3 no-op, index 3 is S1's term-4 no-op.
TEST(Paper_5_4_2, Figure8_EarlierTermEntryIsNotCommittedByCountingReplicas) {
  Cluster c({.size = 5,
             .pre_vote = false,
             .check_quorum = false,
             // One entry per Append, so that index 2 can travel without index 3.
             .tweak = [](Config& cfg) { cfg.max_size_per_msg = 1; }});
  // Every entry any node ever reported committed, to check none is overwritten.
  std::map<Index, Entry> reported;
  auto record_commits = [&] {
    for (std::uint64_t id : c.ids()) {
      if (!c.is_up(id)) {
        continue;
      }
      for (const Entry& e : c.stored_log(id)) {
        if (e.index <= c.node(id).commit_index()) {
          auto [it, inserted] = reported.emplace(e.index, e);
          ASSERT_EQ(it->second, e) << "node " << id << " commits a different " << describe(e);
        }
      }
    }
  };
  auto append_from = [](std::uint64_t id) {
    return
        [id](const Message& m) { return m.type == MessageType::kAppend && m.from == NodeId{id}; };
  };

  // Term 1: S1 leads and commits its no-op everywhere.
  c.elect(1);
  record_commits();
  for (std::uint64_t id : c.ids()) {
    ASSERT_EQ(c.node(id).commit_index(), Index{1}) << "node " << id;
  }

  // (a) S1 leads term 2 and writes index 2 to S2 only, then crashes.
  c.crash(1);
  c.restart(1);
  c.set_drop_filter([&](const Message& m) { return append_from(1)(m) && m.to != NodeId{2}; });
  c.elect(1);
  ASSERT_EQ(c.node(1).term(), Term{2});
  c.crash(1);
  EXPECT_EQ(c.log_terms(1), (Terms{1, 2}));
  EXPECT_EQ(c.log_terms(2), (Terms{1, 2}));
  EXPECT_EQ(c.log_terms(3), (Terms{1}));

  // (b) S5 leads term 3 with the votes of S3 and S4, writes a different index 2 locally only,
  // and crashes.
  c.set_drop_filter(append_from(5));
  c.elect(5);
  ASSERT_EQ(c.node(5).term(), Term{3});
  c.crash(5);
  EXPECT_EQ(c.log_terms(5), (Terms{1, 3}));

  // (c) S1 restarts and leads term 4 (its first campaign, for term 3, finds S3 and S4 already
  // voted). Every Append carrying its term-4 entry is lost, and S4 hears nothing from it.
  c.restart(1);
  c.set_drop_filter([&](const Message& m) {
    if (!append_from(1)(m)) {
      return false;
    }
    bool carries_term_4 = false;
    for (const Entry& e : m.entries) {
      carries_term_4 |= e.term == Term{4};
    }
    return carries_term_4 || m.to == NodeId{4};
  });
  ASSERT_TRUE(c.campaign(1).ok());
  c.stabilize();
  ASSERT_EQ(c.node(1).term(), Term{3});
  ASSERT_NE(c.node(1).role(), Role::kLeader);
  c.elect(1);
  ASSERT_EQ(c.node(1).term(), Term{4});
  // S1 replicates its index 2 alone to S2 and S3, as it does for a follower that needs it
  // (after backtracking); their answers tell S1 that index 2 is on S1, S2 and S3: a majority.
  const Entry index_2 = c.stored_log(1)[1];
  ASSERT_EQ(index_2.id(), (EntryId{Term{2}, Index{2}}));
  for (std::uint64_t follower : {2, 3}) {
    Message m = append_msg(1, follower, 4, 1, 1, {}, 1);
    m.entries.push_back(index_2);
    c.inject(m);
  }
  c.stabilize();
  record_commits();
  EXPECT_EQ(c.log_terms(1), (Terms{1, 2, 4}));
  EXPECT_EQ(c.log_terms(2), (Terms{1, 2}));
  EXPECT_EQ(c.log_terms(3), (Terms{1, 2}));
  EXPECT_EQ(c.log_terms(4), (Terms{1}));
  EXPECT_EQ(c.log_terms(5), (Terms{1, 3}));
  // Index 2 is of term 2, not S1's current term 4: it must not be committed.
  EXPECT_EQ(c.node(1).commit_index(), Index{1}) << c.tail();
  for (std::uint64_t id : {2, 3, 4}) {
    EXPECT_EQ(c.node(id).commit_index(), Index{1}) << "node " << id;
  }

  // (d) S1 crashes; S5 restarts and wins term 5 with S2, S3 and S4 (its first campaign, for
  // term 4, finds them voted for S1). It overwrites index 2 everywhere.
  c.crash(1);
  c.restart(5);
  c.set_drop_filter(nullptr);
  ASSERT_TRUE(c.campaign(5).ok());
  c.stabilize();
  ASSERT_NE(c.node(5).role(), Role::kLeader);
  c.elect(5);
  ASSERT_EQ(c.node(5).term(), Term{5});
  c.stabilize();
  record_commits();
  c.restart(1);
  c.tick(5);  // a heartbeat brings S1 back
  c.stabilize();
  ASSERT_TRUE(c.propose(5, "x").ok());
  c.stabilize();
  record_commits();

  for (std::uint64_t id : c.ids()) {
    EXPECT_EQ(c.log_terms(id), (Terms{1, 3, 5, 5})) << "node " << id;
    EXPECT_EQ(c.applied(id), std::vector<std::string>{"x"}) << "node " << id;
  }
  // Nothing ever reported committed was overwritten.
  for (const auto& [index, entry] : reported) {
    for (std::uint64_t id : c.ids()) {
      EXPECT_EQ(c.stored_log(id)[index.value - 1], entry) << "node " << id;
    }
  }
  EXPECT_EQ(reported.size(), 4u);
}

}  // namespace
}  // namespace skiff::test
