// skiff-lock's HTTP API (examples/lock, README.md there): locks with fencing tokens and the
// demo's guarded resource, on any member.
//
//   POST /v1/lock/{name}/acquire   {"owner", "ttl": s (1..3600, default 10), "wait": s (0..120,
//                                   default 0), "request_id"?}  -> {"token", "count", ...}
//   POST /v1/lock/{name}/keepalive {"owner"}
//   POST /v1/lock/{name}/release   {"owner", "request_id"?}
//   GET  /v1/lock/{name}[?consistency=serializable]
//   POST /v1/resource/{name}       {"token", "data"}   (refuses a token older than the newest)
//   GET  /v1/resource/{name}[?consistency=serializable]
//
// Writes are proposals (forwarded to the leader by the node); reads are linearizable through
// read_index() unless serializable is asked for. While this member leads, a loop turns run-out
// leases into `expire` commands (and abandoned waits into `cancel`s).
#pragma once

#include <atomic>
#include <chrono>
#include <mutex>
#include <optional>
#include <set>
#include <string>

#include "http.h"
#include "leader_loop.h"
#include "lock_machine.h"

namespace skiff::examples::lock {

class LockService final : public Service {
 public:
  /// `request_timeout`: the node's (--request-timeout-ms); waits for the node are bounded by it.
  explicit LockService(std::chrono::milliseconds request_timeout)
      : request_timeout_(request_timeout) {}

  StateMachine& state_machine() override { return machine_; }
  void routes(httplib::Server& server, Member& member) override;
  void start(Member& member) override;
  /// Stops the leader loop and ends the waits of queued acquires (they leave the line).
  void stop() override;

 private:
  // Proposes `command` and parses its result; a node error (503 and the like) otherwise, or
  // kTimedOut after `limit` (default: past the node's request timeout).
  Result<json> propose(Node& node, std::string command,
                       std::optional<std::chrono::milliseconds> limit = std::nullopt);
  // The read barrier of a linearizable read, unless the request asks for ?consistency=
  // serializable; false when it answered an error.
  bool read_barrier(Node& node, const httplib::Request& req, httplib::Response& res);
  void propose_and_answer(Node& node, std::string command, httplib::Response& res);
  void acquire(Node& node, const std::string& name, const json& body, httplib::Response& res);
  // The leader loop's step: proposes the due expire/cancel commands not already in flight.
  void propose_due(Node& node);

  std::chrono::milliseconds request_timeout_;
  LockMachine machine_;
  LeaderLoop loop_;
  std::atomic<int> waiting_{0};  // acquires that may wait, on this member
  std::mutex inflight_mu_;
  std::set<std::string> inflight_;
};

}  // namespace skiff::examples::lock
