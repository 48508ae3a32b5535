// Membership changes: what an application asks for, and the configuration entries the core
// writes into the log for them (thesis §4: joint consensus, learners, single-server changes).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "skiff/bytes.h"
#include "skiff/result.h"
#include "skiff/state.h"
#include "skiff/types.h"

namespace skiff {

/// One step of a membership change. Values are stable: they are stored in the log.
enum class ConfChangeType : std::uint8_t {
  kAddVoter = 1,    // add a voter, or promote a learner to voter
  kAddLearner = 2,  // add a learner, or demote a voter to learner
  kRemoveNode = 3,  // remove a voter or learner
};

/// A change to one node.
struct ConfChangeSingle {
  ConfChangeType type = ConfChangeType::kAddVoter;
  NodeId node;

  friend bool operator==(const ConfChangeSingle&, const ConfChangeSingle&) = default;
};

/// How a change is carried out. Values are stable: they are stored in the log.
enum class ConfChangeTransition : std::uint8_t {
  /// A single-server change (at most one voter added or removed) applies in one step; anything
  /// larger enters a joint configuration that the leader leaves on its own once it commits.
  kAuto = 0,
  /// Always enter a joint configuration; the leader leaves it on its own once it commits.
  kJointAuto = 1,
  /// Always enter a joint configuration; the application leaves it by proposing an empty
  /// change (no `changes`).
  kJointExplicit = 2,
};

/// A membership change request. An empty `changes` list asks to leave a joint configuration.
struct ConfChange {
  std::vector<ConfChangeSingle> changes;
  ConfChangeTransition transition = ConfChangeTransition::kAuto;
  /// Opaque to the core, handed back with the committed entry (e.g. a new member's address).
  Bytes context;

  friend bool operator==(const ConfChange&, const ConfChange&) = default;
};

/// The content of a configuration entry (EntryType::kConfChange): the request and the whole
/// membership it produced. The core acts on `result` as soon as the entry is in its log.
struct ConfChangeEntry {
  ConfChange change;
  ConfState result;

  friend bool operator==(const ConfChangeEntry&, const ConfChangeEntry&) = default;
};

/// Checks a membership's shape (an empty one is valid: a node waiting to join) (see ConfState): no
/// node id 0, no id listed twice where the rules forbid it, learners_next only during a joint
/// change and only of outgoing voters. kInvalidArgument naming the problem.
[[nodiscard]] Status check_conf_state(const ConfState& cs);

/// The membership that `change` produces from `current`, or kInvalidArgument saying why it is
/// not allowed: entering a joint configuration while in one, leaving one while not in one,
/// a single-step change of more than one voter, removing an unknown node, or no voter left.
Result<ConfState> apply_conf_change(const ConfState& current, const ConfChange& change);

/// Serializes a configuration entry's payload (format at the top of conf_change.cc; stable).
Bytes encode_conf_change_entry(const ConfChangeEntry& entry);
/// Parses what encode_conf_change_entry wrote; kCorruption on any malformed input (never
/// undefined behaviour), including a change naming node 0 and a result that fails
/// check_conf_state or has no voter.
Result<ConfChangeEntry> decode_conf_change_entry(std::string_view data);

/// "+v4 +l5 -3" (kAuto), with " joint" or " joint-explicit" for the other transitions;
/// "leave-joint" for an empty change.
std::string describe(const ConfChange& cc);

}  // namespace skiff
