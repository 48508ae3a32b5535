// Inflights: the window of Append messages sent to one follower and not yet acknowledged.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "skiff/types.h"

namespace skiff::detail {

/// A FIFO of (last index, bytes) per in-flight Append message, bounded by a message count and
/// optionally by total bytes. Used in the replicate state for pipelining (etcd-io/raft's
/// "inflights" concept).
class Inflights {
 public:
  /// At most `max_count` messages (>= 1) and, if `max_bytes` > 0, at most that many bytes.
  Inflights(std::size_t max_count, std::uint64_t max_bytes);

  /// Records a message whose last entry is `last` carrying `bytes`. Precondition: !full() and
  /// `last` is greater than every recorded index.
  void add(Index last, std::uint64_t bytes);
  /// Forgets every message with last index <= `to` (acknowledged).
  void free_le(Index to);
  /// Forgets the oldest message (used when a heartbeat response shows the follower is alive
  /// but the window is stuck full, e.g. after a lost Append).
  void free_first_one();
  /// Forgets everything.
  void reset();

  /// Whether the window is full by count or bytes.
  bool full() const;
  std::size_t count() const { return count_; }
  std::uint64_t bytes() const { return bytes_; }

  /// Aborts with context if the internal bookkeeping is inconsistent.
  void check_invariants() const;

 private:
  struct Slot {
    Index last;
    std::uint64_t bytes = 0;
  };
  std::size_t max_count_;
  std::uint64_t max_bytes_;
  // Ring buffer: count_ slots starting at start_. Invariant: indexes strictly increase.
  std::vector<Slot> ring_;
  std::size_t start_ = 0;
  std::size_t count_ = 0;
  // Invariant: bytes_ == sum of ring slots' bytes.
  std::uint64_t bytes_ = 0;
};

}  // namespace skiff::detail
