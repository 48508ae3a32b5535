// File-system helpers shared by the storage adapters (not installed): message building,
// errno errors (a full disk said in so many words), free space, preallocation, directories
// made and synced. Every error names the adapter (`who`: "lmdb", "wal", "snapshot store") and
// the path.
#pragma once

#include <fcntl.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <system_error>

#include "skiff/result.h"

namespace skiff::storage_internal {

// Its arguments streamed into one string.
template <typename... Args>
std::string cat(const Args&... args) {
  std::ostringstream out;
  (out << ... << args);
  return out.str();
}

// The bytes an unprivileged writer may still use on the file system holding `path`, and its
// size; nullopt if statvfs fails.
struct Space {
  std::uint64_t free = 0;
  std::uint64_t total = 0;
};
inline std::optional<Space> space_at(const std::string& path) {
  struct statvfs st {};
  if (::statvfs(path.c_str(), &st) != 0) {
    return std::nullopt;
  }
  return Space{std::uint64_t{st.f_bavail} * st.f_frsize, std::uint64_t{st.f_blocks} * st.f_frsize};
}

// Whether an errno value says the file system, or the user's quota on it, is full.
inline bool is_disk_full(int err) {
  return err == ENOSPC || err == EDQUOT;
}

// The words for a full disk at `path`: "no space left on device (the disk is full: 0 of
// 2097152 bytes free on the file system holding <path>)". A full disk is the one I/O error an
// operator fixes without new hardware, so it is said plainly, with the numbers to act on.
// Empty `path`: no numbers.
inline std::string disk_full_text(int err, const std::string& path) {
  std::string out = err == EDQUOT ? "disk quota exceeded (the user's quota is used up"
                                  : "no space left on device (the disk is full";
  if (const auto space = path.empty() ? std::nullopt : space_at(path)) {
    out += cat(": ", space->free, " of ", space->total, " bytes free on the file system holding ",
               path);
  }
  return out + ")";
}

// kStorage for a failed call whose errno says why: "<who>: <what>: <strerror(errno)>", or for
// a full disk "<who>: <what>: " and disk_full_text for `where` (a path on that file system;
// empty: the free space is not looked up).
inline Status errno_error(std::string_view who, const std::string& what,
                          const std::string& where = std::string()) {
  const int err = errno;  // before anything else can change it
  if (is_disk_full(err)) {
    return Status(ErrorCode::kStorage, cat(who, ": ", what, ": ", disk_full_text(err, where)));
  }
  return Status(ErrorCode::kStorage, cat(who, ": ", what, ": ", std::strerror(err)));
}

// Reserves `size` bytes of `fd` from offset 0 (Linux fallocate), so that a full disk fails
// here, at once and whole, rather than partway through writing. 0, or the errno value;
// file systems that cannot preallocate (EOPNOTSUPP) count as success: the writes that follow
// then meet the full disk instead.
inline int reserve(int fd, std::uint64_t size) {
#ifdef __linux__
  while (::fallocate(fd, 0, 0, static_cast<off_t>(size)) != 0) {
    if (errno != EINTR) {
      return errno == EOPNOTSUPP || errno == ENOSYS ? 0 : errno;
    }
  }
#else
  (void)fd;
  (void)size;
#endif
  return 0;
}

// Creates `path` with its parents unless it is a directory already: kInvalidArgument if it is
// something else, kStorage if it cannot be made.
inline Status ensure_directory(const std::string& path, std::string_view who) {
  std::error_code ec;
  const auto status = std::filesystem::status(path, ec);
  if (std::filesystem::exists(status) && !std::filesystem::is_directory(status)) {
    return Status(ErrorCode::kInvalidArgument, cat(who, ": ", path, " is not a directory"));
  }
  std::filesystem::create_directories(path, ec);
  if (ec) {
    const std::string parent = std::filesystem::path(path).parent_path().string();
    return Status(
        ErrorCode::kStorage,
        cat(who, ": cannot create ", path, ": ",
            is_disk_full(ec.value()) ? disk_full_text(ec.value(), parent.empty() ? "." : parent)
                                     : ec.message()));
  }
  return Status();
}

// Makes the directory's entries (files created, renamed or removed in it) durable.
inline Status fsync_dir(const std::string& dir, std::string_view who) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) {
    return errno_error(who, cat("opening ", dir));
  }
  const int rc = ::fsync(fd);
  ::close(fd);
  return rc == 0 ? Status() : errno_error(who, cat("syncing ", dir));
}

}  // namespace skiff::storage_internal
