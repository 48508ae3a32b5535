// The WAL's on-disk format (include/skiff/storage/wal_storage.h describes it) and the file
// helpers its adapter uses: record framing and checksums, segment names, the segment header,
// batch encoding, the torn-write test, and the replay that rebuilds a log from records.
// Internal to skiff::storage_wal.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "skiff/entry.h"
#include "skiff/result.h"
#include "skiff/state.h"
#include "skiff/storage.h"
#include "skiff/types.h"
#include "storage/internal/record.h"

namespace skiff::wal_internal {

inline constexpr std::string_view kMagic = "SKIFFWAL";
inline constexpr std::uint32_t kFormatVersion = 1;
inline constexpr std::uint64_t kMinSegmentSize = std::uint64_t{64} << 10;
// A record's frame: u32 body length, u64 checksum.
inline constexpr std::uint64_t kFrameSize = 12;
inline constexpr std::uint64_t kMaxBody = 0xffffffffU;
inline constexpr std::string_view kSegmentPrefix = "wal-";
inline constexpr std::string_view kTmpPrefix = ".tmp-wal-";

enum RecordType : std::uint8_t {
  kHeaderRecord = 1,
  kBatchRecord = 2,
  kSnapshotRecord = 3,
};

enum BatchFlags : std::uint8_t {
  kHasSnapshot = 1,
  kHasHardState = 2,
};

/// kStorage naming `what`, with errno's text; a full disk is said as such, with the free space
/// on the file system holding `where` (a path; empty: not looked up).
Status io_error(const std::string& what, const std::string& where = std::string());
/// kCorruption with "wal: " and `what`.
Status corruption(const std::string& what);

/// The seed of a record's checksum: its segment and offset.
std::uint64_t record_seed(std::uint64_t seq, std::uint64_t offset);
/// "wal-<seq as 16 hex digits>".
std::string segment_name(std::uint64_t seq);
/// Parses a segment's name; false for any other name.
bool parse_segment_name(const std::string& name, std::uint64_t& seq);

/// Writes all of `data` at `offset`; false (errno set) on an error.
bool pwrite_all(int fd, std::string_view data, std::uint64_t offset);
/// Reads a whole file, or its first `limit` bytes.
Status read_file(const std::string& path, std::string& out, std::uint64_t limit = UINT64_MAX);
/// Writes `size` zeros at `offset`, syncing after every MiB; stops early (false) once `stop`.
bool write_zeros(int fd, std::uint64_t offset, std::uint64_t size,
                 const std::atomic<bool>* stop = nullptr);

/// Whether a record failing its checks looks torn by a crash rather than damaged.
bool looks_torn(std::string_view data, std::uint64_t at, std::uint64_t len);
/// A record of `type` whose frame is still to be sealed: room for the frame, then the type
/// byte; the body follows (about `body_size` bytes). Built in place, so a batch's payloads are
/// copied once, into the record.
std::string new_record(RecordType type, std::size_t body_size);
/// Fills in the frame of `rec` (built by new_record) for its place: `offset` of segment `seq`.
void seal_record(std::string& rec, std::uint64_t seq, std::uint64_t offset);

// What a segment's header record says.
struct Header {
  std::uint64_t cluster_id = 0;
  std::uint64_t node_id = 0;
  std::uint64_t incarnation = 0;
  std::uint64_t seq = 0;
  HardState hard_state;
  ConfState bootstrap;
  EntryId snapshot;
  EntryId compacted;
  Index last;
};

/// A header record (unsealed).
std::string encode_header(const Header& h);
/// Parses a header record's body (after its type byte); kFailedPrecondition for another
/// format version, kCorruption otherwise.
Status parse_header(storage_internal::Reader& r, Header& h, const std::string& where);
/// A batch record (unsealed): `batch` with its entries from `first` on (those before are
/// covered by the snapshot or the compaction).
std::string encode_batch(const WriteBatch& batch, std::vector<Entry>::const_iterator first);
/// A snapshot record (unsealed): the application took a snapshot at `id`.
std::string encode_snapshot_taken(EntryId id);

// The state a replay rebuilds, record by record. Segments whose entries were all compacted
// may be gone, so the oldest segment left may start with entries before it unknown: then
// `base_known` is false until a snapshot replaces the log, and at the end the oldest entry
// recovered becomes the compaction point.
struct Replay {
  Header header;
  bool base_known = true;
  EntryId base;  // the entry before entries.front(), when base_known
  Index lo{1};   // index of entries.front()
  Index last;    // the log's last index (entries may not reach down to the base)
  std::vector<Entry> entries;

  // A segment's header: the first one seeds the replay, later ones must continue it.
  Status apply_header(const Header& h, bool first, const std::string& where);
  // A batch record (after its type byte).
  Status apply_batch(storage_internal::Reader& r, const std::string& where);
  // A snapshot record (after its type byte).
  Status apply_snapshot_taken(storage_internal::Reader& r, const std::string& where);
};

}  // namespace skiff::wal_internal
