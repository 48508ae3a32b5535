// ProgressTracker: a leader's view of every member of the configuration — one Progress each —
// and the quorum questions asked of them: what a quorum has acknowledged (Raft §5.3-§5.4),
// whether a quorum was heard from recently (check-quorum, thesis §6.2).
#pragma once

#include <cstdint>
#include <map>
#include <set>

#include "core/progress.h"
#include "core/quorum.h"
#include "skiff/status.h"
#include "skiff/types.h"

namespace skiff::detail {

class ProgressTracker {
 public:
  ProgressTracker(std::size_t max_inflight, std::uint64_t max_inflight_bytes)
      : max_inflight_(max_inflight), max_inflight_bytes_(max_inflight_bytes) {}

  /// Makes the tracked peers exactly the voters (both halves) and learners. A new peer probes
  /// from `next`, counting as recently active (until the next quorum check) if `new_active`;
  /// `self` starts in the replicate state at `self_match` (its durable log), always active.
  /// Returns true if a peer was added.
  bool sync(const JointConfig& voters, const std::set<NodeId>& learners, Index next, NodeId self,
            Index self_match, bool new_active);

  /// The peer's progress, or null if it is not tracked.
  Progress* get(NodeId id);
  std::map<NodeId, Progress>& peers() { return peers_; }
  const std::map<NodeId, Progress>& peers() const { return peers_; }

  /// The largest index a quorum of `voters` has acknowledged (match), untracked voters as 0.
  Index committed(const JointConfig& voters) const;
  /// Whether a quorum of `voters` was heard from since the last call (`self` always counts);
  /// clears every peer's recent-activity flag but self's.
  bool quorum_active(const JointConfig& voters, NodeId self);

  /// Every peer's progress for NodeStatus; peers outside `voters` are flagged learners.
  std::map<NodeId, PeerProgress> status(const JointConfig& voters) const;

  /// Aborts unless the peers are exactly `voters` and `learners`, each progress is consistent
  /// and none is past `last`, and `self` (if tracked) is not past `persisted`.
  void check_invariants(const JointConfig& voters, const std::set<NodeId>& learners, Index last,
                        NodeId self, Index persisted) const;

 private:
  std::size_t max_inflight_;
  std::uint64_t max_inflight_bytes_;
  std::map<NodeId, Progress> peers_;
};

}  // namespace skiff::detail
