// Leader-side background work of the example services (internal to the examples): decisions
// only the leader makes (a lease expired, a job may start) are taken on a timer while this
// member leads, and then go through the log like any write, so every member agrees on them.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "skiff/node/node.h"

namespace skiff::examples {

/// Runs `step(term)` every `period` on its own thread while `node` is the leader, after
/// `on_lead(term)` once per term it leads.
class LeaderLoop {
 public:
  LeaderLoop() = default;
  ~LeaderLoop() { stop(); }
  LeaderLoop(const LeaderLoop&) = delete;
  LeaderLoop& operator=(const LeaderLoop&) = delete;

  void start(Node& node, std::chrono::milliseconds period, std::function<void(Term)> on_lead,
             std::function<void(Term)> step);
  /// Stops and joins the thread; idempotent.
  void stop();

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::thread thread_;
};

/// Local deadlines of TTL'd things (leases, lock holders) by key: every member tracks them
/// from the commands it applies, with its own clock; only the leader acts on them. Not
/// replicated, so a new leader gives every key a full TTL from its election (etcd does the
/// same): expiry may come late after a leader change, never early. Thread-safe.
class Deadlines {
 public:
  /// The key expires `ttl` from now (unless touched again).
  void touch(const std::string& key, std::chrono::milliseconds ttl);
  void erase(const std::string& key);
  /// Forgets every key (e.g. before the state is replaced by a snapshot).
  void clear();
  /// Every key gets at least a full TTL from now.
  void extend_all();
  /// Keys whose deadline passed.
  std::vector<std::string> expired() const;
  std::size_t size() const;

 private:
  struct Entry {
    std::chrono::steady_clock::time_point deadline;
    std::chrono::milliseconds ttl;
  };
  mutable std::mutex mu_;
  std::map<std::string, Entry> entries_;
};

}  // namespace skiff::examples
