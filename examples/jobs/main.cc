// skiff-jobs: a leader-elected job runner on skiff (issue 8). `serve` runs a member; the other
// subcommands are clients that try the --endpoints in turn. See examples/jobs/README.md.
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include "http.h"
#include "service.h"

namespace {

using skiff::examples::ClusterClient;
using skiff::examples::json;

constexpr const char* kProgram = "skiff-jobs";

int usage() {
  std::cerr << skiff::examples::serve_usage(kProgram)
            << "       [--workers 2] [--retain-finished 10000]\n"
            << "       " << kProgram
            << " submit [--key KEY] [--timeout-ms N] [--wait] -- CMD [ARG...]\n"
            << "       " << kProgram << " list [--state pending|running|succeeded|failed]\n"
            << "       " << kProgram << " show ID\n"
            << "       " << kProgram << " wait ID [--timeout-s 60]\n"
            << "       " << kProgram << " status | health | member ...\n"
            << "Clients take --endpoints HOST:PORT,... (the members' HTTP; default "
               "127.0.0.1:8101,127.0.0.1:8102,127.0.0.1:8103) and try them in turn.\n";
  return 2;
}

// A key that makes the client's retries (on another endpoint, after a 503) idempotent.
std::string random_key() {
  return "cli-" + skiff::examples::random_client_id();
}

// Polls the job until it finished or `timeout` passed; prints it. 0 when it succeeded.
int wait_job(ClusterClient& client, const std::string& id, std::chrono::seconds timeout) {
  const auto until = std::chrono::steady_clock::now() + timeout;
  while (true) {
    auto r = client.call("GET", "/v1/jobs/" + id);
    if (!r.ok() || r->status != 200) {
      return skiff::examples::print_reply(r);
    }
    const json job = r->parsed();
    const std::string state = job.is_object() ? job.value("state", std::string()) : "";
    if (state == "succeeded" || state == "failed" || std::chrono::steady_clock::now() > until) {
      skiff::examples::print_reply(r);
      if (state != "succeeded" && state != "failed") {
        std::cerr << "error: job " << id << " still " << state << " after " << timeout.count()
                  << " s\n";
      }
      return state == "succeeded" ? 0 : 1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
}

// Takes `name` (a flag without a value) out of `args`.
bool take_switch(std::vector<std::string>& args, const std::string& name) {
  for (auto it = args.begin(); it != args.end(); ++it) {
    if (*it == name) {
      args.erase(it);
      return true;
    }
  }
  return false;
}

// A client subcommand; `args` has everything but the program name, flags anywhere.
int client_main(std::vector<std::string> args) {
  // `submit`'s command comes after "--" and keeps its own flags.
  std::vector<std::string> job;
  const auto dashes = std::find(args.begin(), args.end(), "--");
  const bool has_job = dashes != args.end();
  if (has_job) {
    job.assign(dashes + 1, args.end());
    args.erase(dashes, args.end());
  }
  auto endpoints = skiff::examples::take_endpoints(args);
  auto key = skiff::examples::take_flag(args, "--key");
  auto timeout_ms = skiff::examples::take_flag(args, "--timeout-ms");
  auto timeout_s = skiff::examples::take_flag(args, "--timeout-s");
  auto state = skiff::examples::take_flag(args, "--state");
  for (const skiff::Status& s : {endpoints.status(), key.status(), timeout_ms.status(),
                                 timeout_s.status(), state.status()}) {
    if (!s.ok()) {
      std::cerr << s.message() << "\n";
      return 2;
    }
  }
  const bool wait = take_switch(args, "--wait");
  if (args.empty()) {
    return usage();
  }
  const std::string command = args[0];
  args.erase(args.begin());
  if (command == "submit" && !has_job) {
    std::cerr << "submit: the command goes after --, e.g. submit -- sh -c 'echo hi'\n";
    return 2;
  }
  ClusterClient client(*endpoints);
  if (auto rc = skiff::examples::run_common_client(command, args, client)) {
    return *rc;
  }
  std::chrono::seconds wait_limit(60);
  if (*timeout_s) {
    auto n = skiff::examples::parse_number(**timeout_s, "--timeout-s", 1, 86400);
    if (!n.ok()) {
      std::cerr << n.status().message() << "\n";
      return 2;
    }
    wait_limit = std::chrono::seconds(*n);
  }
  if (command == "submit" && args.empty()) {
    if (job.empty()) {
      std::cerr << "submit: no command after --\n";
      return 2;
    }
    json body = {{"command", job}, {"idempotency_key", key->value_or(random_key())}};
    if (*timeout_ms) {
      auto n = skiff::examples::parse_number(**timeout_ms, "--timeout-ms", 1, UINT64_MAX);
      if (!n.ok()) {
        std::cerr << n.status().message() << "\n";
        return 2;
      }
      body["timeout_ms"] = *n;
    }
    auto r = client.call("POST", "/v1/jobs", body.dump());
    if (!wait || !r.ok() || r->status / 100 != 2) {
      return skiff::examples::print_reply(r);
    }
    const json created = r->parsed();
    return wait_job(client, std::to_string(created.is_object() ? created.value("id", 0ull) : 0ull),
                    wait_limit);
  }
  if (command == "list" && args.empty()) {
    return skiff::examples::print_reply(
        client.call("GET", "/v1/jobs" + (*state ? "?state=" + **state : std::string())));
  }
  if (command == "show" && args.size() == 1) {
    return skiff::examples::print_reply(client.call("GET", "/v1/jobs/" + args[0]));
  }
  if (command == "wait" && args.size() == 1) {
    return wait_job(client, args[0], wait_limit);
  }
  return usage();
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty() || args[0] == "-h" || args[0] == "--help" || args[0] == "help") {
    return usage();
  }
  if (args[0] == "serve") {
    args.erase(args.begin());
    return skiff::examples::run_serve(kProgram, args, skiff::examples::jobs::kServeFlags,
                                      skiff::examples::jobs::JobsService::make);
  }
  return client_main(std::move(args));
}
