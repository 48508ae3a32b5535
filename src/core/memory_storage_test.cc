#include "skiff/memory_storage.h"

#include <gtest/gtest.h>

#include <limits>

#include "core/test_entries.h"

namespace skiff {
namespace {

using namespace test_entries;  // NOLINT(google-build-using-namespace)

TEST(MemoryStorage, FreshLog) {
  // log_storage.h: a fresh log has first_index() == 1, last_index() == 0 and term(0) == 0.
  MemoryStorage s;
  EXPECT_EQ(s.first_index(), Index{1});
  EXPECT_EQ(s.last_index(), Index{0});
  EXPECT_EQ(s.term(Index{0}).value(), Term{0});
  EXPECT_EQ(s.term(Index{1}).status().code(), ErrorCode::kUnavailable);
  auto none = s.entries(Index{1}, Index{1}, kNoLimit);
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
  EXPECT_EQ(s.entries(Index{1}, Index{2}, kNoLimit).status().code(), ErrorCode::kUnavailable);
  EXPECT_EQ(s.entries(Index{0}, Index{1}, kNoLimit).status().code(), ErrorCode::kCompacted);
}

TEST(MemoryStorage, InitialStateReturnsWhatWasSet) {
  const ConfState cs{.voters = {NodeId{1}, NodeId{2}}, .learners = {NodeId{3}}};
  MemoryStorage s(cs);
  const HardState hs{.term = Term{4}, .vote = NodeId{2}, .commit = Index{0}};
  s.set_hard_state(hs);
  auto init = s.initial_state();
  ASSERT_TRUE(init.ok());
  EXPECT_EQ(init->hard_state, hs);
  EXPECT_EQ(init->conf_state, cs);
  EXPECT_EQ(s.hard_state(), hs);
}

TEST(MemoryStorage, AppendThenRead) {
  MemoryStorage s;
  ASSERT_TRUE(s.append(ents(1, {1, 1, 2})).ok());
  EXPECT_EQ(s.first_index(), Index{1});
  EXPECT_EQ(s.last_index(), Index{3});
  EXPECT_EQ(s.term(Index{3}).value(), Term{2});
  EXPECT_EQ(s.term(Index{4}).status().code(), ErrorCode::kUnavailable);
  ASSERT_TRUE(s.append(ents(4, {2})).ok());
  EXPECT_EQ(s.last_index(), Index{4});
  auto all = s.entries(Index{1}, Index{5}, kNoLimit);
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(*all, ents(1, {1, 1, 2, 2}));
}

TEST(MemoryStorage, AppendNothingIsOk) {
  MemoryStorage s;
  EXPECT_TRUE(s.append({}).ok());
  EXPECT_EQ(s.last_index(), Index{0});
}

TEST(MemoryStorage, AppendWithAGapIsRejected) {
  MemoryStorage s;
  ASSERT_TRUE(s.append(ents(1, {1, 1})).ok());
  Status st = s.append(ents(4, {1}));
  EXPECT_EQ(st.code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(s.last_index(), Index{2});
  EXPECT_EQ(MemoryStorage().append(ents(2, {1})).code(), ErrorCode::kInvalidArgument);
}

TEST(MemoryStorage, AppendOutOfOrderIsRejected) {
  MemoryStorage s;
  ASSERT_TRUE(s.append(ents(1, {1})).ok());
  std::vector<Entry> skipping = {ents(2, {1})[0], ents(4, {1})[0]};
  EXPECT_EQ(s.append(skipping).code(), ErrorCode::kInvalidArgument);
  std::vector<Entry> backwards = {ents(3, {1})[0], ents(2, {1})[0]};
  EXPECT_EQ(s.append(backwards).code(), ErrorCode::kInvalidArgument);
  std::vector<Entry> repeated = {ents(2, {1})[0], ents(2, {1})[0]};
  EXPECT_EQ(s.append(repeated).code(), ErrorCode::kInvalidArgument);
  // Nothing was written.
  EXPECT_EQ(s.last_index(), Index{1});
}

TEST(MemoryStorage, AppendOverwritesTheSuffixFromTheFirstNewIndex) {
  MemoryStorage s;
  ASSERT_TRUE(s.append(ents(1, {1, 1, 1, 1})).ok());
  ASSERT_TRUE(s.append(ents(2, {2, 2})).ok());
  EXPECT_EQ(s.last_index(), Index{3});  // the old 4 is gone
  EXPECT_EQ(s.term(Index{1}).value(), Term{1});
  EXPECT_EQ(s.term(Index{2}).value(), Term{2});
  EXPECT_EQ(s.term(Index{3}).value(), Term{2});
  EXPECT_EQ(s.term(Index{4}).status().code(), ErrorCode::kUnavailable);
}

TEST(MemoryStorage, AppendCanReplaceEverything) {
  MemoryStorage s;
  ASSERT_TRUE(s.append(ents(1, {1, 1})).ok());
  ASSERT_TRUE(s.append(ents(1, {3})).ok());
  EXPECT_EQ(s.last_index(), Index{1});
  EXPECT_EQ(s.term(Index{1}).value(), Term{3});
}

TEST(MemoryStorage, EntriesStopAtTheByteLimitButReturnAtLeastOne) {
  MemoryStorage s;
  ASSERT_TRUE(s.append(ents(1, {1, 1, 1, 1, 1})).ok());  // 20 bytes each
  EXPECT_EQ(indexes(s.entries(Index{1}, Index{6}, kNoLimit).value()),
            (std::vector<std::uint64_t>{1, 2, 3, 4, 5}));
  EXPECT_EQ(indexes(s.entries(Index{1}, Index{6}, 60).value()),
            (std::vector<std::uint64_t>{1, 2, 3}));
  EXPECT_EQ(indexes(s.entries(Index{1}, Index{6}, 59).value()), (std::vector<std::uint64_t>{1, 2}));
  EXPECT_EQ(indexes(s.entries(Index{2}, Index{6}, 1).value()), std::vector<std::uint64_t>{2});
  EXPECT_EQ(indexes(s.entries(Index{2}, Index{6}, 0).value()), std::vector<std::uint64_t>{2});
  EXPECT_EQ(indexes(s.entries(Index{3}, Index{5}, kNoLimit).value()),
            (std::vector<std::uint64_t>{3, 4}));
}

TEST(MemoryStorage, EntriesPastTheEndAreUnavailable) {
  MemoryStorage s;
  ASSERT_TRUE(s.append(ents(1, {1, 1})).ok());
  EXPECT_EQ(s.entries(Index{1}, Index{4}, kNoLimit).status().code(), ErrorCode::kUnavailable);
  EXPECT_TRUE(s.entries(Index{1}, Index{3}, kNoLimit).ok());
}

// --- Snapshots and compaction (Raft §7) ---

ConfState four_voters() {
  return ConfState{.voters = {NodeId{1}, NodeId{2}, NodeId{3}, NodeId{4}}};
}

// Entries 1..6 with terms 1 1 2 2 3 3, bootstrapped with three voters.
MemoryStorage six_entries() {
  MemoryStorage s(ConfState{.voters = {NodeId{1}, NodeId{2}, NodeId{3}}});
  EXPECT_TRUE(s.append(ents(1, {1, 1, 2, 2, 3, 3})).ok());
  return s;
}

TEST(MemoryStorage, NoSnapshotAtFirst) {
  MemoryStorage s = six_entries();
  auto snap = s.snapshot();
  ASSERT_TRUE(snap.ok());
  EXPECT_TRUE(snap->empty());
}

TEST(MemoryStorage, CreateSnapshotRecordsTheTermAndKeepsTheEntries) {
  MemoryStorage s = six_entries();
  ASSERT_TRUE(s.create_snapshot(Index{4}, four_voters(), Bytes::copy_of("state@4")).ok());
  auto snap = s.snapshot();
  ASSERT_TRUE(snap.ok());
  EXPECT_EQ(snap->meta.last, (EntryId{Term{2}, Index{4}}));
  EXPECT_EQ(snap->meta.conf_state, four_voters());
  EXPECT_EQ(snap->data, Bytes::copy_of("state@4"));
  // Entries are kept until compact().
  EXPECT_EQ(s.first_index(), Index{1});
  EXPECT_EQ(s.last_index(), Index{6});
  EXPECT_TRUE(s.entries(Index{1}, Index{7}, kNoLimit).ok());
}

TEST(MemoryStorage, CreateSnapshotPastTheLastEntryIsUnavailable) {
  MemoryStorage s = six_entries();
  Status st = s.create_snapshot(Index{7}, four_voters(), Bytes());
  EXPECT_EQ(st.code(), ErrorCode::kUnavailable);
  EXPECT_NE(st.message().find("create_snapshot at 7"), std::string::npos) << st.message();
  EXPECT_TRUE(s.snapshot()->empty());
}

TEST(MemoryStorage, CreateSnapshotOlderThanTheStoredOneIsRefused) {
  MemoryStorage s = six_entries();
  ASSERT_TRUE(s.create_snapshot(Index{5}, four_voters(), Bytes::copy_of("new")).ok());
  EXPECT_EQ(s.create_snapshot(Index{3}, four_voters(), Bytes::copy_of("old")).code(),
            ErrorCode::kFailedPrecondition);
  EXPECT_EQ(s.snapshot()->meta.last.index, Index{5});
  EXPECT_EQ(s.snapshot()->data, Bytes::copy_of("new"));
  // The same index again is fine (e.g. a retake).
  EXPECT_TRUE(s.create_snapshot(Index{5}, four_voters(), Bytes::copy_of("again")).ok());
  EXPECT_EQ(s.snapshot()->data, Bytes::copy_of("again"));
}

TEST(MemoryStorage, TheChecksSayWhatSaveAndCreateSnapshotWouldRefuseAndChangeNothing) {
  MemoryStorage s = six_entries();
  WriteBatch gap;
  gap.entries = ents(9, {3});
  EXPECT_EQ(s.check_save(gap).code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(s.check_save(gap).message(), s.save(gap).message());
  WriteBatch fine;
  fine.entries = ents(7, {3});
  EXPECT_TRUE(s.check_save(fine).ok());
  EXPECT_EQ(s.last_index(), Index{6});  // checking wrote nothing
  EXPECT_EQ(s.check_create_snapshot(Index{5}, four_voters()).value(), *s.term(Index{5}));
  EXPECT_EQ(s.check_create_snapshot(Index{7}, four_voters()).status().code(),
            ErrorCode::kUnavailable);
  EXPECT_EQ(s.check_create_snapshot(Index{5}, ConfState{}).status().code(),
            ErrorCode::kInvalidArgument);
  EXPECT_TRUE(s.snapshot()->empty());
}

TEST(MemoryStorage, CompactDropsEntriesButRemembersTheTermAtTheCompactionPoint) {
  // Raft §7: the snapshot stands in for the prefix; the last included term is kept for the
  // AppendEntries consistency check of the entry after it.
  MemoryStorage s = six_entries();
  ASSERT_TRUE(s.create_snapshot(Index{4}, four_voters(), Bytes()).ok());
  ASSERT_TRUE(s.compact(Index{4}).ok());
  EXPECT_EQ(s.first_index(), Index{5});
  EXPECT_EQ(s.last_index(), Index{6});
  EXPECT_EQ(s.term(Index{4}).value(), Term{2});
  EXPECT_EQ(s.term(Index{5}).value(), Term{3});
  EXPECT_EQ(s.term(Index{3}).status().code(), ErrorCode::kCompacted);
  EXPECT_EQ(s.term(Index{0}).status().code(), ErrorCode::kCompacted);
  EXPECT_EQ(s.entries(Index{4}, Index{7}, kNoLimit).status().code(), ErrorCode::kCompacted);
  EXPECT_EQ(s.entries(Index{1}, Index{2}, kNoLimit).status().code(), ErrorCode::kCompacted);
  EXPECT_EQ(s.entries(Index{5}, Index{7}, kNoLimit).value(), ents(5, {3, 3}));
}

TEST(MemoryStorage, CompactBelowTheSnapshot) {
  MemoryStorage s = six_entries();
  ASSERT_TRUE(s.create_snapshot(Index{5}, four_voters(), Bytes()).ok());
  ASSERT_TRUE(s.compact(Index{2}).ok());
  EXPECT_EQ(s.first_index(), Index{3});
  EXPECT_EQ(s.term(Index{2}).value(), Term{1});
  // Again at or below the compaction point: nothing happens.
  ASSERT_TRUE(s.compact(Index{2}).ok());
  ASSERT_TRUE(s.compact(Index{1}).ok());
  EXPECT_EQ(s.first_index(), Index{3});
  ASSERT_TRUE(s.compact(Index{5}).ok());
  EXPECT_EQ(s.first_index(), Index{6});
  EXPECT_EQ(s.entries(Index{6}, Index{7}, kNoLimit).value(), ents(6, {3}));
}

TEST(MemoryStorage, CompactPastTheSnapshotIsRefused) {
  MemoryStorage s = six_entries();
  Status none = s.compact(Index{2});  // no snapshot yet: nothing may be compacted
  EXPECT_EQ(none.code(), ErrorCode::kFailedPrecondition);
  EXPECT_NE(none.message().find("past the latest snapshot"), std::string::npos) << none.message();
  ASSERT_TRUE(s.create_snapshot(Index{3}, four_voters(), Bytes()).ok());
  EXPECT_EQ(s.compact(Index{4}).code(), ErrorCode::kFailedPrecondition);
  EXPECT_EQ(s.first_index(), Index{1});
  EXPECT_EQ(s.last_index(), Index{6});
}

TEST(MemoryStorage, AppendAfterCompactionIgnoresCompactedEntries) {
  MemoryStorage s = six_entries();
  ASSERT_TRUE(s.create_snapshot(Index{4}, four_voters(), Bytes()).ok());
  ASSERT_TRUE(s.compact(Index{4}).ok());
  // Entries 3..7: 3 and 4 are committed and compacted; 5..7 replace and extend.
  ASSERT_TRUE(s.append(ents(3, {2, 2, 4, 4, 4})).ok());
  EXPECT_EQ(s.first_index(), Index{5});
  EXPECT_EQ(s.last_index(), Index{7});
  EXPECT_EQ(s.term(Index{4}).value(), Term{2});
  EXPECT_EQ(s.term(Index{5}).value(), Term{4});
  // Entirely compacted: nothing to do.
  ASSERT_TRUE(s.append(ents(1, {1, 1})).ok());
  EXPECT_EQ(s.last_index(), Index{7});
}

TEST(MemoryStorage, ApplySnapshotReplacesTheWholeLog) {
  MemoryStorage s = six_entries();
  Snapshot snap{
      .meta = SnapshotMeta{.last = EntryId{Term{5}, Index{10}}, .conf_state = four_voters()},
      .data = Bytes::copy_of("state@10")};
  ASSERT_TRUE(s.apply_snapshot(snap).ok());
  EXPECT_EQ(s.first_index(), Index{11});
  EXPECT_EQ(s.last_index(), Index{10});
  EXPECT_EQ(s.term(Index{10}).value(), Term{5});
  EXPECT_EQ(s.term(Index{6}).status().code(), ErrorCode::kCompacted);
  EXPECT_EQ(s.term(Index{11}).status().code(), ErrorCode::kUnavailable);
  EXPECT_TRUE(s.entries(Index{11}, Index{11}, kNoLimit).value().empty());
  EXPECT_EQ(s.snapshot().value(), snap);
  // The log goes on after it.
  ASSERT_TRUE(s.append(ents(11, {5, 6})).ok());
  EXPECT_EQ(s.last_index(), Index{12});
  EXPECT_EQ(s.entries(Index{11}, Index{13}, kNoLimit).value(), ents(11, {5, 6}));
}

TEST(MemoryStorage, ApplySnapshotInsideTheLogStillDropsTheSuffix) {
  // The storage does not second-guess the core: after apply_snapshot the log is the snapshot.
  MemoryStorage s = six_entries();
  ASSERT_TRUE(s.apply_snapshot(Snapshot{.meta = SnapshotMeta{.last = EntryId{Term{2}, Index{3}},
                                                             .conf_state = four_voters()}})
                  .ok());
  EXPECT_EQ(s.first_index(), Index{4});
  EXPECT_EQ(s.last_index(), Index{3});
  EXPECT_EQ(s.term(Index{3}).value(), Term{2});
}

TEST(MemoryStorage, ApplyingAnOlderSnapshotIsRefused) {
  MemoryStorage s;
  const Snapshot newer{
      .meta = SnapshotMeta{.last = EntryId{Term{3}, Index{10}}, .conf_state = four_voters()},
      .data = Bytes::copy_of("10")};
  ASSERT_TRUE(s.apply_snapshot(newer).ok());
  ASSERT_TRUE(s.append(ents(11, {3, 3})).ok());
  Status st = s.apply_snapshot(Snapshot{
      .meta = SnapshotMeta{.last = EntryId{Term{2}, Index{8}}, .conf_state = four_voters()}});
  EXPECT_EQ(st.code(), ErrorCode::kFailedPrecondition);
  EXPECT_NE(st.message().find("older than the stored"), std::string::npos) << st.message();
  // Nothing changed.
  EXPECT_EQ(s.snapshot().value(), newer);
  EXPECT_EQ(s.first_index(), Index{11});
  EXPECT_EQ(s.last_index(), Index{12});
}

TEST(MemoryStorage, InitialStateCarriesTheSnapshotsMembership) {
  // log_storage.h: the membership in effect at the stored snapshot's index, so a restarted
  // node replays only configuration entries after it.
  MemoryStorage s = six_entries();
  s.set_hard_state(HardState{.term = Term{3}, .vote = NodeId{1}, .commit = Index{6}});
  ASSERT_TRUE(s.create_snapshot(Index{4}, four_voters(), Bytes()).ok());
  EXPECT_EQ(s.initial_state()->conf_state, four_voters());

  const ConfState received{.voters = {NodeId{1}, NodeId{5}}, .learners = {NodeId{2}}};
  ASSERT_TRUE(s.apply_snapshot(Snapshot{.meta = SnapshotMeta{.last = EntryId{Term{3}, Index{9}},
                                                             .conf_state = received}})
                  .ok());
  auto init = s.initial_state();
  ASSERT_TRUE(init.ok());
  EXPECT_EQ(init->conf_state, received);
  // The hard state is the application's to persist: a snapshot does not touch it.
  EXPECT_EQ(init->hard_state, (HardState{.term = Term{3}, .vote = NodeId{1}, .commit = Index{6}}));
}

}  // namespace
}  // namespace skiff
