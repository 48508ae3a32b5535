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

/// Group membership: the voters and the learners (non-voting members that receive the log).
/// Persisted by the storage adapter alongside the hard state; a new cluster is bootstrapped
/// by writing one into every member's storage before the first start.
struct ConfState {
  std::vector<NodeId> voters;
  std::vector<NodeId> learners;

  friend bool operator==(const ConfState&, const ConfState&) = default;
};

/// "t3 vote 2 commit 6".
std::string describe(const HardState& hs);
/// "voters [1 2 3] learners [4]".
std::string describe(const ConfState& cs);

}  // namespace skiff
