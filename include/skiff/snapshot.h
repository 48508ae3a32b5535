// Snapshots: the state machine's state at a log index, standing in for the log prefix it
// covers (Raft §7).
#pragma once

#include <string>

#include "skiff/bytes.h"
#include "skiff/state.h"
#include "skiff/types.h"

namespace skiff {

/// What a snapshot covers: every entry up to `last` (inclusive), and the membership in effect
/// at that index.
struct SnapshotMeta {
  EntryId last;
  ConfState conf_state;

  friend bool operator==(const SnapshotMeta&, const SnapshotMeta&) = default;
};

/// A snapshot: metadata plus the application's serialized state. The core never looks inside
/// `data`. A default-constructed Snapshot (index 0) is "no snapshot".
struct Snapshot {
  SnapshotMeta meta;
  Bytes data;

  /// True for the "no snapshot" value.
  bool empty() const { return meta.last.index == Index{0}; }
  friend bool operator==(const Snapshot&, const Snapshot&) = default;
};

/// "snap 100/3 voters [1 2 3] (12B)".
std::string describe(const Snapshot& s);

}  // namespace skiff
