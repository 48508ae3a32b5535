// `skiff-bench node`: one cluster member in its own process (so its memory and CPU are its
// own), a skiff::Node with LMDB (durable) or an in-memory log, the TCP transport, and a
// trivial state machine. The parent commands it over stdin, one line each, and reads one JSON
// line per answer on stdout:
//   status                    -> {"role": "Leader", "term": 2, "leader": 1}
//   metrics                   -> {"syncs": .., "writes": .., "applied": .., "snapshots": ..}
//   load C SIZE SECONDS WARM  -> {"progress": {...}} once a second, then {"result": {...}}
//   quit                      -> stops gracefully and exits
#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <iostream>
#include <mutex>
#include <sstream>
#include <thread>

#include "bench.h"
#include "skiff/memory_storage.h"
#include "skiff/node/node.h"
#include "skiff/storage/lmdb_storage.h"
#include "skiff/storage/wal_storage.h"
#include "skiff/transport/asio_transport.h"

namespace skiff::bench {
namespace {

using Clock = std::chrono::steady_clock;

// The in-memory log option: MemoryStorage behind a lock, since the node reads storage on its
// core thread while its storage thread writes.
class LockedMemoryStorage final : public Storage {
 public:
  explicit LockedMemoryStorage(ConfState cs) : inner_(std::move(cs)) {}
  Result<InitialState> initial_state() const override {
    std::lock_guard lock(mu_);
    return inner_.initial_state();
  }
  Result<std::vector<Entry>> entries(Index lo, Index hi, std::uint64_t max) const override {
    std::lock_guard lock(mu_);
    return inner_.entries(lo, hi, max);
  }
  Result<Term> term(Index i) const override {
    std::lock_guard lock(mu_);
    return inner_.term(i);
  }
  Index first_index() const override {
    std::lock_guard lock(mu_);
    return inner_.first_index();
  }
  Index last_index() const override {
    std::lock_guard lock(mu_);
    return inner_.last_index();
  }
  Result<Snapshot> snapshot() const override {
    std::lock_guard lock(mu_);
    return inner_.snapshot();
  }
  Status save(const WriteBatch& batch) override {
    std::lock_guard lock(mu_);
    return inner_.save(batch);
  }
  Status create_snapshot(Index index, const ConfState& cs, Bytes data) override {
    std::lock_guard lock(mu_);
    return inner_.create_snapshot(index, cs, std::move(data));
  }
  Status compact(Index index) override {
    std::lock_guard lock(mu_);
    return inner_.compact(index);
  }

 private:
  mutable std::mutex mu_;
  MemoryStorage inner_;
};

// Counts applied commands; its snapshot is the count.
class CountingMachine final : public StateMachine {
 public:
  Bytes apply(Index, std::string_view) override {
    applied_.fetch_add(1, std::memory_order_relaxed);
    return Bytes();
  }
  Status snapshot(SnapshotWriter& out) override {
    return out.write(std::to_string(applied_.load()));
  }
  Status restore(SnapshotReader& in) override {
    std::string s(in.size(), '\0');
    std::size_t at = 0;
    while (at < s.size()) {
      const std::size_t n = in.read(s.data() + at, s.size() - at);
      if (n == 0) {
        break;
      }
      at += n;
    }
    applied_ = std::strtoull(s.c_str(), nullptr, 10);
    return Status();
  }

 private:
  std::atomic<std::uint64_t> applied_{0};
};

// Lines on stdout come from the command loop and the load's progress: one at a time.
std::mutex out_mu;
void say(const json& j) {
  std::lock_guard lock(out_mu);
  std::cout << j.dump() << std::endl;
}

// C proposals kept in flight on this member (closed loop) for `seconds` after `warmup`; each
// completion records its latency (propose to applied here) and issues the next proposal.
class Load {
 public:
  Load(Node& node, std::uint64_t concurrency, std::size_t size, double seconds, double warmup)
      : node_(node), payload_(std::string(size, 'x')), concurrency_(concurrency) {
    const auto now = Clock::now();
    measure_from_ =
        now + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(warmup));
    until_ = measure_from_ +
             std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
  }

  bool finished() {
    std::lock_guard lock(mu_);
    return outstanding_ == 0;
  }

  json run() {
    outstanding_ = static_cast<int>(concurrency_);
    for (std::uint64_t i = 0; i < concurrency_; ++i) {
      issue();
    }
    const auto start = Clock::now();
    // Progress once a second; the load ends by itself at until_ (bounded wait after it).
    while (true) {
      std::unique_lock lock(mu_);
      if (done_.wait_for(lock, std::chrono::seconds(1), [this] { return outstanding_ == 0; })) {
        break;
      }
      const double t = std::chrono::duration<double>(Clock::now() - start).count();
      const std::uint64_t ops = completed_.load();
      lock.unlock();
      say({{"progress", {{"t", t}, {"ops", ops}, {"errors", errors_.load()}}}});
      if (Clock::now() > until_ + std::chrono::seconds(60)) {
        break;  // proposals stuck for a minute: report what there is
      }
    }
    std::lock_guard lock(mu_);
    const double seconds = std::chrono::duration<double>(until_ - measure_from_).count();
    const Latency l = latencies_.summarise();
    return {{"ops", latencies_.count()},
            {"seconds", seconds},
            {"errors", errors_.load()},
            {"p50", l.p50},
            {"p90", l.p90},
            {"p99", l.p99},
            {"p999", l.p999},
            {"max", l.max},
            {"cdf", l.quantiles},
            {"last_error", last_error_}};
  }

 private:
  void issue() {
    const auto start = Clock::now();
    node_.propose(payload_, [this, start](Result<Bytes> r) {
      const auto end = Clock::now();
      completed_.fetch_add(1, std::memory_order_relaxed);
      bool again = end < until_;
      {
        std::lock_guard lock(mu_);
        if (!r.ok()) {
          errors_.fetch_add(1);
          last_error_ = r.status().to_string();
          again = false;  // a slot that fails stops (no retry storm from a callback)
        } else if (start >= measure_from_ && end <= until_) {
          latencies_.add(static_cast<std::uint64_t>(
              std::chrono::duration_cast<std::chrono::microseconds>(end - start).count()));
        }
        if (!again && --outstanding_ == 0) {
          done_.notify_all();
        }
      }
      if (again) {
        issue();
      }
    });
  }

  Node& node_;
  const Bytes payload_;
  const std::uint64_t concurrency_;
  Clock::time_point measure_from_;
  Clock::time_point until_;
  std::mutex mu_;
  std::condition_variable done_;
  int outstanding_ = 0;
  Histogram latencies_;  // constant memory: a long soak must not grow the leader
  std::atomic<std::uint64_t> completed_{0};
  std::atomic<std::uint64_t> errors_{0};
  std::string last_error_;
};

}  // namespace

int node_main(const std::vector<std::string>& args) {
  std::string error;
  auto f = parse_flags(
      args, {"--id", "--peers", "--dir", "--storage", "--tick-ms", "--snapshot-entries"}, &error);
  if (!error.empty()) {
    std::cerr << "skiff-bench node: " << error << "\n";
    return 2;
  }
  const NodeId self{std::stoull(f["--id"])};
  std::map<NodeId, std::string> peers;
  ConfState cs;
  for (const std::string& p : [&] {
         std::vector<std::string> out;
         std::string s = f["--peers"];
         for (std::size_t at = 0; at <= s.size();) {
           const std::size_t comma = std::min(s.find(',', at), s.size());
           out.push_back(s.substr(at, comma - at));
           at = comma + 1;
         }
         return out;
       }()) {
    const std::size_t eq = p.find('=');
    const NodeId id{std::stoull(p.substr(0, eq))};
    peers[id] = p.substr(eq + 1);
    cs.voters.push_back(id);
  }

  std::unique_ptr<Storage> storage;
  if (f["--storage"] == "memory") {
    storage = std::make_unique<LockedMemoryStorage>(cs);
  } else if (f["--storage"] == "wal") {
    WalOptions wo;
    wo.path = f["--dir"];
    wo.cluster_id = 1;
    wo.node_id = self;
    wo.bootstrap.voters = cs.voters;
    auto s = WalStorage::open(wo);
    if (!s.ok()) {
      std::cerr << "skiff-bench node: " << s.status().to_string() << "\n";
      return 1;
    }
    storage = std::move(*s);
  } else {
    LmdbOptions lo;
    lo.path = f["--dir"];
    lo.cluster_id = 1;
    lo.node_id = self;
    lo.bootstrap.voters = cs.voters;
    auto s = LmdbStorage::open(lo);
    if (!s.ok()) {
      std::cerr << "skiff-bench node: " << s.status().to_string() << "\n";
      return 1;
    }
    storage = std::move(*s);
  }
  AsioTransportOptions to;
  to.cluster_id = 1;
  to.self = self;
  to.listen_address = peers.at(self);
  auto transport = AsioTransport::create(to);
  if (!transport.ok()) {
    std::cerr << "skiff-bench node: " << transport.status().to_string() << "\n";
    return 1;
  }
  NodeConfig nc;
  nc.raft.id = self;
  // etcd's defaults in ticks of 10 ms: heartbeat 100 ms, election 1 s. A loaded 2-core
  // machine delays heartbeats; a shorter timeout would measure elections, not commits.
  nc.tick_interval =
      std::chrono::milliseconds(std::stoul(f.contains("--tick-ms") ? f["--tick-ms"] : "10"));
  nc.raft.heartbeat_tick = 10;
  nc.raft.election_tick = 100;
  nc.snapshot_entries =
      std::stoull(f.contains("--snapshot-entries") ? f["--snapshot-entries"] : "10000");
  nc.compaction_margin = std::min<std::uint64_t>(nc.compaction_margin, nc.snapshot_entries);
  for (const auto& [id, address] : peers) {
    if (id != self) {
      nc.peers[id] = address;
    }
  }
  CountingMachine machine;
  auto node = Node::create(nc, *storage, **transport, machine);
  if (!node.ok()) {
    std::cerr << "skiff-bench node: " << node.status().to_string() << "\n";
    return 1;
  }
  if (Status s = (*node)->start(); !s.ok()) {
    std::cerr << "skiff-bench node: " << s.to_string() << "\n";
    return 1;
  }
  say({{"ready", true}});
  std::string line;
  while (std::getline(std::cin, line)) {
    std::istringstream in(line);
    std::string cmd;
    in >> cmd;
    if (cmd == "status") {
      auto s = (*node)->status();
      say(s.ok() ? json{{"role", std::string(to_string(s->role))},
                        {"term", s->term.value},
                        {"leader", s->leader.value}}
                 : json{{"error", s.status().to_string()}});
    } else if (cmd == "metrics") {
      const NodeMetrics m = (*node)->metrics();
      say({{"syncs", m.storage_syncs},
           {"writes", m.storage_writes},
           {"applied", m.applied},
           {"snapshots", m.snapshots_taken},
           {"write_count", m.storage_write.count},
           {"write_us", m.storage_write.sum_us},
           {"commit_count", m.commit_latency.count},
           {"commit_us", m.commit_latency.sum_us},
           {"readies", m.readies}});
    } else if (cmd == "load") {
      std::uint64_t c = 0;
      std::size_t size = 0;
      double seconds = 0;
      double warmup = 0;
      in >> c >> size >> seconds >> warmup;
      auto* load = new Load(**node, c, size, seconds, warmup);
      say({{"result", load->run()}});
      if (load->finished()) {
        delete load;  // else proposals are still out and their callbacks hold it: keep it
      }
    } else if (cmd == "quit") {
      break;
    }
  }
  (*node)->stop();
  return 0;
}

}  // namespace skiff::bench
