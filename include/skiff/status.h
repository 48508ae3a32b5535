// NodeStatus: a snapshot of a core's state for operators, metrics and tests.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "skiff/state.h"
#include "skiff/types.h"

namespace skiff {

/// How a leader is replicating to one peer.
enum class ReplicationState : std::uint8_t {
  kProbe,      // finding where the peer's log matches; one Append per heartbeat
  kReplicate,  // streaming Appends within the in-flight window
  kSnapshot,   // a snapshot was sent; waiting for the peer to install it
};

/// Stable name: "probe", "replicate", "snapshot".
std::string_view to_string(ReplicationState s);

/// A leader's view of one member (itself included).
struct PeerProgress {
  Index match;  // the peer's log matches the leader's up to here
  Index next;   // the next index to send
  ReplicationState state = ReplicationState::kProbe;
  std::uint64_t inflight = 0;  // Appends sent and not yet acknowledged
  Index pending_snapshot;      // in kSnapshot: the index of the snapshot sent
  bool recent_active = false;  // heard from since the last quorum check
  bool learner = false;        // receives the log but does not vote

  friend bool operator==(const PeerProgress&, const PeerProgress&) = default;
};

/// Everything observable about a core at one moment. Returned by value; does not change.
struct NodeStatus {
  NodeId id;
  Role role = Role::kFollower;
  Term term;
  NodeId vote;
  NodeId leader;
  Index first_index;  // first entry still in the log (after the snapshot)
  Index last_index;
  Term last_term;  // term of the entry at last_index (Raft §5.4.1 compares logs by both)
  Index commit;
  Index applied;
  /// The membership in effect: the latest configuration in the log (thesis §4.1).
  ConfState config;
  /// Index of the entry that set `config` (0: from the snapshot or bootstrap), and whether
  /// that entry is committed.
  Index config_index;
  bool config_committed = true;
  /// Leader only: the node leadership is being handed to, or kNoNode.
  NodeId transfer_target;
  /// Leader only: every member's progress.
  std::map<NodeId, PeerProgress> progress;
  /// Leader only: reads waiting for leadership confirmation or for a commit in its term.
  std::uint64_t pending_reads = 0;

  friend bool operator==(const NodeStatus&, const NodeStatus&) = default;
};

/// Multi-line text form, e.g. for a debug endpoint.
std::string describe(const NodeStatus& s);

}  // namespace skiff
