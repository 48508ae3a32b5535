// The application's side of a node (target skiff::node): the replicated state machine that
// committed commands are applied to, and how it is saved to and restored from a snapshot.
#pragma once

#include <cstddef>
#include <string_view>

#include "skiff/bytes.h"
#include "skiff/result.h"
#include "skiff/types.h"

namespace skiff {

/// Where StateMachine::snapshot writes the state. Not thread-safe; valid during the call.
class SnapshotWriter {
 public:
  virtual ~SnapshotWriter() = default;
  /// Appends bytes to the snapshot. An error aborts the snapshot (return it from snapshot()).
  virtual Status write(std::string_view bytes) = 0;
};

/// Where StateMachine::restore reads a snapshot from. Not thread-safe; valid during the call.
class SnapshotReader {
 public:
  virtual ~SnapshotReader() = default;
  /// Copies up to `max` bytes into `out`; returns how many, 0 at the end of the snapshot.
  virtual std::size_t read(char* out, std::size_t max) = 0;
  /// The snapshot's total size in bytes.
  virtual std::size_t size() const = 0;
};

/// The replicated state machine. skiff calls it from one thread at a time (the node's apply
/// thread), in log order; it never calls it concurrently with itself.
class StateMachine {
 public:
  virtual ~StateMachine() = default;
  /// Applies the committed command at `index` and returns the result for its proposer (on the
  /// node where it was proposed). Must be deterministic: every replica applies the same
  /// commands in the same order and must reach the same state. Indexes only increase, with
  /// gaps where the log holds entries that are not commands (no-ops, membership changes).
  virtual Bytes apply(Index index, std::string_view command) = 0;
  /// Writes the whole state as of the last applied command. The node calls it between two
  /// apply() calls, on the apply thread, so it sees a consistent state; writing is the cost
  /// (the core keeps running meanwhile).
  virtual Status snapshot(SnapshotWriter& out) = 0;
  /// Replaces the whole state with a snapshot written by snapshot() (of this replica or
  /// another). An error stops the node: its state would be unknown.
  virtual Status restore(SnapshotReader& in) = 0;
};

}  // namespace skiff
