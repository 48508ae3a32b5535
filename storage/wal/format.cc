// The WAL's on-disk format and file helpers (format.h).
#include "storage/wal/format.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>

#include "storage/internal/files.h"

namespace skiff::wal_internal {

using storage_internal::put_conf;
using storage_internal::put_u32;
using storage_internal::put_u64;
using storage_internal::read_conf;
using storage_internal::Reader;

using storage_internal::cat;

Status io_error(const std::string& what, const std::string& where) {
  return storage_internal::errno_error("wal", what, where);
}

Status corruption(const std::string& what) {
  return Status(ErrorCode::kCorruption, cat("wal: ", what));
}

std::uint64_t record_seed(std::uint64_t seq, std::uint64_t offset) {
  return (seq * 0x9E3779B97F4A7C15ULL) ^ offset;
}

std::string segment_name(std::uint64_t seq) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(seq));
  return std::string(kSegmentPrefix) + buf;
}

// Parses "wal-<16 hex digits>"; false for any other name.
bool parse_segment_name(const std::string& name, std::uint64_t& seq) {
  if (name.size() != kSegmentPrefix.size() + 16 || name.rfind(kSegmentPrefix, 0) != 0) {
    return false;
  }
  seq = 0;
  for (std::size_t k = kSegmentPrefix.size(); k < name.size(); ++k) {
    const char c = name[k];
    const int digit = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
    if (digit < 0) {
      return false;
    }
    seq = (seq << 4) | static_cast<std::uint64_t>(digit);
  }
  return true;
}

bool pwrite_all(int fd, std::string_view data, std::uint64_t offset) {
  while (!data.empty()) {
    const ssize_t n = ::pwrite(fd, data.data(), data.size(), static_cast<off_t>(offset));
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      return false;
    }
    data.remove_prefix(static_cast<std::size_t>(n));
    offset += static_cast<std::uint64_t>(n);
  }
  return true;
}

// Reads a whole file, or its first `limit` bytes.
Status read_file(const std::string& path, std::string& out, std::uint64_t limit) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return io_error(cat("opening ", path));
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    const Status s = io_error(cat("reading ", path));
    ::close(fd);
    return s;
  }
  out.assign(static_cast<std::size_t>(std::min<std::uint64_t>(limit, st.st_size)), '\0');
  std::size_t got = 0;
  while (got < out.size()) {
    const ssize_t n = ::pread(fd, out.data() + got, out.size() - got, static_cast<off_t>(got));
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      const Status s = n < 0 ? io_error(cat("reading ", path))
                             : Status(ErrorCode::kStorage, cat("wal: ", path, " shrank"));
      ::close(fd);
      return s;
    }
    got += static_cast<std::size_t>(n);
  }
  ::close(fd);
  return Status();
}

// Writes `size` zero bytes at `offset` of `fd`, syncing after every MiB: a fill that builds up
// a larger burst of dirty pages delays the log's own fdatasync behind it (syncing every 8 MiB
// instead took the WAL's p99.9 commit latency at 256 proposers from 7-11 ms to 17-20 ms in
// skiff-bench; bench/RESULTS.md). `stop` is polled between chunks.
bool write_zeros(int fd, std::uint64_t offset, std::uint64_t size, const std::atomic<bool>* stop) {
  static const std::string zeros(std::size_t{1} << 20, '\0');
  std::uint64_t since_sync = 0;
  while (size > 0) {
    if (stop != nullptr && stop->load()) {
      return false;
    }
    const std::uint64_t n = std::min<std::uint64_t>(size, zeros.size());
    if (!pwrite_all(fd, std::string_view(zeros.data(), n), offset)) {
      return false;
    }
    offset += n;
    size -= n;
    since_sync += n;
    if (since_sync >= zeros.size()) {
      if (::fdatasync(fd) != 0) {
        return false;
      }
      since_sync = 0;
    }
  }
  return true;
}

// Whether the record at `at` of `data` that fails its checks (its frame claiming `len` bytes of
// body) looks like a write a crash cut short rather than damage: segments are zero-filled before
// use, so a sector the crash kept from the disk reads as zeros, and some 512-byte sector's part
// of the record is all zero (etcd's WAL decides torn writes the same way). A flipped byte in a
// record that was written whole leaves no such sector: that is corruption, reported, so that a
// damaged disk never silently drops acknowledged entries.
bool looks_torn(std::string_view data, std::uint64_t at, std::uint64_t len) {
  constexpr std::uint64_t kSector = 512;
  const std::uint64_t end = std::min<std::uint64_t>(data.size(), at + kFrameSize + len);
  for (std::uint64_t from = at; from < end;) {
    const std::uint64_t to = std::min(end, (from / kSector + 1) * kSector);
    const std::string_view part = data.substr(from, to - from);
    if (std::all_of(part.begin(), part.end(), [](char c) { return c == 0; })) {
      return true;
    }
    from = to;
  }
  return false;
}

std::string new_record(RecordType type, std::size_t body_size) {
  std::string rec;
  rec.reserve(kFrameSize + body_size);
  rec.resize(kFrameSize);  // the frame, sealed once the record's place is known
  rec.push_back(static_cast<char>(type));
  return rec;
}

void seal_record(std::string& rec, std::uint64_t seq, std::uint64_t offset) {
  const std::string_view body = std::string_view(rec).substr(kFrameSize);
  std::string frame;
  put_u32(frame, static_cast<std::uint32_t>(body.size()));
  put_u64(frame, XXH3_64bits_withSeed(body.data(), body.size(), record_seed(seq, offset)));
  rec.replace(0, kFrameSize, frame);
}

std::string encode_header(const Header& h) {
  std::string out = new_record(kHeaderRecord, 256);
  out.append(kMagic);
  put_u32(out, kFormatVersion);
  put_u64(out, h.cluster_id);
  put_u64(out, h.node_id);
  put_u64(out, h.incarnation);
  put_u64(out, h.seq);
  put_u64(out, h.hard_state.term.value);
  put_u64(out, h.hard_state.vote.value);
  put_u64(out, h.hard_state.commit.value);
  put_conf(out, h.bootstrap);
  put_u64(out, h.snapshot.index.value);
  put_u64(out, h.snapshot.term.value);
  put_u64(out, h.compacted.index.value);
  put_u64(out, h.compacted.term.value);
  put_u64(out, h.last.value);
  return out;
}

void put_entry_id(std::string& out, EntryId id) {
  put_u64(out, id.index.value);
  put_u64(out, id.term.value);
}

bool read_entry_id(Reader& r, EntryId& id) {
  std::uint64_t index = 0;
  std::uint64_t term = 0;
  if (!r.u64(index) || !r.u64(term)) {
    return false;
  }
  id = EntryId{Term{term}, Index{index}};
  return true;
}

bool read_hard_state(Reader& r, HardState& hs) {
  std::uint64_t term = 0;
  std::uint64_t vote = 0;
  std::uint64_t commit = 0;
  if (!r.u64(term) || !r.u64(vote) || !r.u64(commit)) {
    return false;
  }
  hs = HardState{Term{term}, NodeId{vote}, Index{commit}};
  return true;
}

Status parse_header(Reader& r, Header& h, const std::string& where) {
  std::string_view magic;
  std::uint32_t format = 0;
  if (!r.bytes(kMagic.size(), magic) || magic != kMagic || !r.u32(format)) {
    return corruption(cat(where, ": not a skiff WAL segment"));
  }
  if (format != kFormatVersion) {
    return Status(ErrorCode::kFailedPrecondition,
                  cat("wal: ", where, " has format version ", format, "; this build reads version ",
                      kFormatVersion));
  }
  std::uint64_t last = 0;
  if (!r.u64(h.cluster_id) || !r.u64(h.node_id) || !r.u64(h.incarnation) || !r.u64(h.seq) ||
      !read_hard_state(r, h.hard_state) || !read_conf(r, h.bootstrap) ||
      !read_entry_id(r, h.snapshot) || !read_entry_id(r, h.compacted) || !r.u64(last) ||
      r.left() != 0) {
    return corruption(cat(where, ": bad header"));
  }
  h.last = Index{last};
  return Status();
}

Status Replay::apply_header(const Header& h, bool first, const std::string& where) {
  if (first) {
    header = h;
    base_known = h.last == h.compacted.index;
    base = h.compacted;
    lo = Index{h.last.value + 1};
    last = h.last;
    return Status();
  }
  if (h.incarnation != header.incarnation || h.last != last ||
      h.snapshot.index != header.snapshot.index) {
    return corruption(cat(where, ": the header does not continue the segment before it"));
  }
  header.hard_state = h.hard_state;
  return Status();
}

Status Replay::apply_batch(Reader& r, const std::string& where) {
  std::uint8_t flags = 0;
  if (!r.u8(flags) || flags > (kHasSnapshot | kHasHardState)) {
    return corruption(cat(where, ": bad batch flags"));
  }
  if ((flags & kHasSnapshot) != 0) {
    EntryId snap;
    if (!read_entry_id(r, snap) || snap.index < header.snapshot.index) {
      return corruption(cat(where, ": bad snapshot in a batch"));
    }
    header.snapshot = snap;
    base_known = true;
    base = snap;
    entries.clear();
    lo = Index{snap.index.value + 1};
    last = snap.index;
  }
  HardState hs = header.hard_state;
  if ((flags & kHasHardState) != 0 && !read_hard_state(r, hs)) {
    return corruption(cat(where, ": bad hard state in a batch"));
  }
  std::uint64_t count = 0;
  std::uint64_t first = 0;
  if (!r.u64(count) || count > r.left() / 17 || (count > 0 && !r.u64(first))) {
    return corruption(cat(where, ": bad entry count"));
  }
  if (count > 0) {
    if (first == 0 || first > last.value + 1 || (base_known && first <= base.index.value)) {
      return corruption(
          cat(where, ": entries from ", first, " do not follow the log ending at ", last.value));
    }
    if (first >= lo.value) {
      entries.resize(first - lo.value);
    } else {
      entries.clear();  // replaces everything recovered, and what came before is unknown
      lo = Index{first};
    }
    for (std::uint64_t k = 0; k < count; ++k) {
      std::uint64_t term = 0;
      std::uint8_t type = 0;
      std::uint64_t len = 0;
      std::string_view data;
      if (!r.u64(term) || !r.u8(type) || type > 2 || !r.u64(len) || !r.bytes(len, data)) {
        return corruption(cat(where, ": bad entry ", first + k));
      }
      entries.push_back(
          Entry{Term{term}, Index{first + k}, static_cast<EntryType>(type), Bytes::copy_of(data)});
    }
    last = Index{first + count - 1};
  }
  header.hard_state = hs;
  return r.left() == 0 ? Status() : corruption(cat(where, ": trailing bytes in a batch"));
}

Status Replay::apply_snapshot_taken(Reader& r, const std::string& where) {
  EntryId snap;
  if (!read_entry_id(r, snap) || r.left() != 0 || snap.index < header.snapshot.index ||
      snap.index > last) {
    return corruption(cat(where, ": bad snapshot record"));
  }
  if (snap.index >= lo && snap.index.value < lo.value + entries.size() &&
      entries[snap.index.value - lo.value].term != snap.term) {
    return corruption(cat(where, ": the snapshot's term does not match the log"));
  }
  header.snapshot = snap;
  return Status();
}

std::string encode_batch(const WriteBatch& batch, std::vector<Entry>::const_iterator first) {
  std::uint64_t size = 64;
  for (auto it = first; it != batch.entries.end(); ++it) {
    size += 17 + it->data.size();
  }
  std::string body = new_record(kBatchRecord, size);
  body.push_back(static_cast<char>((batch.snapshot ? kHasSnapshot : 0) |
                                   (batch.hard_state ? kHasHardState : 0)));
  if (batch.snapshot) {
    put_entry_id(body, batch.snapshot->meta.last);
  }
  if (batch.hard_state) {
    put_u64(body, batch.hard_state->term.value);
    put_u64(body, batch.hard_state->vote.value);
    put_u64(body, batch.hard_state->commit.value);
  }
  put_u64(body, static_cast<std::uint64_t>(batch.entries.end() - first));
  if (first != batch.entries.end()) {
    put_u64(body, first->index.value);
  }
  for (auto it = first; it != batch.entries.end(); ++it) {
    put_u64(body, it->term.value);
    body.push_back(static_cast<char>(it->type));
    put_u64(body, it->data.size());
    body.append(it->data.view());
  }
  return body;
}

std::string encode_snapshot_taken(EntryId id) {
  std::string rec = new_record(kSnapshotRecord, 16);
  put_entry_id(rec, id);
  return rec;
}

}  // namespace skiff::wal_internal
