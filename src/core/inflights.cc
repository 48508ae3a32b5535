#include "core/inflights.h"

#include <algorithm>

#include "core/assert.h"
#include "core/str.h"

namespace skiff::detail {

Inflights::Inflights(std::size_t max_count, std::uint64_t max_bytes)
    : max_count_(max_count), max_bytes_(max_bytes) {}

void Inflights::add(Index last, std::uint64_t bytes) {
  SKIFF_ASSERT(!full(), "add to a full inflights window");
  if (ring_.size() < max_count_ && count_ == ring_.size()) {
    // Grow lazily: most followers never fill a large window. Re-linearize on growth.
    std::vector<Slot> grown;
    grown.reserve(std::min(max_count_, std::max<std::size_t>(4, ring_.size() * 2)));
    for (std::size_t k = 0; k < count_; ++k) {
      grown.push_back(ring_[(start_ + k) % ring_.size()]);
    }
    grown.resize(grown.capacity());
    ring_ = std::move(grown);
    start_ = 0;
  }
  if (count_ > 0) {
    const Slot& back = ring_[(start_ + count_ - 1) % ring_.size()];
    SKIFF_ASSERT(back.last < last,
                 str_cat("inflight index ", last.value, " after ", back.last.value));
  }
  ring_[(start_ + count_) % ring_.size()] = Slot{last, bytes};
  ++count_;
  bytes_ += bytes;
}

void Inflights::free_le(Index to) {
  while (count_ > 0 && ring_[start_].last <= to) {
    free_first_one();
  }
}

void Inflights::free_first_one() {
  if (count_ == 0) {
    return;
  }
  bytes_ -= ring_[start_].bytes;
  start_ = (start_ + 1) % ring_.size();
  --count_;
  if (count_ == 0) {
    start_ = 0;
  }
}

void Inflights::reset() {
  start_ = 0;
  count_ = 0;
  bytes_ = 0;
}

bool Inflights::full() const {
  return count_ >= max_count_ || (max_bytes_ > 0 && bytes_ >= max_bytes_);
}

void Inflights::check_invariants() const {
  SKIFF_ASSERT(count_ <= ring_.size(), "inflights count beyond ring");
  std::uint64_t sum = 0;
  for (std::size_t k = 0; k < count_; ++k) {
    const Slot& s = ring_[(start_ + k) % ring_.size()];
    sum += s.bytes;
    if (k > 0) {
      SKIFF_ASSERT(ring_[(start_ + k - 1) % ring_.size()].last < s.last, "inflights out of order");
    }
  }
  SKIFF_ASSERT(sum == bytes_, "inflights byte count drifted");
}

}  // namespace skiff::detail
