// RaftLog: the log as the protocol sees it — durable storage followed by the unstable tail —
// with the commit and apply cursors.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/unstable.h"
#include "skiff/entry.h"
#include "skiff/log_storage.h"
#include "skiff/result.h"
#include "skiff/snapshot.h"
#include "skiff/types.h"

namespace skiff::detail {

class RaftLog {
 public:
  /// A log over `storage` (which must outlive it), committed up to `committed` and applied up
  /// to `applied`. Preconditions checked by the caller: applied <= committed <= last index.
  RaftLog(const LogStorage& storage, Index committed, Index applied);

  Index first_index() const;
  Index last_index() const;
  /// Term of the entry at `i`, for i in [first_index() - 1, last_index()]; kCompacted below,
  /// kUnavailable above, or a storage error.
  Result<Term> term(Index i) const;
  /// Term of the last entry (Term{0} for an empty log; storage errors read as Term{0}).
  Term last_term() const;
  EntryId last_entry_id() const { return EntryId{last_term(), last_index()}; }

  /// Whether the entry at `i` has term `t` (false on any error).
  bool match_term(Index i, Term t) const;
  /// Raft §5.4.1: a candidate whose last entry is `last` is at least as up to date as us.
  bool is_up_to_date(EntryId last) const;

  Index committed() const { return committed_; }
  Index applied() const { return applied_; }
  /// Highest index handed out for applying (in a Ready not yet advanced), >= applied().
  Index applying() const { return applying_; }

  /// What maybe_append did.
  struct Appended {
    Index last_new;                     // the last index this Append proved matching
    std::optional<Index> written_from;  // set if entries were written from this index on
  };
  /// Follower side of Append (Raft §5.3): if our entry at `prev` has `prev_term`, appends
  /// `ents` after truncating the first conflicting suffix and commits up to min(commit, last
  /// new index). nullopt if the consistency check fails. kInvalidArgument if the entries
  /// would overwrite a committed entry (a broken peer).
  Result<std::optional<Appended>> maybe_append(EntryId prev, Index commit,
                                               const std::vector<Entry>& ents);
  /// Leader side: appends `ents` (which follow last_index()). Returns the new last index.
  Index append(const std::vector<Entry>& ents);

  /// The first index in `ents` whose term differs from ours (or that we lack), or nullopt if
  /// we hold all of them.
  std::optional<Index> find_conflict(const std::vector<Entry>& ents) const;
  /// The largest index <= `index` whose term is <= `term`, with that term (for fast
  /// backtracking of rejected Appends; thesis §5.3's optimisation as in etcd-io/raft).
  EntryId find_conflict_by_term(Index index, Term term) const;

  /// Replaces the log with a snapshot from the leader (Raft §7): everything up to its index is
  /// committed, the log restarts after it. Precondition: its index is above committed().
  void restore(Snapshot s);
  /// The latest snapshot in storage (what a leader sends).
  Result<Snapshot> stored_snapshot() const { return storage_.snapshot(); }
  /// The snapshot waiting to be installed, if any.
  const std::optional<Snapshot>& pending_snapshot() const { return unstable_.snapshot(); }
  bool has_next_snapshot() const { return unstable_.has_next_snapshot(); }
  /// The snapshot at `index` is installed in storage and in the state machine.
  void snapshot_installed(Index index);

  /// Moves commit forward to `to` (never back). Precondition: to <= last_index().
  void commit_to(Index to);
  /// Commits `index` if its term is `term` (Raft §5.4.2: only current-term entries are
  /// committed by counting replicas). Returns true if commit advanced.
  bool maybe_commit(Index index, Term term);

  /// Entries [lo, hi) limited to `max_bytes` (at least one). Errors as LogStorage::entries.
  Result<std::vector<Entry>> slice(Index lo, Index hi, std::uint64_t max_bytes) const;

  /// Unstable entries not yet handed out for persistence.
  bool has_next_unstable_entries() const { return unstable_.has_next_entries(); }
  std::vector<Entry> next_unstable_entries() const { return unstable_.next_entries(); }
  void accept_unstable() { unstable_.accept_in_progress(); }
  /// Entries up to `id` are durable.
  void stable_to(EntryId id) { unstable_.stable_to(id); }
  /// Highest index such that our log up to it is durable.
  Index persisted_index() const;

  /// Whether committed entries wait to be handed out for applying (never before a pending
  /// snapshot is installed: they follow it).
  bool has_next_committed_entries() const {
    return applying_ < committed_ && !unstable_.snapshot().has_value();
  }
  /// The committed entries after applying(), limited to `max_bytes` (at least one).
  Result<std::vector<Entry>> next_committed_entries(std::uint64_t max_bytes) const;
  /// Entries up to `index` were handed out for applying.
  void accept_applying(Index index);
  /// Entries up to `index` were applied.
  void applied_to(Index index);

  /// "log [1,9] unstable 8 commit 7 applied 5".
  std::string describe() const;
  void check_invariants() const;

 private:
  const LogStorage& storage_;
  Unstable unstable_;
  // Invariant: applied_ <= applying_ <= committed_ <= last_index().
  Index committed_;
  Index applying_;
  Index applied_;
};

}  // namespace skiff::detail
