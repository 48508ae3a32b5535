// Configuration of one Raft core. Every default lives here; docs/config.md explains each.
#pragma once

#include <cstdint>
#include <memory>

#include "skiff/logger.h"
#include "skiff/result.h"
#include "skiff/types.h"

namespace skiff {

/// How the leader confirms a linearizable read (RawNode::read_index).
enum class ReadMode : std::uint8_t {
  /// ReadIndex (thesis §6.4): a heartbeat round to a quorum confirms leadership for every read.
  /// Safe whatever the clocks do.
  kReadIndex = 0,
  /// Leader lease (thesis §6.4.1): while a quorum acknowledged a heartbeat sent less than the
  /// lease ago, reads are served without a new round. Requires check_quorum, and relies on the
  /// clock assumption stated at Config::max_clock_drift_percent.
  kLease = 1,
};

/// Settings of one core. An aggregate: set the fields you need, keep the defaults otherwise,
/// and call `validate()` (RawNode::create does) to learn of mistakes. Nothing is "fixed up".
struct Config {
  /// This node's id. Must not be kNoNode.
  NodeId id;

  /// Ticks without hearing from a leader before a follower campaigns. The actual timeout is
  /// drawn uniformly from [election_tick, 2 * election_tick) after every reset (Raft §5.2).
  /// Must be greater than heartbeat_tick; ten times heartbeat_tick is a good ratio.
  std::uint32_t election_tick = 10;
  /// Ticks between a leader's heartbeats. At least 1.
  std::uint32_t heartbeat_tick = 1;
  /// Seeds the core's random number generator (election timeouts). The core mixes it with
  /// `id`, so all nodes may share one seed. Same seed and inputs give the same outputs.
  std::uint64_t seed = 0;

  /// Pre-vote (thesis §9.6): a node first checks that it could win before it raises its term,
  /// so a partitioned node rejoining does not depose a healthy leader.
  bool pre_vote = true;
  /// Check-quorum (thesis §6.2): a leader that has not heard from a quorum within an election
  /// timeout steps down, and followers that heard from a leader within one ignore votes.
  bool check_quorum = true;
  /// On a follower, propose() forwards proposals to the known leader (true) or fails with
  /// kNotLeader and a leader hint (false, the default: the caller learns where to go).
  bool forward_proposals = false;

  /// Upper bound in bytes (see entry_size) for the entries of one Append message; a single
  /// entry larger than this is still sent alone. Must be at least 1.
  std::uint64_t max_size_per_msg = 1 << 20;
  /// Maximum number of Append messages in flight to one follower in the replicate state
  /// (the pipelining window). Must be at least 1.
  std::uint32_t max_inflight_msgs = 256;
  /// Maximum bytes of entries in flight to one follower; 0 means no byte limit.
  std::uint64_t max_inflight_bytes = 0;
  /// Maximum bytes of uncommitted entry payloads a leader holds; proposals beyond it fail
  /// with kProposalDropped. Counted across terms from the leader's log. 0 means no limit.
  std::uint64_t max_uncommitted_size = std::uint64_t{1} << 30;
  /// Upper bound in bytes for the committed entries of one Ready (at least one entry is
  /// always handed out). Must be at least 1.
  std::uint64_t max_committed_size_per_ready = 64 << 20;

  /// How linearizable reads are confirmed; see ReadMode.
  ReadMode read_mode = ReadMode::kReadIndex;
  /// For ReadMode::kLease only: the largest difference, in percent, between the rates at which
  /// any two nodes' tick() advance, and the promise that tick() is called for all elapsed time
  /// (a paused process catches up on missed ticks before it handles anything else). The lease
  /// lasts election_tick * 100 / (100 + max_clock_drift_percent) - 1 ticks from the moment
  /// the confirming heartbeat was sent, so it ends before any follower could vote for a new
  /// leader. If the clocks break this bound, lease reads may be stale: use kReadIndex.
  std::uint32_t max_clock_drift_percent = 10;

  /// The last index the application's state machine has applied, when restarting. Entries
  /// up to it are not handed out again. Must not exceed the persisted commit index, and must be
  /// at least the index of the stored snapshot (restore the state machine from it first).
  Index applied;

  /// Receives diagnostics; null means silence. Shared so a node can outlive its creator.
  std::shared_ptr<Logger> logger;

  /// Checks every field; names the first field and value it rejects. Never changes anything.
  [[nodiscard]] Status validate() const;
  /// The lease length in ticks that ReadMode::kLease uses (formula at max_clock_drift_percent).
  std::uint32_t lease_ticks() const;
};

}  // namespace skiff
