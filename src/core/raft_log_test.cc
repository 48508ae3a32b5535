#include "core/raft_log.h"

#include <gtest/gtest.h>

#include <limits>

#include "core/test_entries.h"
#include "skiff/memory_storage.h"

namespace skiff::detail {
namespace {

using namespace test_entries;  // NOLINT(google-build-using-namespace)

// A view of a MemoryStorage whose prefix up to `compacted` was discarded after a snapshot
// (Raft §7), so reads there fail with kCompacted, while the inner storage keeps the entries
// the tests compare against.
class CompactedStorage final : public LogStorage {
 public:
  CompactedStorage(const MemoryStorage& inner, Index compacted)
      : inner_(inner), compacted_(compacted) {}

  Result<InitialState> initial_state() const override { return inner_.initial_state(); }
  Result<std::vector<Entry>> entries(Index lo, Index hi, std::uint64_t max_bytes) const override {
    if (lo < first_index()) {
      return Status(ErrorCode::kCompacted, "compacted");
    }
    return inner_.entries(lo, hi, max_bytes);
  }
  Result<Term> term(Index i) const override {
    if (i < compacted_) {
      return Status(ErrorCode::kCompacted, "compacted");
    }
    return inner_.term(i);
  }
  Index first_index() const override { return compacted_ + 1; }
  Index last_index() const override { return inner_.last_index(); }
  Result<Snapshot> snapshot() const override {
    Snapshot s;
    s.meta.last = EntryId{*inner_.term(compacted_), compacted_};
    return s;
  }

 private:
  const MemoryStorage& inner_;
  Index compacted_;
};

class RaftLogTest : public ::testing::Test {
 protected:
  // Storage holds `stored`; nothing is committed or applied.
  void store(const std::vector<Entry>& stored) { ASSERT_TRUE(storage_.append(stored).ok()); }

  MemoryStorage storage_;
};

TEST_F(RaftLogTest, FreshLog) {
  RaftLog log(storage_, Index{0}, Index{0});
  EXPECT_EQ(log.first_index(), Index{1});
  EXPECT_EQ(log.last_index(), Index{0});
  EXPECT_EQ(log.last_term(), Term{0});
  EXPECT_EQ(log.term(Index{0}).value(), Term{0});
  EXPECT_EQ(log.term(Index{1}).status().code(), ErrorCode::kUnavailable);
  EXPECT_EQ(log.persisted_index(), Index{0});
  log.check_invariants();
}

TEST_F(RaftLogTest, TermReadsStorageThenUnstable) {
  store(ents(1, {1, 2, 3}));
  RaftLog log(storage_, Index{0}, Index{0});
  log.append(ents(4, {3, 4}));
  EXPECT_EQ(log.last_index(), Index{5});
  EXPECT_EQ(log.last_term(), Term{4});
  EXPECT_EQ(log.last_entry_id(), (EntryId{Term{4}, Index{5}}));
  EXPECT_EQ(log.term(Index{0}).value(), Term{0});
  EXPECT_EQ(log.term(Index{2}).value(), Term{2});
  EXPECT_EQ(log.term(Index{4}).value(), Term{3});
  EXPECT_EQ(log.term(Index{5}).value(), Term{4});
  EXPECT_EQ(log.term(Index{6}).status().code(), ErrorCode::kUnavailable);
  EXPECT_TRUE(log.match_term(Index{5}, Term{4}));
  EXPECT_FALSE(log.match_term(Index{5}, Term{3}));
  EXPECT_FALSE(log.match_term(Index{6}, Term{4}));
}

TEST_F(RaftLogTest, TermBelowTheCompactionPointIsCompacted) {
  store(ents(1, {1, 2, 3, 3}));
  CompactedStorage compacted(storage_, Index{2});
  RaftLog log(compacted, Index{2}, Index{2});
  EXPECT_EQ(log.first_index(), Index{3});
  // The term of the entry just before the first one is still known (Raft §7).
  EXPECT_EQ(log.term(Index{2}).value(), Term{2});
  EXPECT_EQ(log.term(Index{1}).status().code(), ErrorCode::kCompacted);
  EXPECT_EQ(log.term(Index{0}).status().code(), ErrorCode::kCompacted);
  EXPECT_EQ(log.term(Index{5}).status().code(), ErrorCode::kUnavailable);
  EXPECT_FALSE(log.match_term(Index{1}, Term{1}));
}

TEST_F(RaftLogTest, IsUpToDateComparesLastTermThenLength) {
  // Raft §5.4.1: the log with the later last term is more up to date; with equal last terms
  // the longer log is.
  store(ents(1, {1, 2, 3}));
  RaftLog log(storage_, Index{0}, Index{0});
  EXPECT_TRUE(log.is_up_to_date(EntryId{Term{4}, Index{1}}));  // later term, shorter log
  EXPECT_TRUE(log.is_up_to_date(EntryId{Term{3}, Index{3}}));  // same
  EXPECT_TRUE(log.is_up_to_date(EntryId{Term{3}, Index{4}}));  // longer
  EXPECT_FALSE(log.is_up_to_date(EntryId{Term{3}, Index{2}}));
  EXPECT_FALSE(log.is_up_to_date(EntryId{Term{2}, Index{10}}));
  EXPECT_FALSE(log.is_up_to_date(EntryId{Term{0}, Index{0}}));
}

TEST_F(RaftLogTest, MaybeAppendRejectsAMismatchedPrevious) {
  store(ents(1, {1, 2, 3}));
  RaftLog log(storage_, Index{0}, Index{0});
  auto r = log.maybe_append(EntryId{Term{3}, Index{2}}, Index{3}, ents(3, {3}));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, std::nullopt);
  r = log.maybe_append(EntryId{Term{3}, Index{4}}, Index{3}, ents(5, {3}));  // we lack 4
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, std::nullopt);
  EXPECT_EQ(log.last_index(), Index{3});
  EXPECT_EQ(log.committed(), Index{0});
  EXPECT_FALSE(log.has_next_unstable_entries());
}

TEST_F(RaftLogTest, MaybeAppendAppendsAfterAMatch) {
  store(ents(1, {1, 2, 3}));
  RaftLog log(storage_, Index{0}, Index{0});
  auto r = log.maybe_append(EntryId{Term{3}, Index{3}}, Index{3}, ents(4, {3, 4}));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ((*r)->last_new, Index{5});
  EXPECT_EQ((*r)->written_from, Index{4});
  EXPECT_EQ(log.last_index(), Index{5});
  EXPECT_EQ(log.committed(), Index{3});
  EXPECT_EQ(indexes(log.next_unstable_entries()), (std::vector<std::uint64_t>{4, 5}));
  log.check_invariants();
}

TEST_F(RaftLogTest, MaybeAppendCommitsOnlyUpToTheLastEntryItMatched) {
  // PITFALLS #11: our entry 3 may be stale; an Append that matched up to 1 proves nothing about
  // it, so the leader's commit of 3 only commits 1.
  store(ents(1, {1, 1, 1}));
  RaftLog log(storage_, Index{0}, Index{0});
  auto r = log.maybe_append(EntryId{Term{1}, Index{1}}, Index{3}, {});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ((*r)->last_new, Index{1});
  EXPECT_EQ(log.committed(), Index{1});
  r = log.maybe_append(EntryId{Term{0}, Index{0}}, Index{5}, ents(1, {1, 1}));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ((*r)->last_new, Index{2});
  EXPECT_EQ(log.committed(), Index{2});
}

TEST_F(RaftLogTest, MaybeAppendNeverMovesCommitBack) {
  store(ents(1, {1, 1, 1}));
  RaftLog log(storage_, Index{3}, Index{0});
  auto r = log.maybe_append(EntryId{Term{1}, Index{1}}, Index{1}, {});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(log.committed(), Index{3});
}

TEST_F(RaftLogTest, MaybeAppendKeepsAMatchingSuffix) {
  // PITFALLS #11: a delayed Append carrying a prefix of what we hold truncates nothing.
  store(ents(1, {1, 2, 3}));
  RaftLog log(storage_, Index{0}, Index{0});
  auto r = log.maybe_append(EntryId{Term{0}, Index{0}}, Index{0}, ents(1, {1, 2}));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ((*r)->last_new, Index{2});
  EXPECT_EQ(log.last_index(), Index{3});
  EXPECT_EQ(log.term(Index{3}).value(), Term{3});
  EXPECT_FALSE(log.has_next_unstable_entries());
}

TEST_F(RaftLogTest, MaybeAppendTruncatesFromTheFirstConflict) {
  store(ents(1, {1, 2, 2}));
  RaftLog log(storage_, Index{1}, Index{0});
  // 2/2 matches, 3/2 conflicts with 3/4: only 3 and 4 are written.
  auto r = log.maybe_append(EntryId{Term{1}, Index{1}}, Index{1}, ents(2, {2, 4, 4}));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ((*r)->last_new, Index{4});
  EXPECT_EQ((*r)->written_from, Index{3});
  EXPECT_EQ(log.last_index(), Index{4});
  EXPECT_EQ(log.term(Index{2}).value(), Term{2});
  EXPECT_EQ(log.term(Index{3}).value(), Term{4});
  EXPECT_EQ(log.next_unstable_entries(), ents(3, {4, 4}));
  // Storage's old 3/2 is about to be overwritten: the log is durable only up to 2.
  EXPECT_EQ(log.persisted_index(), Index{2});
  log.check_invariants();
}

TEST_F(RaftLogTest, MaybeAppendTruncatesAShorterReplacement) {
  store(ents(1, {1, 1, 1, 1}));
  RaftLog log(storage_, Index{0}, Index{0});
  auto r = log.maybe_append(EntryId{Term{1}, Index{1}}, Index{0}, ents(2, {2}));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ((*r)->last_new, Index{2});
  EXPECT_EQ(log.last_index(), Index{2});  // 3 and 4 were in the conflicting suffix
  EXPECT_EQ(log.term(Index{3}).status().code(), ErrorCode::kUnavailable);
}

TEST_F(RaftLogTest, MaybeAppendRefusesToOverwriteCommittedEntries) {
  store(ents(1, {1, 1, 1}));
  RaftLog log(storage_, Index{2}, Index{0});
  auto r = log.maybe_append(EntryId{Term{1}, Index{1}}, Index{3}, ents(2, {2, 2}));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(log.last_index(), Index{3});
  EXPECT_EQ(log.term(Index{2}).value(), Term{1});
  EXPECT_EQ(log.committed(), Index{2});
  EXPECT_FALSE(log.has_next_unstable_entries());
  log.check_invariants();
}

TEST_F(RaftLogTest, FindConflictSkipsTheCompactedPrefix) {
  // PITFALLS #7d: entries inside our compacted prefix are committed, so a legitimate leader
  // agrees with them; they are never conflicts, even though we cannot read their terms.
  store(ents(1, {1, 1, 2, 2}));
  CompactedStorage compacted(storage_, Index{2});
  RaftLog log(compacted, Index{2}, Index{2});
  EXPECT_EQ(log.find_conflict(ents(1, {7, 7, 2})), std::nullopt);
  EXPECT_EQ(log.find_conflict(ents(1, {7, 7, 2, 3})), Index{4});
  // An Append right after the compaction point matches on the compacted entry's term.
  auto r = log.maybe_append(EntryId{Term{1}, Index{2}}, Index{2}, ents(3, {2, 2, 3}));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ((*r)->last_new, Index{5});
  EXPECT_EQ(log.next_unstable_entries(), ents(5, {3}));
}

TEST_F(RaftLogTest, FindConflict) {
  store(ents(1, {1, 2, 3}));
  RaftLog log(storage_, Index{0}, Index{0});
  EXPECT_EQ(log.find_conflict({}), std::nullopt);
  EXPECT_EQ(log.find_conflict(ents(1, {1, 2, 3})), std::nullopt);
  EXPECT_EQ(log.find_conflict(ents(2, {2})), std::nullopt);
  EXPECT_EQ(log.find_conflict(ents(2, {2, 3, 4})), Index{4});  // new entry
  EXPECT_EQ(log.find_conflict(ents(1, {1, 4, 4})), Index{2});  // different term
  EXPECT_EQ(log.find_conflict(ents(3, {5})), Index{3});
}

TEST_F(RaftLogTest, FindConflictByTerm) {
  // Terms 1 1 2 2 4 at indexes 1..5.
  store(ents(1, {1, 1, 2, 2, 4}));
  RaftLog log(storage_, Index{0}, Index{0});
  auto at = [](std::uint64_t index, std::uint64_t term) {
    return EntryId{Term{term}, Index{index}};
  };
  EXPECT_EQ(log.find_conflict_by_term(Index{5}, Term{4}), at(5, 4));
  EXPECT_EQ(log.find_conflict_by_term(Index{5}, Term{3}), at(4, 2));  // skips all of term 4
  EXPECT_EQ(log.find_conflict_by_term(Index{5}, Term{1}), at(2, 1));
  EXPECT_EQ(log.find_conflict_by_term(Index{3}, Term{5}), at(3, 2));
  EXPECT_EQ(log.find_conflict_by_term(Index{5}, Term{0}), at(0, 0));
  // Past our log: the term is unknown (0), the index may still match.
  EXPECT_EQ(log.find_conflict_by_term(Index{8}, Term{4}), at(8, 0));
}

TEST_F(RaftLogTest, FindConflictByTermStopsAtTheCompactionPoint) {
  store(ents(1, {3, 3, 3, 3}));
  CompactedStorage compacted(storage_, Index{2});
  RaftLog log(compacted, Index{2}, Index{2});
  EXPECT_EQ(log.find_conflict_by_term(Index{4}, Term{1}), (EntryId{Term{0}, Index{1}}));
}

TEST_F(RaftLogTest, CommitToNeverMovesBack) {
  store(ents(1, {1, 1, 1}));
  RaftLog log(storage_, Index{0}, Index{0});
  log.commit_to(Index{2});
  EXPECT_EQ(log.committed(), Index{2});
  log.commit_to(Index{1});
  EXPECT_EQ(log.committed(), Index{2});
}

TEST_F(RaftLogTest, MaybeCommitOnlyCommitsAnEntryOfTheGivenTerm) {
  // Raft §5.4.2: a leader commits by counting replicas only entries of its current term.
  store(ents(1, {1, 2, 3}));
  RaftLog log(storage_, Index{0}, Index{0});
  EXPECT_FALSE(log.maybe_commit(Index{2}, Term{3}));
  EXPECT_EQ(log.committed(), Index{0});
  EXPECT_TRUE(log.maybe_commit(Index{3}, Term{3}));
  EXPECT_EQ(log.committed(), Index{3});
  EXPECT_FALSE(log.maybe_commit(Index{2}, Term{2}));  // not above commit
  EXPECT_EQ(log.committed(), Index{3});
}

class RaftLogSliceTest : public RaftLogTest {
 protected:
  // 1..3 in storage, 4..6 unstable; every entry is 20 bytes.
  void SetUp() override {
    store(ents(1, {1, 1, 1}));
    log_.emplace(storage_, Index{0}, Index{0});
    log_->append(ents(4, {2, 2, 2}));
  }

  std::vector<std::uint64_t> slice(std::uint64_t lo, std::uint64_t hi, std::uint64_t max_bytes) {
    auto r = log_->slice(Index{lo}, Index{hi}, max_bytes);
    EXPECT_TRUE(r.ok()) << r.status().to_string();
    return r.ok() ? indexes(*r) : std::vector<std::uint64_t>{};
  }

  std::optional<RaftLog> log_;
};

TEST_F(RaftLogSliceTest, AcrossTheStorageUnstableBoundary) {
  EXPECT_EQ(slice(2, 6, kNoLimit), (std::vector<std::uint64_t>{2, 3, 4, 5}));
  EXPECT_EQ(slice(1, 7, kNoLimit), (std::vector<std::uint64_t>{1, 2, 3, 4, 5, 6}));
  EXPECT_EQ(slice(1, 3, kNoLimit), (std::vector<std::uint64_t>{1, 2}));
  EXPECT_EQ(slice(5, 7, kNoLimit), (std::vector<std::uint64_t>{5, 6}));
  EXPECT_EQ(slice(4, 4, kNoLimit), std::vector<std::uint64_t>{});
}

TEST_F(RaftLogSliceTest, ByteLimitStopsBeforeTheEntryThatWouldExceedIt) {
  EXPECT_EQ(slice(2, 7, 40), (std::vector<std::uint64_t>{2, 3}));     // stops at the boundary
  EXPECT_EQ(slice(1, 7, 50), (std::vector<std::uint64_t>{1, 2}));     // storage stops early
  EXPECT_EQ(slice(2, 7, 60), (std::vector<std::uint64_t>{2, 3, 4}));  // crosses into unstable
  EXPECT_EQ(slice(4, 7, 45), (std::vector<std::uint64_t>{4, 5}));     // unstable only
  EXPECT_EQ(slice(1, 3, 39), (std::vector<std::uint64_t>{1}));        // storage only
}

TEST_F(RaftLogSliceTest, AlwaysAtLeastOneEntry) {
  EXPECT_EQ(slice(1, 7, 1), std::vector<std::uint64_t>{1});
  EXPECT_EQ(slice(3, 7, 1), std::vector<std::uint64_t>{3});
  EXPECT_EQ(slice(4, 7, 1), std::vector<std::uint64_t>{4});
  EXPECT_EQ(slice(6, 7, 0), std::vector<std::uint64_t>{6});
}

TEST_F(RaftLogSliceTest, OutOfRange) {
  EXPECT_EQ(log_->slice(Index{2}, Index{8}, kNoLimit).status().code(), ErrorCode::kUnavailable);
  EXPECT_EQ(log_->slice(Index{0}, Index{2}, kNoLimit).status().code(), ErrorCode::kCompacted);
}

TEST_F(RaftLogSliceTest, ReadsReplacedEntriesFromUnstableNotStorage) {
  // Entry 2 onwards was replaced in term 3; storage still holds the old 2/1 and 3/1.
  ASSERT_TRUE(log_->maybe_append(EntryId{Term{1}, Index{1}}, Index{0}, ents(2, {3})).ok());
  auto r = log_->slice(Index{1}, Index{3}, kNoLimit);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, (std::vector<Entry>{ent(1, 1), ent(2, 3)}));
  EXPECT_EQ(log_->last_index(), Index{2});
}

TEST_F(RaftLogSliceTest, CompactedStorage) {
  CompactedStorage compacted(storage_, Index{1});
  RaftLog log(compacted, Index{1}, Index{1});
  EXPECT_EQ(log.slice(Index{1}, Index{3}, kNoLimit).status().code(), ErrorCode::kCompacted);
  auto r = log.slice(Index{2}, Index{4}, kNoLimit);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(indexes(*r), (std::vector<std::uint64_t>{2, 3}));
}

TEST_F(RaftLogTest, SliceNeverSkipsAnEntryStorageLeftOut) {
  // Storage stops before a large entry; a small unstable entry after it must not be appended
  // to the result, or the slice would have a gap.
  std::vector<Entry> stored = ents(1, {1, 1, 1});
  stored[1].data = Bytes(std::string(84, 'x'));  // 100 bytes
  store(stored);
  RaftLog log(storage_, Index{0}, Index{0});
  log.append(ents(4, {1}));
  EXPECT_EQ(indexes(log.slice(Index{1}, Index{5}, 50).value()), std::vector<std::uint64_t>{1});
  EXPECT_EQ(indexes(log.slice(Index{1}, Index{5}, 160).value()),
            (std::vector<std::uint64_t>{1, 2, 3, 4}));
}

TEST_F(RaftLogTest, PersistedIndexFollowsStableTo) {
  store(ents(1, {1, 1}));
  RaftLog log(storage_, Index{0}, Index{0});
  log.append(ents(3, {1, 1}));
  EXPECT_EQ(log.persisted_index(), Index{2});
  EXPECT_EQ(log.next_unstable_entries(), ents(3, {1, 1}));
  log.accept_unstable();
  EXPECT_FALSE(log.has_next_unstable_entries());
  // The application writes 3 and 4 and reports them durable.
  ASSERT_TRUE(storage_.append(ents(3, {1, 1})).ok());
  log.stable_to(EntryId{Term{1}, Index{4}});
  EXPECT_EQ(log.persisted_index(), Index{4});
  EXPECT_EQ(log.last_index(), Index{4});
  log.check_invariants();
}

TEST_F(RaftLogTest, CommittedEntriesAreHandedOutThenApplied) {
  store(ents(1, {1, 1, 1}));
  RaftLog log(storage_, Index{0}, Index{0});
  log.append(ents(4, {1, 1}));
  EXPECT_FALSE(log.has_next_committed_entries());
  log.commit_to(Index{3});
  ASSERT_TRUE(log.has_next_committed_entries());
  EXPECT_EQ(indexes(log.next_committed_entries(kNoLimit).value()),
            (std::vector<std::uint64_t>{1, 2, 3}));
  EXPECT_EQ(indexes(log.next_committed_entries(1).value()), std::vector<std::uint64_t>{1});
  EXPECT_EQ(indexes(log.next_committed_entries(40).value()), (std::vector<std::uint64_t>{1, 2}));

  log.accept_applying(Index{2});
  EXPECT_EQ(log.applying(), Index{2});
  EXPECT_EQ(log.applied(), Index{0});  // handed out is not applied
  EXPECT_EQ(indexes(log.next_committed_entries(kNoLimit).value()), std::vector<std::uint64_t>{3});
  log.accept_applying(Index{3});
  EXPECT_FALSE(log.has_next_committed_entries());

  log.applied_to(Index{2});
  EXPECT_EQ(log.applied(), Index{2});
  EXPECT_EQ(log.applying(), Index{3});
  // Commit moves into the unstable tail: those entries are handed out too.
  log.commit_to(Index{5});
  EXPECT_EQ(indexes(log.next_committed_entries(kNoLimit).value()),
            (std::vector<std::uint64_t>{4, 5}));
  log.applied_to(Index{3});
  EXPECT_EQ(log.applied(), Index{3});
  log.check_invariants();
}

TEST_F(RaftLogTest, RestartAfterApplyingHandsOutOnlyTheRest) {
  store(ents(1, {1, 1, 1}));
  RaftLog log(storage_, Index{3}, Index{2});
  EXPECT_EQ(log.applied(), Index{2});
  EXPECT_EQ(indexes(log.next_committed_entries(kNoLimit).value()), std::vector<std::uint64_t>{3});
}

TEST_F(RaftLogTest, Describe) {
  store(ents(1, {1, 1, 1}));
  RaftLog log(storage_, Index{2}, Index{1});
  log.append(ents(4, {2}));
  EXPECT_EQ(log.describe(), "log [1,4] unstable 4 commit 2 applied 1");
}

TEST(RaftLogDeathTest, CommitPastTheLastIndexAborts) {
  MemoryStorage storage;
  RaftLog log(storage, Index{0}, Index{0});
  EXPECT_DEATH(log.commit_to(Index{1}), "past last index");
}

}  // namespace
}  // namespace skiff::detail
