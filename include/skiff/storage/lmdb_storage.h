// LmdbStorage: a Storage (skiff/storage.h) in one LMDB environment per node.
//
// On-disk format, version 1 (docs/storage.md mirrors this). One environment (a directory
// holding data.mdb and lock.mdb) with two named databases:
//
//   "meta"  key (ASCII)   value
//           format        u32 format version (1)
//           ids           u64 cluster id, u64 node id (the environment's owner)
//           hard_state    u64 term, u64 vote, u64 commit, u64 xxh3 checksum of the 24 bytes
//           snapshot      u64 index, u64 term, conf state (as in a configuration entry's
//                         result), u64 data length, data, u64 xxh3 checksum of all before it
//           bootstrap     the bootstrap membership, written once at creation (same encoding
//                         and checksum as the snapshot's conf state)
//           compacted     u64 index, u64 term of the entry before the first stored one
//           incarnation   u64 drawn at random when the environment was created (see
//                         Storage::incarnation), u64 xxh3 checksum
//   "log"   key: u64 index, big-endian (so LMDB's order is the log's order)
//           value: u64 checksum, u64 term, u8 type, data — the checksum is xxh3 (64-bit)
//           of everything after it, seeded with the index
//
// All integers little-endian unless stated. A whole WriteBatch is one write transaction (one
// fsync when synced); reads use their own read-only transactions and never block the writer.
// A record whose checksum does not match is reported as kCorruption naming the index or key,
// never returned. When the map is full, the map grows (doubling) and the batch is retried.
// A full disk fails the batch whole (LMDB's transaction is rolled back) with a kStorage error
// saying "no space left on device" and the free space; once space is freed, later saves work.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "skiff/result.h"
#include "skiff/state.h"
#include "skiff/storage.h"
#include "skiff/types.h"

namespace skiff {

/// What LmdbStorage::open needs.
struct LmdbOptions {
  /// The environment's directory; created (with parents) if missing.
  std::string path;
  /// The group this node belongs to, and this node's id: a directory written for another
  /// group or node is refused (kFailedPrecondition), never silently reused.
  std::uint64_t cluster_id = 0;
  NodeId node_id;
  /// The membership of a new group, written when the directory is created; ignored when it
  /// already holds a node (its stored membership wins). Empty: a node waiting to be added.
  ConfState bootstrap;
  /// Initial map size in bytes (grows on demand). At least 1 MiB.
  std::uint64_t initial_map_size = std::uint64_t{64} << 20;
  /// Upper bound for the map (the largest the log may grow to): beyond it saves fail with
  /// kStorage ("the map is full", naming this option) and leave the stored log intact.
  std::uint64_t max_map_size = std::uint64_t{1} << 40;
};

/// A durable Storage in LMDB. Thread safety: reads may run on any thread concurrently with
/// one writer (save, create_snapshot, compact), which must be a single thread at a time.
class LmdbStorage final : public Storage {
 public:
  /// Opens (or creates) the environment at options.path. Errors: kInvalidArgument for bad
  /// options or a path that is not a directory; kFailedPrecondition for a directory of
  /// another cluster or node, or another format version; kCorruption for stored records that
  /// fail their checksums; kStorage for I/O errors (e.g. a read-only directory), with the
  /// LMDB error text, or for a full disk, saying so with the free space. Writes (save,
  /// create_snapshot, compact) fail the same way on a full disk, changing nothing.
  static Result<std::unique_ptr<LmdbStorage>> open(const LmdbOptions& options);

  ~LmdbStorage() override;
  LmdbStorage(const LmdbStorage&) = delete;
  LmdbStorage& operator=(const LmdbStorage&) = delete;

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

  /// The current map size in bytes (grows as the log does).
  std::uint64_t map_size() const;

  class Impl;

 private:
  explicit LmdbStorage(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace skiff
