// How the example services' HTTP server serves connections (connections.h).
#include "connections.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <thread>

namespace skiff::examples::http_detail {
namespace {

using Clock = std::chrono::steady_clock;

// Milliseconds left until `deadline` for poll(2): 0 once passed.
int ms_until(Clock::time_point deadline) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
  return static_cast<int>(std::clamp<std::int64_t>(left.count(), 0, 60'000));
}

// Waits for `events` on `fd` (or for `wake`, the server's stop pipe, when >= 0) until
// `deadline`: 1 ready, 0 timed out, -1 error or woken.
int wait_for(int fd, short events, Clock::time_point deadline, int wake = -1) {
  while (true) {
    std::array<pollfd, 2> p{pollfd{fd, events, 0}, pollfd{wake, POLLIN, 0}};
    const int n = ::poll(p.data(), wake >= 0 ? 2 : 1, ms_until(deadline));
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n < 0 || (wake >= 0 && p[1].revents != 0)) {
      return -1;
    }
    if (n == 0) {
      return Clock::now() >= deadline ? 0 : wait_for(fd, events, deadline, wake);
    }
    return 1;  // ready, or hung up / errored: the read or write says which
  }
}

void address_of(int fd, bool peer, std::string& ip, int& port) {
  sockaddr_storage a{};
  socklen_t len = sizeof a;
  const int r = peer ? ::getpeername(fd, reinterpret_cast<sockaddr*>(&a), &len)
                     : ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ip.clear();
  port = 0;
  if (r != 0) {
    return;
  }
  char text[INET6_ADDRSTRLEN] = {};
  if (a.ss_family == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(&a);
    ::inet_ntop(AF_INET, &in->sin_addr, text, sizeof text);
    port = ntohs(in->sin_port);
  } else if (a.ss_family == AF_INET6) {
    const auto* in = reinterpret_cast<const sockaddr_in6*>(&a);
    ::inet_ntop(AF_INET6, &in->sin6_addr, text, sizeof text);
    port = ntohs(in->sin6_port);
  }
  ip = text;
}

// A connection's byte stream for httplib: one buffer for the connection's life (a pipelined
// request's bytes stay for the next process_request), a budget of bytes per request (read()
// ends the request's bytes with 0 when it is spent) and a deadline for reading and another
// for writing each request's answer.
class ConnectionStream final : public httplib::Stream {
 public:
  explicit ConnectionStream(int fd) : fd_(fd) {}

  // A new request: its head may take `head_bytes`, all of it must arrive by `read_deadline`.
  void begin_request(std::size_t head_bytes, Clock::time_point read_deadline,
                     std::chrono::milliseconds write_timeout) {
    budget_ = head_bytes;
    in_head_ = true;
    head_spent_ = false;
    timed_out_ = false;
    read_deadline_ = read_deadline;
    write_timeout_ = write_timeout;
    writing_ = false;
  }
  // The head is parsed; the body is `bytes` long.
  void expect_body(std::size_t bytes) {
    in_head_ = false;
    budget_ = bytes;
  }
  std::size_t buffered() const { return end_ - begin_; }
  bool head_spent() const { return head_spent_; }
  bool timed_out() const { return timed_out_; }
  bool failed() const { return failed_; }
  // Reads into the buffer when it is empty, until `deadline` (or `wake`): 1 bytes are
  // buffered, 0 the peer closed or the deadline passed, -1 an error or woken.
  int fill(Clock::time_point deadline, int wake = -1) {
    if (buffered() > 0) {
      return 1;
    }
    begin_ = end_ = 0;
    while (true) {
      const int w = wait_for(fd_, POLLIN, deadline, wake);
      if (w <= 0) {
        return w;
      }
      const ssize_t n = ::recv(fd_, buf_.data(), buf_.size(), MSG_DONTWAIT);
      if (n > 0) {
        end_ = static_cast<std::size_t>(n);
        return 1;
      }
      if (n == 0) {
        return 0;
      }
      if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
        return -1;
      }
    }
  }

  bool is_readable() const override { return buffered() > 0; }
  bool is_writable() const override {
    return wait_for(fd_, POLLOUT, Clock::now() + write_timeout_) == 1;
  }
  ssize_t read(char* ptr, std::size_t size) override {
    if (budget_ == 0) {
      // The request's bytes end here. In its head that means it is too large (httplib then
      // sees the head end unfinished and answers 400).
      head_spent_ = head_spent_ || in_head_;
      return 0;
    }
    const int f = fill(read_deadline_);
    if (f <= 0) {
      timed_out_ = f == 0 && Clock::now() >= read_deadline_;
      failed_ = true;
      return -1;
    }
    // A write before this read (100 Continue) does not start the answer's write deadline.
    writing_ = false;
    const std::size_t n = std::min({size, buffered(), budget_});
    std::memcpy(ptr, buf_.data() + begin_, n);
    begin_ += n;
    budget_ -= n;
    return static_cast<ssize_t>(n);
  }
  ssize_t write(const char* ptr, std::size_t size) override {
    if (!writing_) {
      writing_ = true;
      write_deadline_ = Clock::now() + write_timeout_;
    }
    while (true) {
      if (wait_for(fd_, POLLOUT, write_deadline_) != 1) {
        failed_ = true;
        return -1;
      }
      const ssize_t n = ::send(fd_, ptr, size, MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n >= 0) {
        return n;
      }
      if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
        failed_ = true;
        return -1;
      }
    }
  }
  void get_remote_ip_and_port(std::string& ip, int& port) const override {
    address_of(fd_, true, ip, port);
  }
  void get_local_ip_and_port(std::string& ip, int& port) const override {
    address_of(fd_, false, ip, port);
  }
  socket_t socket() const override { return fd_; }

 private:
  const int fd_;
  std::array<char, 16 << 10> buf_{};
  std::size_t begin_ = 0;
  std::size_t end_ = 0;
  std::size_t budget_ = 0;
  bool in_head_ = true;
  bool head_spent_ = false;
  bool timed_out_ = false;
  bool failed_ = false;
  bool writing_ = false;
  Clock::time_point read_deadline_{};
  Clock::time_point write_deadline_{};
  std::chrono::milliseconds write_timeout_{0};
};

// Closes `fd` so that an answer already written reaches the peer: a close with unread input
// would reset the connection and could destroy the answer in flight, so the writing side is
// shut first and what the peer still sends is drained for a bounded time and size.
void close_cleanly(int fd) {
  ::shutdown(fd, SHUT_WR);
  const auto until = Clock::now() + std::chrono::milliseconds(500);
  std::array<char, 4096> sink{};
  for (int i = 0; i < 64; ++i) {
    if (wait_for(fd, POLLIN, until) != 1 || ::recv(fd, sink.data(), sink.size(), 0) <= 0) {
      break;
    }
  }
  ::close(fd);
}

// A short answer to a client refused at the door, written without waiting (a fresh socket's
// buffer takes it) so the accepting thread never blocks on it.
void refuse(int fd) {
  static const std::string kBusy = [] {
    const std::string body =
        "{\"code\":\"TooManyConnections\",\"error\":\"every connection of this member is "
        "busy; retry\"}\n";
    return "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
           "Connection: close\r\nContent-Length: " +
           std::to_string(body.size()) + "\r\n\r\n" + body;
  }();
  (void)::send(fd, kBusy.data(), kBusy.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
  ::shutdown(fd, SHUT_WR);
  ::close(fd);
}

}  // namespace

struct ConnectionServer::Connection {
  explicit Connection(int s) : fd(s), stream(s) {}
  const int fd;
  ConnectionStream stream;
  // Under the server's mu_:
  bool idle = true;
  bool evicted = false;
  Clock::time_point idle_since = Clock::now();
  // The connection's own thread only:
  bool close_after = false;
};

namespace {

thread_local ConnectionServer::Connection* t_current = nullptr;
thread_local bool t_refuse = false;

}  // namespace

// httplib's task queue: a thread per accepted connection, at most the connection limit plus
// a margin (connections refused or evicted still finish); beyond that, the accepting thread
// refuses the connection itself.
class ConnectionServer::Threads final : public httplib::TaskQueue {
 public:
  explicit Threads(std::size_t max) : max_(max) {}
  void enqueue(std::function<void()> fn) override {
    {
      std::lock_guard lock(mu_);
      if (live_ < max_) {
        ++live_;
        std::thread([this, fn = std::move(fn)] {
          fn();
          std::lock_guard l(mu_);
          --live_;
          cv_.notify_all();
        }).detach();
        return;
      }
    }
    t_refuse = true;
    fn();
    t_refuse = false;
  }
  void shutdown() override {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [this] { return live_ == 0; });
  }

 private:
  const std::size_t max_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::size_t live_ = 0;
};

void expect_body(std::size_t bytes) {
  if (t_current != nullptr) {
    t_current->stream.expect_body(bytes);
  }
}

void close_after_answer() {
  if (t_current != nullptr) {
    t_current->close_after = true;
  }
}

ConnectionServer::ConnectionServer(ConnectionLimits limits) : limits_(limits) {
  if (::pipe2(wake_, O_CLOEXEC) != 0) {
    wake_[0] = wake_[1] = -1;
  }
  new_task_queue = [max = limits_.max_connections + 32] { return new Threads(max); };
  // httplib's own timeouts, used by nothing of ours but kept in agreement with the limits.
  set_keep_alive_timeout(std::max<time_t>(1, limits_.idle_timeout.count() / 1000));
  set_keep_alive_max_count(limits_.max_requests);
  set_read_timeout(limits_.request_timeout);
  set_write_timeout(limits_.write_timeout);
}

ConnectionServer::~ConnectionServer() {
  for (int fd : wake_) {
    if (fd >= 0) {
      ::close(fd);
    }
  }
}

bool ConnectionServer::raise_backlog() {
  // Listening again on a listening socket only updates its backlog (listen(2) on Linux).
  return ::listen(svr_sock_, SOMAXCONN) == 0;
}

void ConnectionServer::close_connections() {
  if (wake_[1] >= 0) {
    const char byte = 1;
    (void)::write(wake_[1], &byte, 1);
  }
}

bool ConnectionServer::admit(Connection& conn) {
  std::lock_guard lock(mu_);
  std::size_t live = 0;
  Connection* oldest = nullptr;
  for (Connection* c : open_) {
    if (c->evicted) {
      continue;
    }
    ++live;
    if (c->idle && (oldest == nullptr || c->idle_since < oldest->idle_since)) {
      oldest = c;
    }
  }
  if (live >= limits_.max_connections) {
    if (oldest == nullptr) {
      return false;
    }
    // Its thread sees the hang-up in its idle wait and closes it; the fd stays open until
    // that thread has left open_ (under mu_), so this shutdown never hits another socket.
    oldest->evicted = true;
    ::shutdown(oldest->fd, SHUT_RDWR);
    counters_.evicted_idle.fetch_add(1, std::memory_order_relaxed);
  }
  open_.push_back(&conn);
  return true;
}

void ConnectionServer::forget(Connection& conn) {
  std::lock_guard lock(mu_);
  open_.remove(&conn);
}

bool ConnectionServer::process_and_close_socket(socket_t sock) {
  counters_.accepted.fetch_add(1, std::memory_order_relaxed);
  if (t_refuse) {
    counters_.refused_full.fetch_add(1, std::memory_order_relaxed);
    refuse(sock);
    return false;
  }
  Connection conn(sock);
  if (!admit(conn)) {
    counters_.refused_full.fetch_add(1, std::memory_order_relaxed);
    refuse(sock);
    return false;
  }
  serve(conn);
  forget(conn);
  close_cleanly(sock);
  return true;
}

void ConnectionServer::serve(Connection& conn) {
  t_current = &conn;
  for (std::size_t served = 0; served < limits_.max_requests; ++served) {
    {
      std::lock_guard lock(mu_);
      conn.idle = true;
      conn.idle_since = Clock::now();
      if (conn.evicted) {
        break;
      }
    }
    const auto idle_until = Clock::now() + limits_.idle_timeout;
    const int f = conn.stream.fill(idle_until, wake_[0]);
    if (f <= 0) {
      if (f == 0 && Clock::now() >= idle_until) {
        counters_.idle_timeouts.fetch_add(1, std::memory_order_relaxed);
      }
      break;
    }
    {
      std::lock_guard lock(mu_);
      if (conn.evicted || svr_sock_ == INVALID_SOCKET) {
        break;
      }
      conn.idle = false;
    }
    conn.stream.begin_request(limits_.max_head_bytes, Clock::now() + limits_.request_timeout,
                              limits_.write_timeout);
    const bool last = served + 1 == limits_.max_requests;
    bool closed = false;
    const bool ok = process_request(conn.stream, last, closed, nullptr);
    if (conn.stream.timed_out()) {
      counters_.request_timeouts.fetch_add(1, std::memory_order_relaxed);
    }
    if (conn.stream.head_spent()) {
      counters_.head_too_large.fetch_add(1, std::memory_order_relaxed);
    }
    if (conn.close_after) {
      counters_.closed_after_error.fetch_add(1, std::memory_order_relaxed);
    }
    if (!ok || closed || last || conn.close_after || conn.stream.failed() ||
        conn.stream.head_spent()) {
      break;
    }
  }
  t_current = nullptr;
}

}  // namespace skiff::examples::http_detail
