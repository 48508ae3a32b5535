// Node (include/skiff/node/node.h): the core on its own asio thread, a storage thread that
// writes Readies, snapshots and compactions, and an apply thread that applies committed
// entries, serves reads and completes requests.
//
// The core thread owns the RawNode and the Ready in flight. Requests (proposals, reads,
// membership changes) wait in a RequestTable (requests.h); the member registry
// (registry.h) is replicated through the log.
#include "skiff/node/node.h"

#include <fmt/format.h>

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnull-dereference"
#include <asio.hpp>
#pragma GCC diagnostic pop
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
namespace {

using Clock = std::chrono::steady_clock;
using node_detail::MemberRecord;
using node_detail::MemberRegistry;
using node_detail::NodeLogger;
using node_detail::StderrLogger;
using node_detail::StringWriter;
using node_detail::ViewReader;
using node_detail::WorkQueue;

std::uint64_t micros(Clock::duration d) {
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::microseconds>(d).count());
}

Bytes request_context(std::uint64_t request) {
  std::string s(8, '\0');
  for (int k = 0; k < 8; ++k) {
    s[static_cast<std::size_t>(k)] = static_cast<char>((request >> (8 * k)) & 0xff);
  }
  return Bytes(std::move(s));
}

std::optional<std::uint64_t> context_request(const Bytes& b) {
  if (b.size() != 8) {
    return std::nullopt;
  }
  std::uint64_t v = 0;
  for (int k = 0; k < 8; ++k) {
    v |= std::uint64_t{static_cast<unsigned char>(b.data()[k])} << (8 * k);
  }
  return v;
}

}  // namespace

struct Node::Impl final : public TransportHandler {
  Impl(NodeConfig c, Storage& s, Transport& t, StateMachine& m)
      : config(std::move(c)), storage(s), transport(t), sm(m), ticker(io), commit_wait(io) {}

  NodeConfig config;
  Storage& storage;
  Transport& transport;
  StateMachine& sm;
  NodeId self;
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
  std::multimap<Index, std::uint64_t> pending_reads;  // read index -> request

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

  void on_tick() {
    if (stop_requested || !failed.ok()) {
      return;
    }
    // Catch up on missed ticks (a paused process), so lease reads keep their clock promise
    // (Config::max_clock_drift_percent); bounded, in case of a very long pause.
    const Clock::time_point now = Clock::now();
    int ticks_run = 0;
    while (next_tick <= now && ticks_run < 1000) {
      if (recorder) {
        recorder->tick();
      }
      raw->tick();
      next_tick += config.tick_interval;
      ++ticks_run;
    }
    if (next_tick <= now) {
      next_tick = now + config.tick_interval;
    }
    requests.expire(now);
    ticks += static_cast<std::uint64_t>(ticks_run);
    if (ticks >= config.raft.election_tick) {
      ticks = 0;
      record_members();
    }
    if (in_flight && !warned_slow_write &&
        now - write_started > config.tick_interval * config.raft.election_tick) {
      warned_slow_write = true;
      log(LogLevel::kWarning,
          "a storage write has been in flight for {} ms: this node neither heartbeats nor "
          "votes until it finishes",
          std::chrono::duration_cast<std::chrono::milliseconds>(now - write_started).count());
    }
    schedule_process();
    ticker.expires_at(next_tick);
    ticker.async_wait([this](const asio::error_code& ec) {
      if (!ec) {
        on_tick();
      }
    });
  }

  void send(std::vector<Message>& messages) {
    for (Message& m : messages) {
      metrics.sent(m);
      transport.send(std::move(m));
    }
  }

  // Keeps the transport's peers in step with the membership, in log order, as configuration
  // entries are appended (a configuration takes effect when appended, thesis §4.1): an added
  // member gets its address from the change; a removed one is dropped, which also makes the
  // transport forget its storage incarnation, so after a lost data directory it can come back
  // only through this removal and a new addition. Members from NodeConfig::peers stay
  // reachable (re-added at once), so they can be added back later.
  void follow_membership(const std::vector<Entry>& entries) {
    for (const Entry& e : entries) {
      if (e.type != EntryType::kConfChange) {
        continue;
      }
      auto cc = decode_conf_change_entry(e.data.view());
      if (!cc.ok()) {
        continue;
      }
      for (const ConfChangeSingle& c : cc->change.changes) {
        if (c.node == self) {
          continue;
        }
        if (c.type == ConfChangeType::kRemoveNode) {
          transport.remove_peer(c.node);
          if (auto it = config.peers.find(c.node); it != config.peers.end()) {
            (void)transport.add_peer(c.node, it->second);  // checked at create()
          }
          continue;
        }
        if (!cc->change.context.empty()) {
          const std::string address(cc->change.context.view());
          addresses[c.node] = address;
          if (Status s = transport.add_peer(c.node, address); !s.ok()) {
            log(LogLevel::kWarning, "member {} has an address the transport refuses: {}",
                c.node.value, s.to_string());
          }
        }
      }
    }
  }

  void process() {
    process_posted = false;
    if (!failed.ok() || in_flight || stop_requested) {
      return;
    }
    if (apply_queue_bytes > config.max_apply_queue_bytes) {
      apply_blocked = true;  // the apply thread calls process() again once it drained
      return;
    }
    if (hold_until) {
      if (raw->role() == Role::kLeader && raw->commit_index() < written_up_to &&
          Clock::now() < *hold_until) {
        return;  // the acknowledgement that commits it, or the timer, calls process() again
      }
      hold_until.reset();
    }
    if (!raw->has_ready()) {
      return;
    }
    auto r = raw->ready();
    if (!r.ok()) {
      fail(r.status());
      return;
    }
    if (recorder) {
      recorder->ready();
    }
    Ready rd = std::move(*r);
    ++metrics.readies;
    term = raw->term().value;
    metrics.elections = raw->counters().elections_started;
    if (rd.soft_state &&
        (rd.soft_state->role != last_role || rd.soft_state->leader != last_leader)) {
      last_role = rd.soft_state->role;
      last_leader = rd.soft_state->leader;
      log(LogLevel::kInfo, "role {}, leader {}", to_string(last_role), last_leader.value);
    }
    follow_membership(rd.entries);
    send(rd.messages);
    if (!rd.snapshot) {
      // Committed entries are durable on a quorum: applying them (and serving reads) need not
      // wait for this Ready's own write, which often only records the new commit index; they
      // reach the apply thread now (etcd-io/raft applies concurrently with its WAL write too).
      // A state machine snapshot taken from them is stored by the storage thread after this
      // write (one FIFO queue). With a snapshot, the order is snapshot first: after the write.
      hand_to_apply(rd);
    }
    WriteBatch batch = WriteBatch::from(rd);
    if (!batch.sync && !batch.snapshot && batch.entries.empty() && batch.hard_state) {
      // Only a new commit index: Raft's commitIndex is volatile state (startup takes the
      // larger of the stored one and the snapshot's index), so it rides along with the next
      // write instead of costing one now - one that would sit on the next proposal's path
      // (one Ready in flight at a time).
      deferred_hard_state = batch.hard_state;
      batch.hard_state.reset();
    } else if (!batch.hard_state) {
      batch.hard_state = deferred_hard_state;  // the newest one, or none
      deferred_hard_state.reset();
    } else {
      deferred_hard_state.reset();  // the batch's own is newer
    }
    if (batch.empty()) {
      after_write(std::move(rd));
      return;
    }
    in_flight = std::move(rd);
    write_started = Clock::now();
    warned_slow_write = false;
    storage_q.push([this, batch = std::move(batch)] {
      const Clock::time_point t0 = Clock::now();
      Status s = storage.save(batch);
      metrics.storage_write.observe(micros(Clock::now() - t0));
      ++metrics.storage_writes;
      if (batch.sync) {
        ++metrics.storage_syncs;
      }
      asio::post(io, [this, s = std::move(s)] { on_written(s); });
    });
  }

  void on_written(const Status& s) {
    Ready rd = std::move(*in_flight);
    in_flight.reset();
    std::vector<std::function<void()>> waiting;
    waiting.swap(after_current_write);
    for (auto& task : waiting) {
      task();
    }
    if (!s.ok()) {
      fail(Status(s.code(), "storage write failed: " + s.message()));
    } else {
      after_write(std::move(rd));
    }
    if (stop_requested && idle != nullptr) {
      idle->set_value();
      idle = nullptr;
    }
  }

  void after_write(Ready rd) {
    send(rd.persisted_messages);
    if (rd.snapshot) {
      hand_to_apply(rd);  // else it went before the write
    }
    if (recorder) {
      recorder->advance();
    }
    if (Status a = raw->advance(rd); !a.ok()) {
      fail(a);
      return;
    }
    hold_for_commit(rd);
    schedule_process();
  }

  // A leader whose write just finished usually hears the followers' acknowledgements of the
  // same entries a moment later (they wrote them at the same time). Taking the next Ready at
  // once would start a write that the commit then waits behind (one Ready in flight), so the
  // batch would be applied a whole write later; waiting briefly for the commit lets the next
  // Ready carry both the commit and the proposals that arrived meanwhile. Bounded by half the
  // write's time (at most 1 ms): with followers slow or gone, the leader goes on.
  void hold_for_commit(const Ready& rd) {
    if (rd.entries.empty() || raw->role() != Role::kLeader) {
      return;
    }
    written_up_to = rd.entries.back().index;
    if (raw->commit_index() >= written_up_to) {
      return;
    }
    const auto wrote = Clock::now() - write_started;
    const auto wait = std::min<Clock::duration>(wrote / 2, std::chrono::milliseconds(1));
    hold_until = Clock::now() + wait;
    commit_wait.expires_at(*hold_until);
    commit_wait.async_wait([this](const asio::error_code& ec) {
      if (!ec) {
        schedule_process();
      }
    });
  }

  void note_apply_queue(std::uint64_t bytes) {
    if (bytes > metrics.apply_queue_peak_bytes) {
      metrics.apply_queue_peak_bytes = bytes;  // core thread only writes it
    }
  }

  void hand_to_apply(Ready& rd) {
    if (rd.snapshot) {
      note_apply_queue(apply_queue_bytes += rd.snapshot->data.size());
      apply_q.push([this, snap = std::move(*rd.snapshot)] { restore(snap); });
    }
    if (!rd.committed_entries.empty()) {
      std::uint64_t bytes = 0;
      for (const Entry& e : rd.committed_entries) {
        bytes += e.data.size();
      }
      note_apply_queue(apply_queue_bytes += bytes);
      apply_q.push([this, entries = std::move(rd.committed_entries), bytes] {
        apply_entries(entries);
        drained(bytes);
      });
    }
    for (const ReadState& rs : rd.read_states) {
      if (std::optional<std::uint64_t> id = context_request(rs.context)) {
        apply_q.push([this, index = rs.index, id = *id] {
          pending_reads.emplace(index, id);
          serve_reads();
        });
      }
    }
  }

  // Stops the node on its own after a failure it cannot get past (core thread).
  void fail(const Status& why) {
    if (!failed.ok()) {
      return;
    }
    failed = why;
    {
      std::lock_guard lock(failure_mu);
      failure = why;
    }
    log(LogLevel::kError, "node stopped: {}", why.to_string());
    ticker.cancel();
    commit_wait.cancel();
    complete_all(why);
  }

  // --- TransportHandler (transport threads) ----------------------------------------------------

  void on_message(Message m) override {
    metrics.received(m);
    asio::post(io, [this, m = std::move(m)] {
      if (!failed.ok() || stop_requested) {
        return;
      }
      if (recorder) {
        recorder->step(m);
      }
      if (Status s = raw->step(m); !s.ok()) {
        log(LogLevel::kDebug, "message refused: {} ({})", s.to_string(), describe(m));
      }
      schedule_process();
    });
  }
  void on_unreachable(NodeId peer) override {
    asio::post(io, [this, peer] {
      if (failed.ok() && !stop_requested) {
        if (recorder) {
          recorder->unreachable(peer);
        }
        raw->report_unreachable(peer);
        schedule_process();
      }
    });
  }
  void on_snapshot_status(NodeId peer, bool ok) override {
    asio::post(io, [this, peer, ok] {
      if (failed.ok() && !stop_requested) {
        if (recorder) {
          recorder->snapshot_status(peer, ok);
        }
        raw->report_snapshot(peer, ok);
        schedule_process();
      }
    });
  }

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

  void restore(const Snapshot& snap) {
    auto parts = node_detail::decode_node_snapshot(snap.data.view());
    if (!parts.ok()) {
      fail_from_apply(Status(parts.status().code(), "snapshot " + describe(snap.meta.last) + ": " +
                                                        parts.status().message()));
      drained(snap.data.size());
      return;
    }
    ViewReader reader(parts->second);
    if (Status s = sm.restore(reader); !s.ok()) {
      fail_from_apply(
          Status(s.code(), "restoring snapshot " + describe(snap.meta.last) + ": " + s.message()));
      drained(snap.data.size());
      return;
    }
    adopt_registry(std::move(parts->first));
    applied = snap.meta.last.index;
    conf_state = snap.meta.conf_state;
    snapshot_index = applied;
    bytes_since_snapshot = 0;
    ++metrics.snapshots_restored;
    log(LogLevel::kInfo, "restored snapshot {}", describe(snap.meta.last));
    // Requests covered by the snapshot: applied (or not) elsewhere; the result is lost.
    for (std::uint64_t id : requests.up_to(applied)) {
      complete(id, Status(ErrorCode::kTimedOut,
                          "outcome unknown: the entry was covered by a snapshot from the leader"));
    }
    drained(snap.data.size());
    serve_reads();
  }

  void apply_entries(const std::vector<Entry>& entries) {
    for (const Entry& e : entries) {
      if (e.index <= applied) {
        continue;
      }
      // Our requests appended at this index by an earlier term's leader (us) are lost if the
      // entry here now has another term.
      std::optional<std::uint64_t> waiting = requests.replaced_by(e);
      if (waiting) {
        complete(*waiting,
                 Status(ErrorCode::kProposalDropped,
                        fmt::format("entry {} was replaced by a later leader's", e.index.value)));
      }
      switch (e.type) {
        case EntryType::kNormal: {
          if (node_detail::is_member_record(e.data.view())) {
            auto rec = node_detail::decode_member_record(e.data.view());
            if (!rec.ok()) {
              fail_from_apply(
                  Status(ErrorCode::kCorruption,
                         fmt::format("entry {}: {}", e.index.value, rec.status().message())));
              return;
            }
            record_member(rec->first, rec->second);
            applied = e.index;
            break;
          }
          auto env = node_detail::unwrap(e.data.view());
          if (!env.ok()) {
            fail_from_apply(
                Status(ErrorCode::kCorruption,
                       fmt::format("entry {}: {}", e.index.value, env.status().message())));
            return;
          }
          Bytes result = sm.apply(e.index, env->command);
          ++metrics.applied;
          bytes_since_snapshot += env->command.size();
          applied = e.index;
          if (env->origin == self) {
            complete(env->request, std::move(result));
          }
          break;
        }
        case EntryType::kConfChange: {
          auto cc = decode_conf_change_entry(e.data.view());
          if (!cc.ok()) {
            fail_from_apply(cc.status());
            return;
          }
          conf_state = cc->result;
          applied = e.index;
          for (const ConfChangeSingle& c : cc->change.changes) {
            if (c.type == ConfChangeType::kRemoveNode) {
              std::lock_guard lock(registry_mu);
              registry.erase(c.node);  // a member added later is recorded anew
            }
          }
          log(LogLevel::kInfo, "membership {} applied at {}", describe(conf_state), e.index.value);
          std::optional<std::uint64_t> id = requests.at(e.index);
          if (id) {
            complete(*id, Bytes());
          }
          break;
        }
        case EntryType::kNoop:
          applied = e.index;
          break;
      }
    }
    serve_reads();
    maybe_snapshot();
  }

  // Any thread: a member's record applies (from the log, a snapshot or the startup scan).
  void record_member(NodeId id, const MemberRecord& r) {
    {
      std::lock_guard lock(registry_mu);
      registry[id] = r;
    }
    if (id == self) {
      if (r.incarnation != storage.incarnation() && storage.incarnation() != 0) {
        log(LogLevel::kError,
            "the cluster recorded incarnation {:x} for this node but its storage has {:x}: "
            "its data was replaced; remove it and add it back",
            r.incarnation, storage.incarnation());
      }
      return;
    }
    if (r.incarnation != 0) {
      transport.expect_incarnation(id, r.incarnation);
    }
    if (!r.address.empty()) {
      (void)transport.add_peer(id, r.address);
    }
  }

  void adopt_registry(MemberRegistry fresh) {
    {
      std::lock_guard lock(registry_mu);
      registry.clear();
    }
    for (const auto& [id, r] : fresh) {
      record_member(id, r);
    }
  }

  // Core thread, leader: proposes a record for each member the registry lacks, with the
  // incarnation its transport saw (its own storage's for itself), so that every member,
  // even one restarted later, can tell a member that lost its data (registry.h).
  void record_members() {
    if (raw->role() != Role::kLeader || stop_requested || !failed.ok()) {
      return;
    }
    const ConfState cs = raw->status().config;
    const Clock::time_point now = Clock::now();
    const auto retry = config.tick_interval * config.raft.election_tick * 2;
    for (const std::vector<NodeId>* list : {&cs.voters, &cs.learners}) {
      for (NodeId m : *list) {
        {
          std::lock_guard lock(registry_mu);
          if (registry.contains(m)) {
            continue;
          }
        }
        if (auto it = record_proposed.find(m);
            it != record_proposed.end() && now - it->second < retry) {
          continue;
        }
        MemberRecord r;
        r.incarnation = m == self ? storage.incarnation() : transport.peer_incarnation(m);
        if (r.incarnation == 0) {
          continue;  // not met yet, or the adapters keep none
        }
        if (auto a = addresses.find(m); a != addresses.end()) {
          r.address = a->second;
        }
        Bytes data = node_detail::encode_member_record(m, r);
        if (recorder) {
          recorder->propose(data.view());
        }
        if (raw->propose(std::move(data)).ok()) {
          record_proposed[m] = now;
          schedule_process();
        }
      }
    }
  }

  void serve_reads() {
    while (!pending_reads.empty() && pending_reads.begin()->first <= applied) {
      const std::uint64_t id = pending_reads.begin()->second;
      pending_reads.erase(pending_reads.begin());
      ++metrics.reads;
      complete(id, Bytes());
    }
  }

  void maybe_snapshot() {
    if (snapshot_running || applied <= snapshot_index) {
      return;
    }
    const bool by_count = config.snapshot_entries != 0 &&
                          applied.value - snapshot_index.value >= config.snapshot_entries;
    const bool by_size =
        config.snapshot_bytes != 0 && bytes_since_snapshot >= config.snapshot_bytes;
    if (!by_count && !by_size) {
      return;
    }
    StringWriter writer;
    {
      std::lock_guard lock(registry_mu);
      writer.data = node_detail::encode_node_snapshot(registry, {});
    }
    if (Status s = sm.snapshot(writer); !s.ok()) {
      log(LogLevel::kError, "state machine snapshot at {} failed: {}", applied.value,
          s.to_string());
      snapshot_index = applied;  // try again after another interval, not on every entry
      bytes_since_snapshot = 0;
      return;
    }
    snapshot_running = true;
    const Index at = applied;
    // The storage thread stores it; the core thread compacts (so the core sees the log change
    // between two of its inputs, as the flight recorder replays it).
    storage_q.push([this, at, cs = conf_state, data = Bytes(std::move(writer.data))] {
      Status s = storage.create_snapshot(at, cs, data);
      if (!s.ok()) {
        log(LogLevel::kError, "storing the snapshot at {} failed: {}", at.value, s.to_string());
        apply_q.push([this] { snapshot_running = false; });
        return;
      }
      asio::post(io, [this, at, cs, data] {
        // Storage takes one writer at a time: compact between two Ready writes.
        auto compact = [this, at, cs, data] { compact_after_snapshot(at, cs, data); };
        if (in_flight) {
          after_current_write.push_back(std::move(compact));
        } else {
          compact();
        }
      });
    });
  }

  // Core thread, with no storage write in flight: records the stored snapshot and compacts
  // the log behind it (the core sees the change between two of its inputs, as the flight
  // recorder replays it).
  void compact_after_snapshot(Index at, const ConfState& cs, const Bytes& data) {
    if (recorder) {
      recorder->snapshot_stored(at, cs, data.view());
    }
    Status c;
    if (at.value > config.compaction_margin) {
      const Index upto{at.value - config.compaction_margin};
      c = storage.compact(upto);
      if (c.ok() && recorder) {
        recorder->compacted(upto);
      }
    }
    if (c.ok()) {
      ++metrics.snapshots_taken;
      log(LogLevel::kInfo, "snapshot at {} ({} bytes); log compacted", at.value, data.size());
    } else {
      log(LogLevel::kError, "compacting after the snapshot at {} failed: {}", at.value,
          c.to_string());
    }
    apply_q.push([this, at] {
      snapshot_running = false;
      snapshot_index = at;
      bytes_since_snapshot = 0;
    });
  }

  // --- calls from any thread ------------------------------------------------------------------

  // Proposes a membership change; the future completes when it is applied here.
  std::future<Status> change_membership(ConfChange change) {
    auto promise = std::make_shared<std::promise<Status>>();
    std::future<Status> f = promise->get_future();
    node_detail::RequestTable::Request r;
    r.on_status = [promise](Status s) { promise->set_value(std::move(s)); };
    std::optional<std::uint64_t> id = add_request(std::move(r));
    if (!id) {
      return f;
    }
    asio::post(io, [this, id = *id, change = std::move(change)] {
      if (!failed.ok() || stop_requested) {
        return;
      }
      if (recorder) {
        recorder->conf_change(change);
      }
      auto p = raw->propose_conf_change(change);
      if (!p.ok()) {
        complete(id, p.status());
        return;
      }
      requests.appended(id, p->id);
      schedule_process();
    });
    return f;
  }

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

// --- Node ---------------------------------------------------------------------------------------

Node::Node(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Node::~Node() {
  stop();
}

Result<std::unique_ptr<Node>> Node::create(NodeConfig config, Storage& storage,
                                           Transport& transport, StateMachine& state_machine) {
  auto invalid = [](const std::string& why) {
    return Status(ErrorCode::kInvalidArgument, "node config: " + why);
  };
  using std::chrono::milliseconds;
  if (config.tick_interval < milliseconds(1) || config.tick_interval > milliseconds(10000)) {
    return invalid(
        fmt::format("tick_interval {} ms is not within 1 ms..10 s", config.tick_interval.count()));
  }
  if (config.request_timeout <= milliseconds(0)) {
    return invalid("request_timeout must be positive");
  }
  if (config.max_pending_requests == 0 || config.max_apply_queue_bytes == 0) {
    return invalid("max_pending_requests and max_apply_queue_bytes must be positive");
  }
  for (const auto& [id, address] : config.peers) {
    if (id == kNoNode || id == config.raft.id) {
      return invalid(fmt::format("peers: {} is not another node's id", id.value));
    }
  }
  auto impl = std::make_unique<Impl>(std::move(config), storage, transport, state_machine);
  Impl& d = *impl;
  d.self = d.config.raft.id;
  std::shared_ptr<Logger> sink =
      d.config.logger ? d.config.logger : std::make_shared<StderrLogger>();
  d.logger = std::make_shared<NodeLogger>(sink, d.self, d.term);
  d.config.raft.logger = d.logger;

  // The state machine starts from the stored snapshot; the log after it is applied again.
  auto snap = storage.snapshot();
  if (!snap.ok()) {
    return snap.status();
  }
  auto initial = storage.initial_state();
  if (!initial.ok()) {
    return initial.status();
  }
  d.conf_state = initial->conf_state;
  MemberRegistry registry;
  if (!snap->empty()) {
    auto parts = node_detail::decode_node_snapshot(snap->data.view());
    if (!parts.ok()) {
      return Status(parts.status().code(), "the stored snapshot " + describe(snap->meta.last) +
                                               ": " + parts.status().message());
    }
    registry = std::move(parts->first);
    ViewReader reader(parts->second);
    if (Status s = state_machine.restore(reader); !s.ok()) {
      return Status(s.code(), "restoring the stored snapshot " + describe(snap->meta.last) + ": " +
                                  s.message());
    }
    d.applied = snap->meta.last.index;
    d.snapshot_index = d.applied;
    d.conf_state = snap->meta.conf_state;
  }
  d.config.raft.applied = d.applied;
  if (!d.config.flight_recorder_path.empty()) {
    auto rec =
        node_detail::FlightRecorder::open(d.config.flight_recorder_path, d.config.raft, storage);
    if (!rec.ok()) {
      return rec.status();
    }
    d.recorder = std::move(*rec);
  }
  auto raw = RawNode::create(d.config.raft, storage);
  if (!raw.ok()) {
    return raw.status();
  }
  d.raw.emplace(std::move(*raw));
  d.term = d.raw->term().value;
  transport.set_incarnation(storage.incarnation());
  for (const auto& [id, address] : d.config.peers) {
    if (Status s = transport.add_peer(id, address); !s.ok()) {
      return invalid(fmt::format("peer {}: {}", id.value, s.message()));
    }
    d.addresses[id] = address;
  }
  // The member registry as of the commit index, before the transport meets anyone: the
  // stored snapshot's, then the committed records and removals after it.
  if (Status s =
          node_detail::scan_registry(storage, d.applied, initial->hard_state.commit, registry);
      !s.ok()) {
    return s;
  }
  d.adopt_registry(std::move(registry));
  return std::unique_ptr<Node>(new Node(std::move(impl)));
}

Status Node::start() {
  Impl& d = *impl_;
  {
    std::lock_guard lock(d.phase_mu);
    if (d.phase != Impl::Phase::kCreated) {
      return Status(ErrorCode::kFailedPrecondition, "the node was started before");
    }
    d.phase = Impl::Phase::kRunning;
  }
  // Read before the core thread runs: from then on only it touches the core.
  const std::string membership = describe(d.raw->status().config);
  d.storage_q.start();
  d.apply_q.start();
  d.work.emplace(asio::make_work_guard(d.io));
  d.core_thread = std::thread([&d] { d.io.run(); });
  if (Status s = d.transport.start(d); !s.ok()) {
    stop();
    return s;
  }
  d.accepting = true;
  asio::post(d.io, [&d] {
    d.next_tick = Clock::now() + d.config.tick_interval;
    d.on_tick();
  });
  d.log(LogLevel::kInfo, "started: {}", membership);
  return Status();
}

void Node::stop() {
  Impl& d = *impl_;
  {
    std::lock_guard lock(d.phase_mu);
    if (d.phase != Impl::Phase::kRunning) {
      d.phase = Impl::Phase::kStopped;
      return;
    }
    d.phase = Impl::Phase::kStopping;
  }
  d.accepting = false;
  d.transport.stop();  // nothing new comes in; what goes out is dropped
  // Let the write in flight finish (acknowledged entries are on disk), then stop the core.
  std::promise<void> idle;
  std::future<void> idle_done = idle.get_future();
  asio::post(d.io, [&d, &idle] {
    d.stop_requested = true;
    d.ticker.cancel();
    d.commit_wait.cancel();
    if (d.in_flight) {
      d.idle = &idle;
    } else {
      idle.set_value();
    }
  });
  while (idle_done.wait_for(std::chrono::seconds(5)) != std::future_status::ready) {
    d.log(LogLevel::kWarning, "stopping: still waiting for a storage write to finish");
  }
  d.work.reset();
  d.io.stop();
  d.core_thread.join();
  d.apply_q.stop_and_join();  // applies what was handed over, completing its requests
  d.storage_q.stop_and_join();
  d.complete_all(Status(ErrorCode::kStopped, "the node stopped"));
  std::lock_guard lock(d.phase_mu);
  d.phase = Impl::Phase::kStopped;
  d.log(LogLevel::kInfo, "stopped");
}

void Node::propose(Bytes command, ProposeCallback done) {
  Impl& d = *impl_;
  node_detail::RequestTable::Request r;
  r.on_result = std::move(done);
  std::optional<std::uint64_t> id = d.add_request(std::move(r));
  if (!id) {
    return;
  }
  asio::post(d.io, [&d, id = *id, command = std::move(command)] {
    if (!d.failed.ok() || d.stop_requested) {
      return;  // completed by fail() or stop()
    }
    Bytes data = node_detail::wrap(d.self, id, command.view());
    if (d.recorder) {
      d.recorder->propose(data.view());
    }
    auto p = d.raw->propose(std::move(data));
    if (!p.ok()) {
      d.complete(id, p.status());
      return;
    }
    ++d.metrics.proposals;
    if (p->forwarded_to == kNoNode) {
      d.requests.appended(id, p->id);
    }
    d.schedule_process();
  });
}

std::future<Result<Bytes>> Node::propose(Bytes command) {
  auto promise = std::make_shared<std::promise<Result<Bytes>>>();
  std::future<Result<Bytes>> f = promise->get_future();
  propose(std::move(command), [promise](Result<Bytes> r) { promise->set_value(std::move(r)); });
  return f;
}

void Node::linearizable_read(StatusCallback ready) {
  Impl& d = *impl_;
  node_detail::RequestTable::Request r;
  r.on_status = std::move(ready);
  std::optional<std::uint64_t> id = d.add_request(std::move(r));
  if (!id) {
    return;
  }
  asio::post(d.io, [&d, id = *id] {
    if (!d.failed.ok() || d.stop_requested) {
      return;
    }
    Bytes context = request_context(id);
    if (d.recorder) {
      d.recorder->read_index(context.view());
    }
    if (Status s = d.raw->read_index(std::move(context)); !s.ok()) {
      d.complete(id, s);
      return;
    }
    d.schedule_process();
  });
}

std::future<Status> Node::read_index() {
  auto promise = std::make_shared<std::promise<Status>>();
  std::future<Status> f = promise->get_future();
  linearizable_read([promise](Status s) { promise->set_value(std::move(s)); });
  return f;
}

namespace {

ConfChange single_change(ConfChangeType type, NodeId id, std::string address) {
  ConfChange cc;
  cc.changes = {ConfChangeSingle{type, id}};
  cc.context = Bytes(std::move(address));
  return cc;
}

}  // namespace

std::future<Status> Node::add_voter(NodeId id, std::string address) {
  return impl_->change_membership(single_change(ConfChangeType::kAddVoter, id, std::move(address)));
}

std::future<Status> Node::add_learner(NodeId id, std::string address) {
  return impl_->change_membership(
      single_change(ConfChangeType::kAddLearner, id, std::move(address)));
}

std::future<Status> Node::promote(NodeId id) {
  return impl_->change_membership(single_change(ConfChangeType::kAddVoter, id, {}));
}

std::future<Status> Node::remove(NodeId id) {
  return impl_->change_membership(single_change(ConfChangeType::kRemoveNode, id, {}));
}

Status Node::transfer_leadership(NodeId to) {
  Impl& d = *impl_;
  if (!d.accepting) {
    return Status(ErrorCode::kStopped, "the node is not running");
  }
  return d.on_core([&d, to]() -> Status {
    if (d.recorder) {
      d.recorder->transfer(to);
    }
    Status s = d.raw->transfer_leadership(to);
    d.schedule_process();
    return s;
  });
}

Status Node::campaign() {
  Impl& d = *impl_;
  if (!d.accepting) {
    return Status(ErrorCode::kStopped, "the node is not running");
  }
  return d.on_core([&d]() -> Status {
    if (d.recorder) {
      d.recorder->campaign();
    }
    Status s = d.raw->campaign();
    d.schedule_process();
    return s;
  });
}

Result<NodeStatus> Node::status() const {
  Impl& d = *impl_;
  if (!d.accepting) {
    return Status(ErrorCode::kStopped, "the node is not running");
  }
  return d.on_core([&d]() -> Result<NodeStatus> { return d.raw->status(); });
}

NodeMetrics Node::metrics() const {
  const node_detail::Metrics& m = impl_->metrics;
  NodeMetrics out;
  out.proposals = m.proposals;
  out.proposals_failed = m.proposals_failed;
  out.applied = m.applied;
  out.reads = m.reads;
  out.readies = m.readies;
  out.storage_writes = m.storage_writes;
  out.storage_syncs = m.storage_syncs;
  out.snapshots_taken = m.snapshots_taken;
  out.snapshots_restored = m.snapshots_restored;
  out.messages_sent = m.messages_sent;
  out.messages_received = m.messages_received;
  out.peers = m.peers();
  out.apply_queue_peak_bytes = m.apply_queue_peak_bytes;
  out.elections = m.elections;
  out.commit_latency = m.commit_latency.read();
  out.storage_write = m.storage_write.read();
  return out;
}

std::string Node::prometheus_text() const {
  return node_detail::prometheus_text(metrics(), impl_->self);
}

Status Node::failure() const {
  return impl_->current_failure();
}

}  // namespace skiff
