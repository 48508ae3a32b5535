// skiff-jobs' replicated state (jobs_state.h).
#include "jobs_state.h"

#include "http.h"

#include <array>
#include <chrono>

namespace skiff::examples::jobs {
namespace {

constexpr std::array<std::string_view, 4> kStateNames = {"pending", "running", "succeeded",
                                                         "failed"};

// JSON text that never throws: strings that are not UTF-8 (a job's output) get U+FFFD.
std::string dump(const json& j) {
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::string outcome_text(const Outcome& o) {
  json j = {{"accepted", o.accepted}};
  if (o.id != 0) {
    j["id"] = o.id;
    j["created"] = o.created;
  }
  if (!o.reason.empty()) {
    j["reason"] = o.reason;
  }
  return dump(j);
}

Outcome refused(std::string reason) {
  return Outcome{false, 0, false, std::move(reason)};
}

}  // namespace

std::string_view to_string(JobState s) {
  return kStateNames[static_cast<std::size_t>(s)];
}

std::optional<JobState> job_state_from(std::string_view text) {
  for (std::size_t i = 0; i < kStateNames.size(); ++i) {
    if (kStateNames[i] == text) {
      return static_cast<JobState>(i);
    }
  }
  return std::nullopt;
}

json job_json(const Job& job) {
  return {{"id", job.id},
          {"command", job.command},
          {"idempotency_key", job.idempotency_key},
          {"timeout_ms", job.timeout_ms},
          {"state", std::string(to_string(job.state))},
          {"node", job.node},
          {"term", job.term},
          {"attempts", job.attempts},
          {"exit_code", job.exit_code},
          {"output_tail", job.output},
          {"reason", job.reason},
          {"submitted_ms", job.submitted_ms},
          {"started_ms", job.started_ms},
          {"finished_ms", job.finished_ms}};
}

std::optional<Job> job_from_json(const json& j) {
  try {
    Job job;
    job.id = j.at("id").get<std::uint64_t>();
    job.command = j.at("command").get<std::vector<std::string>>();
    job.idempotency_key = j.at("idempotency_key").get<std::string>();
    job.timeout_ms = j.at("timeout_ms").get<std::uint64_t>();
    auto state = job_state_from(j.at("state").get<std::string>());
    if (!state || job.id == 0 || job.command.empty()) {
      return std::nullopt;
    }
    job.state = *state;
    job.node = j.at("node").get<std::uint64_t>();
    job.term = j.at("term").get<std::uint64_t>();
    job.attempts = j.at("attempts").get<std::uint64_t>();
    job.exit_code = j.at("exit_code").get<std::int64_t>();
    job.output = j.at("output_tail").get<std::string>();
    job.reason = j.at("reason").get<std::string>();
    job.submitted_ms = j.at("submitted_ms").get<std::uint64_t>();
    job.started_ms = j.at("started_ms").get<std::uint64_t>();
    job.finished_ms = j.at("finished_ms").get<std::uint64_t>();
    return job;
  } catch (const json::exception&) {
    return std::nullopt;
  }
}

std::uint64_t wall_clock_ms() {
  return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                        std::chrono::system_clock::now().time_since_epoch())
                                        .count());
}

std::string submit_command(const std::vector<std::string>& command, const std::string& key,
                           std::uint64_t timeout_ms, std::uint64_t time_ms) {
  return dump({{"op", "submit"},
               {"command", command},
               {"key", key},
               {"timeout_ms", timeout_ms},
               {"time_ms", time_ms}});
}

std::string lead_command(std::uint64_t term, std::uint64_t node) {
  return dump({{"op", "lead"}, {"term", term}, {"node", node}});
}

std::string start_command(std::uint64_t id, std::uint64_t node, std::uint64_t term,
                          std::uint64_t time_ms) {
  return dump({{"op", "start"}, {"id", id}, {"node", node}, {"term", term}, {"time_ms", time_ms}});
}

std::string finish_command(std::uint64_t id, std::uint64_t term, std::int64_t exit_code,
                           const std::string& output, const std::string& reason,
                           std::uint64_t time_ms) {
  return dump({{"op", "finish"},
               {"id", id},
               {"term", term},
               {"exit_code", exit_code},
               {"output", output},
               {"reason", reason},
               {"time_ms", time_ms}});
}

Outcome parse_outcome(std::string_view result) {
  const json j = json::parse(result, nullptr, /*allow_exceptions=*/false);
  Outcome o;
  if (!j.is_object()) {
    o.reason = "unreadable result";
    return o;
  }
  try {
    o.accepted = j.value("accepted", false);
    o.id = j.value("id", std::uint64_t{0});
    o.created = j.value("created", false);
    o.reason = j.value("reason", std::string());
  } catch (const json::exception&) {
    o = refused("unreadable result");
  }
  return o;
}

Bytes JobsState::apply(Index, std::string_view command) {
  const json cmd = json::parse(command, nullptr, /*allow_exceptions=*/false);
  Outcome o;
  if (!cmd.is_object()) {
    o = refused("malformed command");
  } else {
    std::lock_guard lock(mu_);
    try {
      o = apply_locked(cmd);
    } catch (const json::exception&) {
      // A field of the wrong type: refused before anything changed (every handler reads
      // all its fields before changing the state).
      o = refused("malformed command");
    }
  }
  return Bytes(outcome_text(o));
}

Outcome JobsState::apply_locked(const json& cmd) {
  const std::string op = cmd.at("op").get<std::string>();
  if (op == "submit") {
    return submit(cmd);
  }
  // lead, start and finish carry the term of the leader that proposed them: refused when a
  // newer term was seen.
  const auto term = cmd.at("term").get<std::uint64_t>();
  if (term < max_term_) {
    return refused("term " + std::to_string(term) + " is older than " + std::to_string(max_term_));
  }
  if (op == "lead") {
    max_term_ = term;
    return Outcome{true, 0, false, ""};
  }
  if (op != "start" && op != "finish") {
    return refused("unknown op " + op);
  }
  const auto id = cmd.at("id").get<std::uint64_t>();
  const auto time_ms = cmd.at("time_ms").get<std::uint64_t>();
  auto it = jobs_.find(id);
  if (it == jobs_.end()) {
    return refused("no job " + std::to_string(id));
  }
  return op == "start" ? start(it->second, term, time_ms, cmd)
                       : finish(it->second, term, time_ms, cmd);
}

Outcome JobsState::submit(const json& cmd) {
  auto command = cmd.at("command").get<std::vector<std::string>>();
  auto key = cmd.at("key").get<std::string>();
  const auto timeout_ms = cmd.at("timeout_ms").get<std::uint64_t>();
  const auto time_ms = cmd.at("time_ms").get<std::uint64_t>();
  if (command.empty()) {
    return refused("empty command");
  }
  if (!key.empty()) {
    if (auto it = by_key_.find(key); it != by_key_.end()) {
      return Outcome{true, it->second, false, ""};
    }
  }
  Job job;
  job.id = next_id_++;
  job.command = std::move(command);
  job.idempotency_key = key;
  job.timeout_ms = timeout_ms;
  job.submitted_ms = time_ms;
  if (!key.empty()) {
    by_key_[key] = job.id;
  }
  const std::uint64_t id = job.id;
  jobs_.emplace(id, std::move(job));
  return Outcome{true, id, true, ""};
}

Outcome JobsState::start(Job& job, std::uint64_t term, std::uint64_t time_ms, const json& cmd) {
  const auto node = cmd.at("node").get<std::uint64_t>();
  const bool takeover = job.state == JobState::kRunning && job.term < term;
  if (job.state != JobState::kPending && !takeover) {
    return refused("job " + std::to_string(job.id) + " is " + std::string(to_string(job.state)) +
                   (job.state == JobState::kRunning ? " in term " + std::to_string(job.term) : ""));
  }
  max_term_ = term;
  job.state = JobState::kRunning;
  job.node = node;
  job.term = term;
  job.attempts++;
  job.started_ms = time_ms;
  return Outcome{true, 0, false, takeover ? "takeover" : ""};
}

Outcome JobsState::finish(Job& job, std::uint64_t term, std::uint64_t time_ms, const json& cmd) {
  const auto exit_code = cmd.at("exit_code").get<std::int64_t>();
  auto output = cmd.at("output").get<std::string>();
  auto reason = cmd.at("reason").get<std::string>();
  if (job.state != JobState::kRunning || job.term != term) {
    return refused("job " + std::to_string(job.id) + " is not running in term " +
                   std::to_string(term));
  }
  job.state = exit_code == 0 && reason.empty() ? JobState::kSucceeded : JobState::kFailed;
  job.exit_code = exit_code;
  job.output = std::move(output);
  job.reason = std::move(reason);
  job.finished_ms = time_ms;
  finished_.insert(job.id);
  trim_finished_locked();  // may forget `job` itself only when retain_finished_ is 0
  return Outcome{true, 0, false, ""};
}

void JobsState::trim_finished_locked() {
  while (finished_.size() > retain_finished_) {
    const auto it = jobs_.find(*finished_.begin());
    if (it != jobs_.end()) {
      if (!it->second.idempotency_key.empty()) {
        by_key_.erase(it->second.idempotency_key);
      }
      jobs_.erase(it);
    }
    finished_.erase(finished_.begin());
  }
}

Status JobsState::snapshot(SnapshotWriter& out) {
  json j;
  {
    std::lock_guard lock(mu_);
    json list = json::array();
    for (const auto& [id, job] : jobs_) {
      list.push_back(job_json(job));
    }
    j = {{"next_id", next_id_}, {"max_term", max_term_}, {"jobs", std::move(list)}};
  }
  return out.write(dump(j));
}

Status JobsState::restore(SnapshotReader& in) {
  Result<std::string> text = read_snapshot(in, "skiff-jobs");
  if (!text.ok()) {
    return text.status();
  }
  const json j = json::parse(*text, nullptr, /*allow_exceptions=*/false);
  auto corrupt = [](const std::string& what) {
    return Status(ErrorCode::kCorruption, "jobs snapshot: " + what);
  };
  if (!j.is_object() || !j.contains("jobs") || !j["jobs"].is_array() ||
      !j.value("next_id", json()).is_number_unsigned() ||
      !j.value("max_term", json()).is_number_unsigned()) {
    return corrupt("not a jobs snapshot");
  }
  std::map<std::uint64_t, Job> jobs;
  std::map<std::string, std::uint64_t> by_key;
  const auto next_id = j["next_id"].get<std::uint64_t>();
  for (const json& item : j["jobs"]) {
    auto job = job_from_json(item);
    if (!job || job->id >= next_id || jobs.contains(job->id)) {
      return corrupt("bad job " + dump(item).substr(0, 200));
    }
    if (!job->idempotency_key.empty()) {
      by_key[job->idempotency_key] = job->id;
    }
    jobs.emplace(job->id, std::move(*job));
  }
  std::lock_guard lock(mu_);
  next_id_ = next_id;
  max_term_ = j["max_term"].get<std::uint64_t>();
  jobs_ = std::move(jobs);
  by_key_ = std::move(by_key);
  finished_.clear();
  for (const auto& [id, job] : jobs_) {
    if (job.state == JobState::kSucceeded || job.state == JobState::kFailed) {
      finished_.insert(id);
    }
  }
  trim_finished_locked();
  return Status();
}

std::optional<Job> JobsState::job(std::uint64_t id) const {
  std::lock_guard lock(mu_);
  auto it = jobs_.find(id);
  if (it == jobs_.end()) {
    return std::nullopt;
  }
  return it->second;
}

std::vector<Job> JobsState::jobs() const {
  std::lock_guard lock(mu_);
  std::vector<Job> out;
  out.reserve(jobs_.size());
  for (const auto& [id, job] : jobs_) {
    out.push_back(job);
  }
  return out;
}

std::uint64_t JobsState::max_term() const {
  std::lock_guard lock(mu_);
  return max_term_;
}

std::vector<Job> JobsState::startable(std::uint64_t term) const {
  std::lock_guard lock(mu_);
  std::vector<Job> out;
  for (const auto& [id, job] : jobs_) {
    if (job.state == JobState::kPending || (job.state == JobState::kRunning && job.term < term)) {
      out.push_back(job);
    }
  }
  return out;
}

std::vector<Job> JobsState::running_on(std::uint64_t node, std::uint64_t term) const {
  std::lock_guard lock(mu_);
  std::vector<Job> out;
  for (const auto& [id, job] : jobs_) {
    if (job.state == JobState::kRunning && job.node == node && job.term == term) {
      out.push_back(job);
    }
  }
  return out;
}

}  // namespace skiff::examples::jobs
