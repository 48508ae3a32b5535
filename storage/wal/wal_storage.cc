// WalStorage: see include/skiff/storage/wal_storage.h for the format and the guarantees.
//
// Inside: the log lives in a MemoryStorage (reads and the contract's checks), guarded by a
// mutex; the writer appends each change as one record to the active segment before applying it
// there. A background thread keeps the next segment ready (zero-filled, synced, renamed into
// place, directory synced), so that rolling over costs no flush of file-system metadata.
#include "skiff/storage/wal_storage.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <deque>
#include <filesystem>
#include <mutex>
#include <random>
#include <sstream>
#include <thread>

#include "skiff/memory_storage.h"
#include "skiff/storage/snapshot_store.h"
#include "storage/internal/files.h"
#include "storage/internal/record.h"

namespace skiff {
namespace {

using storage_internal::put_conf;
using storage_internal::put_u32;
using storage_internal::put_u64;
using storage_internal::read_conf;
using storage_internal::Reader;

constexpr std::string_view kMagic = "SKIFFWAL";
constexpr std::uint32_t kFormatVersion = 1;
constexpr std::uint64_t kMinSegmentSize = std::uint64_t{64} << 10;
// A record's frame: u32 body length, u64 checksum.
constexpr std::uint64_t kFrameSize = 12;
constexpr std::uint64_t kMaxBody = 0xffffffffU;
constexpr std::string_view kSegmentPrefix = "wal-";
constexpr std::string_view kTmpPrefix = ".tmp-wal-";

enum RecordType : std::uint8_t {
  kHeaderRecord = 1,
  kBatchRecord = 2,
  kSnapshotRecord = 3,
};

enum BatchFlags : std::uint8_t {
  kHasSnapshot = 1,
  kHasHardState = 2,
};

using storage_internal::cat;

Status io_error(const std::string& what) {
  return storage_internal::errno_error("wal", what);
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

Status fsync_dir(const std::string& dir) {
  return storage_internal::fsync_dir(dir, "wal");
}

// Reads a whole file, or its first `limit` bytes.
Status read_file(const std::string& path, std::string& out, std::uint64_t limit = UINT64_MAX) {
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
bool write_zeros(int fd, std::uint64_t offset, std::uint64_t size,
                 const std::atomic<bool>* stop = nullptr) {
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

// A record in its frame, placed at `offset` of segment `seq`.
std::string frame(std::string_view body, std::uint64_t seq, std::uint64_t offset) {
  std::string out;
  out.reserve(kFrameSize + body.size());
  put_u32(out, static_cast<std::uint32_t>(body.size()));
  put_u64(out, XXH3_64bits_withSeed(body.data(), body.size(), record_seed(seq, offset)));
  out.append(body);
  return out;
}

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

std::string encode_header(const Header& h) {
  std::string out;
  out.push_back(static_cast<char>(kHeaderRecord));
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

  Status apply_header(const Header& h, bool first, const std::string& where) {
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

  Status apply_batch(Reader& r, const std::string& where) {
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
        entries.push_back(Entry{Term{term}, Index{first + k}, static_cast<EntryType>(type),
                                Bytes::copy_of(data)});
      }
      last = Index{first + count - 1};
    }
    header.hard_state = hs;
    return r.left() == 0 ? Status() : corruption(cat(where, ": trailing bytes in a batch"));
  }

  Status apply_snapshot_taken(Reader& r, const std::string& where) {
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
};

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

}  // namespace

// ---------------------------------------------------------------------------------------------

class WalStorage::Impl {
 public:
  ~Impl() {
    {
      std::lock_guard lock(prep_mu);
      stopping = true;
    }
    stop_fill.store(true);
    prep_cv.notify_all();
    if (preparer.joinable()) {
      preparer.join();
    }
    if (fd >= 0) {
      ::close(fd);
    }
    if (lock_fd >= 0) {
      ::close(lock_fd);  // releases the flock
    }
  }

  Status open(const WalOptions& o);
  Status create_new();
  Status recover(std::vector<std::uint64_t> seqs);
  // Appends one record to the active segment, rolling over when it does not fit.
  Status append(std::string_view body, bool sync);
  Status roll_over();
  Status sync_active();
  Status activate(std::uint64_t seq, std::uint64_t offset, bool write_header);
  Header current_header(std::uint64_t seq) const;
  std::string path_of(std::uint64_t seq) const { return dir + "/" + segment_name(seq); }
  // Records an I/O failure: every later write fails with it.
  Status fail(Status s) {
    broken = s;
    return s;
  }

  // The preparer thread: keeps segment `prep_want` zero-filled and in place.
  void prepare_loop();
  void request_prepare(std::uint64_t seq);
  Status wait_prepared(std::uint64_t seq);

  WalOptions options;
  std::string dir;
  int lock_fd = -1;
  std::unique_ptr<SnapshotStore> snapshots;
  std::uint64_t incarnation = 0;
  ConfState bootstrap;

  // The log, for readers and the writer.
  mutable std::mutex mu;
  MemoryStorage mem;

  // The writer's state (one writer at a time).
  struct Segment {
    std::uint64_t seq = 0;
    Index last_at_start;  // the log's last index when the segment began
  };
  std::deque<Segment> segments;  // oldest first; back() is the active one
  std::atomic<std::size_t> segment_count{0};
  int fd = -1;                 // the active segment
  std::uint64_t offset = 0;    // where its next record goes
  std::uint64_t capacity = 0;  // its size
  bool unsynced = false;
  Status broken;

  // The preparer's state.
  std::thread preparer;
  std::mutex prep_mu;
  std::condition_variable prep_cv;
  std::uint64_t prep_want = 0;
  std::uint64_t prep_done = 0;
  Status prep_error;
  bool stopping = false;
  std::atomic<bool> stop_fill{false};
};

Header WalStorage::Impl::current_header(std::uint64_t seq) const {
  std::lock_guard lock(mu);
  Header h;
  h.cluster_id = options.cluster_id;
  h.node_id = options.node_id.value;
  h.incarnation = incarnation;
  h.seq = seq;
  h.hard_state = mem.hard_state();
  h.bootstrap = bootstrap;
  auto snap = mem.snapshot();
  h.snapshot = snap.ok() ? snap->meta.last : EntryId{};
  const Index before_first{mem.first_index().value - 1};
  auto t = mem.term(before_first);
  h.compacted = EntryId{t.ok() ? *t : Term{0}, before_first};
  h.last = mem.last_index();
  return h;
}

void WalStorage::Impl::prepare_loop() {
  std::unique_lock lock(prep_mu);
  for (;;) {
    prep_cv.wait(lock, [&] { return stopping || (prep_want != prep_done && prep_error.ok()); });
    if (stopping) {
      return;
    }
    const std::uint64_t seq = prep_want;
    lock.unlock();
    const std::string tmp = dir + "/" + std::string(kTmpPrefix) + segment_name(seq).substr(4);
    Status s;
    const int f = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (f < 0) {
      s = io_error(cat("creating ", tmp));
    } else {
      if (!write_zeros(f, 0, options.segment_size, &stop_fill) || ::fdatasync(f) != 0) {
        s = stop_fill.load() ? Status(ErrorCode::kStopped, "wal: closing")
                             : io_error(cat("preallocating ", tmp));
      }
      ::close(f);
      if (s.ok() && ::rename(tmp.c_str(), path_of(seq).c_str()) != 0) {
        s = io_error(cat("renaming ", tmp));
      }
      if (s.ok()) {
        s = fsync_dir(dir);
      }
    }
    lock.lock();
    if (s.ok()) {
      prep_done = seq;
    } else if (s.code() != ErrorCode::kStopped) {
      prep_error = s;
    }
    prep_cv.notify_all();
  }
}

void WalStorage::Impl::request_prepare(std::uint64_t seq) {
  {
    std::lock_guard lock(prep_mu);
    prep_want = seq;
  }
  prep_cv.notify_all();
}

Status WalStorage::Impl::wait_prepared(std::uint64_t seq) {
  std::unique_lock lock(prep_mu);
  prep_cv.wait(lock, [&] { return prep_done == seq || !prep_error.ok(); });
  return prep_done == seq ? Status() : prep_error;
}

Status WalStorage::Impl::sync_active() {
  if (!unsynced) {
    return Status();
  }
  if (::fdatasync(fd) != 0) {
    return fail(io_error(cat("syncing ", path_of(segments.back().seq))));
  }
  unsynced = false;
  return Status();
}

Status WalStorage::Impl::activate(std::uint64_t seq, std::uint64_t at, bool write_header) {
  const std::string path = path_of(seq);
  const int f = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
  if (f < 0) {
    return io_error(cat("opening ", path));
  }
  struct stat st {};
  if (::fstat(f, &st) != 0) {
    const Status s = io_error(cat("reading ", path));
    ::close(f);
    return s;
  }
  if (fd >= 0) {
    ::close(fd);
  }
  fd = f;
  capacity = static_cast<std::uint64_t>(st.st_size);
  offset = at;
  if (write_header) {
    const Header h = current_header(seq);
    segments.push_back(Segment{seq, h.last});
    segment_count.store(segments.size());
    const std::string body = encode_header(h);
    const std::string rec = frame(body, seq, 0);
    if (!pwrite_all(fd, rec, 0)) {
      return fail(io_error(cat("writing ", path)));
    }
    offset = rec.size();
    unsynced = true;
  }
  request_prepare(seq + 1);
  return Status();
}

Status WalStorage::Impl::roll_over() {
  if (Status s = sync_active(); !s.ok()) {
    return s;
  }
  const std::uint64_t next = segments.back().seq + 1;
  if (Status s = wait_prepared(next); !s.ok()) {
    return fail(s);
  }
  // A record larger than the new segment grows it (pwrite past the end).
  if (Status s = activate(next, 0, true); !s.ok()) {
    return fail(s);
  }
  return Status();
}

Status WalStorage::Impl::append(std::string_view body, bool sync) {
  if (body.size() > kMaxBody) {
    return Status(ErrorCode::kInvalidArgument,
                  cat("wal: a batch of ", body.size(), " bytes is over the limit of ", kMaxBody));
  }
  const std::uint64_t need = kFrameSize + body.size();
  if (offset + need > capacity && offset > 0) {
    if (Status s = roll_over(); !s.ok()) {
      return s;
    }
  }
  const std::uint64_t at = offset;
  const std::string rec = frame(body, segments.back().seq, at);
  if (!pwrite_all(fd, rec, at)) {
    const Status s = io_error(cat("writing ", path_of(segments.back().seq)));
    (void)write_zeros(fd, at, rec.size());  // best effort: leave no part of it behind
    return fail(s);
  }
  offset = at + rec.size();
  capacity = std::max(capacity, offset);
  unsynced = true;
  if (sync) {
    if (::fdatasync(fd) != 0) {
      const Status s = io_error(cat("syncing ", path_of(segments.back().seq)));
      (void)write_zeros(fd, at, rec.size());
      (void)::fdatasync(fd);
      return fail(s);
    }
    unsynced = false;
  }
  return Status();
}

Status WalStorage::Impl::create_new() {
  std::random_device rd;
  while (incarnation == 0) {
    incarnation = (std::uint64_t{rd()} << 32) | rd();
  }
  bootstrap = options.bootstrap;
  mem = MemoryStorage(bootstrap);
  // The first segment is written whole under a temporary name, so that a crash leaves either
  // a complete log or none.
  const std::uint64_t seq = 1;
  const std::string tmp = dir + "/" + std::string(kTmpPrefix) + segment_name(seq).substr(4);
  const int f = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (f < 0) {
    return io_error(cat("creating ", tmp));
  }
  const std::string rec = frame(encode_header(current_header(seq)), seq, 0);
  const bool ok = pwrite_all(f, rec, 0) &&
                  write_zeros(f, rec.size(), options.segment_size - rec.size()) &&
                  ::fdatasync(f) == 0;
  ::close(f);
  if (!ok) {
    return io_error(cat("writing ", tmp));
  }
  if (::rename(tmp.c_str(), path_of(seq).c_str()) != 0) {
    return io_error(cat("renaming ", tmp));
  }
  if (Status s = fsync_dir(dir); !s.ok()) {
    return s;
  }
  const std::string parent = std::filesystem::path(dir).parent_path().string();
  if (Status s = fsync_dir(parent.empty() ? "." : parent); !s.ok()) {
    return s;
  }
  segments.push_back(Segment{seq, Index{0}});
  segment_count.store(1);
  return activate(seq, rec.size(), false);
}

Status WalStorage::Impl::recover(std::vector<std::uint64_t> seqs) {
  std::sort(seqs.begin(), seqs.end());
  for (std::size_t k = 1; k < seqs.size(); ++k) {
    if (seqs[k] != seqs[k - 1] + 1) {
      return corruption(cat(dir, ": segment ", segment_name(seqs[k - 1] + 1), " is missing"));
    }
  }
  // The newest segment may have no header: one the preparer made that never became active, or
  // whose header a crash tore before anything in it was acknowledged (a segment's first synced
  // save makes its header durable). It held nothing: remove it.
  std::string buf;
  if (seqs.size() > 1) {
    if (Status s = read_file(path_of(seqs.back()), buf, kFrameSize); !s.ok()) {
      return s;
    }
    Reader fr(buf);
    std::uint32_t len = 0;
    fr.u32(len);
    std::string head;
    if (Status s = read_file(path_of(seqs.back()), head, kFrameSize + std::uint64_t{len});
        !s.ok()) {
      return s;
    }
    std::uint64_t sum = 0;
    fr.u64(sum);
    if (len == 0 || head.size() < kFrameSize + len ||
        sum != XXH3_64bits_withSeed(head.data() + kFrameSize, len, record_seed(seqs.back(), 0))) {
      if (!looks_torn(head, 0, len)) {
        return corruption(cat(dir, "/", segment_name(seqs.back()),
                              ": the header fails its checksum and is not a write a crash tore"));
      }
      if (::unlink(path_of(seqs.back()).c_str()) != 0) {
        return io_error(cat("removing ", path_of(seqs.back())));
      }
      seqs.pop_back();
    }
  }
  Replay replay;
  std::uint64_t end = 0;  // where the last segment's data ends
  for (std::size_t k = 0; k < seqs.size(); ++k) {
    const bool last_segment = k + 1 == seqs.size();
    const std::string name = segment_name(seqs[k]);
    if (Status s = read_file(path_of(seqs[k]), buf); !s.ok()) {
      return s;
    }
    std::uint64_t at = 0;
    bool torn = false;
    Index seg_last;  // the log's last index when the segment began (its header says)
    while (at + kFrameSize <= buf.size()) {
      Reader fr(std::string_view(buf).substr(at, kFrameSize));
      std::uint32_t len = 0;
      std::uint64_t sum = 0;
      fr.u32(len);
      fr.u64(sum);
      if (len == 0 && sum == 0) {
        break;  // the zeros after the last record
      }
      const std::string where = cat(name, " at offset ", at);
      if (len == 0 || len > buf.size() - at - kFrameSize ||
          sum !=
              XXH3_64bits_withSeed(buf.data() + at + kFrameSize, len, record_seed(seqs[k], at))) {
        if (!last_segment) {
          return corruption(cat(dir, "/", where, ": a record fails its checksum"));
        }
        if (!looks_torn(buf, at, len)) {
          return corruption(cat(dir, "/", where,
                                ": a record fails its checksum and is not a write a crash tore"));
        }
        torn = true;  // a write the crash tore: never acknowledged
        break;
      }
      Reader r(std::string_view(buf).substr(at + kFrameSize, len));
      std::uint8_t type = 0;
      r.u8(type);
      if ((at == 0) != (type == kHeaderRecord)) {
        return corruption(cat(dir, "/", where, ": record of type ", int{type}, " out of place"));
      }
      Status s;
      switch (type) {
        case kHeaderRecord: {
          Header h;
          s = parse_header(r, h, where);
          if (s.ok() &&
              (h.cluster_id != options.cluster_id || h.node_id != options.node_id.value)) {
            return Status(
                ErrorCode::kFailedPrecondition,
                cat("wal: ", dir, " belongs to cluster ", h.cluster_id, " node ", h.node_id,
                    ", not to cluster ", options.cluster_id, " node ", options.node_id.value));
          }
          if (s.ok() && h.seq != seqs[k]) {
            s = corruption(cat(where, ": the header names segment ", h.seq));
          }
          if (s.ok()) {
            seg_last = h.last;
            s = replay.apply_header(h, k == 0, where);
          }
          break;
        }
        case kBatchRecord:
          s = replay.apply_batch(r, where);
          break;
        case kSnapshotRecord:
          s = replay.apply_snapshot_taken(r, where);
          break;
        default:
          s = corruption(cat(where, ": unknown record type ", int{type}));
      }
      if (!s.ok()) {
        return s;
      }
      at += kFrameSize + len;
    }
    if (at == 0) {
      return corruption(cat(dir, "/", name, ": no header"));
    }
    segments.push_back(Segment{seqs[k], seg_last});
    end = at;
    if (last_segment && (torn || std::any_of(buf.begin() + static_cast<std::ptrdiff_t>(at),
                                             buf.end(), [](char c) { return c != 0; }))) {
      // Zero what follows the last good record, so that nothing there can ever be read as a
      // record after new ones are written over part of it.
      const int f = ::open(path_of(seqs[k]).c_str(), O_WRONLY | O_CLOEXEC);
      const bool ok = f >= 0 && write_zeros(f, at, buf.size() - at) && ::fdatasync(f) == 0;
      if (f >= 0) {
        ::close(f);
      }
      if (!ok) {
        return io_error(cat("zeroing the torn tail of ", path_of(seqs[k])));
      }
    }
  }
  const Header& h = replay.header;
  incarnation = h.incarnation;
  bootstrap = h.bootstrap;
  // The compaction point: known, or the oldest entry recovered (its segment's predecessors
  // were deleted because everything up to there was compacted).
  EntryId base = replay.base;
  std::vector<Entry>& entries = replay.entries;
  if (!replay.base_known) {
    if (entries.empty() || entries.front().index > h.snapshot.index) {
      return corruption(cat(dir, ": the log's oldest segments are missing"));
    }
    base = entries.front().id();
    entries.erase(entries.begin());
  }
  Snapshot snap;
  if (h.snapshot.index != Index{0}) {
    auto loaded = snapshots->load(h.snapshot);
    if (!loaded.ok()) {
      return Status(loaded.status().code() == ErrorCode::kUnavailable ? ErrorCode::kCorruption
                                                                      : loaded.status().code(),
                    cat("wal: ", dir, ": the log's snapshot ", describe(h.snapshot),
                        " cannot be read: ", loaded.status().message()));
    }
    snap = std::move(*loaded);
  }
  // Snapshot files the log does not name were written by a save a crash interrupted.
  auto files = snapshots->list();
  if (!files.ok()) {
    return files.status();
  }
  for (EntryId id : *files) {
    if (id != h.snapshot) {
      if (Status s = snapshots->remove(id); !s.ok()) {
        return s;
      }
    }
  }
  MemoryStorage m(bootstrap);
  if (base.index != Index{0}) {
    if (snap.empty() || base.index > snap.meta.last.index) {
      return corruption(
          cat(dir, ": the log starts after ", describe(base), " with no snapshot covering it"));
    }
    Snapshot at_base;
    at_base.meta.last = base;
    at_base.meta.conf_state = snap.meta.conf_state;
    if (Status s = m.apply_snapshot(at_base); !s.ok()) {
      return s;
    }
  }
  if (Status s = m.append(entries); !s.ok()) {
    return corruption(cat(dir, ": ", s.message()));
  }
  if (!snap.empty()) {
    if (Status s = m.create_snapshot(snap.meta.last.index, snap.meta.conf_state, snap.data);
        !s.ok()) {
      return corruption(cat(dir, ": the snapshot does not fit the log: ", s.message()));
    }
    if (*m.term(snap.meta.last.index) != snap.meta.last.term) {
      return corruption(cat(dir, ": the log's term at ", snap.meta.last.index.value,
                            " differs from the snapshot's"));
    }
  }
  m.set_hard_state(h.hard_state);
  mem = std::move(m);
  segment_count.store(segments.size());
  return activate(segments.back().seq, end, false);
}

Status WalStorage::Impl::open(const WalOptions& o) {
  options = o;
  dir = o.path;
  const std::string lock_path = dir + "/LOCK";
  lock_fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (lock_fd < 0) {
    return io_error(cat("opening ", lock_path));
  }
  if (::flock(lock_fd, LOCK_EX | LOCK_NB) != 0) {
    if (errno == EWOULDBLOCK) {
      return Status(ErrorCode::kFailedPrecondition,
                    cat("wal: ", dir, " is open elsewhere (", lock_path, " is locked)"));
    }
    return io_error(cat("locking ", lock_path));
  }
  SnapshotStoreOptions so;
  so.dir = dir + "/snapshots";
  so.keep = 2;
  auto store = SnapshotStore::open(so);
  if (!store.ok()) {
    return store.status();
  }
  snapshots = std::move(*store);
  std::vector<std::uint64_t> seqs;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    std::uint64_t seq = 0;
    if (parse_segment_name(name, seq)) {
      seqs.push_back(seq);
    } else if (name.rfind(kTmpPrefix, 0) == 0) {
      std::filesystem::remove(entry.path(), ec);  // a preallocation a crash interrupted
    }
  }
  if (ec) {
    return Status(ErrorCode::kStorage, cat("wal: cannot list ", dir, ": ", ec.message()));
  }
  preparer = std::thread([this] { prepare_loop(); });
  return seqs.empty() ? create_new() : recover(std::move(seqs));
}

// ---------------------------------------------------------------------------------------------

Result<std::unique_ptr<WalStorage>> WalStorage::open(const WalOptions& o) {
  if (o.path.empty()) {
    return Status(ErrorCode::kInvalidArgument, "wal: WalOptions::path is empty");
  }
  if (o.node_id == kNoNode) {
    return Status(ErrorCode::kInvalidArgument, "wal: WalOptions::node_id must not be 0");
  }
  if (o.segment_size < kMinSegmentSize || o.segment_size > kMaxBody) {
    return Status(ErrorCode::kInvalidArgument,
                  cat("wal: WalOptions::segment_size (", o.segment_size, ") must be between ",
                      kMinSegmentSize, " and ", kMaxBody, " bytes"));
  }
  if (Status s = check_conf_state(o.bootstrap); !s.ok()) {
    return Status(ErrorCode::kInvalidArgument, cat("wal: bootstrap ", s.message()));
  }
  if (Status s = storage_internal::ensure_directory(o.path, "wal"); !s.ok()) {
    return s;
  }
  auto impl = std::make_unique<Impl>();
  if (Status s = impl->open(o); !s.ok()) {
    return s;
  }
  return std::unique_ptr<WalStorage>(new WalStorage(std::move(impl)));
}

WalStorage::WalStorage(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
WalStorage::~WalStorage() = default;

Result<InitialState> WalStorage::initial_state() const {
  std::lock_guard lock(impl_->mu);
  return impl_->mem.initial_state();
}

Result<std::vector<Entry>> WalStorage::entries(Index lo, Index hi, std::uint64_t max_bytes) const {
  std::lock_guard lock(impl_->mu);
  return impl_->mem.entries(lo, hi, max_bytes);
}

Result<Term> WalStorage::term(Index i) const {
  std::lock_guard lock(impl_->mu);
  return impl_->mem.term(i);
}

Index WalStorage::first_index() const {
  std::lock_guard lock(impl_->mu);
  return impl_->mem.first_index();
}

Index WalStorage::last_index() const {
  std::lock_guard lock(impl_->mu);
  return impl_->mem.last_index();
}

Result<Snapshot> WalStorage::snapshot() const {
  std::lock_guard lock(impl_->mu);
  return impl_->mem.snapshot();
}

std::uint64_t WalStorage::incarnation() const {
  return impl_->incarnation;
}

std::size_t WalStorage::segment_count() const {
  return impl_->segment_count.load();
}

Status WalStorage::save(const WriteBatch& batch) {
  Impl& w = *impl_;
  if (!w.broken.ok()) {
    return w.broken;
  }
  Index covered;
  EntryId old_snapshot;
  {
    std::lock_guard lock(w.mu);
    if (Status s = w.mem.check_save(batch); !s.ok()) {
      return s;
    }
    old_snapshot = w.mem.snapshot()->meta.last;
    covered = batch.snapshot ? batch.snapshot->meta.last.index
                             : std::max(Index{w.mem.first_index().value - 1}, old_snapshot.index);
  }
  // Entries the snapshot or the compaction covers are skipped, as MemoryStorage does.
  auto first = std::find_if(batch.entries.begin(), batch.entries.end(),
                            [&](const Entry& e) { return e.index > covered; });
  const bool sync = batch.sync || batch.snapshot.has_value();
  if (!batch.snapshot && first == batch.entries.end() && !batch.hard_state) {
    return sync ? w.sync_active() : Status();
  }
  if (batch.snapshot) {
    // The data first, durable before the record that names it.
    if (Status s = w.snapshots->save(*batch.snapshot); !s.ok()) {
      return s.code() == ErrorCode::kStorage ? w.fail(s) : s;
    }
  }
  std::string body;
  std::uint64_t size = 64;
  for (auto it = first; it != batch.entries.end(); ++it) {
    size += 17 + it->data.size();
  }
  body.reserve(size);
  body.push_back(static_cast<char>(kBatchRecord));
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
  if (Status s = w.append(body, sync); !s.ok()) {
    return s;
  }
  {
    std::lock_guard lock(w.mu);
    if (Status s = w.mem.save(batch); !s.ok()) {
      return w.fail(
          Status(ErrorCode::kStorage, cat("wal: a checked batch was refused: ", s.message())));
    }
  }
  if (batch.snapshot && batch.snapshot->meta.last != old_snapshot && old_snapshot.index.value) {
    (void)w.snapshots->remove(old_snapshot);  // a leftover is removed at the next open
  }
  return Status();
}

Status WalStorage::create_snapshot(Index index, const ConfState& conf_state, Bytes data) {
  Impl& w = *impl_;
  if (!w.broken.ok()) {
    return w.broken;
  }
  Snapshot snap;
  {
    std::lock_guard lock(w.mu);
    auto t = w.mem.check_create_snapshot(index, conf_state);
    if (!t.ok()) {
      return t.status();
    }
    snap.meta.last = EntryId{*t, index};
  }
  EntryId old_snapshot;
  {
    std::lock_guard lock(w.mu);
    old_snapshot = w.mem.snapshot()->meta.last;
  }
  snap.meta.conf_state = conf_state;
  snap.data = std::move(data);
  if (Status s = w.snapshots->save(snap); !s.ok()) {
    return s.code() == ErrorCode::kStorage ? w.fail(s) : s;
  }
  std::string body;
  body.push_back(static_cast<char>(kSnapshotRecord));
  put_entry_id(body, snap.meta.last);
  if (Status s = w.append(body, true); !s.ok()) {
    return s;
  }
  {
    std::lock_guard lock(w.mu);
    if (Status s = w.mem.create_snapshot(index, conf_state, snap.data); !s.ok()) {
      return w.fail(
          Status(ErrorCode::kStorage, cat("wal: a checked snapshot was refused: ", s.message())));
    }
  }
  if (old_snapshot != snap.meta.last && old_snapshot.index.value != 0) {
    (void)w.snapshots->remove(old_snapshot);
  }
  return Status();
}

Status WalStorage::compact(Index index) {
  Impl& w = *impl_;
  if (!w.broken.ok()) {
    return w.broken;
  }
  Index compacted;
  {
    std::lock_guard lock(w.mu);
    if (Status s = w.mem.compact(index); !s.ok()) {
      return s;
    }
    compacted = Index{w.mem.first_index().value - 1};
  }
  // A segment can go once everything the log held when its successor began is compacted: a
  // replay starting at the successor then finds every entry still needed.
  bool removed = false;
  while (w.segments.size() > 1 && w.segments[1].last_at_start < compacted) {
    const std::string path = w.path_of(w.segments.front().seq);
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
      return io_error(cat("removing ", path));
    }
    w.segments.pop_front();
    w.segment_count.store(w.segments.size());
    removed = true;
  }
  // In order, so that a crash can only leave a suffix of the segments.
  return removed ? fsync_dir(w.dir) : Status();
}

}  // namespace skiff
