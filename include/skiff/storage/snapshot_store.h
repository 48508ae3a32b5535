// SnapshotStore: snapshots as files, written and read in chunks (for streaming them between
// nodes), each checksummed, written crash-safely, with old ones pruned by a retention policy.
//
// File format, version 1: one file per snapshot, named snap-<index>-<term>.snap with both
// numbers as 20 zero-padded decimal digits (so names sort by index):
//
//   8 bytes   magic "SKSNAP01"
//   u64       index, u64 term           (the last entry the snapshot covers)
//   conf      the membership: 4 lists (voters, learners, voters_outgoing, learners_next),
//             each a u64 count and that many u64 ids, then a u8 auto_leave flag
//   u64       data length
//   ...       data
//   u64       xxh3 of every byte before it
//
// Integers little-endian. A snapshot is written to a temporary file (".tmp-" prefix) that is
// fsynced, renamed into place, and the directory fsynced: after a crash a snapshot is either
// complete or absent. Temporary files left by a crash are removed when the store opens. The
// whole file is reserved (fallocate) when the write begins, so a snapshot the disk has no room
// for fails at once, with kStorage saying "no space left on device", and leaves nothing.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "skiff/result.h"
#include "skiff/snapshot.h"

namespace skiff {

/// Where and how many.
struct SnapshotStoreOptions {
  /// The directory holding the snapshot files; created if missing.
  std::string dir;
  /// How many complete snapshots to keep (the newest); at least 1.
  std::size_t keep = 2;
};

/// Snapshot files in one directory. Not thread-safe: use from one thread at a time.
class SnapshotStore {
 public:
  /// Writes one snapshot in chunks. Destroying it before commit() removes what was written.
  class Writer {
   public:
    virtual ~Writer() = default;
    /// Appends the next chunk of the snapshot's data. kInvalidArgument past the length given
    /// to begin(); kStorage on I/O errors.
    virtual Status write(std::string_view chunk) = 0;
    /// Checks that exactly the announced length was written, makes the file durable and
    /// visible, and prunes snapshots beyond the retention policy. kFailedPrecondition if the
    /// length does not match; kStorage on I/O errors.
    virtual Status commit() = 0;
  };

  /// Reads one snapshot's data in chunks, checking the checksum at the end.
  class Reader {
   public:
    virtual ~Reader() = default;
    /// The snapshot's metadata (read and checked when the reader was opened).
    virtual const SnapshotMeta& meta() const = 0;
    /// The data's total length.
    virtual std::uint64_t size() const = 0;
    /// The next chunk of at most `max_bytes` (at least 1); empty at the end. The last call
    /// verifies the checksum: kCorruption naming the file if it fails (discard what was read).
    virtual Result<std::string> next(std::size_t max_bytes) = 0;
  };

  /// Opens (creating) the directory and removes temporary files a crash left. Errors:
  /// kInvalidArgument for bad options or a path that is not a directory, kStorage.
  static Result<std::unique_ptr<SnapshotStore>> open(const SnapshotStoreOptions& options);

  /// Starts writing the snapshot described by `meta` with `size` bytes of data. kStorage if
  /// the file cannot be made, or the disk has no room for it.
  Result<std::unique_ptr<Writer>> begin(const SnapshotMeta& meta, std::uint64_t size);
  /// Writes a whole snapshot at once (begin, write, commit).
  Status save(const Snapshot& snapshot);

  /// The snapshots present, oldest first (their last entries).
  Result<std::vector<EntryId>> list() const;
  /// Opens the newest snapshot for reading; kUnavailable if there is none, kCorruption if its
  /// header fails its checks.
  Result<std::unique_ptr<Reader>> open_latest() const;
  /// Reads the newest snapshot whole and checks it; kUnavailable if there is none.
  Result<Snapshot> load_latest() const;
  /// Opens the snapshot of `last` for reading; kUnavailable if there is no such file.
  Result<std::unique_ptr<Reader>> open(EntryId last) const;
  /// Reads the snapshot of `last` whole and checks it; kUnavailable if there is no such file.
  Result<Snapshot> load(EntryId last) const;
  /// Deletes the snapshot of `last` (nothing if there is none); not durable by itself.
  Status remove(EntryId last) const;

  /// The directory.
  const std::string& dir() const { return options_.dir; }

 private:
  explicit SnapshotStore(SnapshotStoreOptions options) : options_(std::move(options)) {}
  Status prune() const;
  SnapshotStoreOptions options_;
};

}  // namespace skiff
