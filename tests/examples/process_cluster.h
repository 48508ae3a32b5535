// End-to-end test support for the example services: a cluster of real processes of one
// service binary on loopback, each with its own data directory and log file under a
// temporary directory, that a test can kill (SIGKILL), stop (SIGTERM), restart and talk to over
// HTTP. Every wait is bounded; the destructor kills what is left.
#pragma once

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fcntl.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "http.h"
#include "support/temp_dir.h"

extern char** environ;

namespace skiff::examples::testing {

/// A loopback port nobody listens on right now.
inline int free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    ::close(fd);
    return 0;
  }
  const int port = ntohs(a.sin_port);
  ::close(fd);
  return port;
}

/// Polls `pred` every 50 ms until it holds or `limit` passes.
template <typename Pred>
bool wait_until(Pred pred, std::chrono::milliseconds limit = std::chrono::seconds(20)) {
  const auto until = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < until) {
    if (pred()) {
      return true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return pred();
}

/// A kept-alive HTTP connection to one member, for loops of many requests from one thread
/// (a fresh connection per request costs more than the request). Reconnects by itself.
class MemberConnection {
 public:
  explicit MemberConnection(const std::string& address,
                            std::chrono::milliseconds timeout = std::chrono::seconds(10))
      : cli_(address.substr(0, address.rfind(':')),
             std::stoi(address.substr(address.rfind(':') + 1))) {
    cli_.set_keep_alive(true);
    cli_.set_connection_timeout(std::chrono::seconds(1));
    cli_.set_read_timeout(timeout);
    cli_.set_write_timeout(std::chrono::seconds(5));
  }
  /// One request; status 0 when there was no answer.
  HttpReply call(const std::string& method, const std::string& path, const std::string& body = "") {
    const std::string type = !body.empty() && body[0] == '{' ? "application/json" : "text/plain";
    httplib::Result r = method == "GET"      ? cli_.Get(path)
                        : method == "DELETE" ? cli_.Delete(path, body, type)
                        : method == "PUT"    ? cli_.Put(path, body, type)
                                             : cli_.Post(path, body, type);
    return r ? HttpReply{r->status, r->body} : HttpReply{};
  }

 private:
  httplib::Client cli_;
};

/// N members of `binary serve` on loopback.
class ProcessCluster {
 public:
  /// Picks the ports; starts nothing. `extra` is appended to every `serve` command line.
  ProcessCluster(std::string binary, int n, std::vector<std::string> extra = {})
      : binary_(std::move(binary)), extra_(std::move(extra)) {
    for (int i = 1; i <= n; ++i) {
      raft_[i] = "127.0.0.1:" + std::to_string(free_port());
      http_[i] = "127.0.0.1:" + std::to_string(free_port());
    }
  }
  ~ProcessCluster() {
    for (auto& [id, pid] : pids_) {
      if (pid > 0) {
        ::kill(pid, SIGKILL);
        ::waitpid(pid, nullptr, 0);
      }
    }
  }
  ProcessCluster(const ProcessCluster&) = delete;
  ProcessCluster& operator=(const ProcessCluster&) = delete;

  /// The --peers value: every member, or those of `ids`.
  std::string peers(const std::vector<int>& ids = {}) const {
    std::string out;
    for (const auto& [id, address] : raft_) {
      if (ids.empty() || std::find(ids.begin(), ids.end(), id) != ids.end()) {
        out += (out.empty() ? "" : ",") + std::to_string(id) + "=" + address;
      }
    }
    return out;
  }
  std::string http(int id) const { return http_.at(id); }
  std::string raft(int id) const { return raft_.at(id); }
  std::string data_dir(int id) const { return dir_.path() + "/node" + std::to_string(id); }
  std::string log_path(int id) const { return dir_.path() + "/node" + std::to_string(id) + ".log"; }
  /// Every member's HTTP address, for --endpoints.
  std::vector<std::string> endpoints() const {
    std::vector<std::string> out;
    for (const auto& [id, address] : http_) {
      out.push_back(address);
    }
    return out;
  }
  std::string endpoints_flag() const {
    std::string out;
    for (const auto& e : endpoints()) {
      out += (out.empty() ? "" : ",") + e;
    }
    return out;
  }

  /// Starts member `id` (again): `serve` with its flags, output appended to its log. Flags in
  /// `more` come last (a repeated flag replaces the earlier one, e.g. --peers).
  void start(int id, std::vector<std::string> more = {}) {
    std::vector<std::string> args = {binary_,      "serve",      "--id",        std::to_string(id),
                                     "--peers",    peers(),      "--http",      http_.at(id),
                                     "--data-dir", data_dir(id), "--log-level", "info"};
    args.insert(args.end(), extra_.begin(), extra_.end());
    args.insert(args.end(), more.begin(), more.end());
    pids_[id] = spawn(args, log_path(id));
    ASSERT_GT(pids_[id], 0) << "could not start " << binary_;
  }
  void start_all() {
    for (const auto& [id, address] : http_) {
      start(id);
    }
  }
  bool running(int id) const { return pids_.contains(id) && pids_.at(id) > 0; }
  /// SIGKILL: no goodbye, no flush beyond what was made durable.
  void kill(int id) { signal_and_wait(id, SIGKILL); }
  /// SIGTERM and a wait for a clean exit; returns the exit status (-1: killed after 30 s).
  int stop(int id) { return signal_and_wait(id, SIGTERM); }

  /// One HTTP call to member `id` only (no failover); status 0 when it did not answer.
  HttpReply call(int id, const std::string& method, const std::string& path,
                 const std::string& body = "",
                 std::chrono::milliseconds timeout = std::chrono::seconds(10)) const {
    const std::string& address = http_.at(id);
    httplib::Client cli(address.substr(0, address.rfind(':')),
                        std::stoi(address.substr(address.rfind(':') + 1)));
    cli.set_connection_timeout(std::chrono::seconds(1));
    cli.set_read_timeout(timeout);
    const std::string type = !body.empty() && body[0] == '{' ? "application/json" : "text/plain";
    httplib::Result r = method == "GET"      ? cli.Get(path)
                        : method == "DELETE" ? cli.Delete(path, body, type)
                        : method == "PUT"    ? cli.Put(path, body, type)
                                             : cli.Post(path, body, type);
    return r ? HttpReply{r->status, r->body} : HttpReply{};
  }
  /// A client trying every member in turn.
  ClusterClient client(std::chrono::milliseconds deadline = std::chrono::seconds(20)) const {
    return ClusterClient(endpoints(), deadline);
  }

  /// Waits (bounded, polling every millisecond) until member `id` names a leader; returns it
  /// or 0. Status requests are not node requests: they leave the node's numbering alone.
  int wait_knows_leader(int id, std::chrono::milliseconds limit = std::chrono::seconds(20)) const {
    const auto until = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < until) {
      const json j = call(id, "GET", "/status", "", std::chrono::milliseconds(500)).parsed();
      if (j.is_object() && j.value("leader", 0) != 0) {
        return j.value("leader", 0);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return 0;
  }

  /// The leader every running member agrees on, or 0 when they do not (yet) or it is not
  /// running.
  int agreed_leader() const {
    int leader = -1;
    for (const auto& [id, pid] : pids_) {
      if (pid <= 0) {
        continue;
      }
      HttpReply r = call(id, "GET", "/status", "", std::chrono::seconds(2));
      if (r.status != 200) {
        return 0;
      }
      const int l = r.parsed().value("leader", 0);
      if (l == 0 || (leader != -1 && l != leader)) {
        return 0;
      }
      leader = l;
    }
    // Survivors name a killed leader until their election timeout: that is no leader.
    return leader > 0 && running(leader) ? leader : 0;
  }
  /// Waits (bounded) until the running members agree on a leader; returns it or 0.
  int wait_leader(std::chrono::milliseconds limit = std::chrono::seconds(30)) const {
    int leader = 0;
    wait_until([&] { return (leader = agreed_leader()) != 0; }, limit);
    return leader;
  }
  /// Member `id`'s log so far (for failure messages).
  std::string log(int id) const {
    std::ifstream in(log_path(id));
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }
  /// Every member's log, for a failed test's output.
  std::string logs() const {
    std::string out;
    for (const auto& [id, address] : http_) {
      std::string l = log(id);
      if (l.size() > 6000) {
        l = "..." + l.substr(l.size() - 6000);
      }
      out += "--- node " + std::to_string(id) + " ---\n" + l;
    }
    return out;
  }

 private:
  static pid_t spawn(const std::vector<std::string>& args, const std::string& log) {
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 1, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    posix_spawn_file_actions_adddup2(&actions, 1, 2);
    std::vector<char*> argv;
    for (const auto& a : args) {
      argv.push_back(const_cast<char*>(a.c_str()));
    }
    argv.push_back(nullptr);
    pid_t pid = -1;
    if (posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), environ) != 0) {
      pid = -1;
    }
    posix_spawn_file_actions_destroy(&actions);
    return pid;
  }

  int signal_and_wait(int id, int sig) {
    const pid_t pid = pids_[id];
    if (pid <= 0) {
      return -1;
    }
    ::kill(pid, sig);
    int status = 0;
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (::waitpid(pid, &status, WNOHANG) == 0) {
      if (std::chrono::steady_clock::now() > until) {
        ::kill(pid, SIGKILL);
        ::waitpid(pid, &status, 0);
        pids_[id] = -1;
        return -1;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    pids_[id] = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }

  std::string binary_;
  std::vector<std::string> extra_;
  skiff::test::TempDir dir_;
  std::map<int, std::string> raft_;
  std::map<int, std::string> http_;
  std::map<int, pid_t> pids_;
};

}  // namespace skiff::examples::testing
