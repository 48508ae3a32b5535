// What the simulator replicates and how its clients use it: the application's state machine,
// a generator of client commands, and the sequential model the client history is checked
// against. Implement these three for your own application to simulate it (README, "Simulating
// your own state machine").
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "skiff/testing/chooser.h"
#include "skiff/testing/linearizability.h"

namespace skiff::testing {

/// A deterministic replicated state machine: the same commands in the same order must give
/// the same responses and the same fingerprint on every replica.
class StateMachine {
 public:
  virtual ~StateMachine() = default;
  /// Applies one committed command and returns the response its client receives.
  virtual std::string apply(std::string_view command) = 0;
  /// A digest of the whole state; replicas that applied the same prefix must agree.
  virtual std::string fingerprint() const = 0;
  /// The whole state, serialized: what a snapshot carries (Raft §7).
  virtual std::string snapshot() const = 0;
  /// Replaces the whole state with one that snapshot() produced.
  virtual void restore(std::string_view snapshot) = 0;
  /// Answers a read-only command (one Workload::is_read accepts) from the current state,
  /// without changing it. Reads are served through ReadIndex, never through the log.
  virtual std::string read(std::string_view command) const = 0;
};

/// The application under simulation.
class Workload {
 public:
  virtual ~Workload() = default;
  /// A fresh, empty state machine (a node starts or restarts with one and replays the log).
  virtual std::unique_ptr<StateMachine> new_state_machine() const = 0;
  /// The next command of `client`'s `seq`-th operation, drawn with `chooser` only.
  virtual std::string next_command(Chooser& chooser, std::uint64_t client,
                                   std::uint64_t seq) const = 0;
  /// The sequential specification the recorded history must be linearizable against.
  virtual Model model() const = 0;
  /// Whether `command` only reads: the simulator then serves it with RawNode::read_index and
  /// StateMachine::read instead of proposing it. Default: every command goes through the log.
  virtual bool is_read(std::string_view command) const {
    (void)command;
    return false;
  }
};

/// The built-in workload: a few string registers with put, get and compare-and-set, encoded
/// as kv_model() expects. Values are unique per operation so that the checker can tell writes
/// apart.
class KvWorkload final : public Workload {
 public:
  /// Operations spread over `keys` registers (at least 1).
  explicit KvWorkload(std::uint32_t keys = 3) : keys_(keys == 0 ? 1 : keys) {}
  std::unique_ptr<StateMachine> new_state_machine() const override;
  std::string next_command(Chooser& chooser, std::uint64_t client,
                           std::uint64_t seq) const override;
  Model model() const override { return kv_model(); }
  /// "get" commands are reads.
  bool is_read(std::string_view command) const override;

 private:
  std::uint32_t keys_;
};

}  // namespace skiff::testing
