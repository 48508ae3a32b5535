// LmdbStorage (include/skiff/storage/lmdb_storage.h has the on-disk format).
#include "skiff/storage/lmdb_storage.h"

#include <fcntl.h>
#include <lmdb.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <functional>
#include <mutex>
#include <random>
#include <shared_mutex>
#include <sstream>
#include <string_view>
#include <system_error>
#include <vector>

#include "skiff/conf_change.h"
#include "storage/internal/files.h"
#include "storage/internal/record.h"

#include <xxhash.h>

namespace skiff {
namespace {

using storage_internal::cat;
using storage_internal::put_conf;
using storage_internal::put_u32;
using storage_internal::put_u64;
using storage_internal::read_conf;
using storage_internal::Reader;
using storage_internal::seal;
using storage_internal::unseal;

constexpr std::uint32_t kFormatVersion = 1;
constexpr char kMetaDb[] = "meta";
constexpr char kLogDb[] = "log";

// Below this much free space beyond what a write needed, an EIO from LMDB is taken for a full
// disk: LMDB reports a write the file system cut short as EIO (mdb_page_flush: "short write,
// filesystem full?"), and a short write is what a disk that fills up mid-write gives.
constexpr std::uint64_t kShortWriteSlack = std::uint64_t{1} << 20;

// The lock file LMDB maps and writes through memory (its reader table): on a full file system
// a store into a page not yet allocated is a SIGBUS, not an error. So its pages are allocated
// before LMDB opens it. 8 KiB is the size LMDB gives it by default on Linux (126 readers); an
// existing file keeps its size and only has its holes filled.
constexpr std::uint64_t kLockFileBytes = 8192;

// The error for LMDB's `rc` while doing `what` in the environment at `path`. A full disk is
// said in so many words, with the free space (`needed`: about how many bytes the write
// needed, for telling a short write from other I/O errors).
Status lmdb_error(int rc, const std::string& what, const std::string& path = std::string(),
                  std::uint64_t needed = 0) {
  const std::string where = path.empty() ? std::string() : cat(" in ", path);
  if (!path.empty() && storage_internal::is_disk_full(rc)) {
    return Status(ErrorCode::kStorage,
                  cat("lmdb: ", what, where, ": ", storage_internal::disk_full_text(rc, path)));
  }
  if (!path.empty() && rc == EIO) {
    const auto space = storage_internal::space_at(path);
    if (space && space->free < needed + kShortWriteSlack) {
      return Status(
          ErrorCode::kStorage,
          cat("lmdb: ", what, where, ": no space left on device (the disk is full: ", space->free,
              " of ", space->total, " bytes free on the file system holding ", path,
              "; LMDB reports the write the file system cut short as an I/O error)"));
    }
  }
  if (rc == MDB_PANIC) {
    return Status(ErrorCode::kStorage,
                  cat("lmdb: ", what, where, ": ", mdb_strerror(rc),
                      " (an earlier write failed halfway; reopen the storage)"));
  }
  const ErrorCode code = rc == MDB_CORRUPTED || rc == MDB_PAGE_NOTFOUND || rc == MDB_INVALID
                             ? ErrorCode::kCorruption
                             : ErrorCode::kStorage;
  return Status(code, cat("lmdb: ", what, where, ": ", mdb_strerror(rc)));
}

// Allocates the pages of `dir`/lock.mdb (see kLockFileBytes), creating it if need be.
Status prepare_lock_file(const std::string& dir) {
  const std::string path = dir + "/lock.mdb";
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) {
    return storage_internal::errno_error("lmdb", cat("opening ", path), dir);
  }
  struct stat st {};
  int err = ::fstat(fd, &st) == 0 ? 0 : errno;
  if (err == 0) {
    const auto size = static_cast<std::uint64_t>(st.st_size);
    err = storage_internal::reserve(fd, size == 0 ? kLockFileBytes : size);
  }
  ::close(fd);
  if (err != 0) {
    errno = err;
    return storage_internal::errno_error("lmdb", cat("allocating the lock file ", path), dir);
  }
  return Status();
}

// The checksum of a log record covers its term, type and data, seeded with its index, so a
// record moved to another key fails too.
std::uint64_t entry_checksum(Index index, std::string_view after_checksum) {
  return XXH3_64bits_withSeed(after_checksum.data(), after_checksum.size(), index.value);
}

// Checksum, term and type before the data.
constexpr std::size_t kEntryHeader = 8 + 8 + 1;

void put_le(char* p, std::uint64_t v) {
  for (int k = 0; k < 8; ++k) {
    p[k] = static_cast<char>((v >> (8 * k)) & 0xff);
  }
}

// Encodes `e` into the kEntryHeader + e.data.size() bytes at `out`.
void encode_entry_into(const Entry& e, char* out) {
  put_le(out + 8, e.term.value);
  out[16] = static_cast<char>(e.type);
  if (!e.data.empty()) {
    std::memcpy(out + kEntryHeader, e.data.data(), e.data.size());
  }
  put_le(out, entry_checksum(e.index, std::string_view(out + 8, kEntryHeader - 8 + e.data.size())));
}

Result<Entry> decode_entry(Index index, std::string_view value) {
  auto corrupt = [&](const char* why) {
    return Status(ErrorCode::kCorruption, cat("lmdb: log entry ", index.value, ": ", why));
  };
  Reader r(value);
  std::uint64_t sum = 0;
  std::uint64_t term = 0;
  std::uint8_t type = 0;
  if (!r.u64(sum) || !r.u64(term) || !r.u8(type)) {
    return corrupt("truncated record");
  }
  if (entry_checksum(index, value.substr(8)) != sum) {
    return corrupt("checksum mismatch");
  }
  if (type > static_cast<std::uint8_t>(EntryType::kConfChange)) {
    return corrupt("unknown entry type");
  }
  Entry e;
  e.index = index;
  e.term = Term{term};
  e.type = static_cast<EntryType>(type);
  e.data = Bytes::copy_of(value.substr(r.pos()));
  return e;
}

std::string index_key(Index i) {
  std::string key(8, '\0');
  for (int k = 0; k < 8; ++k) {
    key[7 - k] = static_cast<char>((i.value >> (8 * k)) & 0xff);
  }
  return key;
}

Index key_index(const MDB_val& key) {
  std::uint64_t v = 0;
  const auto* p = static_cast<const unsigned char*>(key.mv_data);
  for (std::size_t k = 0; k < 8 && k < key.mv_size; ++k) {
    v = (v << 8) | p[k];
  }
  return Index{v};
}

MDB_val val(std::string_view s) {
  return MDB_val{s.size(), const_cast<char*>(s.data())};
}

std::string_view view(const MDB_val& v) {
  return std::string_view(static_cast<const char*>(v.mv_data), v.mv_size);
}

// A transaction that aborts unless committed.
class Txn {
 public:
  Txn() = default;
  Txn(const Txn&) = delete;
  Txn& operator=(const Txn&) = delete;
  ~Txn() {
    if (txn_ != nullptr) {
      mdb_txn_abort(txn_);
    }
  }
  int begin(MDB_env* env, unsigned flags) { return mdb_txn_begin(env, nullptr, flags, &txn_); }
  int commit() {
    const int rc = mdb_txn_commit(txn_);
    txn_ = nullptr;
    return rc;
  }
  MDB_txn* get() const { return txn_; }

 private:
  MDB_txn* txn_ = nullptr;
};

}  // namespace

// ---------------------------------------------------------------------------------------------

class LmdbStorage::Impl {
 public:
  ~Impl() {
    if (env != nullptr) {
      mdb_env_close(env);
    }
  }

  Status load(const LmdbOptions& o);
  Status read_meta(MDB_txn* txn, const char* key, std::string& out, bool& found) const;
  Result<Entry> read_entry(MDB_txn* txn, Index i) const;
  // Runs `write` in a write transaction, growing the map and retrying when it is full.
  // `what` says what it writes, for errors (built only then: saves are the hot path), `needed`
  // about how many bytes.
  Status write(bool sync, const std::function<int(MDB_txn*)>& write,
               const std::function<std::string()>& what, std::uint64_t needed);

  MDB_env* env = nullptr;
  MDB_dbi meta = 0;
  std::uint64_t incarnation = 0;
  AdapterIdentity owner;  // LmdbOptions' ids, checked against the file at open
  MDB_dbi log = 0;
  std::string path;
  std::uint64_t map_size = 0;
  std::uint64_t max_map_size = 0;

  // Readers hold it shared for their transaction; growing the map holds it exclusively
  // (LMDB allows mdb_env_set_mapsize only with no transaction active in the process).
  mutable std::shared_mutex env_mu;
  // Cached state, guarded by mu.
  mutable std::mutex mu;
  HardState hard_state;
  ConfState bootstrap;
  Snapshot snap;
  EntryId compacted;
  Index last;
};

Status LmdbStorage::Impl::read_meta(MDB_txn* txn, const char* key, std::string& out,
                                    bool& found) const {
  MDB_val k = val(key);
  MDB_val v;
  const int rc = mdb_get(txn, meta, &k, &v);
  if (rc == MDB_NOTFOUND) {
    found = false;
    return Status();
  }
  if (rc != 0) {
    return lmdb_error(rc, cat("reading ", key));
  }
  found = true;
  out.assign(view(v));
  return Status();
}

Result<Entry> LmdbStorage::Impl::read_entry(MDB_txn* txn, Index i) const {
  const std::string key = index_key(i);
  MDB_val k = val(key);
  MDB_val v;
  const int rc = mdb_get(txn, log, &k, &v);
  if (rc == MDB_NOTFOUND) {
    return Status(ErrorCode::kCorruption, cat("lmdb: log entry ", i.value, " is missing"));
  }
  if (rc != 0) {
    return lmdb_error(rc, cat("reading entry ", i.value));
  }
  return decode_entry(i, view(v));
}

Status LmdbStorage::Impl::write(bool sync, const std::function<int(MDB_txn*)>& body,
                                const std::function<std::string()>& what, std::uint64_t needed) {
  for (;;) {
    int rc = 0;
    {
      Txn txn;
      rc = txn.begin(env, 0);
      if (rc == 0) {
        rc = body(txn.get());
      }
      if (rc == 0) {
        if (!sync) {
          mdb_env_set_flags(env, MDB_NOSYNC, 1);
        }
        rc = txn.commit();
        if (!sync) {
          mdb_env_set_flags(env, MDB_NOSYNC, 0);
        }
      }
    }
    if (rc == 0) {
      return Status();
    }
    if (rc != MDB_MAP_FULL) {
      return lmdb_error(rc, what(), path, needed);
    }
    // The map is full: grow it (doubling) and retry the whole transaction.
    if (map_size >= max_map_size) {
      return Status(ErrorCode::kStorage,
                    cat("lmdb: ", what(), " in ", path,
                        ": the map is full: it reached its maximum of ", max_map_size,
                        " bytes, LmdbOptions::max_map_size (the largest the environment may "
                        "grow to); raise it, or compact the log to make room"));
    }
    std::unique_lock lock(env_mu);
    const std::uint64_t next = std::min(max_map_size, map_size * 2);
    if (const int grow = mdb_env_set_mapsize(env, next); grow != 0) {
      return lmdb_error(grow, cat("growing the map to ", next, " bytes"), path);
    }
    map_size = next;
  }
}

Status LmdbStorage::Impl::load(const LmdbOptions& o) {
  Txn txn;
  if (int rc = txn.begin(env, 0); rc != 0) {
    return lmdb_error(rc, "opening the environment", o.path);
  }
  if (int rc = mdb_dbi_open(txn.get(), kMetaDb, MDB_CREATE, &meta); rc != 0) {
    return lmdb_error(rc, "opening the meta database");
  }
  if (int rc = mdb_dbi_open(txn.get(), kLogDb, MDB_CREATE, &log); rc != 0) {
    return lmdb_error(rc, "opening the log database");
  }
  std::string value;
  bool found = false;
  if (Status s = read_meta(txn.get(), "format", value, found); !s.ok()) {
    return s;
  }
  if (!found) {
    // A new environment: this node's first start.
    std::string format;
    put_u32(format, kFormatVersion);
    std::string ids;
    put_u64(ids, o.cluster_id);
    put_u64(ids, o.node_id.value);
    std::string hs;
    put_u64(hs, 0);
    put_u64(hs, 0);
    put_u64(hs, 0);
    seal(hs);
    std::string boot;
    put_conf(boot, o.bootstrap);
    seal(boot);
    std::string compacted_rec;
    put_u64(compacted_rec, 0);
    put_u64(compacted_rec, 0);
    seal(compacted_rec);
    for (const auto& [key, v] : {std::pair<const char*, std::string*>{"format", &format},
                                 {"ids", &ids},
                                 {"hard_state", &hs},
                                 {"bootstrap", &boot},
                                 {"compacted", &compacted_rec}}) {
      MDB_val k = val(key);
      MDB_val data = val(*v);
      if (int rc = mdb_put(txn.get(), meta, &k, &data, 0); rc != 0) {
        return lmdb_error(rc, "initialising the environment", o.path);
      }
    }
    bootstrap = o.bootstrap;
  } else {
    Reader r(value);
    std::uint32_t version = 0;
    if (!r.u32(version)) {
      return Status(ErrorCode::kCorruption, cat("lmdb: ", o.path, ": bad format record"));
    }
    if (version != kFormatVersion) {
      return Status(ErrorCode::kFailedPrecondition,
                    cat("lmdb: ", o.path, " has format version ", version,
                        "; this build reads version ", kFormatVersion));
    }
    if (Status s = read_meta(txn.get(), "ids", value, found); !s.ok()) {
      return s;
    }
    Reader ids(value);
    std::uint64_t cluster = 0;
    std::uint64_t node = 0;
    if (!found || !ids.u64(cluster) || !ids.u64(node)) {
      return Status(ErrorCode::kCorruption, cat("lmdb: ", o.path, ": bad ids record"));
    }
    if (cluster != o.cluster_id || node != o.node_id.value) {
      return Status(ErrorCode::kFailedPrecondition,
                    cat("lmdb: ", o.path, " belongs to cluster ", cluster, " node ", node,
                        ", not to cluster ", o.cluster_id, " node ", o.node_id.value));
    }
    std::string_view body;
    if (Status s = read_meta(txn.get(), "hard_state", value, found); !s.ok()) {
      return s;
    }
    if (!found || !unseal(value, body)) {
      return Status(ErrorCode::kCorruption, cat("lmdb: ", o.path, ": hard state checksum"));
    }
    Reader hsr(body);
    std::uint64_t t = 0;
    std::uint64_t v = 0;
    std::uint64_t c = 0;
    hsr.u64(t);
    hsr.u64(v);
    hsr.u64(c);
    hard_state = HardState{Term{t}, NodeId{v}, Index{c}};
    if (Status s = read_meta(txn.get(), "bootstrap", value, found); !s.ok()) {
      return s;
    }
    if (!found || !unseal(value, body)) {
      return Status(ErrorCode::kCorruption, cat("lmdb: ", o.path, ": membership checksum"));
    }
    Reader br(body);
    if (!read_conf(br, bootstrap)) {
      return Status(ErrorCode::kCorruption, cat("lmdb: ", o.path, ": bad membership record"));
    }
    if (Status s = read_meta(txn.get(), "compacted", value, found); !s.ok()) {
      return s;
    }
    if (!found || !unseal(value, body)) {
      return Status(ErrorCode::kCorruption, cat("lmdb: ", o.path, ": compaction record"));
    }
    Reader cr(body);
    cr.u64(c);
    cr.u64(t);
    compacted = EntryId{Term{t}, Index{c}};
    if (Status s = read_meta(txn.get(), "snapshot", value, found); !s.ok()) {
      return s;
    }
    if (found) {
      if (!unseal(value, body)) {
        return Status(ErrorCode::kCorruption, cat("lmdb: ", o.path, ": snapshot checksum"));
      }
      Reader sr(body);
      std::uint64_t len = 0;
      std::string_view data;
      if (!sr.u64(c) || !sr.u64(t) || !read_conf(sr, snap.meta.conf_state) || !sr.u64(len) ||
          !sr.bytes(len, data)) {
        return Status(ErrorCode::kCorruption, cat("lmdb: ", o.path, ": bad snapshot record"));
      }
      snap.meta.last = EntryId{Term{t}, Index{c}};
      snap.data = Bytes::copy_of(data);
    }
  }
  // The incarnation: drawn once, when the environment is first opened by a build that keeps
  // one (environments made before that get theirs now), and kept for its whole life.
  if (Status st = read_meta(txn.get(), "incarnation", value, found); !st.ok()) {
    return st;
  }
  std::string_view inc_body;
  if (found) {
    Reader ir(unseal(value, inc_body) ? inc_body : std::string_view());
    if (!ir.u64(incarnation) || incarnation == 0) {
      return Status(ErrorCode::kCorruption, cat("lmdb: ", o.path, ": bad incarnation record"));
    }
  } else {
    std::random_device rd;
    while (incarnation == 0) {
      incarnation = (std::uint64_t{rd()} << 32) | rd();
    }
    std::string rec;
    put_u64(rec, incarnation);
    seal(rec);
    MDB_val k = val("incarnation");
    MDB_val data = val(rec);
    if (int rc = mdb_put(txn.get(), meta, &k, &data, 0); rc != 0) {
      return lmdb_error(rc, "initialising the environment", o.path);
    }
  }
  // The last index: the highest key in the log, or the compaction point.
  last = compacted.index;
  MDB_cursor* cursor = nullptr;
  if (int rc = mdb_cursor_open(txn.get(), log, &cursor); rc != 0) {
    return lmdb_error(rc, "opening a cursor");
  }
  MDB_val k;
  MDB_val v;
  const int rc = mdb_cursor_get(cursor, &k, &v, MDB_LAST);
  mdb_cursor_close(cursor);
  if (rc == 0) {
    last = key_index(k);
  } else if (rc != MDB_NOTFOUND) {
    return lmdb_error(rc, "finding the last entry");
  }
  if (int commit = txn.commit(); commit != 0) {
    return lmdb_error(commit, "initialising the environment", o.path);
  }
  return Status();
}

// ---------------------------------------------------------------------------------------------

Result<std::unique_ptr<LmdbStorage>> LmdbStorage::open(const LmdbOptions& o) {
  if (o.path.empty()) {
    return Status(ErrorCode::kInvalidArgument, "lmdb: LmdbOptions::path is empty");
  }
  if (o.node_id == kNoNode) {
    return Status(ErrorCode::kInvalidArgument, "lmdb: LmdbOptions::node_id must not be 0");
  }
  if (o.initial_map_size < (1U << 20) || o.max_map_size < o.initial_map_size) {
    return Status(ErrorCode::kInvalidArgument,
                  cat("lmdb: map sizes must satisfy 1 MiB <= initial_map_size (",
                      o.initial_map_size, ") <= max_map_size (", o.max_map_size, ")"));
  }
  if (Status s = check_conf_state(o.bootstrap); !s.ok()) {
    return Status(ErrorCode::kInvalidArgument, cat("lmdb: bootstrap ", s.message()));
  }
  if (Status s = storage_internal::ensure_directory(o.path, "lmdb"); !s.ok()) {
    return s;
  }
  auto impl = std::make_unique<Impl>();
  impl->path = o.path;
  impl->owner = AdapterIdentity{o.cluster_id, o.node_id};
  impl->max_map_size = o.max_map_size;
  if (int rc = mdb_env_create(&impl->env); rc != 0) {
    return lmdb_error(rc, "creating the environment");
  }
  mdb_env_set_maxdbs(impl->env, 2);
  mdb_env_set_mapsize(impl->env, o.initial_map_size);
  if (Status s = prepare_lock_file(o.path); !s.ok()) {
    return s;
  }
  if (int rc = mdb_env_open(impl->env, o.path.c_str(), MDB_NOTLS, 0644); rc != 0) {
    return lmdb_error(rc, "opening the environment", o.path);
  }
  MDB_envinfo info;
  mdb_env_info(impl->env, &info);
  impl->map_size = info.me_mapsize;  // an existing, larger file keeps its size
  if (Status s = impl->load(o); !s.ok()) {
    return s;
  }
  return std::unique_ptr<LmdbStorage>(new LmdbStorage(std::move(impl)));
}

LmdbStorage::LmdbStorage(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
LmdbStorage::~LmdbStorage() = default;

std::uint64_t LmdbStorage::incarnation() const {
  return impl_->incarnation;
}

AdapterIdentity LmdbStorage::identity() const {
  return impl_->owner;
}

std::uint64_t LmdbStorage::map_size() const {
  std::lock_guard lock(impl_->mu);
  return impl_->map_size;
}

Result<InitialState> LmdbStorage::initial_state() const {
  std::lock_guard lock(impl_->mu);
  return InitialState{impl_->hard_state,
                      impl_->snap.empty() ? impl_->bootstrap : impl_->snap.meta.conf_state};
}

Index LmdbStorage::first_index() const {
  std::lock_guard lock(impl_->mu);
  return impl_->compacted.index + 1;
}

Index LmdbStorage::last_index() const {
  std::lock_guard lock(impl_->mu);
  return impl_->last;
}

Result<Snapshot> LmdbStorage::snapshot() const {
  std::lock_guard lock(impl_->mu);
  return impl_->snap;
}

Result<Term> LmdbStorage::term(Index i) const {
  EntryId compacted;
  {
    std::lock_guard lock(impl_->mu);
    compacted = impl_->compacted;
    if (Status s = check_term_index(i, compacted.index + 1, impl_->last); !s.ok()) {
      return s;
    }
  }
  if (i == compacted.index) {
    return compacted.term;
  }
  std::shared_lock env_lock(impl_->env_mu);
  Txn txn;
  if (int rc = txn.begin(impl_->env, MDB_RDONLY); rc != 0) {
    return lmdb_error(rc, "read transaction");
  }
  auto e = impl_->read_entry(txn.get(), i);
  if (!e.ok()) {
    return e.status();
  }
  return e->term;
}

Result<std::vector<Entry>> LmdbStorage::entries(Index lo, Index hi, std::uint64_t max_bytes) const {
  {
    std::lock_guard lock(impl_->mu);
    if (Status s = check_entries_range(lo, hi, impl_->compacted.index + 1, impl_->last); !s.ok()) {
      return s;
    }
  }
  std::vector<Entry> out;
  if (lo >= hi) {
    return out;
  }
  std::shared_lock env_lock(impl_->env_mu);
  Txn txn;
  if (int rc = txn.begin(impl_->env, MDB_RDONLY); rc != 0) {
    return lmdb_error(rc, "read transaction");
  }
  MDB_cursor* cursor = nullptr;
  if (int rc = mdb_cursor_open(txn.get(), impl_->log, &cursor); rc != 0) {
    return lmdb_error(rc, "opening a cursor");
  }
  const std::string key = index_key(lo);
  MDB_val k = val(key);
  MDB_val v;
  int rc = mdb_cursor_get(cursor, &k, &v, MDB_SET_KEY);
  std::uint64_t size = 0;
  Status error;
  for (Index i = lo; i < hi; ++i) {
    if (rc != 0 || key_index(k) != i) {
      error = rc == 0 || rc == MDB_NOTFOUND
                  ? Status(ErrorCode::kCorruption, cat("lmdb: log entry ", i.value, " is missing"))
                  : lmdb_error(rc, cat("reading entry ", i.value));
      break;
    }
    auto e = decode_entry(i, view(v));
    if (!e.ok()) {
      error = e.status();
      break;
    }
    const std::uint64_t s = entry_size(*e);
    if (!out.empty() && size + s > max_bytes) {
      break;
    }
    size += s;
    out.push_back(std::move(e).value());
    rc = mdb_cursor_get(cursor, &k, &v, MDB_NEXT);
  }
  mdb_cursor_close(cursor);
  if (!error.ok()) {
    return error;
  }
  return out;
}

Status LmdbStorage::save(const WriteBatch& batch) {
  Impl& m = *impl_;
  Index last;
  EntryId compacted;
  Index snap_index;
  {
    std::lock_guard lock(m.mu);
    last = m.last;
    compacted = m.compacted;
    snap_index = m.snap.meta.last.index;
  }
  // Check everything first: a refused batch changes nothing.
  if (batch.snapshot && batch.snapshot->meta.last.index < snap_index) {
    return Status(ErrorCode::kInvalidArgument,
                  cat("lmdb: save: snapshot at ", batch.snapshot->meta.last.index.value,
                      " is older than the stored one at ", snap_index.value));
  }
  if (batch.snapshot) {
    if (Status s = check_conf_state(batch.snapshot->meta.conf_state); !s.ok()) {
      return Status(ErrorCode::kInvalidArgument, cat("lmdb: save: snapshot ", s.message()));
    }
    last = batch.snapshot->meta.last.index;
    compacted = batch.snapshot->meta.last;
    snap_index = last;
  }
  const Index covered = std::max(compacted.index, snap_index);
  std::size_t skip = 0;
  for (std::size_t k = 0; k < batch.entries.size(); ++k) {
    if (k > 0 && batch.entries[k].index != batch.entries[k - 1].index + 1) {
      return Status(ErrorCode::kInvalidArgument,
                    cat("lmdb: save: entry ", batch.entries[k].index.value, " follows ",
                        batch.entries[k - 1].index.value));
    }
    if (batch.entries[k].index <= covered) {
      skip = k + 1;
    }
  }
  if (!batch.entries.empty() && batch.entries.front().index > last + 1) {
    return Status(ErrorCode::kInvalidArgument,
                  cat("lmdb: save: first entry ", batch.entries.front().index.value,
                      " leaves a gap after last index ", last.value));
  }
  std::string snap_rec;
  if (batch.snapshot) {
    const Snapshot& s = *batch.snapshot;
    put_u64(snap_rec, s.meta.last.index.value);
    put_u64(snap_rec, s.meta.last.term.value);
    put_conf(snap_rec, s.meta.conf_state);
    put_u64(snap_rec, s.data.size());
    snap_rec.append(s.data.view());
    seal(snap_rec);
  }
  std::string compacted_rec;
  put_u64(compacted_rec, compacted.index.value);
  put_u64(compacted_rec, compacted.term.value);
  seal(compacted_rec);
  std::string hs_rec;
  if (batch.hard_state) {
    put_u64(hs_rec, batch.hard_state->term.value);
    put_u64(hs_rec, batch.hard_state->vote.value);
    put_u64(hs_rec, batch.hard_state->commit.value);
    seal(hs_rec);
  }
  Index new_last = last;
  std::uint64_t bytes = snap_rec.size() + hs_rec.size() + compacted_rec.size();
  for (std::size_t j = skip; j < batch.entries.size(); ++j) {
    bytes += kEntryHeader + batch.entries[j].data.size();
  }
  const struct {
    std::size_t count;
    std::uint64_t bytes;
    bool hard_state;
    bool snapshot;
  } written{batch.entries.size() - skip, bytes, batch.hard_state.has_value(),
            batch.snapshot.has_value()};
  auto what = [&written] {
    return cat("saving ", written.count, written.count == 1 ? " entry" : " entries",
               written.hard_state ? ", the hard state" : "", written.snapshot ? ", a snapshot" : "",
               " (", written.bytes, " bytes)");
  };
  Status st = m.write(
      batch.sync,
      [&](MDB_txn* txn) -> int {
        auto put_meta = [&](const char* key, const std::string& value) {
          MDB_val k = val(key);
          MDB_val v = val(value);
          return mdb_put(txn, m.meta, &k, &v, 0);
        };
        if (batch.snapshot) {
          // Raft §7: the snapshot replaces the whole log.
          if (int rc = mdb_drop(txn, m.log, 0); rc != 0) {
            return rc;
          }
          if (int rc = put_meta("snapshot", snap_rec); rc != 0) {
            return rc;
          }
          if (int rc = put_meta("compacted", compacted_rec); rc != 0) {
            return rc;
          }
        }
        if (skip < batch.entries.size() && batch.entries[skip].index <= last) {
          // Raft §5.3: drop the stored suffix from the first new index on.
          MDB_cursor* cursor = nullptr;
          if (int rc = mdb_cursor_open(txn, m.log, &cursor); rc != 0) {
            return rc;
          }
          const std::string from = index_key(batch.entries[skip].index);
          MDB_val k = val(from);
          MDB_val v;
          int rc = mdb_cursor_get(cursor, &k, &v, MDB_SET_RANGE);
          while (rc == 0) {
            if (int del = mdb_cursor_del(cursor, 0); del != 0) {
              mdb_cursor_close(cursor);
              return del;
            }
            rc = mdb_cursor_get(cursor, &k, &v, MDB_NEXT);
          }
          mdb_cursor_close(cursor);
          if (rc != MDB_NOTFOUND) {
            return rc;
          }
        }
        if (skip < batch.entries.size()) {
          for (std::size_t j = skip; j < batch.entries.size(); ++j) {
            const Entry& e = batch.entries[j];
            const std::string key = index_key(e.index);
            MDB_val ek = val(key);
            // Reserve the record in LMDB's page and encode into it: the payload is copied
            // once, as a raw put would copy it.
            MDB_val ev{kEntryHeader + e.data.size(), nullptr};
            if (int put = mdb_put(txn, m.log, &ek, &ev, MDB_APPEND | MDB_RESERVE); put != 0) {
              return put;
            }
            encode_entry_into(e, static_cast<char*>(ev.mv_data));
          }
          new_last = batch.entries.back().index;
        }
        if (batch.hard_state) {
          if (int rc = put_meta("hard_state", hs_rec); rc != 0) {
            return rc;
          }
        }
        return 0;
      },
      what, bytes);
  if (!st.ok()) {
    return st;
  }
  std::lock_guard lock(m.mu);
  if (batch.snapshot) {
    m.snap = *batch.snapshot;
    m.compacted = compacted;
  }
  m.last = new_last;
  if (batch.hard_state) {
    m.hard_state = *batch.hard_state;
  }
  return Status();
}

Status LmdbStorage::create_snapshot(Index index, const ConfState& conf_state, Bytes data) {
  Impl& m = *impl_;
  if (Status s = check_conf_state(conf_state); !s.ok()) {
    return Status(ErrorCode::kInvalidArgument, cat("lmdb: create_snapshot: ", s.message()));
  }
  if (conf_state.voters.empty()) {
    return Status(ErrorCode::kInvalidArgument,
                  cat("lmdb: create_snapshot at ", index.value,
                      ": the membership has no voter (is it known at that index?)"));
  }
  {
    std::lock_guard lock(m.mu);
    if (index < m.snap.meta.last.index) {
      return Status(ErrorCode::kFailedPrecondition,
                    cat("lmdb: create_snapshot: index ", index.value,
                        " is older than the stored snapshot at ", m.snap.meta.last.index.value));
    }
  }
  auto t = term(index);
  if (!t.ok()) {
    return Status(t.status().code(),
                  cat("lmdb: create_snapshot at ", index.value, ": ", t.status().message()));
  }
  Snapshot s;
  s.meta.last = EntryId{*t, index};
  s.meta.conf_state = conf_state;
  s.data = std::move(data);
  std::string rec;
  put_u64(rec, index.value);
  put_u64(rec, t->value);
  put_conf(rec, conf_state);
  put_u64(rec, s.data.size());
  rec.append(s.data.view());
  seal(rec);
  Status st = m.write(
      true,
      [&](MDB_txn* txn) -> int {
        MDB_val k = val("snapshot");
        MDB_val v = val(rec);
        return mdb_put(txn, m.meta, &k, &v, 0);
      },
      [&s, &rec] {
        return cat("saving the snapshot ", describe(s.meta.last), " (", rec.size(), " bytes)");
      },
      rec.size());
  if (!st.ok()) {
    return st;
  }
  std::lock_guard lock(m.mu);
  m.snap = std::move(s);
  return Status();
}

Status LmdbStorage::compact(Index index) {
  Impl& m = *impl_;
  EntryId compacted;
  Index snap_index;
  {
    std::lock_guard lock(m.mu);
    compacted = m.compacted;
    snap_index = m.snap.meta.last.index;
  }
  if (index <= compacted.index) {
    return Status();
  }
  if (index > snap_index) {
    return Status(ErrorCode::kFailedPrecondition,
                  cat("lmdb: compact: index ", index.value, " is past the latest snapshot at ",
                      snap_index.value));
  }
  auto t = term(index);
  if (!t.ok()) {
    return t.status();
  }
  const EntryId point{*t, index};
  std::string rec;
  put_u64(rec, point.index.value);
  put_u64(rec, point.term.value);
  seal(rec);
  Status st = m.write(
      false,
      [&](MDB_txn* txn) -> int {
        MDB_cursor* cursor = nullptr;
        if (int rc = mdb_cursor_open(txn, m.log, &cursor); rc != 0) {
          return rc;
        }
        MDB_val k;
        MDB_val v;
        int rc = mdb_cursor_get(cursor, &k, &v, MDB_FIRST);
        while (rc == 0 && key_index(k) <= index) {
          if (int del = mdb_cursor_del(cursor, 0); del != 0) {
            mdb_cursor_close(cursor);
            return del;
          }
          rc = mdb_cursor_get(cursor, &k, &v, MDB_NEXT);
        }
        mdb_cursor_close(cursor);
        if (rc != 0 && rc != MDB_NOTFOUND) {
          return rc;
        }
        MDB_val ck = val("compacted");
        MDB_val cv = val(rec);
        return mdb_put(txn, m.meta, &ck, &cv, 0);
      },
      [index] { return cat("compacting the log up to ", index.value); }, rec.size());
  if (!st.ok()) {
    return st;
  }
  std::lock_guard lock(m.mu);
  m.compacted = point;
  return Status();
}

}  // namespace skiff
