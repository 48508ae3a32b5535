// The storage adapter contract: everything a node's durable storage must do, and when each
// write must be durable. The core reads through LogStorage (log_storage.h); the application or
// the node runtime writes each Ready through Storage::save. Adapters (MemoryStorage, the LMDB
// adapter, a user's own) implement Storage and check themselves with the public conformance
// suite (include/skiff/testing/storage_conformance.h). docs/storage.md has the long form.
//
// Durability in one table:
//
//   call              | durable when it returns?              | atomic?
//   ------------------|---------------------------------------|---------------------------------
//   save(sync=true)   | yes: all of the batch                 | yes: after a crash all or none
//   save(sync=false)  | no: may be buffered, but never        | yes
//                     | reordered after a later batch, and    |
//                     | durable once a later sync save returns|
//   create_snapshot   | yes                                   | yes
//   compact           | no: compacted entries may come back   | -
//                     | after a crash (they are committed)    |
//
// Reads (LogStorage) see every save that returned, synced or not. A failed call changes
// nothing that reads or a restart can see.
#pragma once

#include <optional>
#include <vector>

#include "skiff/bytes.h"
#include "skiff/entry.h"
#include "skiff/log_storage.h"
#include "skiff/ready.h"
#include "skiff/result.h"
#include "skiff/snapshot.h"
#include "skiff/state.h"
#include "skiff/types.h"

namespace skiff {

/// One Ready's write, in the order it is applied: the snapshot (if any) replaces the whole
/// log, then the entries are appended (replacing any stored entries from the first one's
/// index on: a follower repairing a conflicting suffix, Raft §5.3), then the hard state.
struct WriteBatch {
  std::optional<Snapshot> snapshot;
  std::vector<Entry> entries;
  std::optional<HardState> hard_state;
  /// Ready::must_sync: the batch must be durable (fsync) before save() returns.
  bool sync = true;

  /// The write a Ready asks for (copies share payloads: no bytes are copied).
  static WriteBatch from(const Ready& rd) {
    return WriteBatch{rd.snapshot, rd.entries, rd.hard_state, rd.must_sync};
  }
  /// True if there is nothing to write.
  bool empty() const { return !snapshot && entries.empty() && !hard_state; }
};

/// A node's durable storage. Thread safety: calls may come from the thread that drives the
/// core (reads) and the thread that persists Readies (writes); adapters make that safe, and
/// reads see every completed write. Not copyable in general; own one per node.
class Storage : public LogStorage {
 public:
  /// Persists `batch` atomically (see the table above). Entries at or below the stored
  /// snapshot's index are skipped (committed, and covered by it). Errors, with nothing of the
  /// batch visible afterwards: kInvalidArgument for entries that are not contiguous or leave a
  /// gap after last_index(), and for a snapshot older than the stored one; kStorage for an I/O
  /// failure (the node should stop: the disk's state is unknown to the core).
  virtual Status save(const WriteBatch& batch) = 0;

  /// Records a snapshot the application took at `index` (between the stored snapshot's index
  /// and last_index()) with the membership in effect there (RawNode::applied_conf_state) and
  /// the state machine's serialized state. Durable on return. Entries are kept. Errors:
  /// kFailedPrecondition if older than the stored snapshot, kUnavailable past last_index(),
  /// kInvalidArgument for a membership without voters, kStorage.
  virtual Status create_snapshot(Index index, const ConfState& conf_state, Bytes data) = 0;

  /// A number drawn at random when this storage was first created and kept for its whole
  /// life. A node whose data was lost comes back with another one, and its peers refuse it
  /// until it is removed from the cluster and added back: it forgot votes and acknowledged
  /// entries, so it must rejoin as a new member (thesis §4). 0: the adapter keeps none, and
  /// nothing is checked. (A decorator around another adapter must forward it.)
  virtual std::uint64_t incarnation() const { return 0; }

  /// The cluster and node this storage was created for (LMDB and the WAL record both in
  /// their files); the default records neither. A decorator must forward it.
  virtual AdapterIdentity identity() const { return {}; }

  /// Drops the entries up to `index`, which must not be past the stored snapshot's index
  /// (kFailedPrecondition). Compacting at or below first_index() - 1 does nothing. Need not be
  /// durable.
  virtual Status compact(Index index) = 0;
};

}  // namespace skiff
