// The storage conformance cases (include/skiff/testing/storage_conformance.h). Each case is a
// function of a fresh harness; register_storage_conformance turns them into GoogleTest tests.
#include "skiff/testing/storage_conformance.h"

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

#include "register.h"
#include "skiff/conf_change.h"
#include "skiff/raw_node.h"

namespace skiff::testing {
namespace {

ConfState members(std::vector<std::uint64_t> voters, std::vector<std::uint64_t> learners = {}) {
  ConfState cs;
  for (std::uint64_t id : voters) {
    cs.voters.push_back(NodeId{id});
  }
  for (std::uint64_t id : learners) {
    cs.learners.push_back(NodeId{id});
  }
  return cs;
}

Entry entry(std::uint64_t index, std::uint64_t term, std::string data = "") {
  Entry e;
  e.index = Index{index};
  e.term = Term{term};
  e.data = Bytes(data.empty() ? "e" + std::to_string(index) : std::move(data));
  return e;
}

// Entries [from, to] of term `term`.
std::vector<Entry> entries(std::uint64_t from, std::uint64_t to, std::uint64_t term) {
  std::vector<Entry> out;
  for (std::uint64_t i = from; i <= to; ++i) {
    out.push_back(entry(i, term));
  }
  return out;
}

WriteBatch batch(std::vector<Entry> ents, std::optional<HardState> hs = std::nullopt) {
  WriteBatch b;
  b.entries = std::move(ents);
  b.hard_state = hs;
  return b;
}

Snapshot snapshot_at(std::uint64_t index, std::uint64_t term, const ConfState& cs,
                     std::string data = "state") {
  Snapshot s;
  s.meta.last = EntryId{Term{term}, Index{index}};
  s.meta.conf_state = cs;
  s.data = Bytes(std::move(data));
  return s;
}

// Reads [lo, hi] with no byte limit; empty on error (the caller checks the error separately).
std::vector<Entry> read(const Storage& s, std::uint64_t lo, std::uint64_t hi) {
  auto r = s.entries(Index{lo}, Index{hi + 1}, UINT64_MAX);
  EXPECT_TRUE(r.ok()) << "entries [" << lo << "," << hi << "]: " << r.status().to_string();
  return r.ok() ? std::move(r).value() : std::vector<Entry>{};
}

std::string text(const std::vector<Entry>& ents) {
  return describe(ents);
}

// Checks that `s` holds exactly `expected` as its log (first..last).
void expect_log(const Storage& s, const std::vector<Entry>& expected) {
  ASSERT_FALSE(expected.empty());
  EXPECT_EQ(s.first_index(), expected.front().index);
  EXPECT_EQ(s.last_index(), expected.back().index);
  const std::vector<Entry> got = read(s, expected.front().index.value, expected.back().index.value);
  EXPECT_EQ(got, expected) << "got " << text(got) << ", want " << text(expected);
  for (const Entry& e : expected) {
    auto t = s.term(e.index);
    EXPECT_TRUE(t.ok() && *t == e.term) << "term(" << e.index.value << ")";
  }
}

// --- the cases ---------------------------------------------------------------------------------

void fresh_storage_is_empty_with_its_bootstrap_membership(StorageHarness& h) {
  Storage& s = h.create(members({1, 2, 3}));
  EXPECT_EQ(s.first_index(), Index{1});
  EXPECT_EQ(s.last_index(), Index{0});
  auto t = s.term(Index{0});
  ASSERT_TRUE(t.ok()) << t.status().to_string();
  EXPECT_EQ(*t, Term{0});
  auto init = s.initial_state();
  ASSERT_TRUE(init.ok()) << init.status().to_string();
  EXPECT_EQ(init->hard_state, HardState{});
  EXPECT_EQ(init->conf_state, members({1, 2, 3}));
  auto snap = s.snapshot();
  ASSERT_TRUE(snap.ok()) << snap.status().to_string();
  EXPECT_TRUE(snap->empty());
  auto r = s.entries(Index{1}, Index{1}, UINT64_MAX);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->empty());
}

void saved_entries_and_hard_state_read_back(StorageHarness& h) {
  Storage& s = h.create(members({1, 2, 3}));
  std::vector<Entry> ents = entries(1, 3, 1);
  ents[1].type = EntryType::kNoop;
  ents[1].data = Bytes();
  ASSERT_TRUE(s.save(batch(ents, HardState{Term{1}, NodeId{2}, Index{2}})).ok());
  expect_log(s, ents);
  auto init = s.initial_state();
  ASSERT_TRUE(init.ok());
  EXPECT_EQ(init->hard_state, (HardState{Term{1}, NodeId{2}, Index{2}}));
}

void payloads_of_every_kind_round_trip_exactly(StorageHarness& h) {
  Storage& s = h.create(members({1}));
  std::string binary;
  for (int c = 0; c < 256; ++c) {
    binary.push_back(static_cast<char>(c));
  }
  std::vector<Entry> ents = {entry(1, 1, binary), entry(2, 1, std::string(100000, 'x')),
                             entry(3, 2)};
  ents.push_back(Entry{Term{2}, Index{4}, EntryType::kNoop, Bytes()});
  ents.push_back(Entry{Term{2}, Index{5}, EntryType::kConfChange,
                       encode_conf_change_entry(ConfChangeEntry{{}, members({1, 2})})});
  ASSERT_TRUE(s.save(batch(ents, HardState{Term{2}, NodeId{1}, Index{0}})).ok());
  expect_log(s, ents);
}

void reads_outside_the_log_fail_with_the_contracts_codes(StorageHarness& h) {
  Storage& s = h.create(members({1}));
  ASSERT_TRUE(s.save(batch(entries(1, 5, 1), HardState{Term{1}, kNoNode, Index{0}})).ok());
  EXPECT_EQ(s.entries(Index{2}, Index{7}, UINT64_MAX).status().code(), ErrorCode::kUnavailable);
  EXPECT_EQ(s.term(Index{6}).status().code(), ErrorCode::kUnavailable);
  ASSERT_TRUE(s.create_snapshot(Index{3}, members({1}), Bytes("s")).ok());
  ASSERT_TRUE(s.compact(Index{3}).ok());
  EXPECT_EQ(s.entries(Index{3}, Index{5}, UINT64_MAX).status().code(), ErrorCode::kCompacted);
  EXPECT_EQ(s.term(Index{2}).status().code(), ErrorCode::kCompacted);
  auto t = s.term(Index{3});  // the compaction point's term stays known (Raft §7)
  ASSERT_TRUE(t.ok()) << t.status().to_string();
  EXPECT_EQ(*t, Term{1});
}

void byte_limit_stops_early_but_returns_at_least_one_entry(StorageHarness& h) {
  Storage& s = h.create(members({1}));
  std::vector<Entry> ents;
  for (std::uint64_t i = 1; i <= 10; ++i) {
    ents.push_back(entry(i, 1, std::string(100, 'a')));  // entry_size 116 each
  }
  ASSERT_TRUE(s.save(batch(ents, HardState{Term{1}, kNoNode, Index{0}})).ok());
  auto one = s.entries(Index{1}, Index{11}, 1);
  ASSERT_TRUE(one.ok());
  EXPECT_EQ(one->size(), 1u);
  auto three = s.entries(Index{2}, Index{11}, 3 * 116 + 115);
  ASSERT_TRUE(three.ok());
  ASSERT_EQ(three->size(), 3u);
  EXPECT_EQ(three->front().index, Index{2});
  auto all = s.entries(Index{1}, Index{11}, 10 * 116);
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->size(), 10u);
}

void save_replaces_a_conflicting_suffix(StorageHarness& h) {
  Storage& s = h.create(members({1, 2, 3}));
  ASSERT_TRUE(s.save(batch(entries(1, 6, 1), HardState{Term{1}, kNoNode, Index{2}})).ok());
  // Raft §5.3: entries from index 4 on are replaced, and 5..6 of term 1 are gone.
  ASSERT_TRUE(s.save(batch({entry(4, 2, "new")}, HardState{Term{2}, kNoNode, Index{2}})).ok());
  std::vector<Entry> want = entries(1, 3, 1);
  want.push_back(entry(4, 2, "new"));
  expect_log(s, want);
  EXPECT_EQ(s.term(Index{5}).status().code(), ErrorCode::kUnavailable);
}

void refused_batches_change_nothing(StorageHarness& h) {
  Storage& s = h.create(members({1}));
  const HardState hs{Term{1}, NodeId{1}, Index{1}};
  ASSERT_TRUE(s.save(batch(entries(1, 3, 1), hs)).ok());
  const HardState other{Term{5}, NodeId{1}, Index{2}};
  // A gap after the last index.
  EXPECT_EQ(s.save(batch({entry(5, 1)}, other)).code(), ErrorCode::kInvalidArgument);
  // Entries out of order.
  EXPECT_EQ(s.save(batch({entry(4, 1), entry(6, 1)}, other)).code(), ErrorCode::kInvalidArgument);
  // A snapshot older than the stored one.
  ASSERT_TRUE(s.create_snapshot(Index{2}, members({1}), Bytes("s2")).ok());
  WriteBatch old;
  old.snapshot = snapshot_at(1, 1, members({1}));
  old.hard_state = other;
  EXPECT_EQ(s.save(old).code(), ErrorCode::kInvalidArgument);
  expect_log(s, entries(1, 3, 1));
  auto init = s.initial_state();
  ASSERT_TRUE(init.ok());
  EXPECT_EQ(init->hard_state, hs);
  EXPECT_EQ(s.snapshot()->meta.last, (EntryId{Term{1}, Index{2}}));
}

void hard_state_alone_is_saved(StorageHarness& h) {
  Storage& s = h.create(members({1, 2, 3}));
  ASSERT_TRUE(s.save(batch({}, HardState{Term{4}, NodeId{3}, Index{0}})).ok());
  auto init = s.initial_state();
  ASSERT_TRUE(init.ok());
  EXPECT_EQ(init->hard_state, (HardState{Term{4}, NodeId{3}, Index{0}}));
  EXPECT_EQ(s.last_index(), Index{0});
}

void a_snapshot_from_the_leader_replaces_the_log(StorageHarness& h) {
  Storage& s = h.create(members({1, 2, 3}));
  ASSERT_TRUE(s.save(batch(entries(1, 4, 1), HardState{Term{1}, kNoNode, Index{2}})).ok());
  // Raft §7: the snapshot stands for entries up to 10; with entries after it, in one batch.
  WriteBatch b;
  b.snapshot = snapshot_at(10, 3, members({1, 2, 3, 4}), "state at 10");
  b.entries = entries(11, 12, 3);
  b.hard_state = HardState{Term{3}, kNoNode, Index{10}};
  ASSERT_TRUE(s.save(b).ok());
  EXPECT_EQ(s.first_index(), Index{11});
  EXPECT_EQ(s.last_index(), Index{12});
  auto t = s.term(Index{10});
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(*t, Term{3});
  EXPECT_EQ(s.term(Index{4}).status().code(), ErrorCode::kCompacted);
  expect_log(s, entries(11, 12, 3));
  auto snap = s.snapshot();
  ASSERT_TRUE(snap.ok());
  EXPECT_EQ(*snap, *b.snapshot);
  auto init = s.initial_state();
  ASSERT_TRUE(init.ok());
  EXPECT_EQ(init->conf_state, members({1, 2, 3, 4}));  // the snapshot's membership
  EXPECT_EQ(init->hard_state.commit, Index{10});
}

void a_snapshot_past_the_log_leaves_it_empty(StorageHarness& h) {
  Storage& s = h.create(members({1, 2, 3}));
  WriteBatch b;
  b.snapshot = snapshot_at(50, 2, members({1, 2, 3}));
  b.hard_state = HardState{Term{2}, kNoNode, Index{50}};
  ASSERT_TRUE(s.save(b).ok());
  EXPECT_EQ(s.first_index(), Index{51});
  EXPECT_EQ(s.last_index(), Index{50});
  ASSERT_TRUE(s.save(batch(entries(51, 52, 2))).ok());
  expect_log(s, entries(51, 52, 2));
}

void create_snapshot_keeps_entries_and_checks_its_arguments(StorageHarness& h) {
  Storage& s = h.create(members({1, 2, 3}));
  ASSERT_TRUE(s.save(batch(entries(1, 8, 2), HardState{Term{2}, kNoNode, Index{8}})).ok());
  ASSERT_TRUE(s.create_snapshot(Index{5}, members({1, 2}), Bytes("five")).ok());
  auto snap = s.snapshot();
  ASSERT_TRUE(snap.ok());
  EXPECT_EQ(snap->meta.last, (EntryId{Term{2}, Index{5}}));
  EXPECT_EQ(snap->meta.conf_state, members({1, 2}));
  EXPECT_EQ(snap->data, Bytes("five"));
  expect_log(s, entries(1, 8, 2));  // nothing compacted yet
  EXPECT_EQ(s.create_snapshot(Index{4}, members({1, 2}), Bytes("older")).code(),
            ErrorCode::kFailedPrecondition);
  EXPECT_EQ(s.create_snapshot(Index{9}, members({1, 2}), Bytes("future")).code(),
            ErrorCode::kUnavailable);
  EXPECT_EQ(s.create_snapshot(Index{6}, ConfState{}, Bytes("no voters")).code(),
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(s.snapshot()->data, Bytes("five"));
}

void compaction_drops_the_prefix_only(StorageHarness& h) {
  Storage& s = h.create(members({1}));
  ASSERT_TRUE(s.save(batch(entries(1, 10, 1), HardState{Term{1}, NodeId{1}, Index{10}})).ok());
  ASSERT_TRUE(s.create_snapshot(Index{7}, members({1}), Bytes("s")).ok());
  EXPECT_EQ(s.compact(Index{8}).code(), ErrorCode::kFailedPrecondition);  // past the snapshot
  ASSERT_TRUE(s.compact(Index{4}).ok());
  expect_log(s, entries(5, 10, 1));
  ASSERT_TRUE(s.compact(Index{2}).ok());  // already gone: nothing to do
  expect_log(s, entries(5, 10, 1));
  ASSERT_TRUE(s.compact(Index{7}).ok());
  expect_log(s, entries(8, 10, 1));
  ASSERT_TRUE(s.save(batch(entries(11, 12, 2))).ok());
  expect_log(s, [] {
    std::vector<Entry> want = entries(8, 10, 1);
    want.push_back(entry(11, 2));
    want.push_back(entry(12, 2));
    return want;
  }());
}

void entries_covered_by_the_snapshot_are_skipped(StorageHarness& h) {
  Storage& s = h.create(members({1}));
  ASSERT_TRUE(s.save(batch(entries(1, 10, 1), HardState{Term{1}, NodeId{1}, Index{10}})).ok());
  ASSERT_TRUE(s.create_snapshot(Index{6}, members({1}), Bytes("s")).ok());
  ASSERT_TRUE(s.compact(Index{4}).ok());
  // Entries 5..6 again (covered by the snapshot): skipped, so 7..10 survive. (An entry past
  // the snapshot would be appended and replace what follows it, Raft §5.3.)
  ASSERT_TRUE(s.save(batch(entries(5, 6, 1))).ok());
  EXPECT_EQ(s.last_index(), Index{10});
  expect_log(s, entries(5, 10, 1));
}

void saved_state_survives_a_reopen(StorageHarness& h) {
  {
    Storage& s = h.create(members({1, 2, 3}, {4}));
    ASSERT_TRUE(s.save(batch(entries(1, 20, 1), HardState{Term{1}, NodeId{1}, Index{15}})).ok());
    ASSERT_TRUE(s.save(batch(entries(18, 22, 2), HardState{Term{2}, NodeId{2}, Index{17}})).ok());
    ASSERT_TRUE(s.create_snapshot(Index{12}, members({1, 2, 3}), Bytes("twelve")).ok());
  }
  Storage& s = h.reopen();
  std::vector<Entry> want = entries(s.first_index().value, 17, 1);
  for (Entry& e : entries(18, 22, 2)) {
    want.push_back(e);
  }
  // Compaction need not be durable; nothing was compacted here anyway.
  EXPECT_EQ(s.first_index(), Index{1});
  expect_log(s, want);
  auto init = s.initial_state();
  ASSERT_TRUE(init.ok());
  EXPECT_EQ(init->hard_state, (HardState{Term{2}, NodeId{2}, Index{17}}));
  EXPECT_EQ(init->conf_state, members({1, 2, 3}));  // the snapshot's
  auto snap = s.snapshot();
  ASSERT_TRUE(snap.ok());
  EXPECT_EQ(snap->meta.last, (EntryId{Term{1}, Index{12}}));
  EXPECT_EQ(snap->data, Bytes("twelve"));
}

void incarnation_survives_a_reopen(StorageHarness& h) {
  const std::uint64_t first = h.create(members({1, 2, 3}, {})).incarnation();
  if (first == 0) {
    GTEST_SKIP() << "the adapter keeps no incarnation (Storage::incarnation() is 0)";
  }
  ASSERT_TRUE(
      h.reopen().save(WriteBatch{{}, {}, HardState{Term{2}, NodeId{1}, Index{0}}, true}).ok());
  EXPECT_EQ(h.reopen().incarnation(), first) << "the incarnation changed on reopen";
}

void bootstrap_membership_survives_a_reopen(StorageHarness& h) {
  h.create(members({1, 2, 3}, {4}));
  Storage& s = h.reopen();
  auto init = s.initial_state();
  ASSERT_TRUE(init.ok());
  EXPECT_EQ(init->conf_state, members({1, 2, 3}, {4}));
  EXPECT_EQ(s.last_index(), Index{0});
}

void compaction_and_installed_snapshots_survive_consistently(StorageHarness& h) {
  {
    Storage& s = h.create(members({1, 2, 3}));
    ASSERT_TRUE(s.save(batch(entries(1, 9, 1), HardState{Term{1}, kNoNode, Index{9}})).ok());
    ASSERT_TRUE(s.create_snapshot(Index{6}, members({1, 2, 3}), Bytes("six")).ok());
    ASSERT_TRUE(s.compact(Index{6}).ok());
  }
  {
    Storage& s = h.reopen();
    // The compaction may or may not have survived, but the log must be a consistent suffix.
    EXPECT_LE(s.first_index(), Index{7});
    expect_log(s, entries(s.first_index().value, 9, 1));
    WriteBatch b;
    b.snapshot = snapshot_at(30, 4, members({1, 2, 3}), "thirty");
    b.hard_state = HardState{Term{4}, kNoNode, Index{30}};
    ASSERT_TRUE(s.save(b).ok());
  }
  Storage& s = h.reopen();
  EXPECT_EQ(s.first_index(), Index{31});
  EXPECT_EQ(s.last_index(), Index{30});
  EXPECT_EQ(s.snapshot()->data, Bytes("thirty"));
  EXPECT_EQ(s.initial_state()->hard_state.commit, Index{30});
}

void a_truncated_suffix_does_not_come_back(StorageHarness& h) {
  {
    Storage& s = h.create(members({1, 2, 3}));
    ASSERT_TRUE(s.save(batch(entries(1, 8, 1), HardState{Term{1}, kNoNode, Index{3}})).ok());
    ASSERT_TRUE(s.save(batch({entry(5, 2, "x")}, HardState{Term{2}, kNoNode, Index{3}})).ok());
  }
  Storage& s = h.reopen();
  std::vector<Entry> want = entries(1, 4, 1);
  want.push_back(entry(5, 2, "x"));
  expect_log(s, want);
}

void unsynced_saves_are_ordered_and_readable(StorageHarness& h) {
  Storage& s = h.create(members({1}));
  WriteBatch a = batch(entries(1, 2, 1), HardState{Term{1}, NodeId{1}, Index{0}});
  ASSERT_TRUE(s.save(a).ok());
  WriteBatch lazy = batch({}, HardState{Term{1}, NodeId{1}, Index{2}});
  lazy.sync = false;  // only the commit index changed: a lazy write is allowed
  ASSERT_TRUE(s.save(lazy).ok());
  EXPECT_EQ(s.initial_state()->hard_state.commit, Index{2});
  ASSERT_TRUE(s.save(batch(entries(3, 3, 1))).ok());  // synced: the lazy write is durable too
  Storage& again = h.reopen();
  EXPECT_EQ(again.initial_state()->hard_state.commit, Index{2});
  expect_log(again, entries(1, 3, 1));
}

void a_thousand_entry_batch_and_many_small_ones(StorageHarness& h) {
  Storage& s = h.create(members({1}));
  ASSERT_TRUE(s.save(batch(entries(1, 1000, 1), HardState{Term{1}, NodeId{1}, Index{0}})).ok());
  for (std::uint64_t i = 1001; i <= 1200; ++i) {
    ASSERT_TRUE(s.save(batch({entry(i, 2)}, HardState{Term{2}, NodeId{1}, Index{i - 1}})).ok());
  }
  EXPECT_EQ(s.last_index(), Index{1200});
  const std::vector<Entry> got = read(s, 995, 1005);
  ASSERT_EQ(got.size(), 11u);
  EXPECT_EQ(got[5].term, Term{1});
  EXPECT_EQ(got[6].term, Term{2});
  EXPECT_EQ(got[6].data, Bytes("e1001"));
}

// The whole point: a core driven on top of the storage, through every Ready, restarts from it.
void a_core_runs_and_restarts_on_it(StorageHarness& h) {
  Config config;
  config.id = NodeId{1};
  Index last;
  Index commit;
  {
    Storage& s = h.create(members({1}));
    auto created = RawNode::create(config, s);
    ASSERT_TRUE(created.ok()) << created.status().to_string();
    RawNode node = std::move(created).value();
    ASSERT_TRUE(node.campaign().ok());
    auto drain = [&] {
      while (node.has_ready()) {
        Ready rd = node.ready().value();
        ASSERT_TRUE(s.save(WriteBatch::from(rd)).ok());
        ASSERT_TRUE(node.advance(rd).ok());
      }
    };
    drain();
    ASSERT_EQ(node.role(), Role::kLeader);
    for (int k = 0; k < 50; ++k) {
      ASSERT_TRUE(node.propose(Bytes("cmd" + std::to_string(k))).ok());
      if (k % 7 == 0) {
        drain();
      }
    }
    drain();
    ASSERT_TRUE(
        s.create_snapshot(node.applied_index(), node.applied_conf_state(), Bytes("sm")).ok());
    ASSERT_TRUE(s.compact(node.applied_index() - 10).ok());
    last = node.last_index();
    commit = node.commit_index();
    EXPECT_EQ(commit, last);
  }
  Storage& s = h.reopen();
  config.applied = s.snapshot()->meta.last.index;
  auto again = RawNode::create(config, s);
  ASSERT_TRUE(again.ok()) << again.status().to_string();
  EXPECT_EQ(again->last_index(), last);
  EXPECT_EQ(again->commit_index(), commit);
  EXPECT_EQ(again->status().config, members({1}));
}

const detail::Case<StorageHarness> kCases[] = {
    {"IncarnationSurvivesAReopen", incarnation_survives_a_reopen},
    {"FreshStorageIsEmptyWithItsBootstrapMembership",
     fresh_storage_is_empty_with_its_bootstrap_membership},
    {"SavedEntriesAndHardStateReadBack", saved_entries_and_hard_state_read_back},
    {"PayloadsOfEveryKindRoundTripExactly", payloads_of_every_kind_round_trip_exactly},
    {"ReadsOutsideTheLogFailWithTheContractsCodes",
     reads_outside_the_log_fail_with_the_contracts_codes},
    {"ByteLimitStopsEarlyButReturnsAtLeastOneEntry",
     byte_limit_stops_early_but_returns_at_least_one_entry},
    {"SaveReplacesAConflictingSuffix", save_replaces_a_conflicting_suffix},
    {"RefusedBatchesChangeNothing", refused_batches_change_nothing},
    {"HardStateAloneIsSaved", hard_state_alone_is_saved},
    {"ASnapshotFromTheLeaderReplacesTheLog", a_snapshot_from_the_leader_replaces_the_log},
    {"ASnapshotPastTheLogLeavesItEmpty", a_snapshot_past_the_log_leaves_it_empty},
    {"CreateSnapshotKeepsEntriesAndChecksItsArguments",
     create_snapshot_keeps_entries_and_checks_its_arguments},
    {"CompactionDropsThePrefixOnly", compaction_drops_the_prefix_only},
    {"EntriesCoveredByTheSnapshotAreSkipped", entries_covered_by_the_snapshot_are_skipped},
    {"SavedStateSurvivesAReopen", saved_state_survives_a_reopen},
    {"BootstrapMembershipSurvivesAReopen", bootstrap_membership_survives_a_reopen},
    {"CompactionAndInstalledSnapshotsSurviveConsistently",
     compaction_and_installed_snapshots_survive_consistently},
    {"ATruncatedSuffixDoesNotComeBack", a_truncated_suffix_does_not_come_back},
    {"UnsyncedSavesAreOrderedAndReadable", unsynced_saves_are_ordered_and_readable},
    {"AThousandEntryBatchAndManySmallOnes", a_thousand_entry_batch_and_many_small_ones},
    {"ACoreRunsAndRestartsOnIt", a_core_runs_and_restarts_on_it},
};

}  // namespace

bool register_storage_conformance(const std::string& suite, StorageHarnessFactory factory) {
  return detail::register_cases<StorageHarness>(suite, std::move(factory), kCases);
}

}  // namespace skiff::testing
