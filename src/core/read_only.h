// ReadOnly: a leader's bookkeeping for linearizable reads (thesis §6.4) — heartbeat rounds
// that confirm leadership, the reads waiting for them, and the lease derived from them.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <optional>
#include <vector>

#include "core/quorum.h"
#include "skiff/bytes.h"
#include "skiff/types.h"

namespace skiff::detail {

/// A read request: from this node (kNoNode) or forwarded by a follower.
struct PendingRead {
  Bytes context;
  NodeId from;
  Index index;              // the read index: the commit index when the read was accepted
  std::uint64_t round = 0;  // released once a quorum answered this heartbeat round
};

class ReadOnly {
 public:
  /// Reads accepted before the leader committed an entry of its term wait here (thesis §6.4
  /// step 1: until then the leader's commit index may be behind its predecessor's).
  void hold(Bytes context, NodeId from) { held_.push_back(PendingRead{std::move(context), from}); }
  /// The leader committed in its term at `commit`: held reads get that index and wait for
  /// `round`.
  void activate_held(Index commit, std::uint64_t round);
  /// A read at `index` waiting for `round`.
  void add(Bytes context, NodeId from, Index index, std::uint64_t round);

  /// Starts a heartbeat round; returns its number.
  std::uint64_t start_round();
  /// The round after the last one started: reads accepted now wait for it.
  std::uint64_t upcoming_round() const { return round_ + 1; }
  /// Whether reads wait for a round that has not been started.
  bool needs_round() const;
  /// `from` answered heartbeat round `round`.
  void ack(NodeId from, std::uint64_t round);
  /// The highest round a quorum of `voters` answered (this node, `self`, answers every round).
  std::uint64_t confirmed_round(const JointConfig& voters, NodeId self) const;
  /// Removes and returns the reads confirmed by `round`, in request order.
  std::vector<PendingRead> release(std::uint64_t round);

  /// Leader-local time, for the lease.
  void tick() { ++ticks_; }
  /// Whether a heartbeat round confirmed by a quorum was sent less than `lease_ticks` ago.
  bool in_lease(const JointConfig& voters, NodeId self, std::uint32_t lease_ticks) const;

  std::size_t pending() const { return held_.size() + queue_.size(); }
  bool has_held() const { return !held_.empty(); }

 private:
  std::vector<PendingRead> held_;
  // Invariant: rounds are non-decreasing along the queue.
  std::deque<PendingRead> queue_;
  std::uint64_t round_ = 0;
  std::map<NodeId, std::uint64_t> acked_;
  std::uint64_t ticks_ = 0;
  // (round, tick it was sent at) for rounds a lease may still be measured from.
  std::deque<std::pair<std::uint64_t, std::uint64_t>> sent_;
};

}  // namespace skiff::detail
