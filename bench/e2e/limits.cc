// `skiff-bench limits`: the machine's physical floor under a durable replicated commit,
// measured in the same run as the cluster:
//   append-4k-fdatasync     write 4 KiB at the end of a file, then fdatasync
//   overwrite-4k-fdatasync  write 4 KiB inside a preallocated file, then fdatasync
//   lmdb-commit-100b        put 100 B and commit one LMDB write transaction (durable: LMDB
//                           syncs the data pages, then the meta page)
//   loopback-rtt-64b        64 B to an echo thread over loopback TCP and back (TCP_NODELAY)
// A durable commit needs at least one leader write and one round trip to a follower whose own
// write overlaps the leader's: floor = lmdb-commit + loopback-rtt.
#include <fcntl.h>
#include <lmdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <thread>

#include "bench.h"

namespace skiff::bench {
namespace {

using Clock = std::chrono::steady_clock;

std::uint32_t micros(Clock::time_point a, Clock::time_point b) {
  return static_cast<std::uint32_t>(
      std::chrono::duration_cast<std::chrono::microseconds>(b - a).count());
}

std::vector<std::uint32_t> fdatasync_writes(const std::string& path, int n, bool overwrite) {
  std::vector<std::uint32_t> us;
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) {
    return us;
  }
  const std::string block(4096, 'x');
  if (overwrite) {  // allocate and sync the whole file first
    for (int i = 0; i < n; ++i) {
      if (::write(fd, block.data(), block.size()) != 4096) {
        break;
      }
    }
    ::fsync(fd);
  }
  for (int i = 0; i < n; ++i) {
    const auto t0 = Clock::now();
    const ssize_t w = overwrite ? ::pwrite(fd, block.data(), block.size(), off_t{4096} * i)
                                : ::write(fd, block.data(), block.size());
    if (w != 4096 || ::fdatasync(fd) != 0) {
      break;
    }
    us.push_back(micros(t0, Clock::now()));
  }
  ::close(fd);
  return us;
}

std::vector<std::uint32_t> lmdb_commits(const std::string& dir, int n) {
  std::vector<std::uint32_t> us;
  std::filesystem::create_directories(dir);
  MDB_env* env = nullptr;
  if (mdb_env_create(&env) != 0) {
    return us;
  }
  mdb_env_set_mapsize(env, std::size_t{1} << 30);
  if (mdb_env_open(env, dir.c_str(), 0, 0644) != 0) {
    mdb_env_close(env);
    return us;
  }
  MDB_dbi dbi = 0;
  std::string value(100, 'v');
  for (int i = 0; i < n; ++i) {
    const auto t0 = Clock::now();
    MDB_txn* txn = nullptr;
    if (mdb_txn_begin(env, nullptr, 0, &txn) != 0) {
      break;
    }
    mdb_dbi_open(txn, nullptr, 0, &dbi);
    std::uint64_t k = static_cast<std::uint64_t>(i);
    MDB_val key{sizeof k, &k};
    MDB_val val{value.size(), value.data()};
    if (mdb_put(txn, dbi, &key, &val, 0) != 0 || mdb_txn_commit(txn) != 0) {
      break;
    }
    us.push_back(micros(t0, Clock::now()));
  }
  mdb_env_close(env);
  return us;
}

std::vector<std::uint32_t> loopback_rtts(int n) {
  std::vector<std::uint32_t> us;
  const int listener = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  if (::bind(listener, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      ::listen(listener, 1) != 0 ||
      ::getsockname(listener, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    ::close(listener);
    return us;
  }
  const int one = 1;
  std::thread echo([listener, n, one] {
    const int s = ::accept(listener, nullptr, nullptr);
    ::setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    char buf[64];
    for (int i = 0; i < n; ++i) {
      std::size_t got = 0;
      while (got < sizeof buf) {
        const ssize_t r = ::read(s, buf + got, sizeof buf - got);
        if (r <= 0) {
          ::close(s);
          return;
        }
        got += static_cast<std::size_t>(r);
      }
      if (::write(s, buf, sizeof buf) != sizeof buf) {
        break;
      }
    }
    ::close(s);
  });
  const int c = ::socket(AF_INET, SOCK_STREAM, 0);
  ::setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (::connect(c, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0) {
    char buf[64] = {};
    for (int i = 0; i < n; ++i) {
      const auto t0 = Clock::now();
      if (::write(c, buf, sizeof buf) != sizeof buf) {
        break;
      }
      std::size_t got = 0;
      while (got < sizeof buf) {
        const ssize_t r = ::read(c, buf + got, sizeof buf - got);
        if (r <= 0) {
          break;
        }
        got += static_cast<std::size_t>(r);
      }
      us.push_back(micros(t0, Clock::now()));
    }
  }
  ::close(c);
  echo.join();
  ::close(listener);
  return us;
}

}  // namespace

int limits_main(const std::vector<std::string>& args) {
  std::string error;
  auto f = parse_flags(args, {"--dir", "--csv", "--count"}, &error);
  if (!error.empty()) {
    std::cerr << "skiff-bench limits: " << error << "\n";
    return 2;
  }
  const int n = f.contains("--count") ? std::stoi(f["--count"]) : 300;
  std::string dir = f.contains("--dir") ? f["--dir"] : "";
  const bool own_dir = dir.empty();
  if (own_dir) {
    char pattern[] = "/tmp/skiff-limits-XXXXXX";
    if (::mkdtemp(pattern) == nullptr) {
      std::perror("mkdtemp");
      return 1;
    }
    dir = pattern;
  }
  std::filesystem::create_directories(dir);
  struct Row {
    std::string name;
    std::vector<std::uint32_t> us;
  };
  std::vector<Row> rows;
  rows.push_back({"append-4k-fdatasync", fdatasync_writes(dir + "/append", n, false)});
  rows.push_back({"overwrite-4k-fdatasync", fdatasync_writes(dir + "/overwrite", n, true)});
  rows.push_back({"lmdb-commit-100b", lmdb_commits(dir + "/lmdb", n)});
  rows.push_back({"loopback-rtt-64b", loopback_rtts(n * 10)});
  std::ofstream csv;
  if (f.contains("--csv")) {
    csv.open(f["--csv"]);
    csv << "limit,count,p50_us,p99_us\n";
  }
  std::printf("%-24s %7s %9s %9s   (%s)\n", "limit", "count", "p50 µs", "p99 µs", dir.c_str());
  int failed = 0;
  double floor = 0;
  for (Row& r : rows) {
    if (r.us.empty()) {
      std::printf("%-24s failed\n", r.name.c_str());
      ++failed;
      continue;
    }
    const std::size_t count = r.us.size();
    const Latency l = summarise(r.us);
    std::printf("%-24s %7zu %9.0f %9.0f\n", r.name.c_str(), count, l.p50, l.p99);
    if (csv.is_open()) {
      csv << r.name << "," << count << "," << l.p50 << "," << l.p99 << "\n";
    }
    if (r.name == "lmdb-commit-100b" || r.name == "loopback-rtt-64b") {
      floor += l.p50;
    }
  }
  std::printf("floor of a durable replicated commit (lmdb commit + loopback rtt): %.0f µs\n",
              floor);
  if (own_dir) {
    std::filesystem::remove_all(dir);
  }
  return failed == 0 ? 0 : 1;
}

}  // namespace skiff::bench
