// Node state: what must be persisted (HardState), what is observable but volatile (SoftState),
// and the membership a node starts from (ConfState).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "skiff/types.h"

namespace skiff {

/// State that must be durable before any message depending on it leaves (Raft Figure 2:
/// currentTerm, votedFor; plus the commit index, which may be persisted lazily).
struct HardState {
  Term term;
  NodeId vote;
  Index commit;

  friend bool operator==(const HardState&, const HardState&) = default;
};

/// A node's role.
enum class Role : std::uint8_t { kFollower, kPreCandidate, kCandidate, kLeader };

/// Stable name: "Follower", "PreCandidate", "Candidate", "Leader".
std::string_view to_string(Role role);

/// Volatile, observable state: who leads and what this node is. Not persisted.
struct SoftState {
  NodeId leader;
  Role role = Role::kFollower;

  friend bool operator==(const SoftState&, const SoftState&) = default;
};

/// Group membership (thesis §4.3). Outside a membership change only `voters` and `learners`
/// are set. During a joint change `voters_outgoing` holds the old voters: decisions then need a
/// majority of `voters` AND a majority of `voters_outgoing`, and `learners_next` lists old
/// voters that become learners when the joint configuration is left. A node id appears at most
/// once across `voters` and `learners`, and at most once across `voters_outgoing` and
/// `learners`; `learners_next` ids are outgoing voters.
///
/// The membership a node starts from is the one stored with its snapshot (or written into every
/// member's storage to bootstrap a new group); configuration entries in the log after it are
/// replayed by the core, so adapters persist nothing else.
struct ConfState {
  std::vector<NodeId> voters;
  std::vector<NodeId> learners;
  std::vector<NodeId> voters_outgoing;
  std::vector<NodeId> learners_next;
  /// In a joint configuration: the leader leaves it on its own once it is committed.
  bool auto_leave = false;

  /// True during a joint change (there are outgoing voters).
  bool joint() const { return !voters_outgoing.empty(); }
  friend bool operator==(const ConfState&, const ConfState&) = default;
};

/// "t3 vote 2 commit 6".
std::string describe(const HardState& hs);
/// "voters [1 2 3] learners [4]", joint: "voters [1 2 4] outgoing [1 2 3] learners_next [3] auto".
std::string describe(const ConfState& cs);

}  // namespace skiff
