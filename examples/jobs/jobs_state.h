// skiff-jobs' replicated state (internal to the example): the jobs and their lifecycle, changed
// only by commands applied from the log, so every member agrees on them.
//
// Lifecycle: submit -> pending; start{id, node, term} -> running on node N in term T;
// finish{id, term, exit_code, output} -> succeeded (exit code 0) or failed.
//
// Fencing by term. Only the leader of a term proposes `lead`, `start` and `finish` commands
// with that term. The state keeps the highest term seen (`max_term`):
//   lead{term}      raises max_term; refused below it. A new leader proposes it before
//                   starting anything, so every result of an older term is refused after it.
//   start{id, term} accepted for a pending job, or a running one whose term is lower
//                   (takeover by a newer leader: at-least-once); refused below max_term.
//   finish{id,term} accepted only for a job running in exactly that term, and not below
//                   max_term: the late results of a deposed leader are refused.
// submit with an idempotency key that is known returns the existing job's id (applied once).
//
// Commands and results are JSON objects; apply() is deterministic (no clocks: the proposer
// puts its wall-clock time in the command). Reads are thread-safe (apply runs on the node's
// apply thread, HTTP threads read).
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "skiff/node/state_machine.h"

namespace skiff::examples::jobs {

using json = nlohmann::json;

enum class JobState : std::uint8_t { kPending, kRunning, kSucceeded, kFailed };
std::string_view to_string(JobState s);
std::optional<JobState> job_state_from(std::string_view text);

struct Job {
  std::uint64_t id = 0;
  std::vector<std::string> command;  ///< argv: command[0] is looked up in PATH
  std::string idempotency_key;       ///< empty: none
  std::uint64_t timeout_ms = 0;      ///< per run; 0: none
  JobState state = JobState::kPending;
  std::uint64_t node = 0;      ///< the member running it (or that ran it last)
  std::uint64_t term = 0;      ///< the term of its last start (the fencing term)
  std::uint64_t attempts = 0;  ///< accepted starts
  std::int64_t exit_code = 0;  ///< once finished
  std::string output;          ///< the tail of stdout and stderr, once finished
  std::string reason;          ///< why it failed beyond the exit code (timed out, ...)
  std::uint64_t submitted_ms = 0, started_ms = 0, finished_ms = 0;  ///< proposers' clocks

  friend bool operator==(const Job&, const Job&) = default;
};

/// A job as the API shows it (and as snapshots store it).
json job_json(const Job& job);
/// The inverse of job_json; nothing when a field is missing or has the wrong type.
std::optional<Job> job_from_json(const json& j);

/// The proposer's wall-clock time, in ms since the epoch, for the commands' time fields.
std::uint64_t wall_clock_ms();

/// Commands, as proposed (bytes for Node::propose).
std::string submit_command(const std::vector<std::string>& command, const std::string& key,
                           std::uint64_t timeout_ms, std::uint64_t time_ms);
std::string lead_command(std::uint64_t term, std::uint64_t node);
std::string start_command(std::uint64_t id, std::uint64_t node, std::uint64_t term,
                          std::uint64_t time_ms);
std::string finish_command(std::uint64_t id, std::uint64_t term, std::int64_t exit_code,
                           const std::string& output, const std::string& reason,
                           std::uint64_t time_ms);

/// What apply() returned: for submit the id (and whether it is new), for the others whether
/// the command was accepted and if not why.
struct Outcome {
  bool accepted = false;
  std::uint64_t id = 0;
  bool created = false;
  std::string reason;
};
Outcome parse_outcome(std::string_view result);

class JobsState final : public StateMachine {
 public:
  /// Keeps at most `retain_finished` finished jobs (succeeded or failed): beyond it the one
  /// submitted first is forgotten, with its idempotency key. The same on every member (it
  /// shapes the replicated state). Pending and running jobs are never dropped.
  explicit JobsState(std::size_t retain_finished = 10000) : retain_finished_(retain_finished) {}

  Bytes apply(Index index, std::string_view command) override;
  Status snapshot(SnapshotWriter& out) override;
  Status restore(SnapshotReader& in) override;

  /// Reads, from any thread.
  std::optional<Job> job(std::uint64_t id) const;
  std::vector<Job> jobs() const;
  std::uint64_t max_term() const;
  /// Jobs a leader of `term` may start: pending, or running in an older term.
  std::vector<Job> startable(std::uint64_t term) const;
  /// Jobs running in `term` on `node`.
  std::vector<Job> running_on(std::uint64_t node, std::uint64_t term) const;

 private:
  Outcome apply_locked(const json& cmd);
  Outcome submit(const json& cmd);
  /// A start or finish of `term` (not older than max_term) for `job`, with the rest of `cmd`.
  Outcome start(Job& job, std::uint64_t term, std::uint64_t time_ms, const json& cmd);
  Outcome finish(Job& job, std::uint64_t term, std::uint64_t time_ms, const json& cmd);

  // Forgets the oldest finished jobs beyond retain_finished_ (mu_ held).
  void trim_finished_locked();

  const std::size_t retain_finished_;
  mutable std::mutex mu_;
  std::set<std::uint64_t> finished_;  // ids of finished jobs, oldest first
  std::uint64_t next_id_ = 1;
  std::uint64_t max_term_ = 0;
  std::map<std::uint64_t, Job> jobs_;
  std::map<std::string, std::uint64_t> by_key_;
};

}  // namespace skiff::examples::jobs
