// File-system helpers shared by the storage adapters (not installed): message building,
// errno errors, directories made and synced, whole writes. Every error names the adapter
// (`who`: "lmdb", "wal", "snapshot store") and the path.
#pragma once

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <filesystem>
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

// kStorage "<who>: <what>: <strerror(errno)>".
inline Status errno_error(std::string_view who, const std::string& what) {
  return Status(ErrorCode::kStorage, cat(who, ": ", what, ": ", std::strerror(errno)));
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
    return Status(ErrorCode::kStorage, cat(who, ": cannot create ", path, ": ", ec.message()));
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
