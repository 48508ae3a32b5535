// Node: three members in one process over loopback TCP (AsioTransport) with LMDB storage in
// temporary directories. Elections, proposals from several threads, the leader stopping,
// restarts that catch up through the log and through a snapshot, graceful stop under load,
// storage that hangs or fails (PITFALLS #18). The NodeOnWal cases run the leader change, both
// catch-ups and the stop under load again on WalStorage.
#include "skiff/node/node.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include <atomic>
#include <chrono>
#include <initializer_list>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "node/flight_recorder.h"
#include "skiff/node/flight_recorder.h"
#include "skiff/storage/lmdb_storage.h"
#include "skiff/storage/wal_storage.h"
#include "skiff/transport/asio_transport.h"
#include "support/temp_dir.h"
#include "transport/asio_test_support.h"

namespace skiff {
namespace {

using std::chrono::milliseconds;
using test::CapturingLogger;
using test::eventually;

constexpr std::uint64_t kCluster = 7;

// A string map: "set k v" returns the previous value; the snapshot is the whole map.
class KvMachine final : public StateMachine {
 public:
  Bytes apply(Index index, std::string_view command) override {
    if (slow_) {
      std::this_thread::sleep_for(std::chrono::microseconds(300));
    }
    std::lock_guard lock(mu_);
    EXPECT_GT(index, last_) << "indexes must increase";
    last_ = index;
    const std::size_t a = command.find(' ');
    const std::size_t b = command.find(' ', a + 1);
    if (command.substr(0, a) != "set" || b == std::string_view::npos) {
      return Bytes("bad command");
    }
    applied_.emplace_back(index, std::string(command));
    std::string key(command.substr(a + 1, b - a - 1));
    std::string old = map_[key];
    map_[key] = std::string(command.substr(b + 1));
    return Bytes(old.empty() ? std::string("-") : old);
  }
  Status snapshot(SnapshotWriter& out) override {
    std::lock_guard lock(mu_);
    std::string s;
    for (const auto& [k, v] : map_) {
      s += k + '\t' + v + '\n';
    }
    return out.write(s);
  }
  Status restore(SnapshotReader& in) override {
    std::string s(in.size(), '\0');
    std::size_t at = 0;
    while (std::size_t n = in.read(s.data() + at, s.size() - at)) {
      at += n;
    }
    std::lock_guard lock(mu_);
    map_.clear();
    std::size_t pos = 0;
    while (pos < s.size()) {
      const std::size_t tab = s.find('\t', pos);
      const std::size_t nl = s.find('\n', tab);
      map_[s.substr(pos, tab - pos)] = s.substr(tab + 1, nl - tab - 1);
      pos = nl + 1;
    }
    ++restores_;
    return Status();
  }
  std::map<std::string, std::string> map() {
    std::lock_guard lock(mu_);
    return map_;
  }
  int restores() {
    std::lock_guard lock(mu_);
    return restores_;
  }
  std::vector<std::pair<Index, std::string>> applied() {
    std::lock_guard lock(mu_);
    return applied_;
  }

 private:
  std::mutex mu_;
  std::map<std::string, std::string> map_;
  Index last_;
  int restores_ = 0;
  std::vector<std::pair<Index, std::string>> applied_;

 public:
  std::atomic<bool> slow_{false};  // a slow application: 300 µs per command
};

// Storage that can be made to hang or fail, around a real one.
class FaultyStorage final : public Storage {
 public:
  explicit FaultyStorage(std::unique_ptr<Storage> inner) : inner_(std::move(inner)) {}
  Result<InitialState> initial_state() const override { return inner_->initial_state(); }
  Result<std::vector<Entry>> entries(Index lo, Index hi, std::uint64_t max) const override {
    return inner_->entries(lo, hi, max);
  }
  Result<Term> term(Index i) const override { return inner_->term(i); }
  Index first_index() const override { return inner_->first_index(); }
  Index last_index() const override { return inner_->last_index(); }
  Result<Snapshot> snapshot() const override { return inner_->snapshot(); }
  Status save(const WriteBatch& batch) override {
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, std::chrono::seconds(30), [this] { return !hang_; });
    if (fail_) {
      return Status(ErrorCode::kStorage, "injected: No space left on device");
    }
    lock.unlock();
    return inner_->save(batch);
  }
  Status create_snapshot(Index index, const ConfState& cs, Bytes data) override {
    return inner_->create_snapshot(index, cs, std::move(data));
  }
  Status compact(Index index) override { return inner_->compact(index); }
  std::uint64_t incarnation() const override { return inner_->incarnation(); }
  AdapterIdentity identity() const override { return inner_->identity(); }

  void hang(bool on) {
    {
      std::lock_guard lock(mu_);
      hang_ = on;
    }
    cv_.notify_all();
  }
  void fail(bool on) {
    std::lock_guard lock(mu_);
    fail_ = on;
  }

 private:
  std::unique_ptr<Storage> inner_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool hang_ = false;
  bool fail_ = false;
};

struct Member {
  std::string dir;
  std::string address;
  std::unique_ptr<FaultyStorage> storage;
  std::unique_ptr<AsioTransport> transport;
  std::unique_ptr<KvMachine> sm;
  std::unique_ptr<Node> node;
};

// Three members; each can be stopped and restarted on its data directory and address.
class Cluster {
 public:
  // `storage`: "lmdb" (LmdbStorage) or "wal" (WalStorage) under each member's directory.
  explicit Cluster(std::function<void(NodeConfig&)> tweak = {}, std::string storage = "lmdb")
      : tweak_(std::move(tweak)), storage_(std::move(storage)) {
    for (std::uint64_t id = 1; id <= 3; ++id) {
      Member& m = members_[id];
      m.dir = dir_.path() + "/n" + std::to_string(id);
      m.transport = make_transport(id, "127.0.0.1:0");
      m.address = m.transport->listen_address();
    }
    for (std::uint64_t id = 1; id <= 3; ++id) {
      start(id, /*fresh_transport=*/false);
    }
  }
  ~Cluster() {
    for (auto& [id, m] : members_) {
      if (m.storage) {
        m.storage->hang(false);
      }
      if (m.node) {
        m.node->stop();
      }
    }
  }

  std::unique_ptr<AsioTransport> make_transport(std::uint64_t id, const std::string& address) {
    AsioTransportOptions o;
    o.cluster_id = kCluster;
    o.self = NodeId{id};
    o.listen_address = address;
    o.backoff_initial = milliseconds(10);
    o.backoff_max = milliseconds(200);
    o.logger = logger;
    auto t = AsioTransport::create(std::move(o));
    EXPECT_TRUE(t.ok()) << t.status().to_string();
    return std::move(*t);
  }

  // `slow_apply`: the new state machine takes 300 µs per command (KvMachine::slow_), so
  // applying the log again after a restart takes a while.
  void start(std::uint64_t id, bool fresh_transport = true, bool slow_apply = false) {
    Member& m = members_[id];
    ConfState bootstrap;
    if (!joining_.contains(id)) {
      bootstrap.voters = {NodeId{1}, NodeId{2}, NodeId{3}};
    }
    if (storage_ == "wal") {
      WalOptions wo;
      wo.path = m.dir;
      wo.cluster_id = kCluster;
      wo.node_id = NodeId{id};
      wo.bootstrap = bootstrap;
      wo.segment_size = 1 << 20;
      auto s = WalStorage::open(wo);
      ASSERT_TRUE(s.ok()) << s.status().to_string();
      m.storage = std::make_unique<FaultyStorage>(std::move(*s));
    } else {
      LmdbOptions lo;
      lo.path = m.dir;
      lo.cluster_id = kCluster;
      lo.node_id = NodeId{id};
      lo.bootstrap = bootstrap;
      auto s = LmdbStorage::open(lo);
      ASSERT_TRUE(s.ok()) << s.status().to_string();
      m.storage = std::make_unique<FaultyStorage>(std::move(*s));
    }
    if (fresh_transport) {
      m.transport = make_transport(id, m.address);
    }
    m.sm = std::make_unique<KvMachine>();
    m.sm->slow_ = slow_apply;
    NodeConfig c;
    c.raft.id = NodeId{id};
    c.raft.seed = id;
    c.raft.election_tick = 10;
    c.tick_interval = milliseconds(10);
    c.request_timeout = milliseconds(5000);
    c.logger = logger;
    for (const auto& [other, om] : members_) {
      if (other != id) {
        c.peers[NodeId{other}] = om.address;
      }
    }
    c.join = joining_.contains(id);
    if (tweak_) {
      tweak_(c);
    }
    auto n = Node::create(c, *m.storage, *m.transport, *m.sm);
    ASSERT_TRUE(n.ok()) << n.status().to_string();
    m.node = std::move(*n);
    ASSERT_TRUE(m.node->start().ok());
  }

  // A new member `id` with an empty membership (waiting to be added), on a fresh address.
  void add_member(std::uint64_t id) {
    Member& m = members_[id];
    m.dir = dir_.path() + "/n" + std::to_string(id);
    m.transport = make_transport(id, "127.0.0.1:0");
    m.address = m.transport->listen_address();
    joining_.insert(id);
    start(id, /*fresh_transport=*/false);
  }

  void stop(std::uint64_t id) {
    Member& m = members_[id];
    m.node->stop();
    m.node.reset();
    m.transport.reset();
    m.storage.reset();
  }

  // The leader all running members agree on, waiting up to 10 s.
  std::uint64_t leader() {
    std::uint64_t found = 0;
    eventually([&] {
      std::set<std::uint64_t> seen;
      for (auto& [id, m] : members_) {
        if (!m.node) {
          continue;
        }
        auto st = m.node->status();
        if (!st.ok()) {
          return false;
        }
        seen.insert(st->leader.value);
        if (st->role == Role::kLeader) {
          found = id;
        }
      }
      return found != 0 && seen.size() == 1 && *seen.begin() == found;
    });
    return found;
  }

  Member& at(std::uint64_t id) { return members_[id]; }
  Node& node(std::uint64_t id) { return *members_[id].node; }

  // Whether every running member's state machine holds `expected`.
  bool converged(const std::map<std::string, std::string>& expected) {
    return eventually([&] {
      for (auto& [id, m] : members_) {
        if (m.node && m.sm->map() != expected) {
          return false;
        }
      }
      return true;
    });
  }

  std::shared_ptr<CapturingLogger> logger = std::make_shared<CapturingLogger>();

 private:
  test::TempDir dir_{"skiff-node"};
  std::function<void(NodeConfig&)> tweak_;
  std::string storage_;
  std::map<std::uint64_t, Member> members_;
  std::set<std::uint64_t> joining_;
};

Bytes set(const std::string& k, const std::string& v) {
  return Bytes("set " + k + " " + v);
}

// Proposes on the leader, following leadership changes, until it succeeds (bounded).
Result<Bytes> put(Cluster& c, const std::string& k, const std::string& v) {
  Result<Bytes> last = Status(ErrorCode::kUnavailable, "not tried");
  for (int attempt = 0; attempt < 20; ++attempt) {
    const std::uint64_t l = c.leader();
    if (l == 0) {
      continue;
    }
    last = c.node(l).propose(set(k, v)).get();
    if (last.ok()) {
      return last;
    }
    std::this_thread::sleep_for(milliseconds(50));
  }
  return last;
}

TEST(Node, ElectsALeaderAndAppliesProposalsFromManyThreads) {
  Cluster c;
  const std::uint64_t l = c.leader();
  ASSERT_NE(l, 0u);
  std::map<std::string, std::string> expected;
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      std::vector<std::future<Result<Bytes>>> futures;
      for (int i = 0; i < 50; ++i) {
        futures.push_back(
            c.node(l).propose(set("k" + std::to_string(t) + "-" + std::to_string(i), "v")));
      }
      for (auto& f : futures) {
        ASSERT_EQ(f.wait_for(std::chrono::seconds(10)), std::future_status::ready);
        Result<Bytes> r = f.get();
        EXPECT_TRUE(r.ok()) << r.status().to_string();
        if (r.ok()) {
          EXPECT_EQ(r->view(), "-");  // each key is new
          ++ok;
        }
      }
    });
  }
  for (auto& th : threads) {
    th.join();
  }
  EXPECT_EQ(ok, 200);
  for (int t = 0; t < 4; ++t) {
    for (int i = 0; i < 50; ++i) {
      expected["k" + std::to_string(t) + "-" + std::to_string(i)] = "v";
    }
  }
  EXPECT_TRUE(c.converged(expected));
  // Proposals arriving together share storage writes: fewer writes than proposals.
  const NodeMetrics m = c.node(l).metrics();
  EXPECT_LT(m.storage_writes, 200u) << "no batching";
  EXPECT_GE(m.commit_latency.count, 200u);
  EXPECT_NE(c.node(l).prometheus_text().find("skiff_commit_latency_seconds_count{node=\""),
            std::string::npos);
  // Per peer: the leader sent each follower at least the 200 commands' bytes.
  for (std::uint64_t id = 1; id <= 3; ++id) {
    if (id != l) {
      ASSERT_TRUE(m.peers.contains(NodeId{id}));
      EXPECT_GE(m.peers.at(NodeId{id}).bytes_sent, 200u * 8) << "to node " << id;
      EXPECT_GT(m.peers.at(NodeId{id}).messages_received, 0u) << "from node " << id;
    }
  }
  const std::string text = c.node(l).prometheus_text();
  EXPECT_NE(
      text.find("skiff_peer_payload_bytes_sent_total{node=\"" + std::to_string(l) + "\",peer=\""),
      std::string::npos)
      << text;
}

TEST(Node, AFollowerRefersProposalsToTheLeader) {
  Cluster c;
  const std::uint64_t l = c.leader();
  ASSERT_NE(l, 0u);
  const std::uint64_t f = l % 3 + 1;
  Result<Bytes> r = c.node(f).propose(set("a", "1")).get();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), ErrorCode::kNotLeader);
  EXPECT_EQ(r.status().leader_hint(), NodeId{l});
}

TEST(Node, WithForwardingAnyMemberTakesWritesAndGetsTheirResults) {
  Cluster c([](NodeConfig& nc) { nc.raft.forward_proposals = true; });
  const std::uint64_t l = c.leader();
  ASSERT_NE(l, 0u);
  // Each member proposes; followers' proposals travel to the leader, and the result comes
  // back to the proposing member when it applies the entry (matched by its envelope).
  for (std::uint64_t id = 1; id <= 3; ++id) {
    Result<Bytes> r = c.node(id).propose(set("from" + std::to_string(id), "x")).get();
    ASSERT_TRUE(r.ok()) << "node " << id << ": " << r.status().to_string();
    EXPECT_EQ(r->view(), "-");
    r = c.node(id).propose(set("from" + std::to_string(id), "y")).get();
    ASSERT_TRUE(r.ok()) << r.status().to_string();
    EXPECT_EQ(r->view(), "x") << "the result of this member's own command";
  }
  EXPECT_TRUE(c.converged({{"from1", "y"}, {"from2", "y"}, {"from3", "y"}}));
}

TEST(Node, ReadsSeeEveryAcknowledgedWrite) {
  Cluster c;
  ASSERT_TRUE(put(c, "x", "1").ok());
  const std::uint64_t l = c.leader();
  ASSERT_TRUE(c.node(l).propose(set("x", "2")).get().ok());
  // A read on the leader, and on a follower (forwarded to the leader by the core).
  for (std::uint64_t id = 1; id <= 3; ++id) {
    Status s = c.node(id).read_index().get();
    ASSERT_TRUE(s.ok()) << "node " << id << ": " << s.to_string();
    EXPECT_EQ(c.at(id).sm->map()["x"], "2") << "node " << id << " served a stale read";
  }
}

void new_leader_when_the_leader_stops(const std::string& storage) {
  Cluster c({}, storage);
  ASSERT_TRUE(put(c, "before", "1").ok());
  const std::uint64_t old = c.leader();
  c.stop(old);
  const std::uint64_t now = c.leader();
  ASSERT_NE(now, 0u);
  EXPECT_NE(now, old);
  ASSERT_TRUE(put(c, "after", "2").ok());
  EXPECT_TRUE(c.converged({{"before", "1"}, {"after", "2"}}));
}

TEST(Node, ANewLeaderTakesOverWhenTheLeaderStops) {
  new_leader_when_the_leader_stops("lmdb");
}

TEST(NodeOnWal, ANewLeaderTakesOverWhenTheLeaderStops) {
  new_leader_when_the_leader_stops("wal");
}

TEST(Node, ANewLeaderTakesOverWhenTheLeaderVanishesAbruptly) {
  Cluster c;
  ASSERT_TRUE(put(c, "before", "1").ok());
  const std::uint64_t old = c.leader();
  // Its network goes away at once, mid-term: no goodbye, no transfer, the process still runs.
  c.at(old).transport->stop();
  std::uint64_t now = 0;
  ASSERT_TRUE(eventually([&] {
    for (std::uint64_t id = 1; id <= 3; ++id) {
      auto st =
          id == old ? Result<NodeStatus>(Status(ErrorCode::kUnavailable, "")) : c.node(id).status();
      if (st.ok() && st->role == Role::kLeader) {
        now = id;
        return true;
      }
    }
    return false;
  }));
  ASSERT_TRUE(c.node(now).propose(set("after", "2")).get().ok());
  // The cut-off leader steps down on its own (check-quorum) and refuses writes.
  ASSERT_TRUE(eventually([&] { return c.node(old).status()->role != Role::kLeader; }));
  EXPECT_FALSE(c.node(old).propose(set("lost", "3")).get().ok());
  c.stop(old);
  EXPECT_TRUE(c.converged({{"before", "1"}, {"after", "2"}}));
}

void restarted_member_catches_up_through_the_log(const std::string& storage) {
  Cluster c({}, storage);
  ASSERT_TRUE(put(c, "a", "1").ok());
  const std::uint64_t f = c.leader() % 3 + 1;
  c.stop(f);
  std::map<std::string, std::string> expected{{"a", "1"}};
  for (int i = 0; i < 50; ++i) {
    ASSERT_TRUE(put(c, "k" + std::to_string(i), "v").ok());
    expected["k" + std::to_string(i)] = "v";
  }
  c.start(f);
  EXPECT_TRUE(c.converged(expected));
  EXPECT_EQ(c.at(f).sm->restores(), 0) << "caught up through the log, not a snapshot";
}

TEST(Node, ARestartedMemberCatchesUpThroughTheLog) {
  restarted_member_catches_up_through_the_log("lmdb");
}

TEST(NodeOnWal, ARestartedMemberCatchesUpThroughTheLog) {
  restarted_member_catches_up_through_the_log("wal");
}

// Request identity across restarts (issue 15). A member's requests are numbered anew in every
// process; after a restart the log after the snapshot is applied again, and entries proposed
// by the member's earlier process must not complete the new process's requests that happen
// to have the same numbers (before the fix they did: each new write was answered with its
// namesake's old result, "-" instead of the value it overwrote).
void entries_of_an_earlier_process_answer_nobody(const std::string& storage) {
  Cluster c(
      [](NodeConfig& nc) {
        nc.raft.forward_proposals = true;
        nc.snapshot_entries = 0;  // no snapshot: the restart applies the whole log again
        nc.snapshot_bytes = 0;
      },
      storage);
  const std::uint64_t l = c.leader();
  ASSERT_NE(l, 0u);
  const std::uint64_t f = l % 3 + 1;
  constexpr int kWrites = 1000;
  std::vector<std::future<Result<Bytes>>> first;
  for (int i = 0; i < kWrites; ++i) {  // forwarded: their envelopes name the follower
    first.push_back(c.node(f).propose(set("k" + std::to_string(i), "old" + std::to_string(i))));
  }
  for (int i = 0; i < kWrites; ++i) {
    Result<Bytes> r = first[static_cast<std::size_t>(i)].get();
    // Setup: a write dropped while leadership moved (a loaded or sanitizer build) is retried;
    // a retry of one that was applied after all answers the value it wrote.
    for (int attempt = 0; !r.ok() && attempt < 100; ++attempt) {
      std::this_thread::sleep_for(milliseconds(20));
      r = c.node(f).propose(set("k" + std::to_string(i), "old" + std::to_string(i))).get();
    }
    ASSERT_TRUE(r.ok()) << "write " << i << ": " << r.status().to_string();
    ASSERT_TRUE(r->view() == "-" || r->view() == "old" + std::to_string(i)) << r->view();
  }
  c.stop(f);
  c.start(f, /*fresh_transport=*/true, /*slow_apply=*/true);  // ~0.3 s to apply the log again
  // Proposals need a leader to forward to: the first heartbeat comes within a few ticks, long
  // before the log is applied again.
  ASSERT_TRUE(eventually([&] {
    auto st = c.node(f).status();
    return st.ok() && st->leader != kNoNode;
  }));
  std::vector<std::future<Result<Bytes>>> second;
  for (int i = 0; i < kWrites; ++i) {  // numbered 1, 2, ... again, while the log re-applies
    second.push_back(c.node(f).propose(set("k" + std::to_string(i), "new" + std::to_string(i))));
  }
  // Each answer is the write's own outcome: the value it overwrote, or an error. Dropped
  // writes (a leader change under load) left the old value; timed-out ones may or may not
  // have been applied.
  int mismatches = 0;
  int answered = 0;
  std::map<std::string, std::string> must;  // keys whose final value is known
  for (int i = 0; i < kWrites; ++i) {
    const std::string k = "k" + std::to_string(i);
    Result<Bytes> r = second[static_cast<std::size_t>(i)].get();
    if (!r.ok()) {
      ASSERT_TRUE(r.status().code() == ErrorCode::kProposalDropped ||
                  r.status().code() == ErrorCode::kTimedOut)
          << "write " << i << ": " << r.status().to_string();
      if (r.status().code() == ErrorCode::kProposalDropped) {
        must[k] = "old" + std::to_string(i);
      }
      continue;
    }
    ++answered;
    must[k] = "new" + std::to_string(i);
    if (r->view() != "old" + std::to_string(i)) {
      ++mismatches;
      ADD_FAILURE() << "write " << i << " was answered \"" << r->view()
                    << "\", another request's result (it overwrote old" << i << ")";
      if (mismatches > 5) {
        break;
      }
    }
  }
  EXPECT_GE(answered, kWrites / 2) << "too few writes answered to test anything";
  c.at(f).sm->slow_ = false;
  EXPECT_TRUE(eventually([&] {
    for (std::uint64_t id = 1; id <= 3; ++id) {
      const std::map<std::string, std::string> m = c.at(id).sm->map();
      for (const auto& [k, v] : must) {
        if (auto it = m.find(k); it == m.end() || it->second != v) {
          return false;
        }
      }
    }
    return true;
  }));
}

TEST(Node, EntriesOfAnEarlierProcessAnswerNoRequestOfTheNewOne) {
  entries_of_an_earlier_process_answer_nobody("lmdb");
}

TEST(NodeOnWal, EntriesOfAnEarlierProcessAnswerNoRequestOfTheNewOne) {
  entries_of_an_earlier_process_answer_nobody("wal");
}

void restarted_member_catches_up_through_a_snapshot(const std::string& storage) {
  Cluster c(
      [](NodeConfig& nc) {
        nc.snapshot_entries = 40;
        nc.compaction_margin = 5;
      },
      storage);
  ASSERT_TRUE(put(c, "a", "1").ok());
  const std::uint64_t f = c.leader() % 3 + 1;
  c.stop(f);
  std::map<std::string, std::string> expected{{"a", "1"}};
  for (int i = 0; i < 120; ++i) {
    ASSERT_TRUE(put(c, "k" + std::to_string(i), "v").ok());
    expected["k" + std::to_string(i)] = "v";
  }
  const std::uint64_t l = c.leader();
  ASSERT_TRUE(eventually([&] { return c.node(l).metrics().snapshots_taken >= 2; }));
  c.start(f);
  EXPECT_TRUE(c.converged(expected));
  EXPECT_GE(c.node(f).metrics().snapshots_restored, 1u) << "expected a snapshot from the leader";
  EXPECT_GE(c.node(c.leader()).metrics().peers[NodeId{f}].snapshots_sent, 1u);
  // And the restarted member restarts again from its own stored snapshot.
  c.stop(f);
  c.start(f);
  EXPECT_TRUE(c.converged(expected));
}

TEST(Node, ARestartedMemberCatchesUpThroughASnapshot) {
  restarted_member_catches_up_through_a_snapshot("lmdb");
}

TEST(NodeOnWal, ARestartedMemberCatchesUpThroughASnapshot) {
  restarted_member_catches_up_through_a_snapshot("wal");
}

void stop_under_load_loses_nothing_acknowledged(const std::string& storage) {
  Cluster c({}, storage);
  const std::uint64_t l = c.leader();
  ASSERT_NE(l, 0u);
  std::atomic<bool> go{true};
  std::mutex mu;
  std::vector<std::string> acknowledged;
  std::atomic<int> completed{0};
  std::atomic<int> issued{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 3; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 2000 && go; ++i) {
        const std::string key = "t" + std::to_string(t) + "-" + std::to_string(i);
        ++issued;
        auto f = c.node(l).propose(set(key, "v"));
        if (f.wait_for(std::chrono::seconds(10)) != std::future_status::ready) {
          ADD_FAILURE() << "a proposal future hung";
          return;
        }
        ++completed;
        if (f.get().ok()) {
          std::lock_guard lock(mu);
          acknowledged.push_back(key);
        }
      }
    });
  }
  std::this_thread::sleep_for(milliseconds(300));
  c.node(l).stop();  // graceful, while proposals are in flight
  go = false;
  for (auto& th : threads) {
    th.join();
  }
  c.stop(l);
  EXPECT_EQ(completed.load(), issued.load());
  ASSERT_GT(acknowledged.size(), 0u);
  // Every acknowledged write survives on the remaining majority.
  ASSERT_NE(c.leader(), 0u);
  ASSERT_TRUE(put(c, "marker", "1").ok());
  for (std::uint64_t id = 1; id <= 3; ++id) {
    if (id == l) {
      continue;
    }
    ASSERT_TRUE(c.node(id).read_index().get().ok());
    const auto map = c.at(id).sm->map();
    for (const std::string& k : acknowledged) {
      ASSERT_TRUE(map.contains(k)) << "acknowledged " << k << " lost on node " << id;
    }
  }
}

TEST(Node, StopUnderLoadCompletesEveryRequestAndLosesNothingAcknowledged) {
  stop_under_load_loses_nothing_acknowledged("lmdb");
}

TEST(NodeOnWal, StopUnderLoadCompletesEveryRequestAndLosesNothingAcknowledged) {
  stop_under_load_loses_nothing_acknowledged("wal");
}

TEST(Node, ALeaderWhoseDiskHangsIsReplaced) {  // PITFALLS #18
  Cluster c;
  ASSERT_TRUE(put(c, "a", "1").ok());
  const std::uint64_t old = c.leader();
  c.at(old).storage->hang(true);
  auto stuck = c.node(old).propose(set("stuck", "1"));
  // The others elect a new leader and commit without it.
  std::uint64_t now = 0;
  ASSERT_TRUE(eventually([&] {
    for (std::uint64_t id = 1; id <= 3; ++id) {
      if (id != old) {
        auto st = c.node(id).status();
        if (st.ok() && st->role == Role::kLeader) {
          now = id;
          return true;
        }
      }
    }
    return false;
  }));
  ASSERT_TRUE(c.node(now).propose(set("b", "2")).get().ok());
  EXPECT_TRUE(eventually([&] { return c.logger->contains("a storage write has been in flight"); }))
      << "the hung node says nothing";
  c.at(old).storage->hang(false);
  ASSERT_EQ(stuck.wait_for(std::chrono::seconds(10)), std::future_status::ready);
}

TEST(Node, ALeaderWhoseDiskFailsStopsAndSaysWhy) {  // PITFALLS #18
  Cluster c;
  ASSERT_TRUE(put(c, "a", "1").ok());
  const std::uint64_t old = c.leader();
  c.at(old).storage->fail(true);
  Result<Bytes> r = c.node(old).propose(set("b", "1")).get();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), ErrorCode::kStorage) << r.status().to_string();
  EXPECT_EQ(c.node(old).failure().code(), ErrorCode::kStorage);
  EXPECT_NE(c.node(old).failure().message().find("No space left"), std::string::npos);
  EXPECT_TRUE(c.logger->contains("node stopped: Storage"));
  // Later requests fail at once with the same reason.
  EXPECT_EQ(c.node(old).propose(set("c", "1")).get().status().code(), ErrorCode::kStorage);
  // The others carry on.
  std::uint64_t now = 0;
  ASSERT_TRUE(eventually([&] {
    for (std::uint64_t id = 1; id <= 3; ++id) {
      auto st = id == old ? Result<NodeStatus>(Status()) : c.node(id).status();
      if (id != old && st.ok() && st->role == Role::kLeader) {
        now = id;
        return true;
      }
    }
    return false;
  }));
  EXPECT_TRUE(c.node(now).propose(set("d", "1")).get().ok());
}

TEST(Node, MembersAreAddedAndRemovedThroughTheLog) {
  Cluster c;
  ASSERT_TRUE(put(c, "a", "1").ok());
  // Node 4 starts with an empty membership and the others' addresses; they learn its address
  // from the change itself.
  const std::uint64_t l = c.leader();  // (node 4 knows no leader until it is added)
  c.add_member(4);
  Status added = c.node(l).add_voter(NodeId{4}, c.at(4).address).get();
  ASSERT_TRUE(added.ok()) << added.to_string();
  ASSERT_TRUE(put(c, "b", "2").ok());
  EXPECT_TRUE(c.converged({{"a", "1"}, {"b", "2"}}));
  auto st = c.node(l).status();
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->config.voters.size(), 4u);
  const std::uint64_t l2 = c.leader();
  Status removed = c.node(l2).remove(NodeId{4}).get();
  ASSERT_TRUE(removed.ok()) << removed.to_string();
  c.stop(4);  // removed: it no longer hears from the leader
  st = c.node(l2).status();
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->config.voters.size(), 3u);
  // A membership change on a follower is refused with the leader's id.
  const std::uint64_t f = c.leader() % 3 + 1;
  Status refused = c.node(f).add_learner(NodeId{5}, "127.0.0.1:1").get();
  EXPECT_EQ(refused.code(), ErrorCode::kNotLeader) << refused.to_string();
}

// Adding an existing voter with another address answered OK and moved it there on every
// member, cutting it off for good (issue 15). Now it is refused; moving a member is its own
// operation, change_address.
TEST(Node, AddingAMemberAgainIsRefusedAndChangeAddressMovesIt) {
  // Later the members restart with the moved member's old address still in their peers
  // (a config file not yet updated): the recorded address must win.
  std::uint64_t moved_id = 0;
  std::string stale;
  Cluster c([&](NodeConfig& nc) {
    if (moved_id != 0 && nc.raft.id != NodeId{moved_id}) {
      nc.peers[NodeId{moved_id}] = stale;
    }
  });
  const std::uint64_t l = c.leader();
  ASSERT_NE(l, 0u);
  const std::uint64_t f = l % 3 + 1;
  Status s = c.node(l).add_voter(NodeId{f}, "127.0.0.1:1").get();
  EXPECT_EQ(s.code(), ErrorCode::kFailedPrecondition) << s.to_string();
  EXPECT_NE(s.message().find("change_address"), std::string::npos) << s.message();
  EXPECT_EQ(c.node(l).add_learner(NodeId{f}, "127.0.0.1:1").get().code(),
            ErrorCode::kFailedPrecondition)
      << "demoting with another address moves it too";
  // The follower still gets everything.
  ASSERT_TRUE(put(c, "a", "1").ok());
  EXPECT_TRUE(c.converged({{"a", "1"}}));
  EXPECT_EQ(c.node(l).change_address(NodeId{9}, "127.0.0.1:2").get().code(),
            ErrorCode::kInvalidArgument)
      << "not a member";
  EXPECT_EQ(c.node(l).change_address(NodeId{f}, "").get().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(c.node(f).change_address(NodeId{f}, "127.0.0.1:2").get().code(), ErrorCode::kNotLeader);
  // Moving the follower: it restarts on a new port, and catches up there once moved.
  c.stop(f);
  std::string moved;
  {
    auto probe = c.make_transport(f, "127.0.0.1:0");
    moved = probe->listen_address();
  }
  ASSERT_NE(moved, c.at(f).address);
  ASSERT_TRUE(put(c, "b", "2").ok());
  Status m = c.node(c.leader()).change_address(NodeId{f}, moved).get();
  ASSERT_TRUE(m.ok()) << m.to_string();
  c.at(f).address = moved;
  c.start(f);
  EXPECT_TRUE(c.converged({{"a", "1"}, {"b", "2"}}));
  ASSERT_TRUE(put(c, "c", "3").ok());
  EXPECT_TRUE(c.converged({{"a", "1"}, {"b", "2"}, {"c", "3"}}));

  // Every member restarts with the old address in its peers. The recorded one stays: the
  // member is reached, and a demotion naming the old address is refused (before, a restarted
  // leader knew only its peers' address and took it, moving the member back).
  moved_id = f;
  stale = "127.0.0.1:1";  // where the member is not
  for (std::uint64_t id = 1; id <= 3; ++id) {
    c.stop(id);
  }
  for (std::uint64_t id = 1; id <= 3; ++id) {
    c.start(id);
  }
  ASSERT_TRUE(put(c, "d", "4").ok());
  EXPECT_TRUE(c.converged({{"a", "1"}, {"b", "2"}, {"c", "3"}, {"d", "4"}}));
  const std::uint64_t l2 = c.leader();
  ASSERT_NE(l2, 0u);
  if (l2 != f) {
    Status back = c.node(l2).add_learner(NodeId{f}, stale).get();
    EXPECT_EQ(back.code(), ErrorCode::kFailedPrecondition) << back.to_string();
  }
}

TEST(Node, AMemberThatLostItsDataRejoinsOnlyThroughAMembershipChange) {
  Cluster c;
  ASSERT_TRUE(put(c, "a", "1").ok());
  const std::uint64_t l = c.leader();
  const std::uint64_t f = l % 3 + 1;
  // Its data directory is deleted and it is restarted with the same command line (the same
  // bootstrap membership): it forgot its votes and the entries it acknowledged.
  c.stop(f);
  std::filesystem::remove_all(c.at(f).dir);
  c.start(f);
  ASSERT_TRUE(c.node(l).propose(set("b", "2")).get().ok());  // (f knows no leader: no put())
  std::this_thread::sleep_for(milliseconds(500));
  EXPECT_TRUE(c.at(f).sm->map().empty()) << "it rejoined without a membership change";
  EXPECT_TRUE(c.logger->contains("came back with another data directory")) << c.logger->text();
  // Every member refuses it, not only the leader: members greet each other when they start,
  // so each knows the others' incarnations.
  for (std::uint64_t id = 1; id <= 3; ++id) {
    if (id != f) {
      EXPECT_TRUE(eventually([&] { return c.at(id).transport->stats().incarnations_refused > 0; }))
          << "node " << id << " let it in";
    }
  }
  // Removed and added back, it catches up as a new member.
  ASSERT_TRUE(c.node(l).remove(NodeId{f}).get().ok());
  ASSERT_TRUE(c.node(l).add_voter(NodeId{f}, c.at(f).address).get().ok());
  EXPECT_TRUE(c.converged({{"a", "1"}, {"b", "2"}}));
}

TEST(Node, AMemberRestartedMeanwhileStillRefusesOneThatLostItsData) {
  Cluster c;
  ASSERT_TRUE(put(c, "a", "1").ok());
  // Give the leader a few election timeouts to record every member's incarnation in the log.
  std::this_thread::sleep_for(milliseconds(600));
  ASSERT_TRUE(put(c, "b", "2").ok());
  const std::uint64_t l = c.leader();
  const std::uint64_t f = l % 3 + 1;
  const std::uint64_t g = f % 3 + 1 == l ? l % 3 + 1 + 1 : f % 3 + 1;
  ASSERT_NE(g, l);
  ASSERT_NE(g, f);
  // g restarts while f loses its data: g's memory of f is gone, only the log remembers.
  c.stop(g);
  c.stop(f);
  std::filesystem::remove_all(c.at(f).dir);
  c.start(f);
  c.start(g);
  EXPECT_TRUE(eventually([&] { return c.at(g).transport->stats().incarnations_refused > 0; }))
      << "the restarted member let the wiped one in";
  ASSERT_TRUE(c.node(l).remove(NodeId{f}).get().ok());
  ASSERT_TRUE(c.node(l).add_voter(NodeId{f}, c.at(f).address).get().ok());
  EXPECT_TRUE(c.converged({{"a", "1"}, {"b", "2"}}));
}

TEST(Node, ASlowStateMachineHoldsTheApplyQueueBounded) {
  Cluster c([](NodeConfig& nc) {
    nc.max_apply_queue_bytes = 4096;
    nc.raft.max_committed_size_per_ready = 1024;
  });
  const std::uint64_t l = c.leader();
  ASSERT_NE(l, 0u);
  for (std::uint64_t id = 1; id <= 3; ++id) {
    c.at(id).sm->slow_ = true;
  }
  std::vector<std::future<Result<Bytes>>> futures;
  for (int i = 0; i < 400; ++i) {
    futures.push_back(c.node(l).propose(set("k" + std::to_string(i), std::string(100, 'v'))));
  }
  for (auto& f : futures) {
    ASSERT_EQ(f.wait_for(std::chrono::seconds(20)), std::future_status::ready);
    EXPECT_TRUE(f.get().ok());
  }
  for (std::uint64_t id = 1; id <= 3; ++id) {
    const std::uint64_t peak = c.node(id).metrics().apply_queue_peak_bytes;
    EXPECT_GT(peak, 0u);
    EXPECT_LE(peak, 4096u + 1024u + 200u) << "node " << id << ": the apply queue overran";
  }
}

TEST(Node, LeadershipMovesOnRequest) {
  Cluster c;
  ASSERT_TRUE(put(c, "a", "1").ok());
  const std::uint64_t l = c.leader();
  const std::uint64_t to = l % 3 + 1;
  ASSERT_TRUE(c.node(l).transfer_leadership(NodeId{to}).ok());
  ASSERT_TRUE(eventually([&] { return c.leader() == to; }));
  ASSERT_TRUE(c.node(to).propose(set("b", "2")).get().ok());
  EXPECT_TRUE(c.converged({{"a", "1"}, {"b", "2"}}));
}

TEST(Node, AFlightRecordReplaysToTheSameCommittedLog) {
  test::TempDir records("skiff-records");
  auto path = [&](std::uint64_t id) { return records.path() + "/node-" + std::to_string(id); };
  std::map<std::uint64_t, std::vector<std::pair<Index, std::string>>> live;
  {
    Cluster c([&](NodeConfig& nc) {
      nc.flight_recorder_path = path(nc.raft.id.value);
      nc.snapshot_entries = 60;  // snapshots and compactions are inputs too
      nc.compaction_margin = 10;
    });
    for (int i = 0; i < 150; ++i) {
      ASSERT_TRUE(put(c, "k" + std::to_string(i % 40), std::to_string(i)).ok());
      if (i == 70) {  // and a leadership change in the middle
        const std::uint64_t l = c.leader();
        ASSERT_TRUE(c.node(l).transfer_leadership(NodeId{l % 3 + 1}).ok());
        ASSERT_TRUE(eventually([&] { return c.leader() == l % 3 + 1; }));
      }
    }
    for (std::uint64_t id = 1; id <= 3; ++id) {
      ASSERT_TRUE(c.node(id).read_index().get().ok());
    }
    for (std::uint64_t id = 1; id <= 3; ++id) {
      c.node(id).stop();
      live[id] = c.at(id).sm->applied();
    }
  }
  for (std::uint64_t id = 1; id <= 3; ++id) {
    SCOPED_TRACE("node " + std::to_string(id));
    auto replay = replay_flight_record(path(id));
    ASSERT_TRUE(replay.ok()) << replay.status().to_string();
    EXPECT_FALSE(replay->truncated);
    std::vector<std::pair<Index, std::string>> replayed;
    for (const Entry& e : replay->committed) {
      auto cmd = node_command(e);
      if (!cmd.ok()) {
        ASSERT_EQ(cmd.status().code(), ErrorCode::kInvalidArgument) << cmd.status().to_string();
        continue;  // no command: a no-op, a membership change or a member record
      }
      replayed.emplace_back(e.index, std::string(*cmd));
    }
    ASSERT_GE(live[id].size(), 150u);
    EXPECT_EQ(replayed, live[id]);
    EXPECT_GT(replay->events, 100u);
  }
#ifdef SKIFF_REPLAY_TOOL
  // The replay tool reads it too.
  const std::string out = records.path() + "/replay.txt";
  const std::string cmd = std::string(SKIFF_REPLAY_TOOL) + " --quiet " + path(3) + " > " + out;
  ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
  std::ifstream in(out);
  std::string line;
  std::getline(in, line);
  EXPECT_NE(line.find(" committed entries"), std::string::npos) << line;
#endif
  // A record cut off in the middle of an input (the process died) replays up to the cut.
  const std::uint64_t size = std::filesystem::file_size(path(1));
  std::filesystem::resize_file(path(1), size - 3);
  auto cut = replay_flight_record(path(1));
  ASSERT_TRUE(cut.ok()) << cut.status().to_string();
  EXPECT_TRUE(cut->truncated);
  // Something that is not a record is refused.
  std::filesystem::resize_file(path(2), 5);
  EXPECT_EQ(replay_flight_record(path(2)).status().code(), ErrorCode::kCorruption);
}

// A transport that is the test's hands: it keeps what the node sends, answers nothing by
// itself, and lets the test make the reports a real transport would.
class ScriptedTransport final : public Transport {
 public:
  Status start(TransportHandler& handler) override {
    std::lock_guard lock(mu_);
    handler_ = &handler;
    return Status();
  }
  void stop() override {
    std::lock_guard lock(mu_);
    handler_ = nullptr;
  }
  void send(Message m) override {
    std::lock_guard lock(mu_);
    sent_.push_back(std::move(m));
  }
  Status add_peer(NodeId, const std::string&) override { return Status(); }
  void remove_peer(NodeId) override {}

  std::vector<Message> sent() {
    std::lock_guard lock(mu_);
    return sent_;
  }
  // Calls into the node as the transport's own thread would.
  void deliver(Message m) { handler().on_message(std::move(m)); }
  void report_snapshot(NodeId peer, Index snapshot, bool ok) {
    handler().on_snapshot_status(peer, snapshot, ok);
  }

 private:
  TransportHandler& handler() {
    std::lock_guard lock(mu_);
    return *handler_;
  }
  std::mutex mu_;
  TransportHandler* handler_ = nullptr;
  std::vector<Message> sent_;
};

// Rewrites the flight record at `from` into `to`, turning each snapshot report that names
// `index` into the first format's record (kSnapshotStatus: peer · ok, no index), as an older
// skiff wrote it. Format: src/node/flight_recorder.h.
std::uint64_t downgrade_snapshot_reports(const std::string& from, const std::string& to,
                                         Index index) {
  std::string data(std::filesystem::file_size(from), '\0');
  std::ifstream(from, std::ios::binary)
      .read(data.data(), static_cast<std::streamsize>(data.size()));
  auto u64_at = [&](std::size_t at) {
    std::uint64_t v = 0;
    for (std::size_t k = 0; k < 8; ++k) {
      v |= std::uint64_t{static_cast<unsigned char>(data[at + k])} << (8 * k);
    }
    return v;
  };
  std::string out = data.substr(0, 9);  // magic and version
  std::uint64_t rewritten = 0;
  for (std::size_t at = 9; at + 5 <= data.size();) {
    const auto kind = static_cast<node_detail::RecordKind>(data[at]);
    std::uint32_t n = 0;
    for (std::size_t k = 0; k < 4; ++k) {
      n |= std::uint32_t{static_cast<unsigned char>(data[at + 1 + k])} << (8 * k);
    }
    if (kind == node_detail::RecordKind::kSnapshotStatusAt && n == 24 &&
        u64_at(at + 5 + 8) == index.value) {
      std::string payload = data.substr(at + 5, 8) + data.substr(at + 5 + 16, 8);  // peer, ok
      out.push_back(static_cast<char>(node_detail::RecordKind::kSnapshotStatus));
      out.append({static_cast<char>(payload.size()), 0, 0, 0});
      out += payload;
      ++rewritten;
    } else {
      out += data.substr(at, 5 + std::size_t{n});
    }
    at += 5 + std::size_t{n};
  }
  std::ofstream(to, std::ios::binary) << out;
  return rewritten;
}

// The node passes the transport's snapshot index on to the core (issue 15): a late report on
// an older snapshot leaves the wait on the current one alone; before, the node could not say
// which snapshot a report was about and the core applied it to the current one. The flight
// record keeps the index, and a record in the older format (no index) still replays.
TEST(Node, ALateReportOnAnOlderSnapshotIsIgnored) {
  test::TempDir dir("skiff-node");
  const std::string record = dir.path() + "/record";
  LmdbOptions lo;
  lo.path = dir.path() + "/n1";
  lo.cluster_id = kCluster;
  lo.node_id = NodeId{1};
  lo.bootstrap.voters = {NodeId{1}};
  lo.bootstrap.learners = {NodeId{2}};  // node 2 is the scripted transport's to play
  auto storage = LmdbStorage::open(lo);
  ASSERT_TRUE(storage.ok()) << storage.status().to_string();
  ScriptedTransport transport;
  KvMachine sm;
  NodeConfig nc;
  nc.raft.id = NodeId{1};
  nc.raft.election_tick = 10;
  nc.tick_interval = milliseconds(10);
  nc.peers[NodeId{2}] = "node-2";
  nc.snapshot_entries = 3;  // snapshot and compact soon, so node 2 needs a snapshot
  nc.compaction_margin = 0;
  nc.flight_recorder_path = record;
  nc.logger = std::make_shared<CapturingLogger>();
  auto node = Node::create(nc, **storage, transport, sm);
  ASSERT_TRUE(node.ok()) << node.status().to_string();
  ASSERT_TRUE((*node)->start().ok());
  Node& n = **node;
  auto progress_of_2 = [&]() -> std::optional<PeerProgress> {
    auto s = n.status();
    if (!s.ok() || s->role != Role::kLeader || !s->progress.contains(NodeId{2})) {
      return std::nullopt;
    }
    return s->progress.at(NodeId{2});
  };
  ASSERT_TRUE(eventually([&] { return progress_of_2().has_value(); }));
  for (int i = 0; i < 8; ++i) {
    ASSERT_TRUE(n.propose(set("k" + std::to_string(i), "v")).get().ok());
  }
  ASSERT_TRUE(eventually([&] { return n.status().ok() && n.status()->first_index > Index{1}; }));

  // Node 2 refuses the leader's probe with an empty log: the entries are compacted, so the
  // leader sends its snapshot and waits on it.
  std::optional<Message> snapshot;
  ASSERT_TRUE(eventually([&] {
    for (const Message& m : transport.sent()) {
      if (m.type == MessageType::kSnapshot && m.to == NodeId{2}) {
        snapshot = m;
        return true;
      }
    }
    const std::vector<Message> sent = transport.sent();
    for (auto it = sent.rbegin(); it != sent.rend(); ++it) {
      if (it->type == MessageType::kAppend && it->to == NodeId{2}) {
        Message reply;
        reply.type = MessageType::kAppendResponse;
        reply.from = NodeId{2};
        reply.to = NodeId{1};
        reply.term = it->term;
        reply.index = it->index;
        reply.reject = true;
        reply.reject_hint = Index{0};
        transport.deliver(reply);
        break;
      }
    }
    return false;
  }));
  const Index sent_index = snapshot->snapshot.meta.last.index;
  ASSERT_GT(sent_index, Index{1});
  ASSERT_TRUE(eventually([&] {
    auto p = progress_of_2();
    return p && p->state == ReplicationState::kSnapshot;
  }));
  EXPECT_EQ(progress_of_2()->pending_snapshot, sent_index);

  // A late failure report on an older snapshot: ignored. status() runs on the core thread
  // after the report (both are queued there in order), so it sees the report's effect.
  transport.report_snapshot(NodeId{2}, sent_index - 1, false);
  auto p = progress_of_2();
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(p->state, ReplicationState::kSnapshot) << "the late report ended the wait";
  EXPECT_EQ(p->pending_snapshot, sent_index);
  // The report on the snapshot sent ends the wait.
  transport.report_snapshot(NodeId{2}, sent_index, false);
  p = progress_of_2();
  ASSERT_TRUE(p.has_value());
  EXPECT_NE(p->state, ReplicationState::kSnapshot);
  n.stop();
  node->reset();  // closes the record: stop() leaves what came after the last Ready buffered

  auto replay = replay_flight_record(record);
  ASSERT_TRUE(replay.ok()) << replay.status().to_string();
  ASSERT_TRUE(replay->status.progress.contains(NodeId{2}));
  EXPECT_NE(replay->status.progress.at(NodeId{2}).state, ReplicationState::kSnapshot);

  // The same record as an older skiff wrote it: the report on the snapshot sent carries no
  // index (record kind 10). It still replays, to the same state; the late report stays in
  // the new kind, since the old one could not tell it apart.
  const std::string old_format = dir.path() + "/record-v1-reports";
  ASSERT_EQ(downgrade_snapshot_reports(record, old_format, sent_index), 1u);
  auto old_replay = replay_flight_record(old_format);
  ASSERT_TRUE(old_replay.ok()) << old_replay.status().to_string();
  EXPECT_EQ(old_replay->events, replay->events);
  EXPECT_EQ(old_replay->status, replay->status);
  EXPECT_EQ(old_replay->committed, replay->committed);
}

// A one-member LMDB storage under `path`, of `cluster` and `node`, bootstrapped with `voters`.
std::unique_ptr<LmdbStorage> open_lmdb(const std::string& path, std::uint64_t cluster,
                                       std::uint64_t node, ConfState bootstrap) {
  LmdbOptions lo;
  lo.path = path;
  lo.cluster_id = cluster;
  lo.node_id = NodeId{node};
  lo.bootstrap = std::move(bootstrap);
  auto s = LmdbStorage::open(lo);
  EXPECT_TRUE(s.ok()) << s.status().to_string();
  return s.ok() ? std::move(*s) : nullptr;
}

// A TCP transport of `cluster` speaking for `node`, on a free loopback port.
std::unique_ptr<AsioTransport> loopback_transport(std::uint64_t cluster, std::uint64_t node) {
  AsioTransportOptions to;
  to.cluster_id = cluster;
  to.self = NodeId{node};
  to.listen_address = "127.0.0.1:0";
  auto t = AsioTransport::create(to);
  EXPECT_TRUE(t.ok()) << t.status().to_string();
  return t.ok() ? std::move(*t) : nullptr;
}

ConfState voters_of(std::initializer_list<std::uint64_t> ids) {
  ConfState cs;
  for (std::uint64_t id : ids) {
    cs.voters.push_back(NodeId{id});
  }
  return cs;
}

TEST(Node, ConfigIsChecked) {
  test::TempDir dir("skiff-node");
  auto s = open_lmdb(dir.path(), kCluster, 1, voters_of({1}));
  auto t = loopback_transport(kCluster, 1);
  ASSERT_TRUE(s && t);
  KvMachine sm;
  auto bad = [&](std::function<void(NodeConfig&)> change, const std::string& why) {
    NodeConfig c;
    c.raft.id = NodeId{1};
    change(c);
    auto n = Node::create(c, *s, *t, sm);
    ASSERT_FALSE(n.ok()) << why;
    EXPECT_NE(n.status().message().find(why), std::string::npos) << n.status().message();
  };
  bad([](NodeConfig& c) { c.tick_interval = milliseconds(0); }, "tick_interval");
  bad([](NodeConfig& c) { c.peers[NodeId{1}] = "127.0.0.1:1"; }, "not another node's id");
  bad([](NodeConfig& c) { c.peers[NodeId{2}] = "nowhere"; }, "peer 2");
  bad([](NodeConfig& c) { c.raft.election_tick = 1; }, "election_tick");
  bad([](NodeConfig& c) { c.join = true; }, "join is set but the storage was bootstrapped");
}

// Contradictory identities are configuration errors at creation (issue 15): before, each of
// these was accepted silently.
TEST(Node, ContradictoryIdentitiesAreRefusedAtCreation) {
  test::TempDir dir("skiff-node");
  const ConfState three = voters_of({1, 2, 3});
  KvMachine sm;
  auto refused = [&](Storage& s, Transport& t, bool join, const std::string& why) {
    NodeConfig c;
    c.raft.id = NodeId{1};
    c.join = join;
    auto n = Node::create(c, s, t, sm);
    ASSERT_FALSE(n.ok()) << "accepted; expected: " << why;
    EXPECT_EQ(n.status().code(), ErrorCode::kInvalidArgument);
    EXPECT_NE(n.status().message().find(why), std::string::npos) << n.status().message();
  };
  auto of_node2 = open_lmdb(dir.path() + "/of-node2", kCluster, 2, three);
  auto t1 = loopback_transport(kCluster, 1);
  refused(*of_node2, *t1, false, "the storage holds node 2's data");
  auto mine = open_lmdb(dir.path() + "/mine", kCluster, 1, three);
  auto t2 = loopback_transport(kCluster, 2);
  refused(*mine, *t2, false, "the transport speaks for node 2");
  auto other_cluster = loopback_transport(9, 1);
  refused(*mine, *other_cluster, false,
          "the storage belongs to cluster " + std::to_string(kCluster) +
              " but the transport to "
              "cluster 9");
  const ConfState without_me = voters_of({2, 3});
  auto not_a_member = open_lmdb(dir.path() + "/not-a-member", kCluster, 1, without_me);
  refused(*not_a_member, *t1, false, "raft.id 1 is not among the bootstrap membership");
  auto no_membership = open_lmdb(dir.path() + "/none", kCluster, 1, ConfState{});
  refused(*no_membership, *t1, false, "the storage holds no membership");
  // The same storage with join set is a node waiting to be added: accepted.
  NodeConfig joining;
  joining.raft.id = NodeId{1};
  joining.join = true;
  EXPECT_TRUE(Node::create(joining, *no_membership, *t1, sm).ok());
  // And the consistent combination works.
  NodeConfig good;
  good.raft.id = NodeId{1};
  EXPECT_TRUE(Node::create(good, *mine, *t1, sm).ok());
}

TEST(Node, ASingleMemberClusterWorksEndToEnd) {
  test::TempDir dir("skiff-node");
  auto s = open_lmdb(dir.path(), kCluster, 1, voters_of({1}));
  auto t = loopback_transport(kCluster, 1);
  ASSERT_TRUE(s && t);
  KvMachine sm;
  // A single-member cluster works end to end.
  NodeConfig c;
  c.raft.id = NodeId{1};
  auto n = Node::create(c, *s, *t, sm);
  ASSERT_TRUE(n.ok()) << n.status().to_string();
  ASSERT_TRUE((*n)->start().ok());
  EXPECT_EQ((*n)->start().code(), ErrorCode::kFailedPrecondition);
  Result<Bytes> r = Status(ErrorCode::kUnavailable, "");
  ASSERT_TRUE(eventually([&] {
    r = (*n)->propose(set("solo", "1")).get();
    return r.ok();
  })) << r.status().to_string();
  (*n)->stop();
  EXPECT_EQ((*n)->propose(set("late", "1")).get().status().code(), ErrorCode::kStopped);
}

}  // namespace
}  // namespace skiff
