// The job runner (runner.h).
#include "runner.h"

#include <algorithm>

#include "http.h"
#include "process.h"

namespace skiff::examples::jobs {
namespace {

// Finish proposals that failed for a reason a retry may fix are retried this often.
constexpr int kFinishAttempts = 3;

}  // namespace

Runner::Runner(JobsState& state, RunnerOptions options)
    : state_(state), options_(std::move(options)) {
  options_.workers = std::max<std::size_t>(options_.workers, 1);
}

Runner::~Runner() {
  stop();
}

void Runner::start(Node& node) {
  node_ = &node;
  {
    std::lock_guard lock(mu_);
    stopping_ = false;
  }
  cancel_ = false;
  for (std::size_t i = 0; i < options_.workers; ++i) {
    workers_.emplace_back([this] { work(); });
  }
  loop_.start(
      node, options_.period,
      [this](Term term) { log(LogLevel::kInfo, "leading in term " + std::to_string(term.value)); },
      [this](Term term) { step(term); });
}

void Runner::stop() {
  loop_.stop();
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
    queue_.clear();
  }
  cancel_ = true;  // running processes are killed within 50 ms
  cv_.notify_all();
  for (auto& w : workers_) {
    w.join();
  }
  workers_.clear();
}

void Runner::log(LogLevel level, const std::string& line) const {
  if (options_.logger && options_.logger->enabled(level)) {
    options_.logger->log(level, "jobs: " + line);
  }
}

bool Runner::leads_in(std::uint64_t term) const {
  auto s = node_->status();
  return s.ok() && s->role == Role::kLeader && s->term.value == term;
}

Result<Outcome> Runner::propose(const std::string& command) {
  auto r = propose_and_wait(*node_, Bytes(command), options_.request_timeout);
  if (!r.ok()) {
    return r.status();
  }
  return parse_outcome(r->view());
}

// Why a proposal was not accepted: refused by the state, or not applied at all.
std::string Runner::why(const Result<Outcome>& o) {
  return o.ok() ? o->reason : o.status().to_string();
}

void Runner::step(Term led) {
  const std::uint64_t term = led.value;
  if (fenced_term_ != term) {
    auto o = propose(lead_command(term, options_.self.value));
    if (!o.ok() || !o->accepted) {
      log(LogLevel::kWarning, "lead in term " + std::to_string(term) + " refused: " + why(o));
      return;
    }
    fenced_term_ = term;
  }
  // Pending jobs, jobs of older terms (takeover), and jobs started here in this term whose
  // start's outcome this member missed (a proposal that timed out but was applied).
  std::vector<Job> candidates = state_.startable(term);
  for (Job& job : state_.running_on(options_.self.value, term)) {
    candidates.push_back(std::move(job));
  }
  std::sort(candidates.begin(), candidates.end(),
            [](const Job& a, const Job& b) { return a.id < b.id; });
  for (const Job& job : candidates) {
    {
      std::lock_guard lock(mu_);
      if (stopping_ || active_.size() >= options_.workers) {
        return;
      }
      if (active_.contains(job.id)) {
        continue;  // still here, perhaps from an older term: its late result will be refused
      }
    }
    const bool started_here = job.state == JobState::kRunning && job.term == term;
    if (!started_here) {
      auto o = propose(start_command(job.id, options_.self.value, term, wall_clock_ms()));
      if (!o.ok() || !o->accepted) {
        log(LogLevel::kInfo, "job " + std::to_string(job.id) + " not started: " + why(o));
        continue;
      }
      log(LogLevel::kInfo, "job " + std::to_string(job.id) + " started in term " +
                               std::to_string(term) +
                               (job.state == JobState::kRunning
                                    ? " (takeover from node " + std::to_string(job.node) +
                                          " in term " + std::to_string(job.term) + ")"
                                    : ""));
    }
    if (!leads_in(term)) {
      return;  // the next leader takes it over
    }
    {
      std::lock_guard lock(mu_);
      if (stopping_) {
        return;
      }
      active_.insert(job.id);
      queue_.push_back(Task{job, term});
    }
    cv_.notify_one();
  }
}

void Runner::work() {
  while (true) {
    Task task;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (stopping_) {
        return;
      }
      task = std::move(queue_.front());
      queue_.pop_front();
    }
    run(task);
    std::lock_guard lock(mu_);
    active_.erase(task.job.id);
  }
}

void Runner::run(const Task& task) {
  const std::string id = std::to_string(task.job.id);
  // A member that stopped leading starts nothing more: the job stays recorded as running in
  // this term, and the next leader takes it over.
  if (!leads_in(task.term)) {
    log(LogLevel::kInfo,
        "job " + id + " not run: no longer leading in term " + std::to_string(task.term));
    return;
  }
  ProcessSpec spec;
  spec.argv = task.job.command;
  spec.env = {{"SKIFF_JOB_ID", id},
              {"SKIFF_IDEMPOTENCY_KEY", task.job.idempotency_key},
              {"SKIFF_FENCING_TERM", std::to_string(task.term)},
              {"SKIFF_NODE_ID", std::to_string(options_.self.value)}};
  spec.timeout = std::chrono::milliseconds(task.job.timeout_ms);
  spec.tail_bytes = options_.tail_bytes;
  ProcessResult r = run_process(spec, cancel_);
  if (cancel_) {
    log(LogLevel::kInfo, "job " + id + " killed: stopping");
    return;  // stopping: the next leader runs it again
  }
  const std::string command =
      finish_command(task.job.id, task.term, r.exit_code, r.output, r.reason, wall_clock_ms());
  for (int attempt = 1; attempt <= kFinishAttempts; ++attempt) {
    auto o = propose(command);
    if (o.ok() && o->accepted) {
      log(LogLevel::kInfo, "job " + id + " finished in term " + std::to_string(task.term) +
                               ": exit code " + std::to_string(r.exit_code) +
                               (r.reason.empty() ? "" : " (" + r.reason + ")"));
      return;
    }
    // Refused by the state (a newer term took over: final) or not applied (no quorum: worth
    // a retry while this member still leads).
    log(LogLevel::kWarning,
        "job " + id + " result of term " + std::to_string(task.term) + " not recorded: " + why(o));
    if (o.ok() || cancel_ || !leads_in(task.term)) {
      return;
    }
  }
}

}  // namespace skiff::examples::jobs
