// The deterministic cluster simulator: N Raft cores in one thread, a faulty network, crashes,
// clock drift and clients, all driven by a Chooser, with Raft's safety properties checked
// after every step and linearizability and liveness checked at the end.
//
//   skiff::testing::SimOptions options;
//   options.nodes = 5;
//   options.seed = 42;
//   skiff::testing::KvWorkload workload;
//   skiff::testing::SimReport report = skiff::testing::simulate(options, workload);
//   if (!report.ok()) { ... report.violations, report.trace ... }
//
// A run is a pure function of (options, workload, choices): with a SeededChooser, of the seed.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "skiff/result.h"
#include "skiff/testing/chooser.h"
#include "skiff/testing/workload.h"

namespace skiff::testing {

/// How often each fault strikes, in chances per thousand per round (a round is one tick of
/// the simulated clock, followed by delivering what is due).
struct FaultOptions {
  std::uint32_t loss = 20;            // per message: dropped
  std::uint32_t duplicate = 10;       // per message: delivered twice
  std::uint32_t delay = 150;          // per message: held back 1..max_delay rounds (reorders)
  std::uint32_t max_delay = 8;        // rounds
  std::uint32_t crash = 8;            // per round: a node crashes (half of the time mid-write)
  std::uint32_t leader_fault = 6;     // per round: the current leader crashes or is cut off
  std::uint32_t restart = 60;         // per round: a crashed node restarts
  std::uint32_t partition = 10;       // per round: a node is isolated, or the group split in two
  std::uint32_t one_way_cut = 5;      // per round: one direction of one link is cut
  std::uint32_t heal = 30;            // per round: every link is restored
  std::uint32_t pause = 4;            // per round: a node stops (no ticks, no I/O) for a while
  std::uint32_t max_pause = 40;       // rounds
  std::uint32_t min_tick_rate = 700;  // per node: chance per round to tick (clock drift)
  std::uint32_t snapshot = 20;        // per round: a node snapshots its state and compacts
  std::uint32_t conf_change = 12;     // per round: the leader is asked for a membership change
  std::uint32_t transfer = 4;         // per round: the leader is asked to hand over leadership
};

/// One simulation run.
struct SimOptions {
  std::uint64_t seed = 1;             // with a SeededChooser: the whole run
  std::uint32_t nodes = 3;            // cluster size (1..9)
  std::uint32_t fault_rounds = 600;   // rounds with faults
  std::uint32_t heal_rounds = 400;    // then, without faults: the liveness bound
  std::uint32_t clients = 3;          // concurrent clients, one operation in flight each
  std::uint32_t client_rate = 150;    // per idle client per round: chance to start an operation
  std::uint32_t client_timeout = 60;  // rounds before an operation counts as indeterminate
  bool pre_vote = true;
  bool check_quorum = true;
  std::uint32_t election_tick = 10;
  std::uint32_t heartbeat_tick = 2;
  std::uint32_t max_inflight_msgs = 4;  // small, so flow control is exercised
  std::uint32_t max_size_per_msg = 96;  // bytes: Appends carry a few entries each
  std::uint32_t spares = 2;  // extra node ids, empty at start, that membership changes may add
  bool lease_reads = false;  // ReadMode::kLease (drift bound derived from min_tick_rate)
  FaultOptions faults;

  /// "nodes=3 seed=1 ..." — every field, parseable by parse().
  std::string to_string() const;
  /// Reads the form to_string() writes; unknown keys or bad values are kInvalidArgument.
  static Result<SimOptions> parse(std::string_view text);
};

/// What a run found.
struct SimReport {
  /// Broken properties, each with the round it was seen in; empty if the run is correct.
  std::vector<std::string> violations;
  /// The run's choices in ByteChooser encoding (set when recording was requested).
  std::string trace;
  std::uint64_t rounds = 0;
  std::uint64_t leaders_elected = 0;    // distinct terms that had a leader
  std::uint64_t entries_committed = 0;  // highest index applied anywhere
  std::uint64_t messages_delivered = 0;
  std::uint64_t messages_dropped = 0;
  std::uint64_t crashes = 0;
  std::uint64_t ops_completed = 0;
  std::uint64_t ops_indeterminate = 0;
  std::uint64_t ops_failed = 0;           // definitely not applied (refused or overwritten)
  std::uint64_t reads_served = 0;         // reads answered through ReadIndex (or the lease)
  std::uint64_t snapshots_installed = 0;  // snapshots a follower received and installed
  std::uint64_t conf_changes = 0;         // configuration entries applied (first time each)
  std::uint64_t transfers = 0;            // transfers that ended with the target leading
  bool linearizability_unknown = false;   // the checker ran out of budget

  bool ok() const { return violations.empty(); }
  /// One line of counts, e.g. for a progress display.
  std::string summary() const;
};

/// Runs one simulation with choices from a SeededChooser(options.seed). With `record`, the
/// report carries the trace. `on_event`, if set, receives a line per event (slow: replay only).
SimReport simulate(const SimOptions& options, const Workload& workload, bool record = false,
                   const std::function<void(std::string_view)>& on_event = nullptr);

/// Runs one simulation with the given chooser (a ByteChooser to replay a trace or fuzz).
SimReport simulate_with(const SimOptions& options, const Workload& workload, Chooser& chooser,
                        const std::function<void(std::string_view)>& on_event = nullptr);

/// A trace file: the options line, a newline, then the choice bytes.
std::string encode_trace(const SimOptions& options, std::string_view choices);
/// Splits a trace file into options and choice bytes.
Result<std::pair<SimOptions, std::string>> decode_trace(std::string_view file);

}  // namespace skiff::testing
