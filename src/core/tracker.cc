#include "core/tracker.h"

#include "core/assert.h"
#include "core/str.h"

namespace skiff::detail {

bool ProgressTracker::sync(const JointConfig& voters, const std::set<NodeId>& learners, Index next,
                           NodeId self, Index self_match, bool new_active) {
  std::set<NodeId> members = voters.ids();
  members.insert(learners.begin(), learners.end());
  for (auto it = peers_.begin(); it != peers_.end();) {
    it = members.contains(it->first) ? std::next(it) : peers_.erase(it);
  }
  bool added = false;
  for (NodeId id : members) {
    if (peers_.contains(id)) {
      continue;
    }
    Progress pr(next, max_inflight_, max_inflight_bytes_);
    if (id == self) {
      // The leader's own acknowledgement is its durable log, nothing more (PITFALLS #10).
      pr.maybe_update(self_match);
      pr.become_replicate();
    }
    pr.set_recent_active(new_active || id == self);
    peers_.emplace(id, std::move(pr));
    added = true;
  }
  return added;
}

Progress* ProgressTracker::get(NodeId id) {
  auto it = peers_.find(id);
  return it == peers_.end() ? nullptr : &it->second;
}

Index ProgressTracker::committed(const JointConfig& voters) const {
  return voters.committed_index([&](NodeId id) -> std::optional<Index> {
    auto it = peers_.find(id);
    if (it == peers_.end()) {
      return std::nullopt;
    }
    return it->second.match();
  });
}

bool ProgressTracker::quorum_active(const JointConfig& voters, NodeId self) {
  const VoteResult result = voters.vote_result([&](NodeId id) -> std::optional<bool> {
    auto it = peers_.find(id);
    return it != peers_.end() && (id == self || it->second.recent_active());
  });
  for (auto& [id, pr] : peers_) {
    pr.set_recent_active(id == self);
  }
  return result == VoteResult::kWon;
}

std::map<NodeId, PeerProgress> ProgressTracker::status(const JointConfig& voters) const {
  std::map<NodeId, PeerProgress> out;
  for (const auto& [id, pr] : peers_) {
    PeerProgress p;
    p.match = pr.match();
    p.next = pr.next();
    switch (pr.state()) {
      case ProgressState::kProbe:
        p.state = ReplicationState::kProbe;
        break;
      case ProgressState::kReplicate:
        p.state = ReplicationState::kReplicate;
        break;
      case ProgressState::kSnapshot:
        p.state = ReplicationState::kSnapshot;
        break;
    }
    p.inflight = pr.inflights().count();
    p.pending_snapshot = pr.pending_snapshot();
    p.recent_active = pr.recent_active();
    p.learner = !voters.contains(id);
    out.emplace(id, p);
  }
  return out;
}

void ProgressTracker::check_invariants(const JointConfig& voters, const std::set<NodeId>& learners,
                                       Index last, NodeId self, Index persisted) const {
  std::set<NodeId> members = voters.ids();
  members.insert(learners.begin(), learners.end());
  SKIFF_ASSERT(peers_.size() == members.size(),
               str_cat("tracking ", peers_.size(), " peers for ", members.size(), " members"));
  for (const auto& [id, pr] : peers_) {
    SKIFF_ASSERT(members.contains(id), str_cat("tracking non-member ", id));
    pr.check_invariants();
    SKIFF_ASSERT(pr.match() <= last,
                 str_cat("progress of ", id, " ", pr.describe(), " past last index ", last));
  }
  auto it = peers_.find(self);
  if (it != peers_.end()) {
    SKIFF_ASSERT(it->second.match() <= persisted,
                 str_cat("leader counts itself at ", it->second.match(), " but has persisted only ",
                         persisted));
  }
}

}  // namespace skiff::detail
