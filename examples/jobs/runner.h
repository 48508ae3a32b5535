// The job runner of skiff-jobs (internal to the example): on the leader only, a loop takes
// pending jobs (and jobs left running by an older term), records their start through the log,
// and hands them to a small pool of workers that run them and record their finish.
//
// Once per led term the loop first proposes `lead{term}` (jobs_state.h): after it is applied,
// every result of an older term is refused, and jobs running in an older term may be taken
// over. A job is run only after its `start` in this term was accepted, and a worker checks
// that this member still leads in that term right before it starts the process. The job's
// environment has SKIFF_JOB_ID, SKIFF_IDEMPOTENCY_KEY and SKIFF_FENCING_TERM (the term of the
// start) so the command can make its effects idempotent or fence them. Delivery is
// at-least-once: a job whose leader died is run again by the next leader.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include "jobs_state.h"
#include "leader_loop.h"
#include "skiff/logger.h"
#include "skiff/node/node.h"

namespace skiff::examples::jobs {

struct RunnerOptions {
  NodeId self;
  std::size_t workers = 2;                          ///< jobs run at once on the leader
  std::chrono::milliseconds period{100};            ///< how often the leader looks for work
  std::chrono::milliseconds request_timeout{5000};  ///< the node's; proposals wait this long
  std::size_t tail_bytes = 4096;                    ///< output kept per job
  std::shared_ptr<Logger> logger;                   ///< starts, finishes, refusals
};

class Runner {
 public:
  Runner(JobsState& state, RunnerOptions options);
  ~Runner();  ///< stop()
  Runner(const Runner&) = delete;
  Runner& operator=(const Runner&) = delete;

  /// Starts the workers and the leader loop on `node`.
  void start(Node& node);
  /// Stops the loop, kills running jobs (their starts stay recorded: the next leader takes
  /// them over) and joins the workers; idempotent.
  void stop();

 private:
  struct Task {
    Job job;
    std::uint64_t term = 0;
  };
  void step(Term term);
  void work();
  void run(const Task& task);
  /// Proposes `command` and waits for its outcome, at most the request timeout and a margin.
  /// An error when it was not applied.
  Result<Outcome> propose(const std::string& command);
  static std::string why(const Result<Outcome>& o);
  bool leads_in(std::uint64_t term) const;
  void log(LogLevel level, const std::string& line) const;

  JobsState& state_;
  RunnerOptions options_;
  Node* node_ = nullptr;
  LeaderLoop loop_;
  std::atomic<bool> cancel_{false};

  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::deque<Task> queue_;
  std::set<std::uint64_t> active_;  ///< ids queued or running here (any term)
  std::uint64_t fenced_term_ = 0;   ///< the last term whose `lead` was accepted
  std::vector<std::thread> workers_;
};

}  // namespace skiff::examples::jobs
