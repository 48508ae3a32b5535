// Transport benchmarks (issue 6): two endpoints on loopback (127.0.0.1), 100 B and 64 KiB
// payloads, skiff's AsioTransport against plain asio measured in the same run.
//
//   build/release/bench/skiff_transport_bench [--benchmark_filter=...]
//
// One-way throughput (items/s = messages, bytes/s = payload bytes):
//   BM_SkiffStream  node 1 -> node 2, Append messages carrying one entry whose data is the
//                   payload; one iteration sends a window of messages and waits until node 2's
//                   handler has counted them all.
//   BM_AsioStream   the floor: the same windows of length-prefixed payloads (4-byte length)
//                   over one TCP connection, sent like a decent hand-written asio sender (a
//                   locked queue the caller fills, an I/O thread gathering up to 1 MiB of it
//                   per async_write) and counted by a receiver that reads 64 KiB at a time
//                   and copies nothing. Same threads as skiff: the caller builds each frame
//                   (one payload copy; skiff encodes on the caller's thread too), one I/O
//                   thread per endpoint.
// Round trip (items/s = round trips):
//   BM_SkiffEcho    node 1 sends, node 2's handler sends the message back, node 1's handler
//                   counts it and wakes the caller.
//   BM_AsioEcho     a classic asio echo server (writes back whatever it reads) and a client
//                   writing one frame and reading the whole frame back; client_thread:0 runs
//                   the client on the caller's thread (the floor), client_thread:1 on its own
//                   I/O thread with the caller waiting on a condition variable, the thread
//                   hops skiff's round trip also makes.
// Context:
//   BM_SkiffCodec   encode + split + decode of one message, no sockets or threads (the CPU
//                   work skiff adds per message on the two endpoints' threads).
//
// cpu_ns_per_item is the whole process's CPU time (every thread) per message or round trip:
// on a small machine throughput follows it, and it tells work from waiting.
//
// The window keeps the sender inside the transport's per-peer queue (4096 messages, 64 MiB);
// a drop fails the benchmark, as does any wait longer than 30 s.
#include <benchmark/benchmark.h>

#include <array>
// gcc 12 reports a "potential null pointer dereference" inside asio's scheduler when it is
// inlined here; silenced for asio's code only.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnull-dereference"
#include <asio.hpp>
#pragma GCC diagnostic pop
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstring>
#include <ctime>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "skiff/codec/codec.h"
#include "skiff/transport/asio_transport.h"

namespace {

using asio::ip::tcp;
using Clock = std::chrono::steady_clock;

constexpr auto kWaitLimit = std::chrono::seconds(30);
constexpr std::size_t kReadBuffer = 64 << 10;    // as AsioTransport reads
constexpr std::size_t kMaxWriteBytes = 1 << 20;  // AsioTransportOptions::max_write_bytes
constexpr std::uint64_t kClusterId = 6;

// What arrived, counted by I/O threads; the benchmark thread waits for a target, bounded.
class Arrivals {
 public:
  // I/O threads: `n` more whole messages.
  void add(std::uint64_t n) {
    const std::uint64_t now = count_.fetch_add(n) + n;
    if (now >= target_.load()) {
      std::lock_guard lock(mu_);
      cv_.notify_all();
    }
  }
  // Any thread: the benchmark cannot go on.
  void fail(std::string why) {
    std::lock_guard lock(mu_);
    if (error_.empty()) {
      error_ = std::move(why);
    }
    failed_ = true;
    cv_.notify_all();
  }
  bool failed() const { return failed_.load(); }
  std::uint64_t count() const { return count_.load(); }
  // The count wait() waits for; set before sending what it covers.
  void expect(std::uint64_t target) { target_.store(target); }
  // True once count() reaches the target; false on failure or after kWaitLimit.
  bool wait() {
    std::unique_lock lock(mu_);
    const bool reached = cv_.wait_for(
        lock, kWaitLimit, [&] { return failed_.load() || count_.load() >= target_.load(); });
    if (!reached && error_.empty()) {
      error_ = "timed out after 30 s: " + std::to_string(count_.load()) + " of " +
               std::to_string(target_.load()) + " messages arrived";
    }
    return reached && !failed_.load();
  }
  std::string error() const {
    std::lock_guard lock(mu_);
    return error_;
  }

 private:
  std::atomic<std::uint64_t> count_{0};
  std::atomic<std::uint64_t> target_{UINT64_MAX};
  std::atomic<bool> failed_{false};
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::string error_;  // guarded by mu_
};

// CPU time of the whole process (every thread), to tell work from waiting.
std::int64_t process_cpu_ns() {
  timespec t{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return std::int64_t{t.tv_sec} * 1'000'000'000 + t.tv_nsec;
}

// items/s and bytes/s (payload bytes, none when 0); with `cpu_start`, also cpu_ns_per_item:
// the process's CPU time (all threads) per message or round trip since then.
void set_counters(benchmark::State& state, std::uint64_t messages_per_iteration,
                  std::uint64_t payload_bytes, std::optional<std::int64_t> cpu_start = {}) {
  const std::int64_t items = state.iterations() * static_cast<std::int64_t>(messages_per_iteration);
  state.SetItemsProcessed(items);
  if (payload_bytes != 0) {
    state.SetBytesProcessed(items * static_cast<std::int64_t>(payload_bytes));
  }
  if (cpu_start && items > 0) {
    state.counters["cpu_ns_per_item"] =
        static_cast<double>(process_cpu_ns() - *cpu_start) / static_cast<double>(items);
  }
}

// --- skiff ----------------------------------------------------------------------------------

skiff::Message append(skiff::NodeId from, skiff::NodeId to, std::uint64_t index,
                      const skiff::Bytes& payload) {
  skiff::Message m;
  m.type = skiff::MessageType::kAppend;
  m.from = from;
  m.to = to;
  m.term = skiff::Term{1};
  m.log_term = skiff::Term{1};
  m.index = skiff::Index{index};
  m.commit = skiff::Index{index};
  skiff::Entry e;
  e.term = skiff::Term{1};
  e.index = skiff::Index{index + 1};
  e.data = payload;  // shared, not copied
  m.entries.push_back(std::move(e));
  return m;
}

// Counts the messages it is handed (checking their payload); any drop fails the benchmark.
class CountingHandler final : public skiff::TransportHandler {
 public:
  CountingHandler(Arrivals& arrivals, std::size_t payload)
      : arrivals_(arrivals), payload_(payload) {}
  void on_message(skiff::Message m) override {
    if (m.entries.size() != 1 || m.entries.front().data.size() != payload_) {
      arrivals_.fail("a message without the expected payload arrived");
      return;
    }
    arrivals_.add(1);
  }
  void on_unreachable(skiff::NodeId peer) override {
    arrivals_.fail("a message to node " + std::to_string(peer.value) + " was dropped");
  }
  void on_snapshot_status(skiff::NodeId, skiff::Index, bool) override {}

 private:
  Arrivals& arrivals_;
  const std::size_t payload_;
};

// Node 2 of the round trip: sends every message back to node 1.
class EchoHandler final : public skiff::TransportHandler {
 public:
  explicit EchoHandler(Arrivals& arrivals) : arrivals_(arrivals) {}
  void on_message(skiff::Message m) override {
    m.from = skiff::NodeId{2};
    m.to = skiff::NodeId{1};
    transport->send(std::move(m));
  }
  void on_unreachable(skiff::NodeId peer) override {
    arrivals_.fail("a message to node " + std::to_string(peer.value) + " was dropped");
  }
  void on_snapshot_status(skiff::NodeId, skiff::Index, bool) override {}

  skiff::Transport* transport = nullptr;  // set before start

 private:
  Arrivals& arrivals_;
};

// Nodes 1 and 2 of one cluster, each on a loopback port the kernel picks, peered both ways.
// Declare the handlers before it: destroying it stops both transports.
struct SkiffPair {
  std::unique_ptr<skiff::AsioTransport> one;
  std::unique_ptr<skiff::AsioTransport> two;

  // An empty string on success, else why not.
  std::string create() {
    for (std::uint64_t id : {1, 2}) {
      skiff::AsioTransportOptions o;
      o.cluster_id = kClusterId;
      o.self = skiff::NodeId{id};
      o.listen_address = "127.0.0.1:0";
      auto t = skiff::AsioTransport::create(std::move(o));
      if (!t.ok()) {
        return t.status().to_string();
      }
      (id == 1 ? one : two) = std::move(*t);
    }
    for (skiff::Status s : {one->add_peer(skiff::NodeId{2}, two->listen_address()),
                            two->add_peer(skiff::NodeId{1}, one->listen_address())}) {
      if (!s.ok()) {
        return s.to_string();
      }
    }
    return {};
  }
  std::string start(skiff::TransportHandler& h1, skiff::TransportHandler& h2) {
    for (skiff::Status s : {one->start(h1), two->start(h2)}) {
      if (!s.ok()) {
        return s.to_string();
      }
    }
    return {};
  }
  std::string dropped() const {
    const std::uint64_t d = one->stats().messages_dropped + two->stats().messages_dropped;
    return d == 0 ? std::string() : "the transport dropped " + std::to_string(d) + " messages";
  }
};

void BM_SkiffStream(benchmark::State& state) {
  const auto size = static_cast<std::size_t>(state.range(0));
  const auto window = static_cast<std::uint64_t>(state.range(1));
  const skiff::Bytes payload(std::string(size, 'x'));
  Arrivals arrivals;
  CountingHandler sender(arrivals, size);  // node 1 receives nothing; it reports drops
  CountingHandler receiver(arrivals, size);
  SkiffPair pair;
  std::string error = pair.create();
  if (error.empty()) {
    error = pair.start(sender, receiver);
  }
  if (!error.empty()) {
    state.SkipWithError(error.c_str());
    return;
  }
  const skiff::NodeId one{1};
  const skiff::NodeId two{2};
  // Connect and handshake before timing.
  std::uint64_t index = 1;
  arrivals.expect(1);
  pair.one->send(append(one, two, index++, payload));
  if (!arrivals.wait()) {
    state.SkipWithError(("warm-up: " + arrivals.error()).c_str());
    return;
  }
  std::uint64_t expected = 1;
  const std::int64_t cpu_start = process_cpu_ns();
  for (auto _ : state) {
    expected += window;
    arrivals.expect(expected);
    for (std::uint64_t k = 0; k < window; ++k) {
      pair.one->send(append(one, two, index++, payload));
    }
    if (!arrivals.wait()) {
      state.SkipWithError(arrivals.error().c_str());
      break;
    }
  }
  if (!state.error_occurred()) {
    if (error = pair.dropped(); !error.empty()) {
      state.SkipWithError(error.c_str());
    }
  }
  set_counters(state, window, size, cpu_start);
}

void BM_SkiffEcho(benchmark::State& state) {
  const auto size = static_cast<std::size_t>(state.range(0));
  const skiff::Bytes payload(std::string(size, 'x'));
  Arrivals arrivals;
  CountingHandler pinger(arrivals, size);
  EchoHandler echo(arrivals);
  SkiffPair pair;
  std::string error = pair.create();
  if (error.empty()) {
    echo.transport = pair.two.get();
    error = pair.start(pinger, echo);
  }
  if (!error.empty()) {
    state.SkipWithError(error.c_str());
    return;
  }
  const skiff::NodeId one{1};
  const skiff::NodeId two{2};
  std::uint64_t index = 1;
  std::uint64_t expected = 0;
  auto round_trip = [&] {
    arrivals.expect(++expected);
    pair.one->send(append(one, two, index++, payload));
    return arrivals.wait();
  };
  if (!round_trip()) {  // both connections open before timing
    state.SkipWithError(("warm-up: " + arrivals.error()).c_str());
    return;
  }
  const std::int64_t cpu_start = process_cpu_ns();
  for (auto _ : state) {
    if (!round_trip()) {
      state.SkipWithError(arrivals.error().c_str());
      break;
    }
  }
  if (!state.error_occurred()) {
    if (error = pair.dropped(); !error.empty()) {
      state.SkipWithError(error.c_str());
    }
  }
  set_counters(state, 1, 0, cpu_start);
}

// The transport's CPU work per message without sockets, queues or threads: encode the frame
// (as send() does on the caller's thread), split it from a stream and decode it (as the
// receiving I/O thread does). Not a transport figure: what bounds the two threads' share.
void BM_SkiffCodec(benchmark::State& state) {
  const auto size = static_cast<std::size_t>(state.range(0));
  const skiff::Bytes payload(std::string(size, 'x'));
  skiff::codec::FrameDecoder decoder;
  std::uint64_t index = 1;
  for (auto _ : state) {
    decoder.feed(
        skiff::codec::encode_frame(append(skiff::NodeId{1}, skiff::NodeId{2}, index++, payload)));
    auto frame = decoder.next();
    if (!frame.ok() || !frame->has_value()) {
      state.SkipWithError("the frame did not decode");
      break;
    }
    auto m = skiff::codec::decode_message((*frame)->body);
    if (!m.ok() || m->entries.size() != 1 || m->entries.front().data.size() != size) {
      state.SkipWithError("the message did not decode");
      break;
    }
    benchmark::DoNotOptimize(m);
  }
  set_counters(state, 1, size);
}

// --- plain asio -----------------------------------------------------------------------------

// An io_context run by its own thread until stop().
class IoThread {
 public:
  IoThread() = default;
  IoThread(const IoThread&) = delete;
  IoThread& operator=(const IoThread&) = delete;
  ~IoThread() { stop(); }
  asio::io_context& io() { return io_; }
  void start() {
    thread_ = std::thread([this] { io_.run(); });
  }
  void stop() {
    work_.reset();
    io_.stop();
    if (thread_.joinable()) {
      thread_.join();
    }
  }

 private:
  asio::io_context io_;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work_{
      asio::make_work_guard(io_)};
  std::thread thread_;
};

// Stops I/O threads before the objects their handlers use are destroyed: declare it last.
class StopOnExit {
 public:
  explicit StopOnExit(std::vector<IoThread*> threads) : threads_(std::move(threads)) {}
  StopOnExit(const StopOnExit&) = delete;
  StopOnExit& operator=(const StopOnExit&) = delete;
  ~StopOnExit() {
    for (IoThread* t : threads_) {
      t->stop();
    }
  }

 private:
  std::vector<IoThread*> threads_;
};

tcp::endpoint loopback() {
  return tcp::endpoint(asio::ip::make_address_v4("127.0.0.1"), 0);
}

// A frame of the plain baseline: 4-byte little-endian length, then the payload.
std::string plain_frame(std::string_view payload) {
  std::array<char, 4> header{};
  for (std::size_t k = 0; k < 4; ++k) {
    header[k] = static_cast<char>((payload.size() >> (8 * k)) & 0xff);
  }
  std::string f;
  f.reserve(header.size() + payload.size());
  f.append(header.data(), header.size());
  f.append(payload);
  return f;
}

// Finds whole frames in a byte stream without copying their payloads.
class FrameCounter {
 public:
  explicit FrameCounter(std::size_t expected) : expected_(expected) {}
  // How many frames `bytes` completes; false when a length is not the expected one.
  bool consume(const char* p, std::size_t n, std::uint64_t& frames) {
    frames = 0;
    while (n > 0) {
      if (have_ < 4) {
        const std::size_t take = std::min(4 - have_, n);
        std::memcpy(header_.data() + have_, p, take);
        have_ += take;
        p += take;
        n -= take;
        if (have_ < 4) {
          break;
        }
        left_ = 0;
        for (std::size_t k = 0; k < 4; ++k) {
          left_ |= std::size_t{header_[k]} << (8 * k);
        }
        if (left_ != expected_) {
          return false;
        }
      }
      const std::size_t take = std::min(left_, n);
      p += take;
      n -= take;
      left_ -= take;
      if (left_ == 0) {
        ++frames;
        have_ = 0;
      }
    }
    return true;
  }

 private:
  const std::size_t expected_;
  std::array<unsigned char, 4> header_{};
  std::size_t have_ = 0;  // header bytes seen
  std::size_t left_ = 0;  // body bytes still to come
};

// Accepts one connection and counts the frames that arrive on it.
class PlainReceiver {
 public:
  PlainReceiver(asio::io_context& io, Arrivals& arrivals, std::size_t payload)
      : acceptor_(io, loopback()), socket_(io), arrivals_(arrivals), frames_(payload) {}
  tcp::endpoint endpoint() const { return acceptor_.local_endpoint(); }
  void start() {
    acceptor_.async_accept(socket_, [this](const asio::error_code& ec) {
      if (ec) {
        arrivals_.fail("accept: " + ec.message());
        return;
      }
      socket_.set_option(tcp::no_delay(true));
      read();
    });
  }

 private:
  void read() {
    socket_.async_read_some(asio::buffer(buffer_),
                            [this](const asio::error_code& ec, std::size_t n) {
                              if (ec) {
                                arrivals_.fail("receiver read: " + ec.message());
                                return;
                              }
                              std::uint64_t whole = 0;
                              if (!frames_.consume(buffer_.data(), n, whole)) {
                                arrivals_.fail("receiver: a frame of the wrong length");
                                return;
                              }
                              if (whole != 0) {
                                arrivals_.add(whole);
                              }
                              read();
                            });
  }

  tcp::acceptor acceptor_;
  tcp::socket socket_;
  Arrivals& arrivals_;
  FrameCounter frames_;
  std::array<char, kReadBuffer> buffer_{};
};

// The sending side: send() from any thread queues a frame; the I/O thread writes what is
// queued, up to kMaxWriteBytes per gather write, one write at a time.
class PlainSender {
 public:
  PlainSender(asio::io_context& io, Arrivals& arrivals)
      : io_(io), socket_(io), arrivals_(arrivals) {}
  asio::error_code connect(const tcp::endpoint& to) {
    asio::error_code ec;
    socket_.connect(to, ec);
    if (!ec) {
      socket_.set_option(tcp::no_delay(true), ec);
    }
    return ec;
  }
  void send(std::string frame) {
    std::lock_guard lock(mu_);
    queue_.push_back(std::move(frame));
    if (!kick_pending_) {
      kick_pending_ = true;
      asio::post(io_, [this] { pump(); });
    }
  }

 private:
  void pump() {
    if (writing_) {
      std::lock_guard lock(mu_);
      kick_pending_ = false;
      return;  // the write's completion pumps again
    }
    batch_.clear();
    {
      std::lock_guard lock(mu_);
      kick_pending_ = false;
      std::size_t bytes = 0;
      while (!queue_.empty() && bytes < kMaxWriteBytes) {
        bytes += queue_.front().size();
        batch_.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
    }
    if (batch_.empty()) {
      return;
    }
    buffers_.clear();
    for (const std::string& f : batch_) {
      buffers_.push_back(asio::buffer(f));
    }
    writing_ = true;
    asio::async_write(socket_, buffers_, [this](const asio::error_code& ec, std::size_t) {
      writing_ = false;
      if (ec) {
        arrivals_.fail("sender write: " + ec.message());
        return;
      }
      pump();
    });
  }

  asio::io_context& io_;
  tcp::socket socket_;
  Arrivals& arrivals_;
  std::mutex mu_;
  std::deque<std::string> queue_;  // guarded by mu_
  bool kick_pending_ = false;      // guarded by mu_
  // I/O thread only.
  bool writing_ = false;
  std::vector<std::string> batch_;
  std::vector<asio::const_buffer> buffers_;
};

void BM_AsioStream(benchmark::State& state) {
  const auto size = static_cast<std::size_t>(state.range(0));
  const auto window = static_cast<std::uint64_t>(state.range(1));
  const std::string payload(size, 'x');
  Arrivals arrivals;
  IoThread rx;
  IoThread tx;
  PlainReceiver receiver(rx.io(), arrivals, size);
  PlainSender sender(tx.io(), arrivals);
  StopOnExit stop_on_exit({&rx, &tx});
  receiver.start();
  rx.start();
  if (asio::error_code ec = sender.connect(receiver.endpoint()); ec) {
    state.SkipWithError(("connect: " + ec.message()).c_str());
    return;
  }
  tx.start();
  arrivals.expect(1);
  sender.send(plain_frame(payload));
  if (!arrivals.wait()) {
    state.SkipWithError(("warm-up: " + arrivals.error()).c_str());
    return;
  }
  std::uint64_t expected = 1;
  const std::int64_t cpu_start = process_cpu_ns();
  for (auto _ : state) {
    expected += window;
    arrivals.expect(expected);
    for (std::uint64_t k = 0; k < window; ++k) {
      sender.send(plain_frame(payload));
    }
    if (!arrivals.wait()) {
      state.SkipWithError(arrivals.error().c_str());
      break;
    }
  }
  set_counters(state, window, size, cpu_start);
}

// The classic asio echo server: writes back whatever it reads, one connection.
class PlainEchoServer {
 public:
  PlainEchoServer(asio::io_context& io, Arrivals& arrivals)
      : acceptor_(io, loopback()), socket_(io), arrivals_(arrivals) {}
  tcp::endpoint endpoint() const { return acceptor_.local_endpoint(); }
  void start() {
    acceptor_.async_accept(socket_, [this](const asio::error_code& ec) {
      if (ec) {
        arrivals_.fail("accept: " + ec.message());
        return;
      }
      socket_.set_option(tcp::no_delay(true));
      read();
    });
  }

 private:
  void read() {
    socket_.async_read_some(
        asio::buffer(buffer_), [this](const asio::error_code& ec, std::size_t n) {
          if (ec) {
            arrivals_.fail("echo server read: " + ec.message());
            return;
          }
          asio::async_write(socket_, asio::buffer(buffer_.data(), n),
                            [this](const asio::error_code& wec, std::size_t) {
                              if (wec) {
                                arrivals_.fail("echo server write: " + wec.message());
                                return;
                              }
                              read();
                            });
        });
  }

  tcp::acceptor acceptor_;
  tcp::socket socket_;
  Arrivals& arrivals_;
  std::array<char, kReadBuffer> buffer_{};
};

// Writes a frame and counts the frames that come back; its handlers run on whichever thread
// runs `io`.
class PlainEchoClient {
 public:
  PlainEchoClient(asio::io_context& io, Arrivals& arrivals, std::size_t payload)
      : socket_(io), arrivals_(arrivals), frames_(payload) {}
  asio::error_code connect(const tcp::endpoint& to) {
    asio::error_code ec;
    socket_.connect(to, ec);
    if (!ec) {
      socket_.set_option(tcp::no_delay(true), ec);
    }
    return ec;
  }
  void ping(std::string frame) {
    out_ = std::move(frame);
    asio::async_write(socket_, asio::buffer(out_), [this](const asio::error_code& ec, std::size_t) {
      if (ec) {
        arrivals_.fail("echo client write: " + ec.message());
      }
    });
  }
  void read() {
    socket_.async_read_some(asio::buffer(buffer_),
                            [this](const asio::error_code& ec, std::size_t n) {
                              if (ec) {
                                arrivals_.fail("echo client read: " + ec.message());
                                return;
                              }
                              std::uint64_t whole = 0;
                              if (!frames_.consume(buffer_.data(), n, whole)) {
                                arrivals_.fail("echo client: a frame of the wrong length");
                                return;
                              }
                              if (whole != 0) {
                                arrivals_.add(whole);
                              }
                              read();
                            });
  }

 private:
  tcp::socket socket_;
  Arrivals& arrivals_;
  FrameCounter frames_;
  std::string out_;
  std::array<char, kReadBuffer> buffer_{};
};

void BM_AsioEcho(benchmark::State& state) {
  const auto size = static_cast<std::size_t>(state.range(0));
  const bool client_thread = state.range(1) != 0;
  const std::string payload(size, 'x');
  Arrivals arrivals;
  IoThread server_io;
  IoThread client_io;  // run by its own thread, or by this one (client_thread:0)
  PlainEchoServer server(server_io.io(), arrivals);
  PlainEchoClient client(client_io.io(), arrivals, size);
  StopOnExit stop_on_exit({&server_io, &client_io});
  server.start();
  server_io.start();
  if (asio::error_code ec = client.connect(server.endpoint()); ec) {
    state.SkipWithError(("connect: " + ec.message()).c_str());
    return;
  }
  client.read();
  if (client_thread) {
    client_io.start();
  }
  std::uint64_t expected = 0;
  auto round_trip = [&] {
    ++expected;
    if (client_thread) {
      arrivals.expect(expected);
      asio::post(client_io.io(),
                 [&client, f = plain_frame(payload)]() mutable { client.ping(std::move(f)); });
      return arrivals.wait();
    }
    client.ping(plain_frame(payload));
    const auto deadline = Clock::now() + kWaitLimit;
    while (arrivals.count() < expected && !arrivals.failed() && Clock::now() < deadline) {
      client_io.io().run_one_until(deadline);
    }
    return arrivals.count() >= expected && !arrivals.failed();
  };
  if (!round_trip()) {
    state.SkipWithError(("warm-up: " + arrivals.error()).c_str());
    return;
  }
  const std::int64_t cpu_start = process_cpu_ns();
  for (auto _ : state) {
    if (!round_trip()) {
      const std::string why = arrivals.error();
      state.SkipWithError((why.empty() ? std::string("timed out after 30 s") : why).c_str());
      break;
    }
  }
  set_counters(state, 1, 0, cpu_start);
}

// {payload bytes, messages per window}: the windows stay well inside the per-peer queue.
void stream_args(benchmark::internal::Benchmark* b) {
  b->Args({100, 1000})->Args({64 << 10, 256});
  b->ArgNames({"bytes", "window"})->UseRealTime()->Unit(benchmark::kMillisecond)->MinTime(1.0);
}

void skiff_echo_args(benchmark::internal::Benchmark* b) {
  b->Arg(100)->Arg(64 << 10);
  b->ArgNames({"bytes"})->UseRealTime()->Unit(benchmark::kMicrosecond)->MinTime(1.0);
}

void asio_echo_args(benchmark::internal::Benchmark* b) {
  for (std::int64_t client_thread : {0, 1}) {
    b->Args({100, client_thread})->Args({64 << 10, client_thread});
  }
  b->ArgNames({"bytes", "client_thread"})
      ->UseRealTime()
      ->Unit(benchmark::kMicrosecond)
      ->MinTime(1.0);
}

BENCHMARK(BM_AsioStream)->Apply(stream_args);
BENCHMARK(BM_SkiffStream)->Apply(stream_args);
BENCHMARK(BM_AsioEcho)->Apply(asio_echo_args);
BENCHMARK(BM_SkiffEcho)->Apply(skiff_echo_args);
BENCHMARK(BM_SkiffCodec)->Arg(100)->Arg(64 << 10)->ArgNames({"bytes"})->MinTime(0.5);

}  // namespace

BENCHMARK_MAIN();
