// Node (include/skiff/node/node.h): the core on its own asio thread, a storage thread that
// writes Readies, snapshots and compactions, and an apply thread that applies committed
// entries, serves reads and completes requests (node_apply.cc). This file: the core thread's
// work and the public calls. The state they share: node_impl.h.
#include "node_impl.h"

namespace skiff {

void Node::Impl::on_tick() {
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

void Node::Impl::send(std::vector<Message>& messages) {
  for (Message& m : messages) {
    metrics.sent(m);
    transport.send(std::move(m));
  }
}

void Node::Impl::follow_membership(const std::vector<Entry>& entries) {
  for (const Entry& e : entries) {
    if (e.type == EntryType::kNormal && node_detail::is_member_record(e.data.view())) {
      // An address change (change_address): known here from now on; the transport takes it
      // when the record applies (record_member).
      auto rec = node_detail::decode_member_record(e.data.view());
      if (rec.ok() && !rec->second.address.empty()) {
        addresses[rec->first] = rec->second.address;
      }
      continue;
    }
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

void Node::Impl::process() {
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
  if (rd.soft_state && (rd.soft_state->role != last_role || rd.soft_state->leader != last_leader)) {
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

void Node::Impl::on_written(const Status& s) {
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

void Node::Impl::after_write(Ready rd) {
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

void Node::Impl::hold_for_commit(const Ready& rd) {
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

void Node::Impl::hand_to_apply(Ready& rd) {
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
    // A read state answers a read of this process only if it carries this process's id: a
    // late answer to a read of an earlier process (before a restart) is nobody's now.
    std::optional<RequestId> req = node_detail::read_context_request(rs.context.view());
    if (req && req->process == process_id) {
      apply_q.push([this, index = rs.index, id = req->number] {
        pending_reads.emplace(index, id);
        serve_reads();
      });
    }
  }
}

void Node::Impl::fail(const Status& why) {
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

void Node::Impl::on_message(Message m) {
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

void Node::Impl::on_unreachable(NodeId peer) {
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

void Node::Impl::on_snapshot_status(NodeId peer, Index snapshot, bool ok) {
  asio::post(io, [this, peer, snapshot, ok] {
    if (failed.ok() && !stop_requested) {
      if (recorder) {
        recorder->snapshot_status(peer, snapshot, ok);
      }
      // Naming the snapshot lets the core ignore a late report on an older one instead of
      // ending the wait on the snapshot it sent since (RawNode::report_snapshot, issue 15).
      raw->report_snapshot(peer, snapshot, ok);
      schedule_process();
    }
  });
}

std::future<Status> Node::Impl::change_membership(ConfChange change) {
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
    if (Status s = check_change(change); !s.ok()) {
      complete(id, s);
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

Status Node::Impl::check_change(const ConfChange& change) const {
  if (raw->role() != Role::kLeader) {
    return Status();  // the core refuses it with the leader's id
  }
  const ConfState cs = raw->status().config;
  auto in = [](const std::vector<NodeId>& ids, NodeId id) {
    return std::find(ids.begin(), ids.end(), id) != ids.end();
  };
  const std::string address(change.context.view());
  for (const ConfChangeSingle& c : change.changes) {
    const bool voter = in(cs.voters, c.node) || in(cs.voters_outgoing, c.node);
    const bool learner = in(cs.learners, c.node) || in(cs.learners_next, c.node);
    if (c.type == ConfChangeType::kRemoveNode || (!voter && !learner)) {
      continue;
    }
    if ((c.type == ConfChangeType::kAddVoter && voter) ||
        (c.type == ConfChangeType::kAddLearner && learner)) {
      return Status(ErrorCode::kFailedPrecondition,
                    fmt::format("node {} is already a {}; to move it to another address use "
                                "change_address",
                                c.node.value, voter ? "voter" : "learner"));
    }
    // A promotion or demotion keeps the member where it is: an address in it must be the one
    // known (adding an existing member with another address moved it on every member).
    auto known = addresses.find(c.node);
    if (!address.empty() && (known == addresses.end() || known->second != address)) {
      return Status(ErrorCode::kFailedPrecondition,
                    fmt::format("node {} is already a member; to move it to {} use "
                                "change_address",
                                c.node.value, address));
    }
  }
  return Status();
}

std::future<Status> Node::Impl::change_address(NodeId id, std::string address) {
  auto promise = std::make_shared<std::promise<Status>>();
  std::future<Status> f = promise->get_future();
  node_detail::RequestTable::Request r;
  r.on_status = [promise](Status s) { promise->set_value(std::move(s)); };
  std::optional<std::uint64_t> rid = add_request(std::move(r));
  if (!rid) {
    return f;
  }
  asio::post(io, [this, rid = *rid, id, address = std::move(address)] {
    if (!failed.ok() || stop_requested) {
      return;
    }
    if (raw->role() != Role::kLeader) {
      complete(rid, Status(ErrorCode::kNotLeader, "address changes go through the leader",
                           raw->leader()));
      return;
    }
    const ConfState cs = raw->status().config;
    bool member = false;
    for (const auto* list : {&cs.voters, &cs.voters_outgoing, &cs.learners, &cs.learners_next}) {
      member = member || std::find(list->begin(), list->end(), id) != list->end();
    }
    if (!member) {
      complete(rid, Status(ErrorCode::kInvalidArgument,
                           fmt::format("node {} is not a member: add it instead", id.value)));
      return;
    }
    // Incarnation 0: the one known when the record applies stays (merge rule). Copying the
    // registry's here could write back a stale one: the applied registry lags the log (a
    // removal and re-addition committed but not yet applied).
    MemberRecord rec;
    rec.address = address;
    Bytes data = node_detail::encode_member_record(id, rec);
    if (recorder) {
      recorder->propose(data.view());
    }
    auto p = raw->propose(std::move(data));
    if (!p.ok()) {
      complete(rid, p.status());
      return;
    }
    requests.appended(rid, p->id);
    schedule_process();
  });
  return f;
}

void Node::Impl::record_members() {
  if (raw->role() != Role::kLeader || stop_requested || !failed.ok()) {
    return;
  }
  const ConfState cs = raw->status().config;
  const Clock::time_point now = Clock::now();
  const auto retry = config.tick_interval * config.raft.election_tick * 2;
  for (const std::vector<NodeId>* list : {&cs.voters, &cs.learners}) {
    for (NodeId m : *list) {
      bool known = false;  // recorded (by change_address) without an incarnation yet
      {
        std::lock_guard lock(registry_mu);
        if (auto it = registry.find(m); it != registry.end()) {
          if (it->second.incarnation != 0) {
            continue;
          }
          known = true;
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
      if (auto a = addresses.find(m); a != addresses.end() && !known) {
        r.address = a->second;  // else the recorded address stays (merge rule)
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

void Node::Impl::compact_after_snapshot(Index at, const ConfState& cs, const Bytes& data) {
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

// --- Node ---------------------------------------------------------------------------------------

namespace node_detail {

namespace {

bool has(const std::vector<NodeId>& ids, NodeId id) {
  return std::find(ids.begin(), ids.end(), id) != ids.end();
}

}  // namespace

Status check_identities(const NodeConfig& config, const Storage& storage,
                        const Transport& transport, const Snapshot& snap,
                        const InitialState& initial) {
  auto refuse = [](std::string why) { return Status(ErrorCode::kInvalidArgument, std::move(why)); };
  const NodeId self = config.raft.id;
  const AdapterIdentity s = storage.identity();
  const AdapterIdentity t = transport.identity();
  if (s.node != kNoNode && s.node != self) {
    return refuse(fmt::format("raft.id is {} but the storage holds node {}'s data", self.value,
                              s.node.value));
  }
  if (t.node != kNoNode && t.node != self) {
    return refuse(fmt::format("raft.id is {} but the transport speaks for node {}", self.value,
                              t.node.value));
  }
  if (s.cluster_id != 0 && t.cluster_id != 0 && s.cluster_id != t.cluster_id) {
    return refuse(fmt::format("the storage belongs to cluster {} but the transport to cluster {}",
                              s.cluster_id, t.cluster_id));
  }
  // A fresh storage: nothing but its bootstrap membership (no entries, snapshot or vote).
  const bool fresh = snap.empty() && storage.last_index() == Index{0} &&
                     initial.hard_state.term == Term{0} && initial.hard_state.vote == kNoNode;
  if (!fresh) {
    return Status();  // a member that was removed later, or joined, is not a mistake
  }
  const ConfState& cs = initial.conf_state;
  const bool empty = cs.voters.empty() && cs.learners.empty();
  if (empty && !config.join) {
    return refuse(
        "the storage holds no membership: bootstrap it with the voters, or set join to wait "
        "to be added by a membership change");
  }
  if (!empty && config.join) {
    return refuse("join is set but the storage was bootstrapped with the membership " +
                  describe(cs) + ": a joining node starts with none");
  }
  if (!empty && !has(cs.voters, self) && !has(cs.learners, self)) {
    return refuse(fmt::format("raft.id {} is not among the bootstrap membership {}", self.value,
                              describe(cs)));
  }
  return Status();
}

}  // namespace node_detail

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
  if (Status s = node_detail::check_identities(d.config, storage, transport, *snap, *initial);
      !s.ok()) {
    return invalid(s.message());
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
  d.log(LogLevel::kInfo, "started: {} (process {:016x})", membership, d.process_id);
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
  if (d.recorder) {
    d.recorder->flush();  // the inputs after the last advance() too (the core thread is gone)
  }
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
    Bytes data = node_detail::wrap(d.self, RequestId{d.process_id, id}, command.view());
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
    Bytes context = node_detail::read_context(RequestId{d.process_id, id});
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

std::future<Status> Node::change_address(NodeId id, std::string address) {
  if (address.empty() || address.size() > 1024 || id == kNoNode) {
    std::promise<Status> p;
    p.set_value(Status(ErrorCode::kInvalidArgument,
                       "change_address: a member id and an address of 1 to 1024 bytes"));
    return p.get_future();
  }
  return impl_->change_address(id, std::move(address));
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
