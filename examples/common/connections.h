// How the example services' HTTP server serves connections (internal to the examples).
//
// cpp-httplib 0.11 (Debian 12) serves each connection on one pool thread for its whole life,
// idle keep-alive waits included, and reads each request through a fresh 4 KiB buffer. So 64
// idle clients held all 64 threads (nothing else was answered), pipelined requests were lost
// with the buffer, and a request line or header without an end grew without bound (issue 15).
// ConnectionServer keeps httplib's request parsing and routing (Server::process_request) but
// owns the connections:
//   - a thread per connection, at most `max_connections` of them; when full, a new client
//     closes the connection idle the longest, or is answered 503 and closed when none is idle,
//     so idle clients can never keep a request from being served;
//   - one buffered stream per connection (pipelined requests are kept), a byte budget per
//     request (its head, then exactly its Content-Length) and a deadline per request (from its
//     first byte to the end of its body, and again for writing its answer);
//   - idle connections closed after `idle_timeout`, at most `max_requests` per connection,
//     and after an answer the request's own bytes do not frame (bad head, refused body), the
//     connection is closed cleanly: half-closed, the rest of the input drained a bounded time.
#pragma once

#include <httplib.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <list>
#include <mutex>
#include <string>

namespace skiff::examples::http_detail {

/// Limits of the connections of one server.
struct ConnectionLimits {
  std::size_t max_connections = 256;                 ///< open at once (threads)
  std::chrono::milliseconds idle_timeout{5000};      ///< before a request's first byte
  std::chrono::milliseconds request_timeout{10000};  ///< first byte to end of body
  std::chrono::milliseconds write_timeout{10000};    ///< to write one answer
  std::size_t max_head_bytes = 64 << 10;             ///< request line and headers
  std::size_t max_requests = 1000;                   ///< per connection
};

/// Counters of what the connection layer refused or cut (the services' /metrics).
struct ConnectionCounters {
  std::atomic<std::uint64_t> accepted{0};
  std::atomic<std::uint64_t> refused_full{0};      ///< answered 503: all connections busy
  std::atomic<std::uint64_t> evicted_idle{0};      ///< closed to make room for a new client
  std::atomic<std::uint64_t> idle_timeouts{0};     ///< closed after idle_timeout
  std::atomic<std::uint64_t> request_timeouts{0};  ///< a request not read in request_timeout
  std::atomic<std::uint64_t> head_too_large{0};    ///< a head over max_head_bytes
  std::atomic<std::uint64_t> closed_after_error{0};
};

/// Called while a request is routed (from httplib's pre-routing, error and expect handlers,
/// on the connection's thread): the request's body is `bytes` long, read exactly that many
/// more bytes for it (its head is complete).
void expect_body(std::size_t bytes);
/// Called while a request is routed: close the connection once this request is answered
/// (its body was refused unread, or its head did not parse).
void close_after_answer();

/// An httplib server whose connections are served as the file comment says.
class ConnectionServer : public httplib::Server {
 public:
  explicit ConnectionServer(ConnectionLimits limits);
  ~ConnectionServer() override;
  ConnectionServer(const ConnectionServer&) = delete;
  ConnectionServer& operator=(const ConnectionServer&) = delete;

  /// Listens again on the bound socket with the backlog raised: the compiled library listens
  /// with 5 (CPPHTTPLIB_LISTEN_BACKLOG), so a burst of clients would wait for SYN retries.
  bool raise_backlog();
  /// Wakes every idle connection to close (after httplib's stop(); in-flight requests end
  /// with their answer); then listen_after_bind() returns once every connection is closed.
  void close_connections();
  const ConnectionCounters& counters() const { return counters_; }
  const ConnectionLimits& limits() const { return limits_; }

  struct Connection;  // one served connection (connections.cc)

 private:
  class Threads;
  // httplib's accept loop calls this for every accepted socket (on a thread of Threads).
  bool process_and_close_socket(socket_t sock) override;
  // Admits `conn` (closing the longest idle connection when full); false: refuse it.
  bool admit(Connection& conn);
  void forget(Connection& conn);
  void serve(Connection& conn);

  const ConnectionLimits limits_;
  ConnectionCounters counters_;
  int wake_[2] = {-1, -1};  // a pipe: written once at close_connections(), never read
  std::mutex mu_;
  std::list<Connection*> open_;  // under mu_
};

}  // namespace skiff::examples::http_detail
