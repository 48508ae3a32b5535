// WalStorage: a Storage (skiff/storage.h) as a segmented write-ahead log, made for commit
// latency: a synced save is one pwrite and one fdatasync into space that was written before
// (so the flush carries no file-system metadata), against two flushes for a durable LMDB
// transaction. The log is also kept in memory (as in etcd), so it should be compacted: the
// node runtime does that after each snapshot.
//
// On-disk format, version 1 (docs/storage.md mirrors this). A directory holding:
//
//   wal-<seq>        segments, <seq> 16 hex digits, consecutive. Each is preallocated with
//                    zeros (segment_size bytes) by a background thread before it is needed, and
//                    holds records back to back; a record of length 0 ends the segment's data.
//   snapshots/       the snapshot files (skiff/storage/snapshot_store.h), at most two.
//   LOCK             flock()ed while open: one WalStorage per directory.
//
// A record: u32 body length, u64 xxh3 (64-bit) of the body with the seed
// seq * 0x9E3779B97F4A7C15 ^ offset (the segment's sequence number and the record's offset in
// it, so a record copied elsewhere does not check), then the body: u8 type and
//   1 header   magic "SKIFFWAL", u32 format, u64 cluster id, u64 node id, u64 incarnation,
//              u64 seq, the hard state (3 u64), the bootstrap membership, the snapshot (u64
//              index, u64 term; 0 if none), the compaction point (u64 index, u64 term) and the
//              last index when the segment began. First record of every segment: a segment
//              with the ones before it deleted still says everything but the log's entries.
//   2 batch    u8 flags (1 snapshot, 2 hard state), [u64 index, u64 term of the snapshot that
//              replaces the log], [3 u64 hard state], u64 count, [u64 first index, then per
//              entry u64 term, u8 type, u64 length, data]. One WriteBatch: all or nothing.
//   3 snapshot u64 index, u64 term: a snapshot the application took (create_snapshot).
//
// Integers little-endian. Recovery replays the segments in order. A record that fails its
// checks at the end of the newest segment, with some 512-byte sector of it reading all zeros, is
// a write a crash tore (never acknowledged: a synced save returns only after its fdatasync; the
// segment was zero-filled, so sectors the crash kept from the disk read as zeros); the tail is
// cut and zeroed and writing resumes there. A bad record without such a sector (a flipped byte)
// or anywhere else is kCorruption naming the segment and offset: acknowledged entries are never
// dropped silently. Segments whose entries are all compacted are deleted. Snapshot data goes to
// its own file, durable before the record naming it.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "skiff/result.h"
#include "skiff/state.h"
#include "skiff/storage.h"
#include "skiff/types.h"

namespace skiff {

/// What WalStorage::open needs.
struct WalOptions {
  /// The directory; created (with parents) if missing.
  std::string path;
  /// The group this node belongs to, and this node's id: a directory written for another
  /// group or node is refused (kFailedPrecondition), never silently reused.
  std::uint64_t cluster_id = 0;
  NodeId node_id;
  /// The membership of a new group, written when the directory is created; ignored when it
  /// already holds a node (its stored membership wins). Empty: a node waiting to be added.
  ConfState bootstrap;
  /// Bytes per segment, preallocated ahead of use; at least 64 KiB. A batch larger than a
  /// segment gets a segment of its own, grown to fit (that save flushes metadata too). A new
  /// log needs room for two (the first, and the next, made ahead of need): on a file system
  /// with less free space, open fails with kStorage naming the free and the needed bytes, so
  /// a small disk needs a smaller segment size.
  std::uint64_t segment_size = std::uint64_t{64} << 20;
};

/// A durable Storage as a segmented write-ahead log. Thread safety: reads may run on any
/// thread concurrently with one writer (save, create_snapshot, compact), which must be a single
/// thread at a time. After an I/O error every later write fails with kStorage (the disk's state
/// is unknown); reopen to recover. A full disk is such an error, said as such ("no space left
/// on device", with the free space and what was being written); a segment that could not be
/// preallocated is removed, and a reopen once space is freed writes on.
class WalStorage final : public Storage {
 public:
  /// Opens (or creates) the log at options.path and replays it. Errors: kInvalidArgument for
  /// bad options or a path that is not a directory; kFailedPrecondition for a directory of
  /// another cluster or node, another format version, or one open elsewhere; kCorruption for
  /// records that fail their checks other than a torn tail; kStorage for I/O errors.
  static Result<std::unique_ptr<WalStorage>> open(const WalOptions& options);

  ~WalStorage() override;
  WalStorage(const WalStorage&) = delete;
  WalStorage& operator=(const WalStorage&) = delete;

  Result<InitialState> initial_state() const override;
  Result<std::vector<Entry>> entries(Index lo, Index hi, std::uint64_t max_bytes) const override;
  Result<Term> term(Index i) const override;
  Index first_index() const override;
  Index last_index() const override;
  Result<Snapshot> snapshot() const override;
  Status save(const WriteBatch& batch) override;
  Status create_snapshot(Index index, const ConfState& conf_state, Bytes data) override;
  Status compact(Index index) override;
  std::uint64_t incarnation() const override;
  AdapterIdentity identity() const override;

  /// The segment files in use (the active one included).
  std::size_t segment_count() const;

  class Impl;

 private:
  explicit WalStorage(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace skiff
