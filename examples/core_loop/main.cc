// The smallest complete use of skiff's core: three RawNodes in one process, messages passed
// through a vector, time advanced by a loop. It elects a leader, replicates three writes and
// prints what each node applied. Real applications replace the vector with a transport, the
// MemoryStorage with a durable adapter and the loop with a clock.
#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "skiff/skiff.h"

namespace {

struct Member {
  skiff::MemoryStorage storage;
  std::unique_ptr<skiff::RawNode> node;
  std::vector<std::string> applied;
};

// Handles one Ready per the contract in skiff/ready.h, collecting outgoing messages.
void handle_ready(Member& m, std::vector<skiff::Message>& network) {
  skiff::Ready rd = m.node->ready().value();
  network.insert(network.end(), rd.messages.begin(), rd.messages.end());
  (void)m.storage.append(rd.entries);  // MemoryStorage cannot fail on a core's own Ready
  if (rd.hard_state) {
    m.storage.set_hard_state(*rd.hard_state);
  }
  network.insert(network.end(), rd.persisted_messages.begin(), rd.persisted_messages.end());
  for (const skiff::Entry& e : rd.committed_entries) {
    if (e.type == skiff::EntryType::kNormal) {
      m.applied.emplace_back(e.data.view());
    }
  }
  (void)m.node->advance(rd);
}

}  // namespace

int main() {
  const skiff::ConfState members{{skiff::NodeId{1}, skiff::NodeId{2}, skiff::NodeId{3}}, {}};
  std::map<std::uint64_t, Member> cluster;
  for (std::uint64_t id = 1; id <= 3; ++id) {
    Member& m = cluster[id];
    m.storage.set_conf_state(members);
    skiff::Config config;
    config.id = skiff::NodeId{id};
    config.seed = 2026;
    auto node = skiff::RawNode::create(config, m.storage);
    if (!node.ok()) {
      std::fprintf(stderr, "create: %s\n", node.status().to_string().c_str());
      return 1;
    }
    m.node = std::make_unique<skiff::RawNode>(std::move(node).value());
  }

  std::vector<std::string> writes = {"x=1", "y=2", "x=3"};
  std::vector<skiff::Message> network;
  for (int tick = 0; tick < 200; ++tick) {
    for (auto& [id, m] : cluster) {
      m.node->tick();
    }
    // Deliver until quiet.
    for (int round = 0; round < 100; ++round) {
      for (auto& [id, m] : cluster) {
        if (m.node->has_ready()) {
          handle_ready(m, network);
        }
      }
      if (network.empty()) {
        break;
      }
      std::vector<skiff::Message> batch;
      batch.swap(network);
      for (const skiff::Message& msg : batch) {
        (void)cluster.at(msg.to.value).node->step(msg);
      }
    }
    // Propose on whoever leads; followers answer NotLeader with a hint.
    if (!writes.empty()) {
      auto p = cluster.at(1).node->propose(skiff::Bytes(writes.front()));
      if (!p.ok() && p.status().leader_hint() != skiff::kNoNode) {
        p = cluster.at(p.status().leader_hint().value).node->propose(skiff::Bytes(writes.front()));
      }
      if (p.ok()) {
        std::printf("proposed %s at %s\n", writes.front().c_str(), skiff::describe(p->id).c_str());
        writes.erase(writes.begin());
      }
    }
  }

  bool ok = true;
  for (auto& [id, m] : cluster) {
    std::string line;
    for (const std::string& w : m.applied) {
      line += w + " ";
    }
    std::printf("node %llu (%s, term %llu) applied: %s\n", static_cast<unsigned long long>(id),
                std::string(skiff::to_string(m.node->role())).c_str(),
                static_cast<unsigned long long>(m.node->term().value), line.c_str());
    ok = ok && m.applied == std::vector<std::string>{"x=1", "y=2", "x=3"};
  }
  return ok ? 0 : 1;
}
