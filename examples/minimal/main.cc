// Embedding skiff: a replicated counter. Each member is a skiff::Node with LMDB storage and
// the TCP transport; the application supplies only its state machine. In a real deployment
// each member is its own process (one Node per process, flags for id, peers and data
// directory); here three run in one process on loopback so the example is self-contained.
//
//   skiff_example_minimal [DATA_DIR]     (default: a new directory under /tmp)
//
// Uses only the installed package's public headers; the install test builds it from outside
// the source tree.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "skiff/node/node.h"
#include "skiff/storage/lmdb_storage.h"
#include "skiff/transport/asio_transport.h"

namespace {

// The application's state: a counter. Commands are decimal increments; apply returns the
// new value to the proposer.
class Counter final : public skiff::StateMachine {
 public:
  skiff::Bytes apply(skiff::Index, std::string_view command) override {
    std::lock_guard lock(mu_);
    value_ += std::strtoll(std::string(command).c_str(), nullptr, 10);
    return skiff::Bytes(std::to_string(value_));
  }
  skiff::Status snapshot(skiff::SnapshotWriter& out) override {
    std::lock_guard lock(mu_);
    return out.write(std::to_string(value_));
  }
  skiff::Status restore(skiff::SnapshotReader& in) override {
    std::string s(in.size(), '\0');
    std::size_t at = 0;
    while (std::size_t n = in.read(s.data() + at, s.size() - at)) {
      at += n;
    }
    std::lock_guard lock(mu_);
    value_ = std::strtoll(s.c_str(), nullptr, 10);
    return skiff::Status();
  }
  long long value() {
    std::lock_guard lock(mu_);
    return value_;
  }

 private:
  std::mutex mu_;
  long long value_ = 0;
};

// One member: its storage, transport, state machine and node.
struct Member {
  std::unique_ptr<skiff::LmdbStorage> storage;
  std::unique_ptr<skiff::AsioTransport> transport;
  Counter counter;
  std::unique_ptr<skiff::Node> node;
};

int fail(const std::string& what, const skiff::Status& s) {
  std::fprintf(stderr, "minimal: %s: %s\n", what.c_str(), s.to_string().c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  std::string dir = argc > 1 ? argv[1] : "";
  if (dir.empty()) {
    char pattern[] = "/tmp/skiff-minimal-XXXXXX";
    if (mkdtemp(pattern) == nullptr) {
      std::perror("mkdtemp");
      return 1;
    }
    dir = pattern;
  }
  constexpr std::uint64_t kCluster = 1;
  std::map<std::uint64_t, Member> members;
  // Transports first: each binds a free loopback port that the others need to know.
  for (std::uint64_t id = 1; id <= 3; ++id) {
    skiff::AsioTransportOptions t;
    t.cluster_id = kCluster;
    t.self = skiff::NodeId{id};
    t.listen_address = "127.0.0.1:0";
    auto transport = skiff::AsioTransport::create(t);
    if (!transport.ok()) {
      return fail("transport", transport.status());
    }
    members[id].transport = std::move(*transport);
  }
  for (auto& [id, m] : members) {
    skiff::LmdbOptions l;
    l.path = dir + "/node-" + std::to_string(id);
    l.cluster_id = kCluster;
    l.node_id = skiff::NodeId{id};
    l.bootstrap.voters = {skiff::NodeId{1}, skiff::NodeId{2}, skiff::NodeId{3}};  // new cluster
    auto storage = skiff::LmdbStorage::open(l);
    if (!storage.ok()) {
      return fail("storage", storage.status());
    }
    m.storage = std::move(*storage);

    skiff::NodeConfig config;
    config.raft.id = skiff::NodeId{id};
    for (auto& [peer, pm] : members) {
      if (peer != id) {
        config.peers[skiff::NodeId{peer}] = pm.transport->listen_address();
      }
    }
    auto node = skiff::Node::create(config, *m.storage, *m.transport, m.counter);
    if (!node.ok()) {
      return fail("node", node.status());
    }
    m.node = std::move(*node);
    if (skiff::Status s = m.node->start(); !s.ok()) {
      return fail("start", s);
    }
  }

  // Propose through any member: a follower answers NotLeader with the leader's id.
  std::uint64_t target = 1;
  int done = 0;
  for (int attempt = 0; attempt < 200 && done < 3; ++attempt) {
    skiff::Result<skiff::Bytes> r = members[target].node->propose(skiff::Bytes("10")).get();
    if (r.ok()) {
      std::printf("increment applied, counter is now %s\n", std::string(r->view()).c_str());
      ++done;
    } else if (r.status().code() == skiff::ErrorCode::kNotLeader &&
               r.status().leader_hint() != skiff::kNoNode) {
      target = r.status().leader_hint().value;
    } else {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));  // no leader yet
    }
  }
  if (done < 3) {
    std::fprintf(stderr, "minimal: the cluster did not accept the writes\n");
    return 1;
  }
  // A linearizable read on a follower: once ready, its counter reflects every write above.
  const std::uint64_t follower = target % 3 + 1;
  if (skiff::Status s = members[follower].node->read_index().get(); !s.ok()) {
    return fail("read", s);
  }
  std::printf("node %llu (a follower) reads %lld\n", static_cast<unsigned long long>(follower),
              members[follower].counter.value());
  for (auto& [id, m] : members) {
    m.node->stop();
  }
  return members[follower].counter.value() == 30 ? 0 : 1;
}
