// Node::Impl's apply thread (node_impl.h): applying committed entries and completing their
// requests, restoring snapshots, taking them by policy, the replicated member registry, and
// serving linearizable reads.
#include "node_impl.h"

namespace skiff {

void Node::Impl::restore(const Snapshot& snap) {
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

void Node::Impl::apply_entries(const std::vector<Entry>& entries) {
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
          if (std::optional<std::uint64_t> id = requests.at(e.index)) {
            complete(*id, Bytes());  // a change_address of this process, on the leader
          }
          break;
        }
        auto env = node_detail::unwrap(e.data.view());
        if (!env.ok()) {
          fail_from_apply(Status(ErrorCode::kCorruption, fmt::format("entry {}: {}", e.index.value,
                                                                     env.status().message())));
          return;
        }
        Bytes result = sm.apply(e.index, env->command);
        ++metrics.applied;
        bytes_since_snapshot += env->command.size();
        applied = e.index;
        // Only this process's own requests: an entry proposed by an earlier process of this
        // node (applied again after a restart) belongs to a caller that is gone.
        if (env->origin == self && env->request.process == process_id) {
          complete(env->request.number, std::move(result));
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

void Node::Impl::record_member(NodeId id, const MemberRecord& record) {
  MemberRecord r;
  {
    std::lock_guard lock(registry_mu);
    node_detail::merge_member_record(registry, id, record);
    r = registry.at(id);
  }
  if (id == self) {
    if (r.incarnation != 0 && r.incarnation != storage.incarnation() &&
        storage.incarnation() != 0) {
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
    // The core thread's view of addresses (check_change, record_members) follows the
    // registry too: after a restart or a snapshot it would otherwise hold config.peers'.
    asio::post(io, [this, id, address = r.address] { addresses[id] = address; });
  }
}

void Node::Impl::adopt_registry(MemberRegistry fresh) {
  {
    std::lock_guard lock(registry_mu);
    registry.clear();
  }
  for (const auto& [id, r] : fresh) {
    record_member(id, r);
  }
}

void Node::Impl::serve_reads() {
  while (!pending_reads.empty() && pending_reads.begin()->first <= applied) {
    const std::uint64_t id = pending_reads.begin()->second;
    pending_reads.erase(pending_reads.begin());
    ++metrics.reads;
    complete(id, Bytes());
  }
}

void Node::Impl::maybe_snapshot() {
  if (snapshot_running || applied <= snapshot_index) {
    return;
  }
  const bool by_count = config.snapshot_entries != 0 &&
                        applied.value - snapshot_index.value >= config.snapshot_entries;
  const bool by_size = config.snapshot_bytes != 0 && bytes_since_snapshot >= config.snapshot_bytes;
  if (!by_count && !by_size) {
    return;
  }
  StringWriter writer;
  {
    std::lock_guard lock(registry_mu);
    writer.data = node_detail::encode_node_snapshot(registry, {});
  }
  if (Status s = sm.snapshot(writer); !s.ok()) {
    log(LogLevel::kError, "state machine snapshot at {} failed: {}", applied.value, s.to_string());
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

}  // namespace skiff
