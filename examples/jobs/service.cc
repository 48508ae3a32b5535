// skiff-jobs' HTTP API (service.h).
#include "service.h"

namespace skiff::examples::jobs {
namespace {

constexpr std::size_t kMaxKeyBytes = 256;
constexpr std::size_t kMaxArgs = 4096;
constexpr std::uint64_t kMaxTimeoutMs = 7ull * 24 * 3600 * 1000;
void bad_request(httplib::Response& res, const std::string& message) {
  reply_error(res, 400, "InvalidArgument", message);
}

// The "command" field: a non-empty array of strings, the first not empty.
std::optional<std::vector<std::string>> command_field(const json& body, httplib::Response& res) {
  const json& command = body.contains("command") ? body.at("command") : json();
  if (command.is_null()) {
    bad_request(res, "\"command\" is required");
    return std::nullopt;
  }
  if (!command.is_array() || command.empty() || command.size() > kMaxArgs) {
    bad_request(res, "\"command\" must be an array of 1 to " + std::to_string(kMaxArgs) +
                         " strings, e.g. [\"sh\", \"-c\", \"echo hi\"]");
    return std::nullopt;
  }
  std::vector<std::string> out;
  for (const json& arg : command) {
    if (!arg.is_string()) {
      bad_request(res, "\"command\" must be an array of strings: " +
                           arg.dump(-1, ' ', false, json::error_handler_t::replace) +
                           " is not a string");
      return std::nullopt;
    }
    out.push_back(arg.get<std::string>());
  }
  if (out[0].empty()) {
    bad_request(res, "\"command\"[0], the program, must not be empty");
    return std::nullopt;
  }
  return out;
}

}  // namespace

std::unique_ptr<Service> JobsService::make(const ServeFlags& flags, std::string* error) {
  RunnerOptions options;
  options.self = flags.id;
  options.request_timeout = flags.request_timeout;
  options.logger = stderr_logger(flags.log_level);
  if (auto it = flags.extra.find("--workers"); it != flags.extra.end()) {
    auto n = parse_number(it->second, "--workers", 1, 64);
    if (!n.ok()) {
      *error = n.status().message();
      return nullptr;
    }
    options.workers = *n;
  }
  std::size_t retain_finished = 10000;
  if (auto it = flags.extra.find("--retain-finished"); it != flags.extra.end()) {
    auto n = parse_number(it->second, "--retain-finished", 1, 100000000);
    if (!n.ok()) {
      *error = n.status().message();
      return nullptr;
    }
    retain_finished = *n;
  }
  return std::unique_ptr<Service>(
      new JobsService(std::move(options), flags.request_timeout, retain_finished));
}

void JobsService::submit(Node& node, const httplib::Request& req, httplib::Response& res) {
  auto body = json_body(req, res);
  if (!body) {
    return;
  }
  auto command = command_field(*body, res);
  if (!command) {
    return;
  }
  bool failed = false;
  auto key = string_field(*body, "idempotency_key", false, res, &failed);
  auto timeout = number_field(*body, "timeout_ms", false, res, &failed);
  if (failed) {
    return;
  }
  if (key && key->size() > kMaxKeyBytes) {
    bad_request(res,
                "\"idempotency_key\" is longer than " + std::to_string(kMaxKeyBytes) + " bytes");
    return;
  }
  if (timeout && (*timeout == 0 || *timeout > kMaxTimeoutMs)) {
    bad_request(res, "\"timeout_ms\" must be 1 to " + std::to_string(kMaxTimeoutMs));
    return;
  }
  auto r = propose_and_wait(
      node, Bytes(submit_command(*command, key.value_or(""), timeout.value_or(0), wall_clock_ms())),
      request_timeout_);
  if (!r.ok()) {
    reply_status(res, r.status());
    return;
  }
  const Outcome o = parse_outcome(r->view());
  if (!o.accepted || o.id == 0) {
    reply_error(res, 400, "InvalidArgument", "submit refused: " + o.reason);
    return;
  }
  reply_json(res, {{"id", o.id}, {"created", o.created}}, o.created ? 201 : 200);
}

void JobsService::routes(httplib::Server& server, Member& member) {
  Node& node = member.node();
  server.Post("/v1/jobs", [this, &node](const httplib::Request& req, httplib::Response& res) {
    submit(node, req, res);
  });
  server.Get("/v1/jobs", [this, &node](const httplib::Request& req, httplib::Response& res) {
    std::optional<JobState> only;
    if (req.has_param("state")) {
      only = job_state_from(req.get_param_value("state"));
      if (!only) {
        bad_request(res, "state must be pending, running, succeeded or failed");
        return;
      }
    }
    if (!read_barrier(node, req, res, request_timeout_)) {
      return;
    }
    json list = json::array();
    for (const Job& job : state_.jobs()) {
      if (!only || job.state == *only) {
        list.push_back(job_json(job));
      }
    }
    reply_json(res, {{"jobs", std::move(list)}});
  });
  server.Get(R"(/v1/jobs/([^/]+))",
             [this, &node](const httplib::Request& req, httplib::Response& res) {
               auto id = parse_number(req.matches[1].str(), "job id", 1, UINT64_MAX);
               if (!id.ok()) {
                 reply_status(res, id.status());
                 return;
               }
               if (!read_barrier(node, req, res, request_timeout_)) {
                 return;
               }
               auto job = state_.job(*id);
               if (!job) {
                 reply_error(res, 404, "NotFound", "no job " + std::to_string(*id));
                 return;
               }
               reply_json(res, job_json(*job));
             });
}

}  // namespace skiff::examples::jobs
