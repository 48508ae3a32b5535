// SnapshotStore (include/skiff/storage/snapshot_store.h has the file format).
#include "skiff/storage/snapshot_store.h"

#include <fcntl.h>
#include <unistd.h>
#include <xxhash.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <functional>
#include <sstream>
#include <system_error>

#include "storage/internal/files.h"
#include "storage/internal/record.h"

namespace skiff {
namespace {

using storage_internal::put_conf;
using storage_internal::put_u64;
using storage_internal::read_conf;
using storage_internal::Reader;

constexpr std::string_view kMagic = "SKSNAP01";
constexpr std::string_view kSuffix = ".snap";
constexpr std::string_view kTmpPrefix = ".tmp-";

using storage_internal::cat;

// kStorage with errno's text; a full disk is said as such, with the free space on the file
// system holding `where` (a path; empty: not looked up).
Status io_error(const std::string& what, const std::string& where = std::string()) {
  return storage_internal::errno_error("snapshot store", what, where);
}

std::string file_name(EntryId id) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "snap-%020llu-%020llu",
                static_cast<unsigned long long>(id.index.value),
                static_cast<unsigned long long>(id.term.value));
  return std::string(buf) + std::string(kSuffix);
}

// Parses "snap-<index>-<term>.snap"; false for any other name.
bool parse_name(const std::string& name, EntryId& id) {
  unsigned long long index = 0;
  unsigned long long term = 0;
  char rest[8] = {};
  if (name.size() != 5 + 20 + 1 + 20 + kSuffix.size() ||
      std::sscanf(name.c_str(), "snap-%20llu-%20llu%7s", &index, &term, rest) != 3 ||
      std::string_view(rest) != kSuffix) {
    return false;
  }
  id = EntryId{Term{term}, Index{index}};
  return true;
}

std::string header(const SnapshotMeta& meta, std::uint64_t size) {
  std::string out(kMagic);
  put_u64(out, meta.last.index.value);
  put_u64(out, meta.last.term.value);
  put_conf(out, meta.conf_state);
  put_u64(out, size);
  return out;
}

bool write_all(int fd, std::string_view data) {
  while (!data.empty()) {
    const ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      return false;
    }
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

// Reads up to `n` bytes; fewer only at the end of the file. -1 on error.
ssize_t read_up_to(int fd, char* buf, std::size_t n) {
  std::size_t got = 0;
  while (got < n) {
    const ssize_t r = ::read(fd, buf + got, n - got);
    if (r < 0) {
      if (errno == EINTR) {
        continue;
      }
      return -1;
    }
    if (r == 0) {
      break;
    }
    got += static_cast<std::size_t>(r);
  }
  return static_cast<ssize_t>(got);
}

Status fsync_dir(const std::string& dir) {
  return storage_internal::fsync_dir(dir, "snapshot store");
}

class FileWriter final : public SnapshotStore::Writer {
 public:
  // `what` names the snapshot in errors: "the snapshot 7/2 (100 bytes of data)".
  FileWriter(std::string dir, std::string what, std::string tmp, std::string final_path, int fd,
             std::uint64_t size, std::function<Status()> prune)
      : dir_(std::move(dir)),
        what_(std::move(what)),
        tmp_(std::move(tmp)),
        final_(std::move(final_path)),
        fd_(fd),
        size_(size),
        prune_(std::move(prune)) {
    XXH3_64bits_reset(state_);
  }
  FileWriter(const FileWriter&) = delete;
  FileWriter& operator=(const FileWriter&) = delete;
  ~FileWriter() override {
    XXH3_freeState(state_);
    if (fd_ >= 0) {
      ::close(fd_);
    }
    if (!committed_) {
      ::unlink(tmp_.c_str());
    }
  }

  Status begin(std::string_view head) { return append(head); }

  Status write(std::string_view chunk) override {
    if (committed_) {
      return Status(ErrorCode::kFailedPrecondition, "snapshot store: write after commit");
    }
    if (chunk.size() > size_ - written_) {
      return Status(ErrorCode::kInvalidArgument,
                    cat("snapshot store: ", written_ + chunk.size(),
                        " bytes written, more than the announced ", size_));
    }
    written_ += chunk.size();
    return append(chunk);
  }

  Status commit() override {
    if (committed_) {
      return Status();
    }
    if (written_ != size_) {
      return Status(ErrorCode::kFailedPrecondition,
                    cat("snapshot store: ", written_, " bytes written, ", size_, " announced"));
    }
    std::string sum;
    put_u64(sum, XXH3_64bits_digest(state_));
    if (!write_all(fd_, sum)) {
      return io_error(cat("writing ", what_, " to ", tmp_), dir_);
    }
    if (::fsync(fd_) != 0) {
      return io_error(cat("syncing ", what_, " to ", tmp_), dir_);
    }
    ::close(fd_);
    fd_ = -1;
    if (::rename(tmp_.c_str(), final_.c_str()) != 0) {
      return io_error(cat("renaming ", tmp_));
    }
    committed_ = true;
    if (Status s = fsync_dir(dir_); !s.ok()) {
      return s;
    }
    return prune_();
  }

 private:
  Status append(std::string_view data) {
    XXH3_64bits_update(state_, data.data(), data.size());
    if (!write_all(fd_, data)) {
      return io_error(cat("writing ", what_, " to ", tmp_), dir_);
    }
    return Status();
  }

  std::string dir_;
  std::string what_;
  std::string tmp_;
  std::string final_;
  int fd_;
  std::uint64_t size_;
  std::uint64_t written_ = 0;
  bool committed_ = false;
  std::function<Status()> prune_;
  XXH3_state_t* state_ = XXH3_createState();
};

class FileReader final : public SnapshotStore::Reader {
 public:
  FileReader() = default;
  FileReader(const FileReader&) = delete;
  FileReader& operator=(const FileReader&) = delete;
  ~FileReader() override {
    XXH3_freeState(state_);
    if (fd_ >= 0) {
      ::close(fd_);
    }
  }

  // Opens `path` and reads and checks its header.
  Status open(const std::string& path) {
    path_ = path;
    fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd_ < 0) {
      return io_error(cat("opening ", path));
    }
    XXH3_64bits_reset(state_);
    // The header is small but variable (the membership): read a generous prefix.
    std::string head(64 * 1024, '\0');
    const ssize_t n = read_up_to(fd_, head.data(), head.size());
    if (n < 0) {
      return io_error(cat("reading ", path));
    }
    head.resize(static_cast<std::size_t>(n));
    storage_internal::Reader r(head);
    std::string_view magic;
    std::uint64_t index = 0;
    std::uint64_t term = 0;
    if (!r.bytes(kMagic.size(), magic) || magic != kMagic || !r.u64(index) || !r.u64(term) ||
        !read_conf(r, meta_.conf_state) || !r.u64(size_)) {
      return corrupt("bad header");
    }
    meta_.last = EntryId{Term{term}, Index{index}};
    header_size_ = r.pos();
    XXH3_64bits_update(state_, head.data(), header_size_);
    if (::lseek(fd_, static_cast<off_t>(header_size_), SEEK_SET) < 0) {
      return io_error(cat("seeking in ", path));
    }
    const off_t end = ::lseek(fd_, 0, SEEK_END);
    if (end < 0 || static_cast<std::uint64_t>(end) != header_size_ + size_ + 8) {
      return corrupt(
          cat("file is ", end, " bytes, its header promises ", header_size_ + size_ + 8));
    }
    ::lseek(fd_, static_cast<off_t>(header_size_), SEEK_SET);
    return Status();
  }

  const SnapshotMeta& meta() const override { return meta_; }
  std::uint64_t size() const override { return size_; }

  Result<std::string> next(std::size_t max_bytes) override {
    if (done_) {
      return std::string();
    }
    const std::uint64_t want =
        std::min<std::uint64_t>(std::max<std::size_t>(max_bytes, 1), size_ - read_);
    std::string chunk(want, '\0');
    const ssize_t n = read_up_to(fd_, chunk.data(), chunk.size());
    if (n < 0) {
      return io_error(cat("reading ", path_));
    }
    if (static_cast<std::uint64_t>(n) != want) {
      return corrupt("truncated data");
    }
    XXH3_64bits_update(state_, chunk.data(), chunk.size());
    read_ += want;
    if (read_ == size_) {
      // The end: the stored checksum must match everything before it.
      std::string sum(8, '\0');
      if (read_up_to(fd_, sum.data(), 8) != 8) {
        return corrupt("missing checksum");
      }
      storage_internal::Reader r(sum);
      std::uint64_t stored = 0;
      r.u64(stored);
      if (stored != XXH3_64bits_digest(state_)) {
        return corrupt("checksum mismatch");
      }
      done_ = true;
    }
    return chunk;
  }

 private:
  Status corrupt(const std::string& why) const {
    return Status(ErrorCode::kCorruption, cat("snapshot store: ", path_, ": ", why));
  }

  std::string path_;
  int fd_ = -1;
  SnapshotMeta meta_;
  std::uint64_t size_ = 0;
  std::uint64_t header_size_ = 0;
  std::uint64_t read_ = 0;
  bool done_ = false;
  XXH3_state_t* state_ = XXH3_createState();
};

}  // namespace

Result<std::unique_ptr<SnapshotStore>> SnapshotStore::open(const SnapshotStoreOptions& options) {
  if (options.dir.empty() || options.keep == 0) {
    return Status(ErrorCode::kInvalidArgument,
                  "snapshot store: the directory must be set and keep at least 1");
  }
  if (Status s = storage_internal::ensure_directory(options.dir, "snapshot store"); !s.ok()) {
    return s;
  }
  std::error_code ec;
  // A crash while writing leaves a temporary file: it was never a snapshot.
  for (const auto& entry : std::filesystem::directory_iterator(options.dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind(kTmpPrefix, 0) == 0) {
      std::filesystem::remove(entry.path(), ec);
    }
  }
  if (ec) {
    return Status(ErrorCode::kStorage,
                  cat("snapshot store: cannot list ", options.dir, ": ", ec.message()));
  }
  return std::unique_ptr<SnapshotStore>(new SnapshotStore(options));
}

Result<std::unique_ptr<SnapshotStore::Writer>> SnapshotStore::begin(const SnapshotMeta& meta,
                                                                    std::uint64_t size) {
  if (Status s = check_conf_state(meta.conf_state); !s.ok() || meta.conf_state.voters.empty()) {
    return Status(ErrorCode::kInvalidArgument,
                  cat("snapshot store: the snapshot's membership is not valid: ",
                      s.ok() ? "no voter" : s.message()));
  }
  const std::string name = file_name(meta.last);
  const std::string tmp = options_.dir + "/" + std::string(kTmpPrefix) + name;
  const std::string what = cat("the snapshot ", describe(meta.last), " (", size, " bytes of data)");
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    return io_error(cat("creating ", tmp, " for ", what), options_.dir);
  }
  const std::string head = header(meta, size);
  // The whole file reserved first: a snapshot the disk has no room for fails here, at once,
  // instead of after writing most of it (and the writer's destructor removes the file).
  const int err = storage_internal::reserve(fd, head.size() + size + 8);
  auto writer = std::make_unique<FileWriter>(options_.dir, what, tmp, options_.dir + "/" + name, fd,
                                             size, [this] { return prune(); });
  if (err != 0) {
    errno = err;
    return io_error(cat("saving ", what, " in ", options_.dir), options_.dir);
  }
  if (Status s = writer->begin(head); !s.ok()) {
    return s;
  }
  return std::unique_ptr<Writer>(std::move(writer));
}

Status SnapshotStore::save(const Snapshot& snapshot) {
  auto writer = begin(snapshot.meta, snapshot.data.size());
  if (!writer.ok()) {
    return writer.status();
  }
  if (Status s = (*writer)->write(snapshot.data.view()); !s.ok()) {
    return s;
  }
  return (*writer)->commit();
}

Result<std::vector<EntryId>> SnapshotStore::list() const {
  std::vector<EntryId> out;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(options_.dir, ec)) {
    EntryId id;
    if (parse_name(entry.path().filename().string(), id)) {
      out.push_back(id);
    }
  }
  if (ec) {
    return Status(ErrorCode::kStorage,
                  cat("snapshot store: cannot list ", options_.dir, ": ", ec.message()));
  }
  std::sort(out.begin(), out.end(), [](EntryId a, EntryId b) {
    return a.index != b.index ? a.index < b.index : a.term < b.term;
  });
  return out;
}

Status SnapshotStore::prune() const {
  auto all = list();
  if (!all.ok()) {
    return all.status();
  }
  for (std::size_t k = 0; k + options_.keep < all->size(); ++k) {
    const std::string path = options_.dir + "/" + file_name((*all)[k]);
    if (::unlink(path.c_str()) != 0) {
      return io_error(cat("removing ", path));
    }
  }
  return Status();
}

Result<std::unique_ptr<SnapshotStore::Reader>> SnapshotStore::open_latest() const {
  auto all = list();
  if (!all.ok()) {
    return all.status();
  }
  if (all->empty()) {
    return Status(ErrorCode::kUnavailable, cat("snapshot store: no snapshot in ", options_.dir));
  }
  return open(all->back());
}

Result<std::unique_ptr<SnapshotStore::Reader>> SnapshotStore::open(EntryId last) const {
  const std::string path = options_.dir + "/" + file_name(last);
  if (::access(path.c_str(), F_OK) != 0) {
    return Status(ErrorCode::kUnavailable,
                  cat("snapshot store: no snapshot of ", describe(last), " in ", options_.dir));
  }
  auto reader = std::make_unique<FileReader>();
  if (Status s = reader->open(path); !s.ok()) {
    return s;
  }
  if (reader->meta().last != last) {
    return Status(ErrorCode::kCorruption,
                  cat("snapshot store: ", file_name(last), " holds the snapshot of ",
                      describe(reader->meta().last)));
  }
  return std::unique_ptr<Reader>(std::move(reader));
}

namespace {

// Reads what `reader` has left, checking the checksum at the end.
Result<Snapshot> read_whole(Result<std::unique_ptr<SnapshotStore::Reader>> reader) {
  if (!reader.ok()) {
    return reader.status();
  }
  Snapshot out;
  out.meta = (*reader)->meta();
  std::string data;
  data.reserve((*reader)->size());
  for (;;) {
    auto chunk = (*reader)->next(1 << 20);
    if (!chunk.ok()) {
      return chunk.status();
    }
    if (chunk->empty()) {
      break;
    }
    data += *chunk;
  }
  out.data = Bytes(std::move(data));
  return out;
}

}  // namespace

Result<Snapshot> SnapshotStore::load_latest() const {
  return read_whole(open_latest());
}

Result<Snapshot> SnapshotStore::load(EntryId last) const {
  return read_whole(open(last));
}

Status SnapshotStore::remove(EntryId last) const {
  const std::string path = options_.dir + "/" + file_name(last);
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
    return io_error(cat("removing ", path));
  }
  return Status();
}

}  // namespace skiff
