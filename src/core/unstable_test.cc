#include "core/unstable.h"

#include <gtest/gtest.h>

#include "core/test_entries.h"

namespace skiff::detail {
namespace {

using test_entries::ent;

// An unstable tail holding `ents` (contiguous), none of them handed out yet.
Unstable holding(const std::vector<Entry>& ents) {
  Unstable u(ents.front().index);
  u.truncate_and_append(ents);
  return u;
}

TEST(Unstable, EmptyHasNoTermsOrLastIndex) {
  Unstable u(Index{5});
  EXPECT_EQ(u.offset(), Index{5});
  EXPECT_EQ(u.maybe_last_index(), std::nullopt);
  EXPECT_EQ(u.maybe_term(Index{4}), std::nullopt);
  EXPECT_EQ(u.maybe_term(Index{5}), std::nullopt);
  EXPECT_FALSE(u.has_next_entries());
  u.check_invariants();
}

TEST(Unstable, MaybeTermAndLastIndexCoverOnlyHeldEntries) {
  Unstable u = holding({ent(5, 1), ent(6, 1), ent(7, 2)});
  EXPECT_EQ(u.maybe_last_index(), Index{7});
  EXPECT_EQ(u.maybe_term(Index{4}), std::nullopt);  // before offset: in storage
  EXPECT_EQ(u.maybe_term(Index{5}), Term{1});
  EXPECT_EQ(u.maybe_term(Index{7}), Term{2});
  EXPECT_EQ(u.maybe_term(Index{8}), std::nullopt);
}

TEST(Unstable, AppendAfterTheLastEntry) {
  Unstable u = holding({ent(5, 1), ent(6, 1)});
  u.truncate_and_append({ent(7, 1), ent(8, 2)});
  EXPECT_EQ(u.offset(), Index{5});
  EXPECT_EQ(u.entries(), (std::vector<Entry>{ent(5, 1), ent(6, 1), ent(7, 1), ent(8, 2)}));
  u.check_invariants();
}

TEST(Unstable, AppendKeepsWhatWasAlreadyHandedOut) {
  Unstable u = holding({ent(5, 1), ent(6, 1)});
  u.accept_in_progress();
  EXPECT_FALSE(u.has_next_entries());
  u.truncate_and_append({ent(7, 1)});
  EXPECT_TRUE(u.has_next_entries());
  EXPECT_EQ(u.next_entries(), std::vector<Entry>{ent(7, 1)});
}

TEST(Unstable, ReplaceEverythingFromBeforeTheOffset) {
  // The new entries start inside storage: the whole unstable tail goes, and the next Ready
  // overwrites storage from index 3 on.
  Unstable u = holding({ent(5, 1), ent(6, 1)});
  u.accept_in_progress();
  u.truncate_and_append({ent(3, 2), ent(4, 2)});
  EXPECT_EQ(u.offset(), Index{3});
  EXPECT_EQ(u.entries(), (std::vector<Entry>{ent(3, 2), ent(4, 2)}));
  EXPECT_EQ(u.maybe_last_index(), Index{4});
  // None of them has been handed out.
  EXPECT_EQ(u.next_entries(), (std::vector<Entry>{ent(3, 2), ent(4, 2)}));
  u.check_invariants();
}

TEST(Unstable, ReplaceEverythingFromTheOffset) {
  Unstable u = holding({ent(5, 1), ent(6, 1)});
  u.accept_in_progress();
  u.truncate_and_append({ent(5, 2)});
  EXPECT_EQ(u.offset(), Index{5});
  EXPECT_EQ(u.entries(), std::vector<Entry>{ent(5, 2)});
  EXPECT_EQ(u.next_entries(), std::vector<Entry>{ent(5, 2)});
  u.check_invariants();
}

TEST(Unstable, TruncateInTheMiddle) {
  Unstable u = holding({ent(5, 1), ent(6, 1), ent(7, 1)});
  u.truncate_and_append({ent(6, 2), ent(7, 2), ent(8, 2)});
  EXPECT_EQ(u.offset(), Index{5});
  EXPECT_EQ(u.entries(), (std::vector<Entry>{ent(5, 1), ent(6, 2), ent(7, 2), ent(8, 2)}));
  u.check_invariants();
}

TEST(Unstable, TruncateInTheMiddleRewindsInProgress) {
  // 5..7 were handed out; 6 and 7 are replaced before the write completes: they must be handed
  // out again, 5 need not be.
  Unstable u = holding({ent(5, 1), ent(6, 1), ent(7, 1)});
  u.accept_in_progress();
  u.truncate_and_append({ent(6, 2)});
  EXPECT_TRUE(u.has_next_entries());
  EXPECT_EQ(u.next_entries(), std::vector<Entry>{ent(6, 2)});
  u.check_invariants();
}

TEST(Unstable, TruncateInTheMiddleKeepsInProgressBeforeIt) {
  // Only 5 was handed out; 6 and 7 were not, and 7 is replaced: 6 and the new 7 are next.
  Unstable u = holding({ent(5, 1)});
  u.accept_in_progress();
  u.truncate_and_append({ent(6, 1), ent(7, 1)});
  u.truncate_and_append({ent(7, 2)});
  EXPECT_EQ(u.next_entries(), (std::vector<Entry>{ent(6, 1), ent(7, 2)}));
}

TEST(Unstable, StableToDropsDurableEntries) {
  Unstable u = holding({ent(5, 1), ent(6, 1), ent(7, 2)});
  u.accept_in_progress();
  u.stable_to(EntryId{Term{1}, Index{6}});
  EXPECT_EQ(u.offset(), Index{7});
  EXPECT_EQ(u.entries(), std::vector<Entry>{ent(7, 2)});
  EXPECT_FALSE(u.has_next_entries());  // 7 is still being written
  u.check_invariants();
  u.stable_to(EntryId{Term{2}, Index{7}});
  EXPECT_EQ(u.offset(), Index{8});
  EXPECT_TRUE(u.entries().empty());
  EXPECT_EQ(u.maybe_last_index(), std::nullopt);
  u.check_invariants();
}

TEST(Unstable, StableToKeepsEntriesAppendedDuringTheWrite) {
  Unstable u = holding({ent(5, 1), ent(6, 1)});
  u.accept_in_progress();
  u.truncate_and_append({ent(7, 1)});
  u.stable_to(EntryId{Term{1}, Index{6}});
  EXPECT_EQ(u.offset(), Index{7});
  EXPECT_TRUE(u.has_next_entries());
  EXPECT_EQ(u.next_entries(), std::vector<Entry>{ent(7, 1)});
  u.check_invariants();
}

TEST(Unstable, StableToIgnoresAnEntryReplacedDuringTheWrite) {
  // 6/1 was being written when a new leader replaced it with 6/2. The write of 6/1 completing
  // says nothing about 6/2, which is not durable.
  Unstable u = holding({ent(5, 1), ent(6, 1)});
  u.accept_in_progress();
  u.truncate_and_append({ent(6, 2)});
  u.stable_to(EntryId{Term{1}, Index{6}});
  EXPECT_EQ(u.offset(), Index{5});
  EXPECT_EQ(u.entries(), (std::vector<Entry>{ent(5, 1), ent(6, 2)}));
  EXPECT_EQ(u.next_entries(), std::vector<Entry>{ent(6, 2)});
  u.check_invariants();
}

TEST(Unstable, StableToIgnoresIndexesNotHeld) {
  Unstable u = holding({ent(5, 1), ent(6, 1)});
  u.stable_to(EntryId{Term{1}, Index{4}});  // already stable
  u.stable_to(EntryId{Term{1}, Index{9}});  // never held
  EXPECT_EQ(u.offset(), Index{5});
  EXPECT_EQ(u.entries().size(), 2U);
}

TEST(Unstable, SliceReturnsTheHalfOpenRange) {
  Unstable u = holding({ent(5, 1), ent(6, 1), ent(7, 2), ent(8, 3)});
  EXPECT_EQ(u.slice(Index{6}, Index{8}), (std::vector<Entry>{ent(6, 1), ent(7, 2)}));
  EXPECT_EQ(u.slice(Index{5}, Index{9}).size(), 4U);
  EXPECT_TRUE(u.slice(Index{7}, Index{7}).empty());
}

// --- A snapshot from the leader (Raft §7: InstallSnapshot replaces the log) ---

Snapshot snap(std::uint64_t index, std::uint64_t term) {
  return Snapshot{.meta = SnapshotMeta{.last = EntryId{Term{term}, Index{index}},
                                       .conf_state = ConfState{.voters = {NodeId{1}, NodeId{2}}}},
                  .data = Bytes::copy_of("state")};
}

TEST(Unstable, NoSnapshotMeansNoFirstIndex) {
  Unstable u = holding({ent(5, 1)});
  EXPECT_EQ(u.maybe_first_index(), std::nullopt);
  EXPECT_FALSE(u.snapshot().has_value());
  EXPECT_FALSE(u.has_next_snapshot());
}

TEST(Unstable, RestoreReplacesEverythingWithTheSnapshot) {
  Unstable u = holding({ent(5, 1), ent(6, 1), ent(7, 2)});
  u.accept_in_progress();
  u.restore(snap(10, 3));
  EXPECT_EQ(u.offset(), Index{11});
  EXPECT_TRUE(u.entries().empty());
  EXPECT_FALSE(u.has_next_entries());
  EXPECT_EQ(u.maybe_first_index(), Index{11});
  EXPECT_EQ(u.maybe_last_index(), Index{10});
  ASSERT_TRUE(u.snapshot().has_value());
  EXPECT_EQ(*u.snapshot(), snap(10, 3));
  EXPECT_TRUE(u.has_next_snapshot());
  u.check_invariants();
}

TEST(Unstable, MaybeTermKnowsOnlyTheSnapshotsLastEntry) {
  Unstable u(Index{1});
  u.restore(snap(10, 3));
  EXPECT_EQ(u.maybe_term(Index{10}), Term{3});
  // Entries the snapshot covers are gone, and nothing follows it yet.
  EXPECT_EQ(u.maybe_term(Index{9}), std::nullopt);
  EXPECT_EQ(u.maybe_term(Index{5}), std::nullopt);
  EXPECT_EQ(u.maybe_term(Index{11}), std::nullopt);
}

TEST(Unstable, RestoreBehindTheHeldEntriesStillReplacesThem) {
  // A snapshot may lie inside the unstable range; the log after it is dropped all the same.
  Unstable u = holding({ent(5, 1), ent(6, 1), ent(7, 2)});
  u.restore(snap(6, 1));
  EXPECT_EQ(u.offset(), Index{7});
  EXPECT_TRUE(u.entries().empty());
  EXPECT_EQ(u.maybe_last_index(), Index{6});
  EXPECT_EQ(u.maybe_term(Index{7}), std::nullopt);
  u.check_invariants();
}

TEST(Unstable, EntriesAppendedAfterARestoredSnapshot) {
  Unstable u(Index{1});
  u.restore(snap(10, 3));
  u.truncate_and_append({ent(11, 3), ent(12, 4)});
  EXPECT_EQ(u.offset(), Index{11});
  EXPECT_EQ(u.maybe_first_index(), Index{11});
  EXPECT_EQ(u.maybe_last_index(), Index{12});
  EXPECT_EQ(u.maybe_term(Index{10}), Term{3});
  EXPECT_EQ(u.maybe_term(Index{11}), Term{3});
  EXPECT_EQ(u.maybe_term(Index{12}), Term{4});
  // Snapshot and entries are handed out together.
  EXPECT_TRUE(u.has_next_snapshot());
  EXPECT_EQ(u.next_entries(), (std::vector<Entry>{ent(11, 3), ent(12, 4)}));
  u.accept_in_progress();
  EXPECT_FALSE(u.has_next_snapshot());
  EXPECT_FALSE(u.has_next_entries());
  u.check_invariants();
}

TEST(Unstable, StableSnapshotToDropsTheInstalledSnapshot) {
  Unstable u(Index{1});
  u.restore(snap(10, 3));
  u.truncate_and_append({ent(11, 3)});
  u.accept_in_progress();
  u.stable_snapshot_to(Index{10});
  EXPECT_FALSE(u.snapshot().has_value());
  EXPECT_FALSE(u.has_next_snapshot());
  EXPECT_EQ(u.maybe_first_index(), std::nullopt);
  // The entries after it stay until they are stable themselves.
  EXPECT_EQ(u.maybe_last_index(), Index{11});
  EXPECT_EQ(u.maybe_term(Index{10}), std::nullopt);  // now read from storage
  u.stable_to(EntryId{Term{3}, Index{11}});
  EXPECT_TRUE(u.entries().empty());
  EXPECT_EQ(u.maybe_last_index(), std::nullopt);
  EXPECT_EQ(u.offset(), Index{12});
  u.check_invariants();
}

TEST(Unstable, StableSnapshotToAnotherIndexIsIgnored) {
  // The snapshot installed was an older one, replaced by a newer restore meanwhile.
  Unstable u(Index{1});
  u.restore(snap(10, 3));
  u.accept_in_progress();
  u.stable_snapshot_to(Index{9});
  u.stable_snapshot_to(Index{11});
  ASSERT_TRUE(u.snapshot().has_value());
  EXPECT_EQ(u.maybe_first_index(), Index{11});
  EXPECT_FALSE(u.has_next_snapshot());  // still being installed
}

TEST(Unstable, ASecondRestoreIsHandedOutAgain) {
  Unstable u(Index{1});
  u.restore(snap(10, 3));
  u.accept_in_progress();
  ASSERT_FALSE(u.has_next_snapshot());
  u.restore(snap(20, 4));
  EXPECT_TRUE(u.has_next_snapshot());
  EXPECT_EQ(u.snapshot()->meta.last.index, Index{20});
  EXPECT_EQ(u.offset(), Index{21});
  // Stabilizing the first one does not drop the second.
  u.stable_snapshot_to(Index{10});
  EXPECT_TRUE(u.snapshot().has_value());
  u.check_invariants();
}

TEST(UnstableDeathTest, SliceOutsideTheHeldEntriesAborts) {
  Unstable u = holding({ent(5, 1), ent(6, 1)});
  EXPECT_DEATH((void)u.slice(Index{4}, Index{6}), "unstable slice");
  EXPECT_DEATH((void)u.slice(Index{5}, Index{8}), "unstable slice");
}

}  // namespace
}  // namespace skiff::detail
