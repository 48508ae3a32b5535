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
#include <functional>
#include <mutex>
#include <random>
#include <sstream>
#include <thread>

#include "skiff/memory_storage.h"
#include "skiff/storage/snapshot_store.h"
#include "storage/internal/files.h"
#include "storage/internal/record.h"
#include "storage/wal/format.h"

namespace skiff {

using storage_internal::cat;
using storage_internal::put_u64;
using storage_internal::Reader;
using wal_internal::corruption;
using wal_internal::encode_batch;
using wal_internal::encode_header;
using wal_internal::encode_snapshot_taken;
using wal_internal::Header;
using wal_internal::io_error;
using wal_internal::kBatchRecord;
using wal_internal::kFrameSize;
using wal_internal::kHeaderRecord;
using wal_internal::kMaxBody;
using wal_internal::kMinSegmentSize;
using wal_internal::kSnapshotRecord;
using wal_internal::kTmpPrefix;
using wal_internal::looks_torn;
using wal_internal::parse_header;
using wal_internal::parse_segment_name;
using wal_internal::pwrite_all;
using wal_internal::read_file;
using wal_internal::record_seed;
using wal_internal::Replay;
using wal_internal::seal_record;
using wal_internal::segment_name;
using wal_internal::write_zeros;

namespace {

Status wal_fsync_dir(const std::string& dir) {
  return storage_internal::fsync_dir(dir, "wal");
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
  // Appends one record (built by new_record; sealed here for its place) to the active segment,
  // rolling over when it does not fit. `what` names it in errors ("a batch of 3 entries"),
  // built only then: saves are the hot path.
  Status append(std::string& rec, bool sync, const std::function<std::string()>& what);
  // Writes segment `seq` whole under its temporary name: space reserved, `head` (a sealed
  // header record, or nothing) at its start, zeros after, synced. `role` names it in errors
  // ("the first segment"). On failure nothing of it is left taking space.
  Status make_segment(std::uint64_t seq, std::string_view head, const char* role,
                      const std::atomic<bool>* stop);
  std::string tmp_path_of(std::uint64_t seq) const {
    return dir + "/" + std::string(kTmpPrefix) + segment_name(seq).substr(4);
  }
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
  EntryId stored_snapshot;  // the snapshot the log names (mem's, without copying its data)

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
  h.snapshot = stored_snapshot;
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
    const std::string tmp = tmp_path_of(seq);
    Status s = make_segment(seq, std::string_view(), "the next segment", &stop_fill);
    if (s.ok() && ::rename(tmp.c_str(), path_of(seq).c_str()) != 0) {
      s = io_error(cat("renaming ", tmp), dir);
    }
    if (s.ok()) {
      s = wal_fsync_dir(dir);
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

Status WalStorage::Impl::make_segment(std::uint64_t seq, std::string_view head, const char* role,
                                      const std::atomic<bool>* stop) {
  const std::string tmp = tmp_path_of(seq);
  const std::string what = cat("preallocating ", role, " ", tmp,
                               " (WalOptions::segment_size = ", options.segment_size, " bytes)");
  const int f = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (f < 0) {
    return io_error(cat("creating ", tmp), dir);
  }
  // Reserved first, so that a full disk fails at once rather than after a partial fill; then
  // written with zeros all the same, so that appends overwrite written blocks and their
  // fdatasync carries no metadata (see the format notes in the header).
  int err = storage_internal::reserve(f, options.segment_size);
  bool ok = err == 0;
  if (ok && !(pwrite_all(f, head, 0) &&
              write_zeros(f, head.size(), options.segment_size - head.size(), stop) &&
              ::fdatasync(f) == 0)) {
    ok = false;
    err = errno;
  }
  ::close(f);
  if (ok) {
    return Status();
  }
  ::unlink(tmp.c_str());  // what it holds takes space the disk may be short of
  if (stop != nullptr && stop->load()) {
    return Status(ErrorCode::kStopped, "wal: closing");
  }
  errno = err;
  return io_error(what, dir);
}

Status WalStorage::Impl::sync_active() {
  if (!unsynced) {
    return Status();
  }
  if (::fdatasync(fd) != 0) {
    return fail(io_error(cat("syncing ", path_of(segments.back().seq)), dir));
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
    std::string rec = encode_header(h);
    seal_record(rec, seq, 0);
    if (!pwrite_all(fd, rec, 0)) {
      return fail(io_error(cat("writing the header of ", path), dir));
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

Status WalStorage::Impl::append(std::string& rec, bool sync,
                                const std::function<std::string()>& what) {
  if (rec.size() - kFrameSize > kMaxBody) {
    return Status(ErrorCode::kInvalidArgument, cat("wal: a batch of ", rec.size() - kFrameSize,
                                                   " bytes is over the limit of ", kMaxBody));
  }
  if (offset + rec.size() > capacity && offset > 0) {
    if (Status s = roll_over(); !s.ok()) {
      return s;
    }
  }
  const std::uint64_t at = offset;
  seal_record(rec, segments.back().seq, at);
  if (!pwrite_all(fd, rec, at)) {
    const Status s = io_error(
        cat("writing ", what(), " (", rec.size(), " bytes) to ", path_of(segments.back().seq)),
        dir);
    (void)write_zeros(fd, at, rec.size());  // best effort: leave no part of it behind
    return fail(s);
  }
  offset = at + rec.size();
  capacity = std::max(capacity, offset);
  unsynced = true;
  if (sync) {
    if (::fdatasync(fd) != 0) {
      const Status s = io_error(
          cat("syncing ", what(), " (", rec.size(), " bytes) to ", path_of(segments.back().seq)),
          dir);
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
  // A new log preallocates two segments (the first, and the next made ahead of need): on a
  // file system without room for both it could not go past its first segment, so it is
  // refused now, saying what to change, rather than failing at its first roll-over.
  if (const auto space = storage_internal::space_at(dir);
      space && space->free < 2 * options.segment_size) {
    return Status(
        ErrorCode::kStorage,
        cat("wal: ", dir, ": not enough free space for a new log: ", space->free,
            " bytes free on its file system (of ", space->total, "), ", 2 * options.segment_size,
            " bytes needed (two segments of WalOptions::segment_size = ", options.segment_size,
            " bytes: the first one and the next, preallocated ahead); free space, or "
            "set WalOptions::segment_size lower (at least ",
            kMinSegmentSize, " bytes)"));
  }
  // The first segment is written whole under a temporary name, so that a crash leaves either
  // a complete log or none.
  const std::uint64_t seq = 1;
  const std::string tmp = tmp_path_of(seq);
  std::string rec = encode_header(current_header(seq));
  seal_record(rec, seq, 0);
  if (Status s = make_segment(seq, rec, "the first segment", nullptr); !s.ok()) {
    return s;
  }
  if (::rename(tmp.c_str(), path_of(seq).c_str()) != 0) {
    return io_error(cat("renaming ", tmp), dir);
  }
  if (Status s = wal_fsync_dir(dir); !s.ok()) {
    return s;
  }
  const std::string parent = std::filesystem::path(dir).parent_path().string();
  if (Status s = wal_fsync_dir(parent.empty() ? "." : parent); !s.ok()) {
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
  stored_snapshot = snap.meta.last;
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

AdapterIdentity WalStorage::identity() const {
  return AdapterIdentity{impl_->options.cluster_id, impl_->options.node_id};
}

std::size_t WalStorage::segment_count() const {
  return impl_->segment_count.load();
}

Status WalStorage::save(const WriteBatch& batch) {
  Impl& w = *impl_;
  if (!w.broken.ok()) {
    return w.broken;
  }
  const EntryId old_snapshot = w.stored_snapshot;
  Index covered;
  {
    std::lock_guard lock(w.mu);
    if (Status s = w.mem.check_save(batch); !s.ok()) {
      return s;
    }
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
  std::string rec = encode_batch(batch, first);
  const auto count = batch.entries.end() - first;
  auto what = [count] { return cat("a batch of ", count, count == 1 ? " entry" : " entries"); };
  if (Status s = w.append(rec, sync, what); !s.ok()) {
    return s;
  }
  {
    std::lock_guard lock(w.mu);
    if (Status s = w.mem.save(batch); !s.ok()) {
      return w.fail(
          Status(ErrorCode::kStorage, cat("wal: a checked batch was refused: ", s.message())));
    }
  }
  if (batch.snapshot) {
    w.stored_snapshot = batch.snapshot->meta.last;
    if (old_snapshot != w.stored_snapshot && old_snapshot.index.value != 0) {
      (void)w.snapshots->remove(old_snapshot);  // a leftover is removed at the next open
    }
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
  const EntryId old_snapshot = w.stored_snapshot;
  snap.meta.conf_state = conf_state;
  snap.data = std::move(data);
  if (Status s = w.snapshots->save(snap); !s.ok()) {
    return s.code() == ErrorCode::kStorage ? w.fail(s) : s;
  }
  std::string rec = encode_snapshot_taken(snap.meta.last);
  auto what = [&snap] { return cat("the record of snapshot ", describe(snap.meta.last)); };
  if (Status s = w.append(rec, true, what); !s.ok()) {
    return s;
  }
  {
    std::lock_guard lock(w.mu);
    if (Status s = w.mem.create_snapshot(index, conf_state, snap.data); !s.ok()) {
      return w.fail(
          Status(ErrorCode::kStorage, cat("wal: a checked snapshot was refused: ", s.message())));
    }
  }
  w.stored_snapshot = snap.meta.last;
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
  return removed ? wal_fsync_dir(w.dir) : Status();
}

}  // namespace skiff
