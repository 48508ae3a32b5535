// Uses an installed skiff the way an application would: a one-node group elects itself,
// commits a proposal, and hands it back for applying. Exits 0 only if "hello" is applied.
#include <cstdio>
#include <string>
#include <utility>

#include "skiff/memory_storage.h"
#include "skiff/raw_node.h"
#include "skiff/ready.h"

namespace {

// Handles every pending Ready per the contract on skiff::Ready; returns whether "hello" was
// among the committed entries.
bool drain(skiff::RawNode& node, skiff::MemoryStorage& storage) {
  bool applied_hello = false;
  while (node.has_ready()) {
    auto rd = node.ready();
    if (!rd.ok()) {
      std::fprintf(stderr, "ready: %s\n", rd.status().to_string().c_str());
      return false;
    }
    if (!storage.append(rd->entries).ok()) {
      std::fprintf(stderr, "append failed\n");
      return false;
    }
    if (rd->hard_state) {
      storage.set_hard_state(*rd->hard_state);
    }
    for (const skiff::Entry& e : rd->committed_entries) {
      if (e.type == skiff::EntryType::kNormal && e.data.view() == "hello") {
        applied_hello = true;
      }
    }
    if (auto s = node.advance(*rd); !s.ok()) {
      std::fprintf(stderr, "advance: %s\n", s.to_string().c_str());
      return false;
    }
  }
  return applied_hello;
}

}  // namespace

int main() {
  skiff::MemoryStorage storage(skiff::ConfState{{skiff::NodeId{1}}, {}});
  skiff::Config config;
  config.id = skiff::NodeId{1};
  auto created = skiff::RawNode::create(config, storage);
  if (!created.ok()) {
    std::fprintf(stderr, "create: %s\n", created.status().to_string().c_str());
    return 1;
  }
  skiff::RawNode node = std::move(created).value();

  if (auto s = node.campaign(); !s.ok()) {
    std::fprintf(stderr, "campaign: %s\n", s.to_string().c_str());
    return 1;
  }
  bool proposed = false;
  for (int round = 0; round < 100; ++round) {
    if (drain(node, storage)) {
      std::printf("consumer: \"hello\" committed and applied\n");
      return 0;
    }
    if (!proposed && node.role() == skiff::Role::kLeader) {
      auto p = node.propose(skiff::Bytes(std::string("hello")));
      if (!p.ok()) {
        std::fprintf(stderr, "propose: %s\n", p.status().to_string().c_str());
        return 1;
      }
      proposed = true;
    }
    node.tick();
  }
  std::fprintf(stderr, "consumer: \"hello\" was never applied (proposed: %s)\n",
               proposed ? "yes" : "no");
  return 1;
}
