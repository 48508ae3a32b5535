// The flight recorder (NodeConfig::flight_recorder_path): a node records every input of its
// core — ticks, messages, requests, storage completions, snapshots and compactions — and the
// storage it started from, so a production incident can be replayed offline, bit for bit,
// through the same deterministic core (`skiff-node-replay FILE`, or replay_flight_record).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "skiff/entry.h"
#include "skiff/result.h"
#include "skiff/status.h"

namespace skiff {

/// What replaying a flight record produced.
struct FlightReplay {
  /// Every entry the core handed out as committed, in order (as the live node applied them).
  std::vector<Entry> committed;
  /// Inputs replayed.
  std::uint64_t events = 0;
  /// The core's state after the last input.
  NodeStatus status;
  /// Set when the record ends inside an input (the process died while writing it): the
  /// replay stops before it.
  bool truncated = false;
};

/// Replays the record at `path` through a new core over in-memory storage. Errors:
/// kStorage if the file cannot be read; kCorruption if it is not a flight record or an input
/// fails its checks; kFailedPrecondition if the core's behaviour departs from the record
/// (a different build of skiff, or a damaged record).
Result<FlightReplay> replay_flight_record(const std::string& path);

/// The application's command inside a committed entry that a Node wrote (the node's
/// envelope removed); kInvalidArgument for entries that carry no command (no-ops, membership
/// changes, the node's member records), kCorruption for damaged data.
Result<std::string_view> node_command(const Entry& entry);

}  // namespace skiff
