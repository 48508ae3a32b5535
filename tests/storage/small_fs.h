// SmallFs: a small tmpfs mounted for one test, so that a disk really fills up (needs root and
// mount rights, as on the CI machine; `mounted()` is false elsewhere and the test skips). It is
// unmounted when the object goes, even if the test fails, and a filler file can take its free
// space away and give it back.
#pragma once

#include <fcntl.h>
#include <sys/mount.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <string>

#include "support/temp_dir.h"

namespace skiff::test {

class SmallFs {
 public:
  // Mounts a tmpfs of `bytes` (a multiple of the page size) at a fresh directory.
  explicit SmallFs(std::uint64_t bytes) : path_(dir_.path() + "/small") {
    std::error_code ec;
    std::filesystem::create_directory(path_, ec);
    const std::string size = "size=" + std::to_string(bytes);
    if (::mount("tmpfs", path_.c_str(), "tmpfs", 0, size.c_str()) == 0) {
      mounted_ = true;
    } else {
      why_ = std::string("cannot mount a small tmpfs here (needs root): ") + std::strerror(errno);
    }
  }
  ~SmallFs() {
    if (mounted_) {
      ::umount2(path_.c_str(), MNT_DETACH);
    }
  }
  SmallFs(const SmallFs&) = delete;
  SmallFs& operator=(const SmallFs&) = delete;

  bool mounted() const { return mounted_; }
  // Why it is not mounted.
  const std::string& why() const { return why_; }
  // The mount point.
  const std::string& path() const { return path_; }

  // The bytes still free (what an unprivileged writer may use).
  std::uint64_t free_bytes() const {
    struct statvfs st {};
    if (::statvfs(path_.c_str(), &st) != 0) {
      return 0;
    }
    return std::uint64_t{st.f_bavail} * st.f_frsize;
  }

  // Grows the filler file until at most `leave` bytes are free (0: until the disk is full).
  // Returns false if a write failed before that for another reason than a full disk.
  bool fill(std::uint64_t leave = 0) {
    const int fd = ::open(filler().c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0) {
      return false;
    }
    static const std::string chunk(std::size_t{1} << 16, 'f');
    bool ok = true;
    // Bounded: every round writes at least one byte or stops.
    for (int round = 0; round < 1 << 16; ++round) {
      const std::uint64_t free = free_bytes();
      if (free <= leave) {
        break;
      }
      const std::uint64_t want = std::min<std::uint64_t>(chunk.size(), free - leave);
      const ssize_t n = ::write(fd, chunk.data(), want);
      if (n <= 0) {
        ok = n < 0 && errno == ENOSPC;
        break;
      }
    }
    ::close(fd);
    return ok;
  }

  // Removes the filler: its space is free again.
  void unfill() {
    std::error_code ec;
    std::filesystem::remove(filler(), ec);
  }

 private:
  std::string filler() const { return path_ + "/filler"; }

  TempDir dir_;  // declared first: removed after the unmount
  std::string path_;
  bool mounted_ = false;
  std::string why_;
};

}  // namespace skiff::test
