// A member of an example service (member.h).
#include "member.h"

namespace skiff::examples {

Result<std::unique_ptr<Member>> Member::start(const ServeFlags& flags, StateMachine& sm,
                                              std::shared_ptr<Logger> logger) {
  std::unique_ptr<Member> m(new Member());
  LmdbOptions lo;
  lo.path = flags.data_dir;
  lo.cluster_id = flags.cluster_id;
  lo.node_id = flags.id;
  if (!flags.join) {
    for (const auto& [id, address] : flags.peers) {
      lo.bootstrap.voters.push_back(id);
    }
  }
  auto storage = LmdbStorage::open(lo);
  if (!storage.ok()) {
    return Status(storage.status().code(), "storage: " + storage.status().message());
  }
  m->storage_ = std::move(*storage);

  AsioTransportOptions to;
  to.cluster_id = flags.cluster_id;
  to.self = flags.id;
  to.listen_address = flags.peers.at(flags.id);
  to.logger = logger;
  auto transport = AsioTransport::create(to);
  if (!transport.ok()) {
    return Status(transport.status().code(), "transport: " + transport.status().message());
  }
  m->transport_ = std::move(*transport);

  NodeConfig nc;
  nc.raft.id = flags.id;
  nc.raft.election_tick = flags.election_ticks;
  nc.raft.heartbeat_tick = flags.heartbeat_ticks;
  nc.raft.forward_proposals = true;  // any member takes writes (the result comes back to it)
  nc.tick_interval = flags.tick;
  nc.logger = logger;
  for (const auto& [id, address] : flags.peers) {
    if (id != flags.id) {
      nc.peers[id] = address;
    }
  }
  auto node = Node::create(nc, *m->storage_, *m->transport_, sm);
  if (!node.ok()) {
    return Status(node.status().code(), "node: " + node.status().message());
  }
  m->node_ = std::move(*node);
  if (Status s = m->node_->start(); !s.ok()) {
    return Status(s.code(), "node: " + s.message());
  }
  return m;
}

Member::~Member() {
  stop();
}

void Member::stop() {
  if (node_) {
    node_->stop();
  }
}

}  // namespace skiff::examples
