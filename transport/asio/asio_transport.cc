// AsioTransport (include/skiff/transport/asio_transport.h): sockets, queues and timers around
// the sessions of session.h, which hold the protocol.
//
// Threading: every socket, timer and session lives on the one I/O thread. send(), add_peer()
// and remove_peer() touch only what `mu` guards (peers, their queues and flags) and post work
// to the I/O thread. Each connection is a shared object captured by its pending handlers, so
// closing it only needs close(): the handlers then run with an error and let it go.
#include "skiff/transport/asio_transport.h"

// gcc 12 reports a "potential null pointer dereference" inside asio's scheduler when it is
// inlined here; silenced for asio's code only, our own keeps the check.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnull-dereference"
#include <asio.hpp>
#include <asio/ssl.hpp>
#pragma GCC diagnostic pop
#include <atomic>
#include <condition_variable>
#include <deque>
#include <future>
#include <list>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <thread>
#include <variant>

#include "cert_identity.h"
#include "log_limiter.h"
#include "options.h"
#include "session.h"
#include "stream.h"
#include "text.h"

namespace skiff {
namespace {

using asio::ip::tcp;
using transport_detail::cat;
using transport_detail::certificate_node_ids;
using transport_detail::CertificateIds;
using transport_detail::check_options;
using transport_detail::CloseReason;
using transport_detail::configure_tls;
using transport_detail::InboundSession;
using transport_detail::LogLimiter;
using transport_detail::OutboundSession;
using transport_detail::parse_endpoint;
using transport_detail::SnapshotStreamer;
using transport_detail::Stream;
using transport_detail::to_text;
using transport_detail::Verdict;
using Clock = std::chrono::steady_clock;

constexpr std::size_t kReadBuffer = 64 << 10;
// What a queued snapshot counts against the queue's byte limit: its data is shared with the
// caller (Bytes), and the streamer copies one chunk at a time.
constexpr std::size_t kSnapshotQueueCost = 1024;

struct Counters {
  std::atomic<std::uint64_t> messages_sent{0}, messages_received{0}, bytes_sent{0},
      bytes_received{0}, messages_dropped{0}, connects{0}, connect_failures{0}, accepted{0},
      refused_over_limit{0}, handshakes_refused{0}, handshake_timeouts{0}, tls_failures{0},
      bad_input{0}, idle_closed{0}, write_timeouts{0}, snapshots_sent{0}, snapshots_failed{0},
      snapshots_received{0}, incarnations_refused{0}, evicted_unadmitted{0}, auth_failures{0};
};

// The kinds of warning about inbound connections that are rate limited (log_limiter.h).
enum class Warn : std::uint8_t {
  kOverLimit,
  kEvicted,
  kTimeout,
  kRefused,
  kBadInput,
  kTls,
  kCount,
};

}  // namespace

struct AsioTransport::Impl {
  // --- connections ---------------------------------------------------------------------------

  // One outbound connection attempt and, once accepted, the established connection.
  struct OutConn {
    OutConn(Stream s, std::uint64_t cluster, NodeId self, NodeId peer, std::uint64_t inc,
            InboundSession::Admit admit, const std::string& secret, asio::io_context& io)
        : stream(std::move(s)),
          session(cluster, self, peer, inc, std::move(admit), secret),
          timer(io) {}
    Stream stream;
    OutboundSession session;
    asio::steady_timer timer;  // connect + handshake deadline, then the write watchdog
    std::array<char, kReadBuffer> buffer{};
    bool closed = false;
    bool watchdog = false;  // the timer is armed to check the write in flight
    Clock::time_point write_started;
  };

  // A queued item: an encoded frame, or a snapshot to stream.
  struct Item {
    std::string frame;
    std::optional<Message> snapshot;
    std::size_t cost() const { return snapshot ? kSnapshotQueueCost : frame.size(); }
  };

  struct Peer {
    explicit Peer(NodeId i) : id(i) {}
    const NodeId id;
    // Guarded by Impl::mu.
    tcp::endpoint endpoint;
    std::deque<Item> queue;
    std::size_t queued_bytes = 0;
    bool down = false;          // backing off: sends are dropped
    bool kick_pending = false;  // a pump() is posted
    bool removed = false;
    // I/O thread only.
    std::shared_ptr<OutConn> conn;
    bool ready = false;    // conn completed the handshake
    bool writing = false;  // a write is in flight on conn
    std::optional<SnapshotStreamer> streaming;
    bool awaiting_status = false;  // every frame of `streaming` was written
    int failures = 0;              // consecutive, for the backoff
    std::unique_ptr<asio::steady_timer> backoff;
  };

  struct InConn {
    InConn(Stream s, InboundSession::Limits limits, InboundSession::Admit admit,
           asio::io_context& io)
        : stream(std::move(s)), session(limits, std::move(admit)), timer(io) {}
    Stream stream;
    InboundSession session;
    asio::steady_timer timer;  // handshake deadline, then idle checks
    std::array<char, kReadBuffer> buffer{};
    std::deque<std::string> writes;
    bool writing = false;
    bool close_after_writes = false;
    bool established = false;
    bool closed = false;
    Clock::time_point last_read = Clock::now();
    std::string remote;
  };

  enum class Phase { kCreated, kRunning, kStopped };

  explicit Impl(AsioTransportOptions o)
      : opt(std::move(o)),
        acceptor(io),
        limiters(static_cast<std::size_t>(Warn::kCount), LogLimiter(opt.warning_interval)) {}

  AsioTransportOptions opt;
  asio::io_context io;
  tcp::acceptor acceptor;
  std::optional<asio::ssl::context> tls;
  std::string bound;
  std::thread thread;
  std::future<void> thread_done;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work;
  TransportHandler* handler = nullptr;
  std::atomic<bool> calls_allowed{false};
  std::atomic<bool> stopping{false};
  Counters counters;
  std::atomic<std::uint64_t> incarnation{0};

  mutable std::mutex mu;
  Phase phase = Phase::kCreated;
  std::map<NodeId, std::shared_ptr<Peer>> peers;
  std::set<NodeId> unreachable_pending;  // reports posted, not yet made
  std::map<NodeId, std::uint64_t> pins;  // the incarnation first seen from each peer
  std::uint64_t queued_total = 0;
  std::uint64_t queued_peak = 0;

  // I/O thread only.
  std::list<std::shared_ptr<InConn>> inbound;  // in the order accepted: oldest first
  std::mt19937_64 rng{std::random_device{}()};
  std::vector<LogLimiter> limiters;  // by Warn

  // --- logging -------------------------------------------------------------------------------

  template <typename... Args>
  void log(LogLevel level, const Args&... args) {
    if (opt.logger && opt.logger->enabled(level)) {
      opt.logger->log(level, cat("transport node ", opt.self.value, ": ", args...));
    }
  }

  // A warning about an inbound connection, rate limited by kind: strangers can open
  // connections faster than anyone can read their log lines. I/O thread only.
  template <typename... Args>
  void warn(Warn kind, const Args&... args) {
    std::optional<std::uint64_t> suppressed =
        limiters[static_cast<std::size_t>(kind)].admit(Clock::now());
    if (!suppressed) {
      return;
    }
    if (*suppressed == 0) {
      log(LogLevel::kWarning, args...);
    } else {
      log(LogLevel::kWarning, args..., " [", *suppressed, " more like it suppressed]");
    }
  }

  // --- reports to the handler (I/O thread) ---------------------------------------------------

  void call_unreachable(NodeId peer) {
    {
      std::lock_guard lock(mu);
      unreachable_pending.erase(peer);
    }
    if (calls_allowed) {
      handler->on_unreachable(peer);
    }
  }
  // `snapshot` is the index of the snapshot the Snapshot message carried, so the core can
  // ignore a late report on an older one (RawNode::report_snapshot).
  void call_snapshot(NodeId peer, Index snapshot, bool ok) {
    if (!ok) {
      ++counters.snapshots_failed;
    }
    if (calls_allowed) {
      handler->on_snapshot_status(peer, snapshot, ok);
    }
  }

  // Posts an unreachable report unless one for `peer` is pending; with mu held.
  void report_unreachable_locked(NodeId peer) {
    if (phase != Phase::kRunning || !unreachable_pending.insert(peer).second) {
      return;
    }
    asio::post(io, [this, peer] { call_unreachable(peer); });
  }
  void report_snapshot_failed_locked(NodeId peer, Index snapshot) {
    if (phase == Phase::kRunning) {
      asio::post(io, [this, peer, snapshot] { call_snapshot(peer, snapshot, false); });
    }
  }

  // Drops everything queued for `p`, reporting it; with mu held.
  void drop_queue_locked(Peer& p) {
    if (p.queue.empty()) {
      return;
    }
    for (const Item& item : p.queue) {
      ++counters.messages_dropped;
      if (item.snapshot) {
        report_snapshot_failed_locked(p.id, item.snapshot->snapshot.meta.last.index);
      }
    }
    queued_total -= p.queued_bytes;
    p.queued_bytes = 0;
    p.queue.clear();
    report_unreachable_locked(p.id);
  }

  // Whether `id`, announcing storage incarnation `inc`, may talk to us. The incarnations go
  // only into the verdict's detail (the local log): told to the peer, they would tell a forger
  // what to claim.
  Verdict admit(NodeId id, std::uint64_t inc) {
    std::lock_guard lock(mu);
    if (!peers.contains(id)) {
      return Verdict("not a known peer");
    }
    auto pin = pins.find(id);
    const std::uint64_t pinned = pin == pins.end() ? 0 : pin->second;
    if (pinned == 0) {
      if (inc != 0) {
        pins[id] = inc;
      }
      return Verdict();
    }
    if (inc == pinned) {
      return Verdict();
    }
    ++counters.incarnations_refused;
    if (inc == 0) {
      // A member that announced an incarnation never stops announcing one; a Hello without
      // one for a pinned peer is a forgery or a peer without its storage (issue 15).
      return Verdict(
          "it announces no storage incarnation, but this node knows one for it: a member "
          "that lost its data may rejoin only as a new member",
          cat("incarnation 0, expected ", std::hex, pinned, std::dec));
    }
    return Verdict(
        "it came back with another data directory: having lost its votes and acknowledged "
        "entries it may rejoin only as a new member: remove it from the cluster and add it back",
        cat("incarnation ", std::hex, inc, ", was ", pinned, std::dec));
  }

  // --- send ----------------------------------------------------------------------------------

  void send(Message m) {
    Item item;
    if (m.type == MessageType::kSnapshot) {
      item.snapshot = std::move(m);
    } else {
      item.frame = codec::encode_frame(m);
    }
    const Message& msg = item.snapshot ? *item.snapshot : m;
    const NodeId to = msg.to;
    std::lock_guard lock(mu);
    if (phase != Phase::kRunning) {
      return;
    }
    auto it = peers.find(to);
    const bool oversized = item.frame.size() > opt.max_frame_bytes + codec::kFrameHeaderSize;
    if (it == peers.end() || it->second->down || oversized ||
        it->second->queue.size() >= opt.queue_messages ||
        it->second->queued_bytes + item.cost() > opt.queue_bytes) {
      if (oversized) {
        log(LogLevel::kWarning, "dropping a ", item.frame.size(), "-byte message to node ",
            to.value, ": over max_frame_bytes ", opt.max_frame_bytes);
      }
      ++counters.messages_dropped;
      if (item.snapshot) {
        report_snapshot_failed_locked(to, item.snapshot->snapshot.meta.last.index);
      }
      report_unreachable_locked(to);
      return;
    }
    Peer& p = *it->second;
    p.queued_bytes += item.cost();
    queued_total += item.cost();
    queued_peak = std::max(queued_peak, queued_total);
    p.queue.push_back(std::move(item));
    if (!p.kick_pending) {
      p.kick_pending = true;
      asio::post(io, [this, peer = it->second] { pump(peer); });
    }
  }

  // --- outbound (I/O thread) -----------------------------------------------------------------

  // Starts what can start: a connection when something is queued, or the next write
  // (queued frames, gathered, and the next frame of a streaming snapshot).
  void pump(const std::shared_ptr<Peer>& peer) {
    Peer& p = *peer;
    std::vector<std::string> frames;
    std::size_t bytes = 0;
    bool must_connect = false;
    tcp::endpoint endpoint;
    {
      std::lock_guard lock(mu);
      p.kick_pending = false;
      if (stopping || p.removed) {
        return;
      }
      if (!p.conn) {
        must_connect = !p.queue.empty() && !p.down;
        endpoint = p.endpoint;
      } else if (p.ready && !p.writing) {
        while (!p.queue.empty() && bytes < opt.max_write_bytes) {
          Item& item = p.queue.front();
          p.queued_bytes -= item.cost();
          queued_total -= item.cost();
          if (item.snapshot) {
            if (p.streaming) {  // a newer snapshot replaces one still in flight
              report_snapshot_failed_locked(p.id, p.streaming->id().index);
            }
            p.streaming.emplace(*item.snapshot, opt.snapshot_chunk_bytes);
            p.awaiting_status = false;
            p.queue.pop_front();
            break;  // its metadata goes next, in order
          }
          bytes += item.frame.size();
          frames.push_back(std::move(item.frame));
          p.queue.pop_front();
        }
      } else {
        return;
      }
    }
    if (must_connect) {
      connect(peer, endpoint);
      return;
    }
    const std::uint64_t messages = frames.size();
    // One streamer frame per write, so queued messages keep flowing during a snapshot; the
    // metadata frame is small, so the first chunk goes with it.
    for (int k = 0; k < 2 && p.streaming && !p.awaiting_status; ++k) {
      std::optional<std::string> f = p.streaming->next();
      if (!f) {
        p.awaiting_status = true;  // every frame written: the receiver's answer is next
        break;
      }
      const bool small = f->size() < 4096;
      frames.push_back(std::move(*f));
      if (!small) {
        break;
      }
    }
    if (frames.empty()) {
      return;
    }
    write(peer, std::move(frames), messages);
  }

  void write(const std::shared_ptr<Peer>& peer, std::vector<std::string> frames,
             std::uint64_t messages) {
    Peer& p = *peer;
    auto batch = std::make_shared<std::vector<std::string>>(std::move(frames));
    std::vector<asio::const_buffer> buffers;
    buffers.reserve(batch->size());
    for (const std::string& f : *batch) {
      buffers.push_back(asio::buffer(f));
    }
    std::shared_ptr<OutConn> conn = p.conn;
    p.writing = true;
    conn->write_started = Clock::now();
    if (!conn->watchdog) {
      watch_write(peer, conn, opt.write_timeout);
    }
    conn->stream.write(
        buffers, [this, peer, conn, batch, messages](const asio::error_code& ec, std::size_t n) {
          if (conn->closed) {
            return;
          }
          if (ec) {
            fail(peer, conn, cat("write: ", ec.message()));
            return;
          }
          counters.bytes_sent += n;
          counters.messages_sent += messages;
          peer->writing = false;
          pump(peer);
        });
  }

  // Closes `conn` if a write stays in flight for write_timeout. One timer per connection,
  // re-armed about once per write_timeout while writes flow, not once per write.
  void watch_write(const std::shared_ptr<Peer>& peer, const std::shared_ptr<OutConn>& conn,
                   Clock::duration after) {
    conn->watchdog = true;
    conn->timer.expires_after(after);
    conn->timer.async_wait([this, peer, conn](const asio::error_code& ec) {
      if (ec || conn->closed) {
        return;
      }
      if (!peer->writing || peer->conn != conn) {
        conn->watchdog = false;
        return;
      }
      const Clock::duration elapsed = Clock::now() - conn->write_started;
      if (elapsed < opt.write_timeout) {
        watch_write(peer, conn, opt.write_timeout - elapsed);
        return;
      }
      ++counters.write_timeouts;
      fail(peer, conn, cat("a write did not finish in ", opt.write_timeout.count(), " ms"));
    });
  }

  void connect(const std::shared_ptr<Peer>& peer, const tcp::endpoint& endpoint) {
    Peer& p = *peer;
    tcp::socket socket(io);
    auto conn = std::make_shared<OutConn>(
        tls ? Stream(std::move(socket), *tls) : Stream(std::move(socket)), opt.cluster_id, opt.self,
        p.id, incarnation.load(), [this](NodeId id, std::uint64_t inc) { return admit(id, inc); },
        opt.cluster_secret, io);
    p.conn = conn;
    p.ready = false;
    p.writing = false;
    conn->timer.expires_after(opt.connect_timeout + opt.handshake_timeout);
    conn->timer.async_wait([this, peer, conn](const asio::error_code& ec) {
      if (!ec && !conn->closed) {
        fail(peer, conn, "connection and handshake timed out");
      }
    });
    conn->stream.socket().async_connect(endpoint, [this, peer, conn](const asio::error_code& ec) {
      if (conn->closed) {
        return;
      }
      if (ec) {
        fail(peer, conn, cat("connect: ", ec.message()));
        return;
      }
      asio::error_code ignored;
      conn->stream.socket().set_option(tcp::no_delay(true), ignored);
      if (!conn->stream.tls()) {
        send_hello(peer, conn);
        return;
      }
      conn->stream.handshake(
          asio::ssl::stream_base::client, [this, peer, conn](const asio::error_code& tls_ec) {
            if (conn->closed) {
              return;
            }
            if (tls_ec) {
              ++counters.tls_failures;
              fail(peer, conn, cat("TLS handshake: ", tls_ec.message()));
              return;
            }
            conn->session.set_certificate_ids(
                CertificateIds{certificate_node_ids(conn->stream.ssl()), opt.tls->require_node_id});
            send_hello(peer, conn);
          });
    });
  }

  void send_hello(const std::shared_ptr<Peer>& peer, const std::shared_ptr<OutConn>& conn) {
    auto hello = std::make_shared<std::string>(conn->session.hello());
    conn->stream.write(asio::buffer(*hello),
                       [this, peer, conn, hello](const asio::error_code& ec, std::size_t n) {
                         if (conn->closed) {
                           return;
                         }
                         if (ec) {
                           fail(peer, conn, cat("write Hello: ", ec.message()));
                           return;
                         }
                         counters.bytes_sent += n;
                         read_outbound(peer, conn);
                       });
  }

  void write_handshake(const std::shared_ptr<Peer>& peer, const std::shared_ptr<OutConn>& conn,
                       std::string frame) {
    auto bytes = std::make_shared<std::string>(std::move(frame));
    conn->stream.write(asio::buffer(*bytes),
                       [this, peer, conn, bytes](const asio::error_code& ec, std::size_t n) {
                         if (conn->closed) {
                           return;
                         }
                         if (ec) {
                           fail(peer, conn, cat("write AuthProof: ", ec.message()));
                           return;
                         }
                         counters.bytes_sent += n;
                       });
  }

  void read_outbound(const std::shared_ptr<Peer>& peer, const std::shared_ptr<OutConn>& conn) {
    conn->stream.read_some(
        asio::buffer(conn->buffer), [this, peer, conn](const asio::error_code& ec, std::size_t n) {
          if (conn->closed) {
            return;
          }
          if (ec) {
            fail(peer, conn, ec == asio::error::eof ? "closed by the peer" : ec.message());
            return;
          }
          counters.bytes_received += n;
          OutboundSession::Output out;
          conn->session.feed(std::string_view(conn->buffer.data(), n), out);
          Peer& p = *peer;
          if (out.auth_failed) {
            ++counters.auth_failures;
          }
          // The handshake's own frames (AuthProof): nothing else is written before it is done.
          for (std::string& w : out.writes) {
            write_handshake(peer, conn, std::move(w));
          }
          if (out.handshake_done) {
            conn->timer.cancel();
            p.ready = true;
            p.failures = 0;
            ++counters.connects;
            log(LogLevel::kDebug, "connected to node ", p.id.value);
          }
          for (const codec::SnapshotStatus& s : out.snapshots) {
            if (p.streaming && p.streaming->id() == s.snapshot) {
              p.streaming.reset();
              p.awaiting_status = false;
              if (s.ok) {
                ++counters.snapshots_sent;
              } else {
                log(LogLevel::kWarning, "node ", p.id.value, " refused snapshot ",
                    describe(s.snapshot), ": ", s.reason);
              }
              call_snapshot(p.id, s.snapshot.index, s.ok);
            }
          }
          if (out.close != CloseReason::kNone) {
            log(LogLevel::kWarning, "connection to node ", p.id.value, " closed: ", out.reason);
            fail(peer, conn, out.reason, /*logged=*/true);
            return;
          }
          if (out.handshake_done) {
            pump(peer);
          }
          read_outbound(peer, conn);
        });
  }

  // Closes `conn` (if it is still p's), fails what is queued or in flight, and backs off.
  void fail(const std::shared_ptr<Peer>& peer, const std::shared_ptr<OutConn>& conn,
            const std::string& why, bool logged = false) {
    Peer& p = *peer;
    if (conn->closed) {
      return;
    }
    conn->closed = true;
    conn->stream.close();
    conn->timer.cancel();
    if (p.conn != conn) {
      return;
    }
    const bool was_ready = p.ready;
    p.conn.reset();
    p.ready = false;
    p.writing = false;
    if (!was_ready) {
      ++counters.connect_failures;
    }
    if (!logged) {
      log(p.failures == 0 ? LogLevel::kInfo : LogLevel::kDebug, "connection to node ", p.id.value,
          was_ready ? " lost: " : " failed: ", why);
    }
    if (p.streaming) {
      const Index index = p.streaming->id().index;
      p.streaming.reset();
      p.awaiting_status = false;
      call_snapshot(p.id, index, false);
    }
    if (stopping) {
      return;
    }
    // Back off: delay = initial * 2^failures, capped, with jitter in [delay/2, delay].
    const int shift = std::min(p.failures, 20);
    ++p.failures;
    const auto cap = std::chrono::duration_cast<std::chrono::milliseconds>(opt.backoff_max);
    auto delay = std::min(cap, opt.backoff_initial * (std::int64_t{1} << shift));
    const std::int64_t half = delay.count() / 2;
    delay = std::chrono::milliseconds(
        half + std::uniform_int_distribution<std::int64_t>(0, delay.count() - half)(rng));
    {
      // What was written but not yet read by the peer may be lost with the connection: the
      // core hears of it even when nothing is queued, so it probes instead of waiting.
      std::lock_guard lock(mu);
      p.down = true;
      drop_queue_locked(p);
      report_unreachable_locked(p.id);
    }
    if (!p.backoff) {
      p.backoff = std::make_unique<asio::steady_timer>(io);
    }
    p.backoff->expires_after(delay);
    p.backoff->async_wait([this, peer](const asio::error_code& ec) {
      if (ec || stopping) {
        return;
      }
      std::lock_guard lock(mu);
      peer->down = false;
    });
  }

  void close_peer(const std::shared_ptr<Peer>& peer, const std::string& why) {
    if (peer->conn) {
      fail(peer, peer->conn, why);
    }
    if (peer->backoff) {
      peer->backoff->cancel();
    }
    std::lock_guard lock(mu);
    peer->down = false;
  }

  // Opens a connection to `peer` with nothing to send, so both sides learn each other's
  // incarnation while both are healthy: a peer that later comes back with lost data is then
  // refused by every member it used to know, not only by those it happened to talk to.
  void greet(const std::shared_ptr<Peer>& peer) {
    tcp::endpoint endpoint;
    {
      std::lock_guard lock(mu);
      if (stopping || peer->removed || peer->conn || peer->down) {
        return;
      }
      endpoint = peer->endpoint;
    }
    connect(peer, endpoint);
  }
  void greet_all() {
    std::vector<std::shared_ptr<Peer>> all;
    {
      std::lock_guard lock(mu);
      for (auto& [id, p] : peers) {
        all.push_back(p);
      }
    }
    for (const auto& p : all) {
      greet(p);
    }
  }

  // --- inbound (I/O thread) ------------------------------------------------------------------

  void accept() {
    acceptor.async_accept([this](const asio::error_code& ec, tcp::socket socket) {
      if (stopping) {
        return;
      }
      if (ec) {
        // Out of descriptors or similar: pause rather than spin.
        log(LogLevel::kWarning, "accept: ", ec.message());
        auto pause = std::make_shared<asio::steady_timer>(io, std::chrono::milliseconds(100));
        pause->async_wait([this, pause](const asio::error_code&) {
          if (!stopping) {
            accept();
          }
        });
        return;
      }
      asio::error_code ignored;
      const tcp::endpoint remote = socket.remote_endpoint(ignored);
      if (inbound.size() >= opt.max_connections) {
        evict_unadmitted();
      }
      if (inbound.size() >= opt.max_connections) {
        ++counters.refused_over_limit;
        warn(Warn::kOverLimit, "refusing a connection from ", to_text(remote), ": ",
             opt.max_connections, " admitted connections are open (max_connections)");
        socket.close(ignored);
      } else {
        ++counters.accepted;
        socket.set_option(tcp::no_delay(true), ignored);
        start_inbound(tls ? Stream(std::move(socket), *tls) : Stream(std::move(socket)),
                      to_text(remote));
      }
      accept();
    });
  }

  // At max_connections: closes the oldest connection still without a handshake, so idle or
  // slow strangers cannot keep a known peer out (issue 15); admitted ones stay.
  void evict_unadmitted() {
    for (const auto& c : inbound) {
      if (!c->established) {
        ++counters.evicted_unadmitted;
        warn(Warn::kEvicted, "closing the connection from ", c->remote,
             ": it has not finished its handshake and max_connections (", opt.max_connections,
             ") are open");
        const std::shared_ptr<InConn> victim = c;  // `c` goes with its list node
        close_inbound(victim);                     // which this removes: leave the loop
        return;
      }
    }
  }

  void start_inbound(Stream stream, std::string remote) {
    InboundSession::Limits limits{opt.cluster_id,         opt.self,           opt.max_frame_bytes,
                                  opt.max_snapshot_bytes, incarnation.load(), opt.cluster_secret};
    auto conn = std::make_shared<InConn>(
        std::move(stream), limits, [this](NodeId id, std::uint64_t inc) { return admit(id, inc); },
        io);
    conn->remote = std::move(remote);
    inbound.push_back(conn);
    conn->timer.expires_after(opt.handshake_timeout);
    conn->timer.async_wait(
        [this, conn](const asio::error_code& ec) { on_inbound_timer(conn, ec); });
    if (!conn->stream.tls()) {
      read_inbound(conn);
      return;
    }
    conn->stream.handshake(
        asio::ssl::stream_base::server, [this, conn](const asio::error_code& ec) {
          if (conn->closed) {
            return;
          }
          if (ec) {
            ++counters.tls_failures;
            warn(Warn::kTls, "TLS handshake with ", conn->remote, " failed: ", ec.message());
            close_inbound(conn);
            return;
          }
          conn->session.set_certificate_ids(
              CertificateIds{certificate_node_ids(conn->stream.ssl()), opt.tls->require_node_id});
          read_inbound(conn);
        });
  }

  void on_inbound_timer(const std::shared_ptr<InConn>& conn, const asio::error_code& ec) {
    if (ec || conn->closed) {
      return;
    }
    if (!conn->established) {
      ++counters.handshake_timeouts;
      warn(Warn::kTimeout, "closing the connection from ", conn->remote,
           ": no completed handshake within ", opt.handshake_timeout.count(), " ms");
      close_inbound(conn);
      return;
    }
    const auto idle = Clock::now() - conn->last_read;
    if (idle >= opt.idle_timeout) {
      ++counters.idle_closed;
      log(LogLevel::kInfo, "closing the idle connection from node ", conn->session.peer().value);
      close_inbound(conn);
      return;
    }
    conn->timer.expires_after(opt.idle_timeout - idle);
    conn->timer.async_wait([this, conn](const asio::error_code& e) { on_inbound_timer(conn, e); });
  }

  void read_inbound(const std::shared_ptr<InConn>& conn) {
    conn->stream.read_some(
        asio::buffer(conn->buffer), [this, conn](const asio::error_code& ec, std::size_t n) {
          if (conn->closed) {
            return;
          }
          if (ec) {
            if (conn->session.awaiting_proof()) {
              // The opener checks our proof first and hangs up when it is wrong.
              ++counters.auth_failures;
              warn(Warn::kRefused, "the connection from ", conn->remote, " claiming node ",
                   conn->session.hello()->node_id.value,
                   " closed during the shared-secret handshake: the peer secrets differ, or it "
                   "does not know the secret");
            }
            close_inbound(conn);
            return;
          }
          counters.bytes_received += n;
          conn->last_read = Clock::now();
          InboundSession::Output out;
          conn->session.feed(std::string_view(conn->buffer.data(), n), out);
          if (out.auth_failed) {
            ++counters.auth_failures;
          }
          if (out.handshake_done) {
            conn->established = true;
            conn->timer.cancel();
            conn->timer.expires_after(opt.idle_timeout);
            conn->timer.async_wait(
                [this, conn](const asio::error_code& e) { on_inbound_timer(conn, e); });
            replace_older_inbound(conn);
          }
          for (Message& m : out.messages) {
            ++counters.messages_received;
            if (m.type == MessageType::kSnapshot) {
              ++counters.snapshots_received;
            }
            if (calls_allowed) {
              handler->on_message(std::move(m));
            }
          }
          for (std::string& w : out.writes) {
            conn->writes.push_back(std::move(w));
          }
          if (out.close == CloseReason::kBadInput) {
            ++counters.bad_input;
            const NodeId peer = conn->session.peer();
            warn(Warn::kBadInput, "closing the connection from ", conn->remote,
                 peer == kNoNode ? std::string() : cat(" (node ", peer.value, ")"),
                 ": bad input: ", out.reason);
            close_inbound(conn);
            return;
          }
          if (out.close == CloseReason::kRefused) {
            ++counters.handshakes_refused;
            warn(Warn::kRefused, "refused the connection from ", conn->remote, ": ", out.reason);
            conn->close_after_writes = true;
          }
          flush_inbound(conn);
          if (!conn->close_after_writes) {
            read_inbound(conn);
          }
        });
  }

  // A node that reconnects (it restarted, or lost its side) leaves its old connection behind.
  // Only a connection that proved its id (certificate or secret) replaces older ones: an
  // unauthenticated one may be an impersonator, and closing the member's connection for it
  // would cut the member off (issue 15). It is kept alongside instead; the old one goes when
  // its socket fails or it idles out.
  void replace_older_inbound(const std::shared_ptr<InConn>& conn) {
    if (!conn->session.authenticated()) {
      return;
    }
    const NodeId peer = conn->session.peer();
    std::vector<std::shared_ptr<InConn>> older;
    for (const auto& c : inbound) {
      if (c != conn && c->established && c->session.peer() == peer) {
        older.push_back(c);
      }
    }
    for (const auto& c : older) {
      close_inbound(c);
    }
  }

  void flush_inbound(const std::shared_ptr<InConn>& conn) {
    if (conn->writing || conn->closed) {
      return;
    }
    if (conn->writes.empty()) {
      if (conn->close_after_writes) {
        close_inbound(conn);
      }
      return;
    }
    auto frame = std::make_shared<std::string>(std::move(conn->writes.front()));
    conn->writes.pop_front();
    conn->writing = true;
    conn->stream.write(asio::buffer(*frame),
                       [this, conn, frame](const asio::error_code& ec, std::size_t n) {
                         conn->writing = false;
                         if (conn->closed) {
                           return;
                         }
                         if (ec) {
                           close_inbound(conn);
                           return;
                         }
                         counters.bytes_sent += n;
                         flush_inbound(conn);
                       });
  }

  void close_inbound(const std::shared_ptr<InConn>& conn) {
    if (conn->closed) {
      return;
    }
    conn->closed = true;
    conn->stream.close();
    conn->timer.cancel();
    inbound.remove(conn);
  }

  // --- stop (I/O thread) ---------------------------------------------------------------------

  void close_everything() {
    asio::error_code ignored;
    acceptor.close(ignored);
    while (!inbound.empty()) {
      close_inbound(inbound.front());
    }
    std::vector<std::shared_ptr<Peer>> all;
    {
      std::lock_guard lock(mu);
      for (auto& [id, p] : peers) {
        all.push_back(p);
      }
    }
    for (const auto& p : all) {
      close_peer(p, "stopping");
    }
    work.reset();
  }
};

// --- AsioTransport ------------------------------------------------------------------------------

AsioTransport::AsioTransport(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

AsioTransport::~AsioTransport() {
  stop();
}

Result<std::unique_ptr<AsioTransport>> AsioTransport::create(AsioTransportOptions options) {
  if (Status s = check_options(options); !s.ok()) {
    return s;
  }
  auto endpoint = parse_endpoint(options.listen_address);
  if (!endpoint.ok()) {
    return Status(ErrorCode::kInvalidArgument,
                  "asio transport: listen_address: " + endpoint.status().message());
  }

  auto impl = std::make_unique<Impl>(std::move(options));
  if (impl->opt.tls) {
    impl->tls.emplace(asio::ssl::context::tls);
    if (Status s = configure_tls(*impl->tls, *impl->opt.tls); !s.ok()) {
      return s;
    }
  }

  asio::error_code ec;
  tcp::acceptor& a = impl->acceptor;
  a.open(endpoint->protocol(), ec);
  if (!ec) {
    a.set_option(tcp::acceptor::reuse_address(true), ec);
  }
  if (!ec) {
    a.bind(*endpoint, ec);
  }
  if (!ec) {
    a.listen(asio::socket_base::max_listen_connections, ec);
  }
  if (ec) {
    return Status(ErrorCode::kUnavailable, cat("asio transport: cannot listen on ",
                                               impl->opt.listen_address, ": ", ec.message()));
  }
  impl->bound = to_text(a.local_endpoint(ec));
  return std::unique_ptr<AsioTransport>(new AsioTransport(std::move(impl)));
}

Status AsioTransport::start(TransportHandler& handler) {
  Impl& d = *impl_;
  {
    std::lock_guard lock(d.mu);
    if (d.phase != Impl::Phase::kCreated) {
      return Status(ErrorCode::kFailedPrecondition,
                    cat("asio transport on ", d.bound, " was already started"));
    }
    d.phase = Impl::Phase::kRunning;
    d.handler = &handler;
  }
  d.calls_allowed = true;
  d.work.emplace(asio::make_work_guard(d.io));
  asio::post(d.io, [&d] {
    d.accept();
    d.greet_all();
  });
  std::promise<void> done;
  d.thread_done = done.get_future();
  d.thread = std::thread([&d, done = std::move(done)]() mutable {
    d.io.run();
    done.set_value();
  });
  return Status();
}

void AsioTransport::stop() {
  Impl& d = *impl_;
  {
    std::lock_guard lock(d.mu);
    if (d.phase != Impl::Phase::kRunning) {
      d.phase = Impl::Phase::kStopped;
      asio::error_code ignored;
      d.acceptor.close(ignored);
      return;
    }
    d.phase = Impl::Phase::kStopped;
    for (auto& [id, p] : d.peers) {
      d.queued_total -= p->queued_bytes;
      p->queued_bytes = 0;
      p->queue.clear();
    }
  }
  d.calls_allowed = false;
  d.stopping = true;
  asio::post(d.io, [&d] { d.close_everything(); });
  // Closing completes every pending operation, so run() returns; the bound is a backstop.
  if (d.thread_done.wait_for(std::chrono::seconds(10)) != std::future_status::ready) {
    d.log(LogLevel::kError, "the I/O thread did not finish within 10 s of stop(); forcing it");
    d.io.stop();
  }
  d.thread.join();
}

void AsioTransport::send(Message m) {
  impl_->send(std::move(m));
}

Status AsioTransport::add_peer(NodeId id, const std::string& address) {
  Impl& d = *impl_;
  if (id == kNoNode || id == d.opt.self) {
    return Status(ErrorCode::kInvalidArgument,
                  cat("asio transport: peer id ", id.value, " is not another node's id"));
  }
  auto endpoint = parse_endpoint(address);
  if (!endpoint.ok()) {
    return Status(ErrorCode::kInvalidArgument,
                  cat("asio transport: peer ", id.value, ": ", endpoint.status().message()));
  }
  std::lock_guard lock(d.mu);
  auto& slot = d.peers[id];
  const bool fresh = !slot;
  if (fresh) {
    slot = std::make_shared<Impl::Peer>(id);
  } else if (slot->endpoint != *endpoint && d.phase == Impl::Phase::kRunning) {
    asio::post(d.io, [&d, peer = slot] { d.close_peer(peer, "its address changed"); });
  }
  slot->endpoint = *endpoint;
  if (fresh && d.phase == Impl::Phase::kRunning) {
    asio::post(d.io, [&d, peer = slot] { d.greet(peer); });
  }
  return Status();
}

void AsioTransport::remove_peer(NodeId id) {
  Impl& d = *impl_;
  std::lock_guard lock(d.mu);
  auto it = d.peers.find(id);
  if (it == d.peers.end()) {
    return;
  }
  std::shared_ptr<Impl::Peer> peer = it->second;
  d.peers.erase(it);
  d.pins.erase(id);
  peer->removed = true;
  d.drop_queue_locked(*peer);
  if (d.phase == Impl::Phase::kRunning) {
    asio::post(d.io, [&d, peer] { d.close_peer(peer, "removed"); });
  }
}

void AsioTransport::set_incarnation(std::uint64_t incarnation) {
  impl_->incarnation = incarnation;
}

std::uint64_t AsioTransport::peer_incarnation(NodeId id) const {
  std::lock_guard lock(impl_->mu);
  auto it = impl_->pins.find(id);
  return it == impl_->pins.end() ? 0 : it->second;
}

AdapterIdentity AsioTransport::identity() const {
  return AdapterIdentity{impl_->opt.cluster_id, impl_->opt.self};
}

void AsioTransport::expect_incarnation(NodeId id, std::uint64_t incarnation) {
  Impl& d = *impl_;
  std::shared_ptr<Impl::Peer> peer;
  {
    std::lock_guard lock(d.mu);
    std::uint64_t& pinned = d.pins[id];
    const bool changed = pinned != 0 && pinned != incarnation;
    pinned = incarnation;
    if (!changed || d.phase != Impl::Phase::kRunning) {
      return;
    }
    if (auto it = d.peers.find(id); it != d.peers.end()) {
      peer = it->second;
    }
  }
  // Connections made with the other incarnation go; new ones meet the recorded one.
  asio::post(d.io, [&d, id, incarnation, peer] {
    if (peer) {
      d.close_peer(peer, "its recorded incarnation differs");
    }
    std::vector<std::shared_ptr<Impl::InConn>> stale;
    for (const auto& c : d.inbound) {
      if (c->session.peer() == id && c->session.hello() &&
          c->session.hello()->incarnation != incarnation) {
        stale.push_back(c);
      }
    }
    for (const auto& c : stale) {
      d.close_inbound(c);
    }
  });
}

std::string AsioTransport::listen_address() const {
  return impl_->bound;
}

AsioTransportStats AsioTransport::stats() const {
  const Counters& c = impl_->counters;
  AsioTransportStats s;
  s.messages_sent = c.messages_sent;
  s.messages_received = c.messages_received;
  s.bytes_sent = c.bytes_sent;
  s.bytes_received = c.bytes_received;
  s.messages_dropped = c.messages_dropped;
  s.connects = c.connects;
  s.connect_failures = c.connect_failures;
  s.accepted = c.accepted;
  s.refused_over_limit = c.refused_over_limit;
  s.handshakes_refused = c.handshakes_refused;
  s.handshake_timeouts = c.handshake_timeouts;
  s.tls_failures = c.tls_failures;
  s.bad_input = c.bad_input;
  s.idle_closed = c.idle_closed;
  s.write_timeouts = c.write_timeouts;
  s.snapshots_sent = c.snapshots_sent;
  s.snapshots_failed = c.snapshots_failed;
  s.snapshots_received = c.snapshots_received;
  s.incarnations_refused = c.incarnations_refused;
  s.evicted_unadmitted = c.evicted_unadmitted;
  s.auth_failures = c.auth_failures;
  std::lock_guard lock(impl_->mu);
  s.queued_bytes = impl_->queued_total;
  s.queued_bytes_peak = impl_->queued_peak;
  return s;
}

}  // namespace skiff
