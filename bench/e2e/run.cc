// `skiff-bench run`: starts N `skiff-bench node` processes on loopback, waits for a leader,
// and runs one load point per concurrency on the leader (closed loop, C proposals in flight),
// measuring each point's throughput and commit latency (propose to applied on the leader),
// the members' CPU time, fsyncs and resident memory from /proc. Appends to the CSVs and writes
// each point's latency CDF.
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>

#include "bench.h"

extern char** environ;

namespace skiff::bench {
namespace {

int free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  int port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0) {
    port = ntohs(a.sin_port);
  }
  ::close(fd);
  return port;
}

// One member process, with a pipe for commands and one for its answers.
struct Child {
  pid_t pid = -1;
  FILE* in = nullptr;   // its stdin
  FILE* out = nullptr;  // its stdout

  void send(const std::string& line) {
    std::fprintf(in, "%s\n", line.c_str());
    std::fflush(in);
  }
  // The next JSON line (null at EOF).
  json receive() {
    char* buf = nullptr;
    std::size_t cap = 0;
    const ssize_t n = ::getline(&buf, &cap, out);
    json j =
        n > 0 ? json::parse(std::string(buf, static_cast<std::size_t>(n)), nullptr, false) : json();
    std::free(buf);
    return j.is_discarded() ? json() : j;
  }
  json ask(const std::string& line) {
    send(line);
    return receive();
  }
};

Child spawn(const std::vector<std::string>& args, const std::string& log) {
  int to_child[2];
  int from_child[2];
  if (::pipe(to_child) != 0 || ::pipe(from_child) != 0) {
    return {};
  }
  posix_spawn_file_actions_t a;
  posix_spawn_file_actions_init(&a);
  posix_spawn_file_actions_adddup2(&a, to_child[0], 0);
  posix_spawn_file_actions_adddup2(&a, from_child[1], 1);
  posix_spawn_file_actions_addopen(&a, 2, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  for (int fd : {to_child[0], to_child[1], from_child[0], from_child[1]}) {
    posix_spawn_file_actions_addclose(&a, fd);
  }
  std::vector<char*> argv;
  for (const auto& s : args) {
    argv.push_back(const_cast<char*>(s.c_str()));
  }
  argv.push_back(nullptr);
  Child c;
  if (posix_spawn(&c.pid, argv[0], &a, nullptr, argv.data(), environ) != 0) {
    c.pid = -1;
  }
  posix_spawn_file_actions_destroy(&a);
  ::close(to_child[0]);
  ::close(from_child[1]);
  c.in = ::fdopen(to_child[1], "w");
  c.out = ::fdopen(from_child[0], "r");
  return c;
}

// CPU seconds (user + system) of a process so far.
double cpu_seconds(pid_t pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
  std::string text;
  std::getline(f, text);  // one line
  const std::size_t close = text.rfind(')');
  if (close == std::string::npos) {
    return 0;
  }
  std::istringstream rest(text.substr(close + 2));
  std::string field;
  double utime = 0;
  double stime = 0;
  for (int i = 3; i <= 15 && rest >> field; ++i) {  // fields 14 and 15: utime, stime
    if (i == 14) {
      utime = std::stod(field);
    } else if (i == 15) {
      stime = std::stod(field);
    }
  }
  return (utime + stime) / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

// A /proc/PID/status field in kB ("VmRSS", "VmHWM"), as MiB.
double status_mib(pid_t pid, const std::string& field) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind(field + ":", 0) == 0) {
      return std::stod(line.substr(field.size() + 1)) / 1024.0;
    }
  }
  return 0;
}

std::ofstream append_csv(const std::string& path, const char* header) {
  const bool fresh = !std::filesystem::exists(path) || std::filesystem::file_size(path) == 0;
  std::ofstream out(path, std::ios::app);
  if (fresh) {
    out << header << "\n";
  }
  return out;
}

}  // namespace

Latency summarise(std::vector<std::uint32_t>& us) {
  Latency l;
  if (us.empty()) {
    return l;
  }
  std::sort(us.begin(), us.end());
  auto at = [&us](double q) {
    const auto i = static_cast<std::size_t>(std::llround(q * static_cast<double>(us.size() - 1)));
    return static_cast<double>(us[std::min(i, us.size() - 1)]);
  };
  l.p50 = at(0.50);
  l.p90 = at(0.90);
  l.p99 = at(0.99);
  l.p999 = at(0.999);
  l.max = static_cast<double>(us.back());
  for (int i = 0; i <= 1000; ++i) {
    l.quantiles.push_back(at(i / 1000.0));
  }
  return l;
}

std::size_t Histogram::bucket(std::uint64_t us) {
  if (us < 100) {
    return us;
  }
  const auto b =
      static_cast<std::size_t>(100 + std::log(static_cast<double>(us) / 100.0) / std::log(1.01));
  return std::min<std::size_t>(b, 2999);  // 100 µs * 1.01^2899: far past any latency here
}

double Histogram::lower_bound(std::size_t bucket) {
  return bucket < 100 ? static_cast<double>(bucket)
                      : 100.0 * std::pow(1.01, static_cast<double>(bucket - 100));
}

void Histogram::add(std::uint64_t us) {
  ++counts_[bucket(us)];
  ++count_;
  max_ = std::max(max_, us);
}

Latency Histogram::summarise() const {
  Latency l;
  if (count_ == 0) {
    return l;
  }
  // The bucket holding the q-quantile (nearest rank), walking the cumulative counts once.
  std::vector<double> qs;
  for (int i = 0; i <= 1000; ++i) {
    qs.push_back(i / 1000.0);
  }
  std::size_t b = 0;
  std::uint64_t seen = counts_[0];
  for (double q : qs) {
    const auto rank = static_cast<std::uint64_t>(std::llround(q * static_cast<double>(count_ - 1)));
    while (seen <= rank && b + 1 < counts_.size()) {
      seen += counts_[++b];
    }
    l.quantiles.push_back(std::min(lower_bound(b), static_cast<double>(max_)));
  }
  l.p50 = l.quantiles[500];
  l.p90 = l.quantiles[900];
  l.p99 = l.quantiles[990];
  l.p999 = l.quantiles[999];
  l.max = static_cast<double>(max_);
  l.quantiles.back() = l.max;
  return l;
}

int run_main(const std::vector<std::string>& args) {
  std::string error;
  auto f = parse_flags(
      args,
      {"--nodes", "--storage", "--concurrency", "--size", "--seconds", "--warmup", "--dir", "--csv",
       "--details", "--cdf-dir", "--config", "--rss-out", "--snapshot-entries", "--keep"},
      &error);
  if (!error.empty()) {
    std::cerr << "skiff-bench run: " << error << "\n";
    return 2;
  }
  auto get = [&f](const std::string& k, const std::string& d) { return f.contains(k) ? f[k] : d; };
  const int nodes = std::stoi(get("--nodes", "3"));
  const std::string storage = get("--storage", "lmdb");
  if (storage != "lmdb" && storage != "wal" && storage != "memory") {
    std::cerr << "skiff-bench run: --storage is lmdb, wal or memory\n";
    return 2;
  }
  const std::vector<std::uint64_t> concurrency = parse_list(get("--concurrency", "1,16,64,256"));
  const std::size_t size = std::stoul(get("--size", "100"));
  const double seconds = std::stod(get("--seconds", "10"));
  const double warmup = std::stod(get("--warmup", "2"));
  const std::string config = get("--config", storage == "lmdb"  ? "LMDB durable"
                                             : storage == "wal" ? "WAL durable"
                                                                : "in-memory log");
  std::string dir = get("--dir", "");
  const bool own_dir = dir.empty();
  if (own_dir) {
    char pattern[] = "/tmp/skiff-bench-XXXXXX";
    if (::mkdtemp(pattern) == nullptr) {
      std::perror("mkdtemp");
      return 1;
    }
    dir = pattern;
  }
  std::filesystem::create_directories(dir);

  // The members.
  const std::string self = std::filesystem::canonical("/proc/self/exe").string();
  std::string peers;
  for (int id = 1; id <= nodes; ++id) {
    peers += (id > 1 ? "," : "") + std::to_string(id) + "=127.0.0.1:" + std::to_string(free_port());
  }
  std::vector<Child> members;
  for (int id = 1; id <= nodes; ++id) {
    members.push_back(spawn({self, "node", "--id", std::to_string(id), "--peers", peers, "--dir",
                             dir + "/node" + std::to_string(id), "--storage", storage,
                             "--snapshot-entries", get("--snapshot-entries", "10000")},
                            dir + "/node" + std::to_string(id) + ".log"));
  }
  auto cleanup = [&] {
    for (Child& c : members) {
      if (c.pid > 0) {
        c.send("quit");
        std::fclose(c.in);
        int status = 0;
        for (int i = 0; i < 100 && ::waitpid(c.pid, &status, WNOHANG) == 0; ++i) {
          std::this_thread::sleep_for(std::chrono::milliseconds(50));
        }
        ::kill(c.pid, SIGKILL);
        ::waitpid(c.pid, &status, 0);
        std::fclose(c.out);
      }
    }
    if (own_dir && !f.contains("--keep")) {
      std::filesystem::remove_all(dir);
    }
  };
  for (Child& c : members) {
    if (c.pid <= 0 || !c.receive().value("ready", false)) {
      std::cerr << "skiff-bench run: a member did not start; logs in " << dir << "\n";
      cleanup();
      return 1;
    }
  }
  auto find_leader = [&]() -> int {
    for (int attempt = 0; attempt < 300; ++attempt) {
      for (int i = 0; i < nodes; ++i) {
        if (members[i].ask("status").value("role", "") == "Leader") {
          return i;
        }
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return -1;
  };

  std::ofstream csv = append_csv(get("--csv", dir + "/results.csv"), kResultHeader);
  std::ofstream details = append_csv(get("--details", dir + "/details.csv"), kDetailHeader);
  std::ofstream rss_out;
  if (f.contains("--rss-out")) {
    rss_out.open(f["--rss-out"]);
    rss_out << "seconds";
    for (int id = 1; id <= nodes; ++id) {
      rss_out << ",node" << id << "_rss_mib";
    }
    rss_out << "\n";
  }
  std::printf("%-14s %5s %5s %6s %10s %9s %9s %9s %9s %8s %7s %7s\n", "config", "nodes", "C",
              "size", "ops/s", "p50 µs", "p90 µs", "p99 µs", "p99.9 µs", "cpu/1k", "fsync/c",
              "rss MiB");
  int failures = 0;
  for (std::uint64_t c : concurrency) {
    const int leader = find_leader();
    if (leader < 0) {
      std::cerr << "skiff-bench run: no leader; logs in " << dir << "\n";
      cleanup();
      return 1;
    }
    std::vector<double> cpu0;
    std::uint64_t syncs0 = 0;
    for (Child& m : members) {
      cpu0.push_back(cpu_seconds(m.pid));
      syncs0 += m.ask("metrics").value("syncs", std::uint64_t{0});
    }
    Child& l = members[static_cast<std::size_t>(leader)];
    l.send("load " + std::to_string(c) + " " + std::to_string(size) + " " +
           std::to_string(seconds) + " " + std::to_string(warmup));
    double rss_max = 0;
    json result;
    while (true) {
      json j = l.receive();
      if (j.is_null()) {
        break;
      }
      if (j.contains("progress")) {
        const json& p = j["progress"];
        std::fprintf(stderr, "\r  %s C=%-4llu %5.1f s  %10llu ops  %llu errors   ", config.c_str(),
                     static_cast<unsigned long long>(c), p.value("t", 0.0),
                     static_cast<unsigned long long>(p.value("ops", std::uint64_t{0})),
                     static_cast<unsigned long long>(p.value("errors", std::uint64_t{0})));
        if (rss_out.is_open()) {
          rss_out << p.value("t", 0.0);
        }
        for (Child& m : members) {
          const double rss = status_mib(m.pid, "VmRSS");
          rss_max = std::max(rss_max, rss);
          if (rss_out.is_open()) {
            rss_out << "," << rss;
          }
        }
        if (rss_out.is_open()) {
          rss_out << "\n" << std::flush;
        }
        continue;
      }
      result = j.value("result", json());
      break;
    }
    std::fprintf(stderr, "\r%100s\r", "");
    if (result.is_null()) {
      std::cerr << "skiff-bench run: the leader stopped answering; logs in " << dir << "\n";
      cleanup();
      return 1;
    }
    double cpu = 0;
    std::uint64_t syncs1 = 0;
    for (std::size_t i = 0; i < members.size(); ++i) {
      cpu += cpu_seconds(members[i].pid) - cpu0[i];
      const json m = members[i].ask("metrics");
      if (std::getenv("SKIFF_BENCH_DEBUG") != nullptr) {
        std::cerr << "node " << i + 1 << (static_cast<int>(i) == leader ? " (leader)" : "") << ": "
                  << m.dump() << "\n";
      }
      syncs1 += m.value("syncs", std::uint64_t{0});
      rss_max = std::max(rss_max, status_mib(members[i].pid, "VmRSS"));
    }
    const auto ops = result.value("ops", std::uint64_t{0});
    const double secs = result.value("seconds", seconds);
    const double rate = static_cast<double>(ops) / secs;
    // CPU and fsyncs cover warm-up and drain too: per commit over everything committed.
    const double total_ops = std::max(1.0, rate * (secs + warmup));
    const double cpu_per_1000 = cpu / total_ops * 1000;
    const double fsyncs = static_cast<double>(syncs1 - syncs0) / nodes / total_ops;
    const auto errors = result.value("errors", std::uint64_t{0});
    if (ops == 0 || errors > 0) {
      ++failures;
      std::cerr << "skiff-bench run: C=" << c << ": " << errors << " errors ("
                << result.value("last_error", std::string()) << ")\n";
    }
    std::printf("%-14s %5d %5llu %6zu %10.0f %9.0f %9.0f %9.0f %9.0f %8.3f %7.3f %7.1f\n",
                config.c_str(), nodes, static_cast<unsigned long long>(c), size, rate,
                result.value("p50", 0.0), result.value("p90", 0.0), result.value("p99", 0.0),
                result.value("p999", 0.0), cpu_per_1000, fsyncs, rss_max);
    std::fflush(stdout);
    csv << "skiff," << config << "," << nodes << "," << c << "," << size << "," << ops << ","
        << secs << "," << rate << "," << result.value("p50", 0.0) << "," << result.value("p90", 0.0)
        << "," << result.value("p99", 0.0) << "," << result.value("p999", 0.0) << ","
        << result.value("max", 0.0) << "\n"
        << std::flush;
    details << config << "," << nodes << "," << c << "," << size << "," << cpu_per_1000 << ","
            << fsyncs << "," << rss_max << "," << errors << "\n"
            << std::flush;
    if (f.contains("--cdf-dir")) {
      std::filesystem::create_directories(f["--cdf-dir"]);
      std::string name = config + "-n" + std::to_string(nodes) + "-c" + std::to_string(c) + "-s" +
                         std::to_string(size) + ".dat";
      std::replace(name.begin(), name.end(), ' ', '_');
      std::ofstream cdf(f["--cdf-dir"] + "/" + name);
      cdf << "# percentile latency_us (" << config << ", " << nodes << " nodes, C=" << c << ", "
          << size << " B)\n";
      const json& q = result["cdf"];
      for (std::size_t i = 0; i < q.size(); ++i) {
        cdf << static_cast<double>(i) / 10.0 << " " << q[i].get<double>() << "\n";
      }
    }
  }
  cleanup();
  return failures == 0 ? 0 : 1;
}

}  // namespace skiff::bench
