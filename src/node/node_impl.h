// Node::Impl (internal to skiff::node): the runtime's state and its threads' work, shared by
// node.cc (the core thread and the public calls) and node_apply.cc (the apply thread: applying
// entries, restoring and taking snapshots, the member registry, reads).
//
// The core thread owns the RawNode and the Ready in flight. Requests (proposals, reads,
// membership changes) wait in a RequestTable (requests.h); the member registry
// (registry.h) is replicated through the log.
#pragma once

#include "skiff/node/node.h"

#include <fmt/format.h>

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnull-dereference"
#include <asio.hpp>
#pragma GCC diagnostic pop
#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "envelope.h"
#include "flight_recorder.h"
#include "metrics.h"
#include "node_logger.h"
#include "registry.h"
#include "requests.h"
#include "skiff/conf_change.h"
#include "skiff/raw_node.h"
#include "snapshot_io.h"
#include "work_queue.h"

namespace skiff {
namespace node_detail {

using Clock = std::chrono::steady_clock;

inline std::uint64_t micros(Clock::duration d) {
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::microseconds>(d).count());
}

// Node::create's checks that the adapters and the config speak of one node of one cluster,
// and that a fresh storage's membership fits the config (join, raft.id). kInvalidArgument.
Status check_identities(const NodeConfig& config, const Storage& storage,
                        const Transport& transport, const Snapshot& snap,
                        const InitialState& initial);

}  // namespace node_detail

// The node's own vocabulary, for Impl and its two source files (this header is internal).
using node_detail::Clock;
using node_detail::MemberRecord;
using node_detail::MemberRegistry;
using node_detail::micros;
using node_detail::NodeLogger;
using node_detail::RequestId;
using node_detail::StderrLogger;
using node_detail::StringWriter;
using node_detail::ViewReader;
using node_detail::WorkQueue;

struct Node::Impl final : public TransportHandler {
  Impl(NodeConfig c, Storage& s, Transport& t, StateMachine& m)
      : config(std::move(c)), storage(s), transport(t), sm(m), ticker(io), commit_wait(io) {}

  NodeConfig config;
  Storage& storage;
  Transport& transport;
  StateMachine& sm;
  NodeId self;
  // This process's identity in its requests' envelopes and read contexts (envelope.h): drawn
  // anew by every Node::create, so entries and read states of an earlier process of this
  // node (applied again after a restart) never complete a request of this one.
  const std::uint64_t process_id = node_detail::new_process_id();
  std::shared_ptr<Logger> logger;
  std::atomic<std::uint64_t> term{0};
  node_detail::Metrics metrics;

  // --- the core thread ---
  asio::io_context io;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work;
  asio::steady_timer ticker;
  std::thread core_thread;
  std::optional<RawNode> raw;
  std::unique_ptr<node_detail::FlightRecorder> recorder;  // null unless configured
  std::optional<Ready> in_flight;                         // being written by the storage thread
  std::optional<HardState> deferred_hard_state;  // a commit-only change, for the next write
  // The leader's wait for the commit of its last write before taking the next Ready (see
  // hold_for_commit): until when, and the write's last index.
  asio::steady_timer commit_wait;
  std::optional<Clock::time_point> hold_until;
  Index written_up_to;
  std::vector<std::function<void()>> after_current_write;  // storage work waiting for it
  Clock::time_point write_started;
  Clock::time_point next_tick;
  bool process_posted = false;
  bool stop_requested = false;
  std::promise<void>* idle = nullptr;  // stop() waits on it for the write in flight
  Status failed;                       // set once the node failed (core thread)
  Role last_role = Role::kFollower;
  NodeId last_leader;
  bool warned_slow_write = false;

  // --- state shared by all threads ---
  enum class Phase { kCreated, kRunning, kStopping, kStopped };
  std::mutex phase_mu;
  Phase phase = Phase::kCreated;
  std::atomic<bool> accepting{false};
  mutable std::mutex failure_mu;
  Status failure;  // failed, for other threads
  std::atomic<std::uint64_t> apply_queue_bytes{0};
  std::atomic<bool> apply_blocked{false};

  // The replicated member registry (registry.h): written by the apply thread, read by the
  // core thread when the leader records members.
  mutable std::mutex registry_mu;
  MemberRegistry registry;
  // Core thread: records proposed and not yet seen applied, and addresses learned.
  std::map<NodeId, Clock::time_point> record_proposed;
  std::map<NodeId, std::string> addresses;
  std::uint64_t ticks = 0;

  node_detail::RequestTable requests{config.max_pending_requests, config.request_timeout, metrics};

  // --- the storage and apply threads ---
  WorkQueue storage_q;
  WorkQueue apply_q;
  // Apply thread only.
  Index applied;
  ConfState conf_state;
  Index snapshot_index;
  std::uint64_t bytes_since_snapshot = 0;
  bool snapshot_running = false;
  std::multimap<Index, std::uint64_t> pending_reads;  // read index -> request number

  template <typename... Args>
  void log(LogLevel level, fmt::format_string<Args...> f, Args&&... args) {
    if (logger->enabled(level)) {
      logger->log(level, fmt::format(f, std::forward<Args>(args)...));
    }
  }

  // --- requests -------------------------------------------------------------------------------

  // A new request, or nullopt (and the callback told why) when none may start.
  std::optional<std::uint64_t> add_request(node_detail::RequestTable::Request r) {
    Status refuse;
    if (!accepting) {
      refuse = Status(ErrorCode::kStopped, "the node is not running");
    } else if (Status f = current_failure(); !f.ok()) {
      refuse = f;
    }
    return requests.add(std::move(r), refuse);
  }
  void complete(std::uint64_t id, Result<Bytes> outcome) {
    requests.complete(id, std::move(outcome));
  }
  void complete_all(const Status& status) { requests.complete_all(status); }

  Status current_failure() const {
    std::lock_guard lock(failure_mu);
    return failure;
  }

  // --- the core thread ------------------------------------------------------------------------

  void schedule_process() {
    if (!process_posted) {
      process_posted = true;
      asio::post(io, [this] { process(); });
    }
  }

  void on_tick();
  void send(std::vector<Message>& messages);

  // Keeps the transport's peers in step with the membership, in log order, as configuration
  // entries are appended (a configuration takes effect when appended, thesis §4.1): an added
  // member gets its address from the change; a removed one is dropped, which also makes the
  // transport forget its storage incarnation, so after a lost data directory it can come back
  // only through this removal and a new addition. Members from NodeConfig::peers stay
  // reachable (re-added at once), so they can be added back later.
  void follow_membership(const std::vector<Entry>& entries);

  void process();
  void on_written(const Status& s);
  void after_write(Ready rd);

  // A leader whose write just finished usually hears the followers' acknowledgements of the
  // same entries a moment later (they wrote them at the same time). Taking the next Ready at
  // once would start a write that the commit then waits behind (one Ready in flight), so the
  // batch would be applied a whole write later; waiting briefly for the commit lets the next
  // Ready carry both the commit and the proposals that arrived meanwhile. Bounded by half the
  // write's time (at most 1 ms): with followers slow or gone, the leader goes on.
  void hold_for_commit(const Ready& rd);

  void note_apply_queue(std::uint64_t bytes) {
    if (bytes > metrics.apply_queue_peak_bytes) {
      metrics.apply_queue_peak_bytes = bytes;  // core thread only writes it
    }
  }

  void hand_to_apply(Ready& rd);

  // Stops the node on its own after a failure it cannot get past (core thread).
  void fail(const Status& why);

  // Core thread, leader: proposes a record for each member the registry lacks, with the
  // incarnation its transport saw (its own storage's for itself), so that every member,
  // even one restarted later, can tell a member that lost its data (registry.h).
  void record_members();

  // Core thread, with no storage write in flight: records the stored snapshot and compacts
  // the log behind it (the core sees the change between two of its inputs, as the flight
  // recorder replays it).
  void compact_after_snapshot(Index at, const ConfState& cs, const Bytes& data);

  // --- TransportHandler (transport threads) ----------------------------------------------------

  void on_message(Message m) override;
  void on_unreachable(NodeId peer) override;
  void on_snapshot_status(NodeId peer, Index snapshot, bool ok) override;

  // --- the apply thread -----------------------------------------------------------------------

  void drained(std::uint64_t bytes) {
    apply_queue_bytes -= bytes;
    if (apply_blocked && apply_queue_bytes <= config.max_apply_queue_bytes / 2) {
      apply_blocked = false;
      asio::post(io, [this] { schedule_process(); });
    }
  }

  void fail_from_apply(const Status& why) {
    asio::post(io, [this, why] { fail(why); });
  }

  void restore(const Snapshot& snap);
  void apply_entries(const std::vector<Entry>& entries);

  // Any thread: a member's record applies (from the log, a snapshot or the startup scan).
  void record_member(NodeId id, const MemberRecord& r);

  void adopt_registry(MemberRegistry fresh);
  void serve_reads();
  void maybe_snapshot();

  // --- calls from any thread ------------------------------------------------------------------

  // Proposes a membership change; the future completes when it is applied here.
  std::future<Status> change_membership(ConfChange change);
  // Core thread, leader: refuses a change that adds a member again (kFailedPrecondition), or
  // promotes or demotes one with an address other than its known one.
  Status check_change(const ConfChange& change) const;
  // Proposes a member record moving member `id` to `address`; done when applied here.
  std::future<Status> change_address(NodeId id, std::string address);

  // Runs `fn` on the core thread and returns its result (directly when already there).
  template <typename Fn>
  auto on_core(Fn fn) -> decltype(fn()) {
    using R = decltype(fn());
    if (std::this_thread::get_id() == core_thread.get_id()) {
      return fn();
    }
    auto promise = std::make_shared<std::promise<R>>();
    std::future<R> f = promise->get_future();
    asio::post(io, [promise, fn] { promise->set_value(fn()); });
    if (f.wait_for(std::chrono::seconds(10)) != std::future_status::ready) {
      return Status(ErrorCode::kTimedOut, "the node's core thread did not answer within 10 s");
    }
    return f.get();
  }
};

}  // namespace skiff
