// Unstable: the tail of the log not yet known to be durable in storage.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <vector>

#include "skiff/entry.h"
#include "skiff/snapshot.h"
#include "skiff/types.h"

namespace skiff::detail {

/// Entries appended (by a leader's proposals or a follower's Appends) that the application has
/// not yet persisted, possibly preceded by a snapshot from the leader that replaces the log.
/// Entries in [offset, offset_in_progress) were handed out in a Ready that is being persisted; the
/// rest are new. Once persisted (stable_to) they leave this buffer and are read back from storage.
class Unstable {
 public:
  /// Empty, with the next entry expected at `offset`.
  explicit Unstable(Index offset) : offset_(offset), offset_in_progress_(offset) {}

  Index offset() const { return offset_; }
  const std::vector<Entry>& entries() const { return entries_; }

  /// With a pending snapshot: the index after it (earlier entries are gone).
  std::optional<Index> maybe_first_index() const;
  /// Index of the last unstable entry, or of the pending snapshot, if any.
  std::optional<Index> maybe_last_index() const;
  /// The snapshot waiting to be installed, if any.
  const std::optional<Snapshot>& snapshot() const { return snapshot_; }
  /// Whether the snapshot is not yet handed out for installing.
  bool has_next_snapshot() const { return snapshot_.has_value() && !snapshot_in_progress_; }
  /// Replaces everything with `s`: the log now starts after it.
  void restore(Snapshot s);
  /// The snapshot at `index` is installed: drop it.
  void stable_snapshot_to(Index index);
  /// Term of the entry at `i` if it is held here.
  std::optional<Term> maybe_term(Index i) const;

  /// Whether there are entries not yet handed out for persistence.
  bool has_next_entries() const { return offset_in_progress_ < offset_ + entries_.size(); }
  /// The entries not yet handed out for persistence.
  std::vector<Entry> next_entries() const;
  /// Marks the snapshot and every entry as handed out (in a Ready).
  void accept_in_progress() {
    offset_in_progress_ = offset_ + entries_.size();
    snapshot_in_progress_ = snapshot_.has_value();
  }

  /// Entries up to `id` are durable: drop them, if `id` still names an entry held here (an
  /// entry truncated and replaced while the write was in progress is not stable).
  void stable_to(EntryId id);

  /// Appends `ents` (contiguous, non-empty), truncating any held entries at or after the first
  /// one's index. If that index lies before offset, everything held is replaced and the stored
  /// entries from there on will be overwritten by the next Ready.
  void truncate_and_append(const std::vector<Entry>& ents);

  /// Entries [lo, hi). Precondition: offset <= lo <= hi <= offset + size.
  std::vector<Entry> slice(Index lo, Index hi) const;
  /// The same entries, without copying them; valid until the next change.
  std::span<const Entry> view(Index lo, Index hi) const;

  void check_invariants() const;

 private:
  // Invariant: entries_[k].index == offset_ + k.
  std::vector<Entry> entries_;
  Index offset_;
  // Invariant: offset_ <= offset_in_progress_ <= offset_ + entries_.size().
  Index offset_in_progress_;
  // Invariant: if set, offset_ == snapshot_->meta.last.index + 1.
  std::optional<Snapshot> snapshot_;
  bool snapshot_in_progress_ = false;
};

}  // namespace skiff::detail
