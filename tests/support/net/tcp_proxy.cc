#include "support/net/tcp_proxy.h"

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <future>
#include <mutex>
#include <optional>
#include <set>
#include <stdexcept>
#include <thread>
#include <utility>
#include <vector>

// asio's scheduler trips GCC's -Wnull-dereference, a warning issued after inlining and so
// not silenced for system headers; scoped here so our own code keeps the check.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnull-dereference"
#include <asio.hpp>
#pragma GCC diagnostic pop

namespace skiff::test {
namespace {

using asio::ip::tcp;
using Clock = std::chrono::steady_clock;

// One read's worth; also the granularity at which delay and drop_after act.
constexpr std::size_t kReadSize = 64 * 1024;
// Queued-but-unwritten bytes per direction before the proxy stops reading, so a slow or
// blackholed receiver pushes back on the sender instead of growing the proxy's memory.
constexpr std::size_t kMaxQueued = 1024 * 1024;
// How long a control waits for the io thread, which only runs short handlers.
constexpr auto kControlTimeout = std::chrono::seconds(10);

// Splits "host:port" at the last colon (so "[::1]:80" works once the brackets go).
std::pair<std::string, std::string> split_host_port(const std::string& host_port) {
  auto colon = host_port.rfind(':');
  if (colon == std::string::npos) {
    throw std::invalid_argument("TcpProxy: target is not host:port: " + host_port);
  }
  std::string host = host_port.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  return {host, host_port.substr(colon + 1)};
}

// Closes a socket now; with `reset` the peer gets RST (SO_LINGER 0) rather than FIN, the
// abrupt end a crashed or cut peer produces.
void close_socket(tcp::socket& socket, bool reset) {
  std::error_code ignored;
  if (reset && socket.is_open()) {
    socket.set_option(asio::socket_base::linger(true, 0), ignored);
  }
  socket.close(ignored);
}

}  // namespace

// The proxy's state: the listener, the io thread and its controls. Fields marked "io thread
// only" are touched nowhere else, so they need no lock; controls reach them via run_on_io.
struct TcpProxy::Impl {
  struct Connection;

  explicit Impl(std::string target_host_port);

  // Runs `fn` on the io thread and waits for it, so a control is in force when it returns.
  // Callers hold control_mu.
  void run_on_io_locked(std::function<void()> fn);
  // Takes control_mu; does nothing once stopped.
  void run_on_io(std::function<void()> fn);
  // Keeps one accept pending until the acceptor closes.
  void start_accept();
  // Refuses, or pairs the client with a new connection to the target.
  void on_accept(const std::error_code& ec, tcp::socket socket);
  // Resets every live connection (io thread).
  void reset_all();

  asio::io_context io;
  asio::executor_work_guard<asio::io_context::executor_type> work{io.get_executor()};
  tcp::acceptor acceptor{io};
  asio::steady_timer accept_retry{io};
  std::vector<tcp::endpoint> target;
  std::string address;
  std::thread thread;

  std::mutex control_mu;  // serializes controls with stop()
  bool stopped = false;   // guarded by control_mu

  std::atomic<std::int64_t> delay_ms{0};
  std::atomic<std::size_t> connections{0};
  std::atomic<std::size_t> bytes_forwarded{0};

  // Io thread only.
  bool refuse = false;
  bool blackhole = false;
  std::optional<std::size_t> drop_budget;
  std::set<std::shared_ptr<Connection>> live;
};

// One proxied connection; lives on the io thread, kept alive by its pending handlers and by
// Impl::live until closed.
struct TcpProxy::Impl::Connection : std::enable_shared_from_this<Connection> {
  // Bytes read from one side, waiting to be written to the other.
  struct Chunk {
    std::vector<char> data;
    Clock::time_point due;
    bool reset_after = false;  // the last bytes drop_after allows: reset everything once written
  };

  // One direction of the connection.
  struct Pipe {
    Pipe(tcp::socket& source, tcp::socket& sink, bool client_side_, asio::io_context& io)
        : from(source), to(sink), client_side(client_side_), timer(io) {}
    tcp::socket& from;
    tcp::socket& to;
    const bool client_side;  // reads from the client: subject to blackhole and drop_after
    std::vector<char> buffer = std::vector<char>(kReadSize);
    std::deque<Chunk> queue;
    std::size_t queued = 0;
    bool waiting = false;  // an async_wait for readability is pending
    bool writing = false;  // a delay timer or an async_write is pending
    bool eof = false;      // the source half-closed
    bool shut = false;     // the half-close was passed on
    asio::steady_timer timer;
  };

  Connection(Impl& owner, tcp::socket accepted)
      : impl(owner),
        client(std::move(accepted)),
        target(owner.io),
        up(client, target, true, owner.io),
        down(target, client, false, owner.io) {}

  // Dials the target; reading either side waits for that, so no byte is read before it can
  // be forwarded.
  void start() {
    auto self = shared_from_this();
    asio::async_connect(
        target, impl.target, [self](const std::error_code& ec, const tcp::endpoint&) {
          if (!self->open) {
            return;
          }
          if (ec) {
            self->close(true);
            return;
          }
          std::error_code ignored;
          for (tcp::socket* s : {&self->client, &self->target}) {
            s->set_option(tcp::no_delay(true), ignored);  // forward small frames without waiting
            s->non_blocking(true, ignored);  // read_some after a readiness wait must not block
          }
          self->maybe_read(self->up);
          self->maybe_read(self->down);
        });
  }

  // Waits for readability rather than reading directly, so that a blackhole switched on
  // while a read is pending consumes nothing: the check happens before any byte is taken.
  void maybe_read(Pipe& p) {
    if (!open || p.waiting || p.eof || p.queued >= kMaxQueued) {
      return;
    }
    if (p.client_side && impl.blackhole) {
      return;
    }
    p.waiting = true;
    auto self = shared_from_this();
    p.from.async_wait(tcp::socket::wait_read, [self, &p](const std::error_code& ec) {
      p.waiting = false;
      self->on_readable(p, ec);
    });
  }

  // Takes what the source has (one read), trims it to a drop_after budget, and queues it.
  void on_readable(Pipe& p, std::error_code ec) {
    if (!open) {
      return;
    }
    if (ec) {
      close(true);
      return;
    }
    if (p.client_side && impl.blackhole) {
      return;  // parked; set_blackhole(false) resumes
    }
    std::size_t n = p.from.read_some(asio::buffer(p.buffer), ec);
    if (ec == asio::error::would_block || ec == asio::error::try_again) {
      maybe_read(p);  // spurious wakeup
      return;
    }
    if (ec == asio::error::eof) {
      p.eof = true;
      maybe_write(p);  // passes the half-close on once the queue drains
      return;
    }
    if (ec) {
      close(true);
      return;
    }
    bool reset_after = false;
    if (p.client_side && impl.drop_budget) {
      n = std::min(n, *impl.drop_budget);
      *impl.drop_budget -= n;
      if (*impl.drop_budget == 0) {
        impl.drop_budget.reset();
        reset_after = true;
      }
    }
    Chunk chunk{std::vector<char>(p.buffer.data(), p.buffer.data() + n),
                Clock::now() + std::chrono::milliseconds(impl.delay_ms.load()), reset_after};
    p.queued += n;
    p.queue.push_back(std::move(chunk));
    maybe_write(p);
    maybe_read(p);
  }

  // Writes the queue's front once due; one write or timer at a time keeps the order.
  void maybe_write(Pipe& p) {
    if (!open || p.writing) {
      return;
    }
    if (p.queue.empty()) {
      if (p.eof && !p.shut) {
        p.shut = true;
        std::error_code ignored;
        p.to.shutdown(tcp::socket::shutdown_send, ignored);
        if (up.shut && down.shut) {
          close(false);
        }
      }
      return;
    }
    auto self = shared_from_this();
    p.writing = true;
    if (p.queue.front().due > Clock::now()) {
      p.timer.expires_at(p.queue.front().due);
      p.timer.async_wait([self, &p](const std::error_code&) {
        p.writing = false;
        self->maybe_write(p);
      });
      return;
    }
    asio::async_write(p.to, asio::buffer(p.queue.front().data),
                      [self, &p](const std::error_code& ec, std::size_t written) {
                        p.writing = false;
                        self->on_written(p, ec, written);
                      });
  }

  // Retires the written chunk; the chunk that used up a drop_after budget triggers the cut.
  void on_written(Pipe& p, const std::error_code& ec, std::size_t written) {
    if (!open) {
      return;
    }
    bool reset_after = p.queue.front().reset_after;
    if (ec) {
      // The cut was due after this chunk anyway; it still applies to every connection.
      if (reset_after) {
        impl.reset_all();
      }
      close(true);
      return;
    }
    p.queued -= p.queue.front().data.size();
    p.queue.pop_front();
    if (p.client_side) {
      impl.bytes_forwarded += written;
    }
    if (reset_after) {
      impl.reset_all();
      return;
    }
    maybe_write(p);
    maybe_read(p);
  }

  // Ends the connection on both sides; pending handlers then find it closed and return.
  void close(bool reset) {
    if (!open) {
      return;
    }
    open = false;
    close_socket(client, reset);
    close_socket(target, reset);
    up.timer.cancel();
    down.timer.cancel();
    impl.live.erase(shared_from_this());
  }

  Impl& impl;
  tcp::socket client;
  tcp::socket target;
  Pipe up;    // client to target
  Pipe down;  // target to client
  bool open = true;
};

TcpProxy::Impl::Impl(std::string target_host_port) {
  auto [host, port] = split_host_port(target_host_port);
  tcp::resolver resolver(io);
  for (const auto& entry : resolver.resolve(host, port)) {
    target.push_back(entry.endpoint());
  }

  tcp::endpoint listen(asio::ip::make_address("127.0.0.1"), 0);
  acceptor.open(listen.protocol());
  acceptor.set_option(tcp::acceptor::reuse_address(true));
  acceptor.bind(listen);
  acceptor.listen();
  address = "127.0.0.1:" + std::to_string(acceptor.local_endpoint().port());
  start_accept();
  thread = std::thread([this] { io.run(); });
}

void TcpProxy::Impl::run_on_io_locked(std::function<void()> fn) {
  if (stopped) {
    return;
  }
  auto done = std::make_shared<std::promise<void>>();
  std::future<void> finished = done->get_future();
  asio::post(io, [fn = std::move(fn), done] {
    fn();
    done->set_value();
  });
  if (finished.wait_for(kControlTimeout) != std::future_status::ready) {
    throw std::runtime_error("TcpProxy: io thread did not run a control within 10 s");
  }
}

void TcpProxy::Impl::run_on_io(std::function<void()> fn) {
  std::lock_guard<std::mutex> lock(control_mu);
  run_on_io_locked(std::move(fn));
}

void TcpProxy::Impl::start_accept() {
  acceptor.async_accept(
      [this](const std::error_code& ec, tcp::socket socket) { on_accept(ec, std::move(socket)); });
}

void TcpProxy::Impl::on_accept(const std::error_code& ec, tcp::socket socket) {
  if (!acceptor.is_open()) {
    return;
  }
  if (ec) {
    // Out of descriptors or the like: retry shortly instead of spinning on the error.
    accept_retry.expires_after(std::chrono::milliseconds(20));
    accept_retry.async_wait([this](const std::error_code& wait_ec) {
      if (!wait_ec) {
        start_accept();
      }
    });
    return;
  }
  ++connections;
  if (refuse) {
    close_socket(socket, true);
  } else {
    auto connection = std::make_shared<Connection>(*this, std::move(socket));
    live.insert(connection);
    connection->start();
  }
  start_accept();
}

void TcpProxy::Impl::reset_all() {
  // close() erases from live, so walk a copy.
  std::vector<std::shared_ptr<Connection>> all(live.begin(), live.end());
  for (auto& connection : all) {
    connection->close(true);
  }
}

TcpProxy::TcpProxy(std::string target_host_port)
    : impl_(std::make_unique<Impl>(std::move(target_host_port))) {}

TcpProxy::~TcpProxy() {
  stop();
}

std::string TcpProxy::address() const {
  return impl_->address;
}

void TcpProxy::set_delay(std::chrono::milliseconds delay) {
  impl_->delay_ms = std::max<std::int64_t>(0, delay.count());
}

void TcpProxy::drop_after(std::size_t bytes) {
  Impl* impl = impl_.get();
  impl->run_on_io([impl, bytes] {
    if (bytes == 0) {
      impl->drop_budget.reset();
      impl->reset_all();
    } else {
      impl->drop_budget = bytes;
    }
  });
}

void TcpProxy::cut_all() {
  Impl* impl = impl_.get();
  impl->run_on_io([impl] { impl->reset_all(); });
}

void TcpProxy::set_refuse(bool refuse) {
  Impl* impl = impl_.get();
  impl->run_on_io([impl, refuse] { impl->refuse = refuse; });
}

void TcpProxy::set_blackhole(bool blackhole) {
  Impl* impl = impl_.get();
  impl->run_on_io([impl, blackhole] {
    impl->blackhole = blackhole;
    if (!blackhole) {
      for (const auto& connection : impl->live) {
        connection->maybe_read(connection->up);
      }
    }
  });
}

std::size_t TcpProxy::connections() const {
  return impl_->connections.load();
}

std::size_t TcpProxy::bytes_forwarded() const {
  return impl_->bytes_forwarded.load();
}

void TcpProxy::stop() {
  Impl* impl = impl_.get();
  std::lock_guard<std::mutex> lock(impl->control_mu);
  if (impl->stopped) {
    return;
  }
  impl->run_on_io_locked([impl] {
    std::error_code ignored;
    impl->acceptor.close(ignored);
    impl->accept_retry.cancel();
    impl->reset_all();
  });
  impl->stopped = true;
  // Handlers still queued (aborted waits of closed connections) are destroyed with io.
  impl->work.reset();
  impl->io.stop();
  impl->thread.join();
}

}  // namespace skiff::test
