// Unstable: the tail of the log not yet known to be durable in storage.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "skiff/entry.h"
#include "skiff/types.h"

namespace skiff::detail {

/// Entries appended (by a leader's proposals or a follower's Appends) that the application has
/// not yet persisted. Entries in [offset, offset_in_progress) were handed out in a Ready that
/// is being persisted; the rest are new. Once persisted (stable_to) they leave this buffer and
/// are read back from storage.
class Unstable {
 public:
  /// Empty, with the next entry expected at `offset`.
  explicit Unstable(Index offset) : offset_(offset), offset_in_progress_(offset) {}

  Index offset() const { return offset_; }
  const std::vector<Entry>& entries() const { return entries_; }

  /// Index of the last unstable entry, if any.
  std::optional<Index> maybe_last_index() const;
  /// Term of the entry at `i` if it is held here.
  std::optional<Term> maybe_term(Index i) const;

  /// Whether there are entries not yet handed out for persistence.
  bool has_next_entries() const { return offset_in_progress_ < offset_ + entries_.size(); }
  /// The entries not yet handed out for persistence.
  std::vector<Entry> next_entries() const;
  /// Marks every entry as handed out (in a Ready).
  void accept_in_progress() { offset_in_progress_ = offset_ + entries_.size(); }

  /// Entries up to `id` are durable: drop them, if `id` still names an entry held here (an
  /// entry truncated and replaced while the write was in progress is not stable).
  void stable_to(EntryId id);

  /// Appends `ents` (contiguous, non-empty), truncating any held entries at or after the first
  /// one's index. If that index lies before offset, everything held is replaced and the stored
  /// entries from there on will be overwritten by the next Ready.
  void truncate_and_append(const std::vector<Entry>& ents);

  /// Entries [lo, hi). Precondition: offset <= lo <= hi <= offset + size.
  std::vector<Entry> slice(Index lo, Index hi) const;

  void check_invariants() const;

 private:
  // Invariant: entries_[k].index == offset_ + k.
  std::vector<Entry> entries_;
  Index offset_;
  // Invariant: offset_ <= offset_in_progress_ <= offset_ + entries_.size().
  Index offset_in_progress_;
};

}  // namespace skiff::detail
