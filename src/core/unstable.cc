#include "core/unstable.h"

#include <algorithm>

#include "core/assert.h"
#include "core/str.h"

namespace skiff::detail {

std::optional<Index> Unstable::maybe_first_index() const {
  if (!snapshot_) {
    return std::nullopt;
  }
  return snapshot_->meta.last.index + 1;
}

std::optional<Index> Unstable::maybe_last_index() const {
  if (!entries_.empty()) {
    return entries_.back().index;
  }
  if (snapshot_) {
    return snapshot_->meta.last.index;
  }
  return std::nullopt;
}

std::optional<Term> Unstable::maybe_term(Index i) const {
  if (snapshot_ && i == snapshot_->meta.last.index) {
    return snapshot_->meta.last.term;
  }
  if (i < offset_ || i >= offset_ + entries_.size()) {
    return std::nullopt;
  }
  return entries_[i - offset_].term;
}

void Unstable::restore(Snapshot s) {
  entries_.clear();
  offset_ = s.meta.last.index + 1;
  offset_in_progress_ = offset_;
  snapshot_ = std::move(s);
  snapshot_in_progress_ = false;
}

void Unstable::stable_snapshot_to(Index index) {
  if (snapshot_ && snapshot_->meta.last.index == index) {
    snapshot_.reset();
    snapshot_in_progress_ = false;
  }
}

std::vector<Entry> Unstable::next_entries() const {
  return std::vector<Entry>(
      entries_.begin() + static_cast<std::ptrdiff_t>(offset_in_progress_ - offset_),
      entries_.end());
}

void Unstable::stable_to(EntryId id) {
  if (id.index < offset_ || id.index >= offset_ + entries_.size() ||
      entries_[id.index - offset_].term != id.term) {
    // Either already stable, or the entry was replaced while being written: the newer entries
    // will come back in a later Ready.
    return;
  }
  const std::uint64_t n = (id.index - offset_) + 1;
  entries_.erase(entries_.begin(), entries_.begin() + static_cast<std::ptrdiff_t>(n));
  offset_ = id.index + 1;
  offset_in_progress_ = std::max(offset_in_progress_, offset_);
}

void Unstable::truncate_and_append(const std::vector<Entry>& ents) {
  SKIFF_ASSERT(!ents.empty(), "truncate_and_append with no entries");
  const Index from = ents.front().index;
  if (from == offset_ + entries_.size()) {
    entries_.insert(entries_.end(), ents.begin(), ents.end());
  } else if (from <= offset_) {
    // Replace everything: storage entries from `from` on get overwritten by the next Ready.
    entries_ = ents;
    offset_ = from;
    offset_in_progress_ = offset_;
  } else {
    // Keep [offset_, from), then append.
    entries_.resize(from - offset_);
    entries_.insert(entries_.end(), ents.begin(), ents.end());
    offset_in_progress_ = std::min(offset_in_progress_, from);
  }
}

std::vector<Entry> Unstable::slice(Index lo, Index hi) const {
  const std::span<const Entry> v = view(lo, hi);
  return std::vector<Entry>(v.begin(), v.end());
}

std::span<const Entry> Unstable::view(Index lo, Index hi) const {
  SKIFF_ASSERT(offset_ <= lo && lo <= hi && hi <= offset_ + entries_.size(),
               str_cat("unstable slice [", lo, ",", hi, ") out of [", offset_, ",",
                       offset_ + entries_.size(), ")"));
  return std::span<const Entry>(entries_).subspan(lo - offset_, hi - lo);
}

void Unstable::check_invariants() const {
  for (std::size_t k = 0; k < entries_.size(); ++k) {
    SKIFF_ASSERT(entries_[k].index == offset_ + k, str_cat("unstable entry ", k, " has index ",
                                                           entries_[k].index, " offset ", offset_));
  }
  SKIFF_ASSERT(!snapshot_ || offset_ == snapshot_->meta.last.index + 1,
               str_cat("unstable offset ", offset_, " does not follow its snapshot at ",
                       snapshot_ ? snapshot_->meta.last.index : Index{}));
  SKIFF_ASSERT(offset_ <= offset_in_progress_ && offset_in_progress_ <= offset_ + entries_.size(),
               str_cat("unstable in-progress ", offset_in_progress_, " outside [", offset_, ",",
                       offset_ + entries_.size(), "]"));
}

}  // namespace skiff::detail
