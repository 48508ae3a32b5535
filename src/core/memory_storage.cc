#include "skiff/memory_storage.h"

#include <algorithm>

#include "core/str.h"
#include "skiff/conf_change.h"

namespace skiff {

using detail::str_cat;

Result<InitialState> MemoryStorage::initial_state() const {
  return InitialState{hard_state_, conf_state_};
}

Index MemoryStorage::first_index() const {
  return compacted_.index + 1;
}

Index MemoryStorage::last_index() const {
  return compacted_.index + entries_.size();
}

Result<Term> MemoryStorage::term(Index i) const {
  if (Status s = check_term_index(i, first_index(), last_index()); !s.ok()) {
    return s;
  }
  if (i == compacted_.index) {
    return compacted_.term;
  }
  return entries_[i - first_index()].term;
}

Result<std::vector<Entry>> MemoryStorage::entries(Index lo, Index hi,
                                                  std::uint64_t max_bytes) const {
  if (Status s = check_entries_range(lo, hi, first_index(), last_index()); !s.ok()) {
    return s;
  }
  // Find where the byte limit cuts first, so that the copy is made at its final size.
  const auto begin = entries_.begin() + static_cast<std::ptrdiff_t>(lo - first_index());
  auto end = begin;
  std::uint64_t size = 0;
  for (Index i = lo; i < hi; ++i, ++end) {
    const std::uint64_t s = entry_size(*end);
    if (end != begin && size + s > max_bytes) {
      break;
    }
    size += s;
  }
  return std::vector<Entry>(begin, end);
}

Status MemoryStorage::check_append(const std::vector<Entry>& entries, Index last) {
  for (std::size_t k = 1; k < entries.size(); ++k) {
    if (entries[k].index != entries[k - 1].index + 1) {
      return Status(ErrorCode::kInvalidArgument,
                    str_cat("append: entry ", entries[k].index, " follows ", entries[k - 1].index));
    }
  }
  if (!entries.empty() && entries.front().index > last + 1) {
    return Status(ErrorCode::kInvalidArgument,
                  str_cat("append: first entry ", entries.front().index,
                          " leaves a gap after last index ", last));
  }
  return Status();
}

Status MemoryStorage::append(const std::vector<Entry>& entries) {
  if (entries.empty()) {
    return Status();
  }
  if (Status s = check_append(entries, last_index()); !s.ok()) {
    return s;
  }
  std::size_t skip = 0;
  const Index covered = std::max(compacted_.index, snapshot_.meta.last.index);
  while (skip < entries.size() && entries[skip].index <= covered) {
    ++skip;  // compacted or covered by the snapshot: committed and applied
  }
  if (skip == entries.size()) {
    return Status();
  }
  const Index from = entries[skip].index;
  entries_.resize(from - first_index());
  entries_.insert(entries_.end(), entries.begin() + static_cast<std::ptrdiff_t>(skip),
                  entries.end());
  return Status();
}

Status MemoryStorage::check_save(const WriteBatch& batch) const {
  if (batch.snapshot && batch.snapshot->meta.last.index < snapshot_.meta.last.index) {
    return Status(ErrorCode::kInvalidArgument,
                  str_cat("save: ", describe(*batch.snapshot), " is older than the stored ",
                          describe(snapshot_)));
  }
  if (!batch.entries.empty()) {
    const Index last = batch.snapshot ? batch.snapshot->meta.last.index : last_index();
    return check_append(batch.entries, last);
  }
  return Status();
}

Status MemoryStorage::save(const WriteBatch& batch) {
  // Check everything first, so that a refused batch changes nothing (atomicity).
  if (Status s = check_save(batch); !s.ok()) {
    return s;
  }
  if (batch.snapshot) {
    const Status s = apply_snapshot(*batch.snapshot);
    if (!s.ok()) {
      return s;
    }
  }
  const Status s = append(batch.entries);
  if (!s.ok()) {
    return s;
  }
  if (batch.hard_state) {
    hard_state_ = *batch.hard_state;
  }
  return Status();
}

Result<Snapshot> MemoryStorage::snapshot() const {
  return snapshot_;
}

Status MemoryStorage::apply_snapshot(Snapshot snapshot) {
  if (snapshot.meta.last.index < snapshot_.meta.last.index) {
    return Status(ErrorCode::kFailedPrecondition,
                  str_cat("apply_snapshot: ", describe(snapshot), " is older than the stored ",
                          describe(snapshot_)));
  }
  compacted_ = snapshot.meta.last;
  entries_.clear();
  conf_state_ = snapshot.meta.conf_state;
  snapshot_ = std::move(snapshot);
  return Status();
}

Result<Term> MemoryStorage::check_create_snapshot(Index index, const ConfState& conf_state) const {
  if (Status s = check_conf_state(conf_state); !s.ok()) {
    return Status(ErrorCode::kInvalidArgument, str_cat("create_snapshot: ", s.message()));
  }
  if (conf_state.voters.empty()) {
    return Status(ErrorCode::kInvalidArgument,
                  str_cat("create_snapshot at ", index,
                          ": the membership has no voter (is it known at that index?)"));
  }
  if (index < snapshot_.meta.last.index) {
    return Status(ErrorCode::kFailedPrecondition,
                  str_cat("create_snapshot: index ", index, " is older than the stored ",
                          describe(snapshot_)));
  }
  auto t = term(index);
  if (!t.ok()) {
    return Status(t.status().code(),
                  str_cat("create_snapshot at ", index, ": ", t.status().message()));
  }
  return *t;
}

Status MemoryStorage::create_snapshot(Index index, const ConfState& conf_state, Bytes data) {
  auto t = check_create_snapshot(index, conf_state);
  if (!t.ok()) {
    return t.status();
  }
  snapshot_.meta.last = EntryId{*t, index};
  conf_state_ = conf_state;
  snapshot_.meta.conf_state = conf_state;
  snapshot_.data = std::move(data);
  return Status();
}

Status MemoryStorage::compact(Index index) {
  if (index <= compacted_.index) {
    return Status();
  }
  if (index > snapshot_.meta.last.index) {
    return Status(ErrorCode::kFailedPrecondition,
                  str_cat("compact: index ", index, " is past the latest snapshot ",
                          describe(snapshot_.meta.last)));
  }
  auto t = term(index);
  if (!t.ok()) {
    return t.status();
  }
  entries_.erase(entries_.begin(),
                 entries_.begin() + static_cast<std::ptrdiff_t>(index - first_index() + 1));
  compacted_ = EntryId{*t, index};
  return Status();
}

}  // namespace skiff
