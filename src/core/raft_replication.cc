// The leader's side of log replication (Raft §5.3, thesis §3.5): appends and snapshots sent
// within each follower's flow-control window, heartbeats carrying the commit index and the read
// rounds, and the followers' answers. Members of Raft (raft.h), split from raft.cc to keep each
// file to one concern.
#include <algorithm>

#include "core/assert.h"
#include "core/raft.h"
#include "core/str.h"

namespace skiff::detail {

void Raft::broadcast_append() {
  leader_state().broadcast_pending = true;
}

bool Raft::has_pending_broadcast() const {
  const auto* leader = std::get_if<LeaderState>(&role_);
  return leader != nullptr && (leader->broadcast_pending || leader->reads.needs_round());
}

void Raft::flush_broadcast() {
  if (!has_pending_broadcast()) {
    return;
  }
  LeaderState& leader = leader_state();
  if (leader.broadcast_pending) {
    leader.broadcast_pending = false;
    for (auto& [id, pr] : leader.progress.peers()) {
      if (id != id_) {
        send_appends_to(id, pr.can_bump_commit(log_.committed()));
      }
    }
  }
  if (leader.reads.needs_round()) {
    // One heartbeat round confirms every read accepted since the last one (batching).
    broadcast_heartbeat();
  }
}

void Raft::send_appends_to(NodeId to, bool send_if_empty) {
  if (!maybe_send_append(to, send_if_empty)) {
    return;
  }
  // Pipelining: in the replicate state, keep sending while the window allows.
  while (progress(to)->state() == ProgressState::kReplicate && maybe_send_append(to, false)) {
  }
}

bool Raft::maybe_send_append(NodeId to, bool send_if_empty) {
  Progress* pr = progress(to);
  if (pr == nullptr || pr->is_paused()) {
    return false;
  }
  const Index prev = pr->next() - 1;
  auto prev_term = log_.term(prev);
  if (!prev_term.ok()) {
    if (prev_term.status().code() == ErrorCode::kCompacted) {
      // The follower needs entries we compacted (Raft §7; PITFALLS #7a, #16).
      return send_snapshot(to, *pr);
    }
    ++counters_.storage_read_errors;
    log(LogLevel::kWarning,
        str_cat("node ", id_, " cannot send Append to ", to, ": ", prev_term.status().to_string()));
    return false;
  }
  if (!send_if_empty && pr->next() > log_.last_index()) {
    return false;  // nothing new (the pipelining loop's last probe): skip the empty slice
  }
  auto ents = log_.slice(pr->next(), log_.last_index() + 1, config_.max_size_per_msg);
  if (!ents.ok()) {
    if (ents.status().code() == ErrorCode::kCompacted) {
      return send_snapshot(to, *pr);
    }
    ++counters_.storage_read_errors;
    log(LogLevel::kWarning,
        str_cat("node ", id_, " cannot read entries for ", to, ": ", ents.status().to_string()));
    return false;
  }
  if (ents->empty() && !send_if_empty) {
    return false;
  }
  Message m;
  m.type = MessageType::kAppend;
  m.to = to;
  m.index = prev;
  m.log_term = *prev_term;
  m.commit = log_.committed();
  pr->sent_entries(prev, ents->size(), entries_size(*ents), m.commit);
  m.entries = std::move(ents).value();
  send(std::move(m));
  return true;
}

bool Raft::send_snapshot(NodeId to, Progress& pr) {
  auto snap = log_.stored_snapshot();
  if (!snap.ok()) {
    if (snap.status().code() != ErrorCode::kUnavailable) {
      ++counters_.storage_read_errors;
    }
    log(LogLevel::kInfo,
        str_cat("node ", id_, " has no snapshot for ", to, " yet: ", snap.status().to_string()));
    return false;
  }
  if (snap->meta.last.index + 1 < log_.first_index()) {
    ++counters_.storage_read_errors;
    log(LogLevel::kError,
        str_cat("node ", id_, " cannot catch up ", to, ": storage compacted to ",
                log_.first_index() - 1, " but its snapshot is ", describe(*snap)));
    return false;
  }
  Message m;
  m.type = MessageType::kSnapshot;
  m.to = to;
  m.snapshot = std::move(snap).value();
  pr.become_snapshot(m.snapshot.meta.last.index);
  ++counters_.snapshots_sent;
  log(LogLevel::kInfo, str_cat("node ", id_, " sends ", describe(m.snapshot), " to ", to));
  send(std::move(m));
  return true;
}

void Raft::broadcast_heartbeat() {
  LeaderState& leader = leader_state();
  const std::uint64_t round = leader.reads.start_round();
  for (auto& [id, pr] : leader.progress.peers()) {
    if (id != id_) {
      send_heartbeat(id, round);
    }
  }
  // A leader that is the only voter confirms a round by itself.
  release_reads();
}

void Raft::send_heartbeat(NodeId to, std::uint64_t round) {
  Progress* pr = progress(to);
  // The follower may lack entries past its match, so it can only learn a commit up to it.
  const Index commit = std::min(pr->match(), log_.committed());
  Message m;
  m.type = MessageType::kHeartbeat;
  m.to = to;
  m.commit = commit;
  m.index = Index{round};
  pr->sent_commit_index(commit);
  send(std::move(m));
}

Status Raft::handle_append_response(const Message& m) {
  Progress* pr = progress(m.from);
  if (pr == nullptr) {
    log(LogLevel::kDebug, str_cat("node ", id_, " ignores answer from unknown node ", m.from));
    return Status();
  }
  if (m.index > log_.last_index()) {
    // Nobody can hold or reject entries this leader never had in its term: a broken peer.
    ++counters_.messages_rejected;
    const std::string why = str_cat("node ", id_, " refuses ", describe(m),
                                    ": index past its last ", log_.last_index());
    log(LogLevel::kError, why);
    return Status(ErrorCode::kInvalidArgument, why);
  }
  pr->set_recent_active(true);
  if (m.reject) {
    // Fast backtracking: skip every entry of the follower's conflicting term at once. The
    // follower's hint (index, term) says its log has `term` at `index`; we jump to the last
    // index where our term is <= that term.
    Index next_probe = m.reject_hint;
    if (m.log_term > Term{0}) {
      next_probe = log_.find_conflict_by_term(m.reject_hint, m.log_term).index;
    }
    if (pr->maybe_decrease_to(m.index, next_probe)) {
      if (pr->state() == ProgressState::kReplicate) {
        pr->become_probe();
      }
      send_appends_to(m.from, true);
    }
    return Status();
  }
  if (m.index == Index{0}) {
    // A leader's log is never empty, so a real acknowledgement names an entry. Index 0 is a
    // node of a newer term telling a stale leader about it (see step()); if we have since been
    // elected in that term, it carries no news and must not reset the follower's progress.
    return Status();
  }
  const bool was_paused = pr->is_paused();
  if (pr->maybe_update(m.index) ||
      (pr->match() == m.index && pr->state() == ProgressState::kProbe)) {
    switch (pr->state()) {
      case ProgressState::kProbe:
        pr->become_replicate();
        break;
      case ProgressState::kReplicate:
        pr->free_inflights_le(m.index);
        break;
      case ProgressState::kSnapshot:
        if (pr->match() + 1 >= log_.first_index()) {
          // The follower installed the snapshot (or already had what it covers) and can take
          // entries from our log again.
          pr->become_replicate();
        } else if (pr->match() >= pr->pending_snapshot()) {
          // It installed the snapshot sent, but we compacted past it meanwhile. Waiting for a
          // report_snapshot would stall it (nothing else is sent in this state): probe from
          // match + 1, which sends our newer snapshot below. etcd-io/raft leaves the snapshot
          // state on either condition (Progress.PendingSnapshot, MsgAppResp handling).
          pr->become_probe();
        }
        break;
    }
    if (maybe_commit()) {
      on_commit_advanced();
      // Leadership may have ended, or a configuration change removed the sender.
      if (!is_leader() || (pr = progress(m.from)) == nullptr) {
        return Status();
      }
    }
    if (was_paused || pr->next() <= log_.last_index()) {
      send_appends_to(m.from, false);
    }
    maybe_finish_transfer(m.from);
  }
  return Status();
}

void Raft::handle_heartbeat_response(const Message& m) {
  Progress* pr = progress(m.from);
  if (pr == nullptr) {
    return;
  }
  pr->set_recent_active(true);
  pr->on_heartbeat_response();
  if (pr->match() < log_.last_index() || pr->can_bump_commit(log_.committed())) {
    send_appends_to(m.from, true);
  }
  LeaderState& leader = leader_state();
  leader.reads.ack(m.from, m.index.value);
  release_reads();
  maybe_finish_transfer(m.from);
}

}  // namespace skiff::detail
