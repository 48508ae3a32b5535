// A linearizability checker for recorded client histories (Herlihy & Wing, 1990).
//
// The search is Wing & Gong's (1993) with Lowe's memoization (2017) of (set of linearized
// operations, model state), as in Porcupine, run separately on each independent group of
// operations the model's `partition` returns (P-compositionality: a history is linearizable
// iff each per-key sub-history is).
//
// Real-time order: operation A precedes B iff `A.ret < B.call`. Equal times count as
// overlapping (calls sort before returns at the same instant), so a recorder that cannot
// order two events stamped with the same logical time never produces a false violation.
// An indeterminate operation (`!completed`) never returns: it may take effect at any point
// after its call, or never.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

namespace skiff::testing {

/// One client operation of a recorded history.
struct Operation {
  std::uint64_t client = 0;  // who issued it (for reports)
  std::string input;         // e.g. "put x 1", "get x", "cas x 1 2"
  std::string output;        // the response; meaningless when !completed
  std::uint64_t call = 0;    // logical time of invocation
  std::uint64_t ret = 0;     // logical time of the response; call <= ret; ignored if !completed
  bool completed = true;     // false: timed out or crashed; may take effect after `call`, or never

  friend bool operator==(const Operation&, const Operation&) = default;
};

/// A sequential specification, Porcupine-style, over string-encoded states. `step` must be a
/// pure function; states are compared as strings, so encode them canonically.
struct Model {
  std::string initial_state;
  /// Splits a history into independent groups (e.g. by key); null means one group. Returns
  /// indexes into the history; an index may appear in at most one group.
  std::function<std::vector<std::vector<std::size_t>>(const std::vector<Operation>&)> partition;
  /// Applies `op.input` to `state`. For a completed op, `ok` says whether `op.output` is a
  /// legal response; for an indeterminate op it must be true. Returns (ok, new state).
  std::function<std::pair<bool, std::string>(const std::string& state, const Operation& op)> step;
  /// One-line text form of an operation for reports; null means "input -> output".
  std::function<std::string(const Operation&)> describe;
};

/// The verdict of `check_linearizable`.
enum class CheckOutcome {
  kLinearizable,
  kNotLinearizable,
  kUnknown,  // the step budget was exhausted, or the history or partition is malformed
};

/// The verdict with the evidence for it.
struct CheckResult {
  CheckOutcome outcome = CheckOutcome::kLinearizable;
  /// For kNotLinearizable: a failing sub-history of one partition, in call order, shrunk
  /// greedily until removing any single operation makes it linearizable (see `report`).
  std::vector<Operation> counterexample;
  /// Human-readable: the counterexample with call/ret times and the longest linearizable
  /// prefix found; for kUnknown, why no verdict was reached.
  std::string report;
};

/// Checks `history` against `model`. `max_steps` bounds the search of each partition and,
/// separately, the total work spent shrinking a counterexample. Deterministic; thread-safe
/// if `model`'s functions are.
CheckResult check_linearizable(const std::vector<Operation>& history, const Model& model,
                               std::uint64_t max_steps = 10'000'000);

/// The key-value register the simulator's clients use: "put K V" -> "ok"; "get K" -> the
/// value or "<nil>"; "cas K OLD NEW" -> "ok" or "fail" (OLD "<nil>" means absent).
/// Keys and values contain no spaces; partitioned by key; malformed inputs are never legal.
Model kv_model();

}  // namespace skiff::testing
