// skiff-jobs' HTTP API and background work (internal to the example):
//
//   POST /v1/jobs       {"command": ["sh", "-c", "echo hi"], "idempotency_key": "k",
//                        "timeout_ms": 60000}   -> 201 {"id": 1, "created": true}
//                        (200 and "created": false when the key is known)
//   GET  /v1/jobs       [?state=pending|running|succeeded|failed] -> {"jobs": [...]}
//   GET  /v1/jobs/{id}  -> the job (404 when unknown)
//
// Writes are proposals (any member takes them: they are forwarded to the leader); reads wait
// for a read barrier (read_index), so they are linearizable on every member. When the cluster
// cannot answer (no quorum), both answer 503 within the request timeout.
#pragma once

#include <memory>
#include <string>

#include "http.h"
#include "jobs_state.h"
#include "runner.h"

namespace skiff::examples::jobs {

/// The service's own serve flags.
inline const std::set<std::string> kServeFlags = {"--workers", "--retain-finished"};

class JobsService final : public Service {
 public:
  /// From the serve flags (--workers N, 1..64, default 2; --retain-finished N, finished jobs
  /// kept, default 10000, the same on every member); nullptr and `*error` when bad.
  static std::unique_ptr<Service> make(const ServeFlags& flags, std::string* error);

  StateMachine& state_machine() override { return state_; }
  void routes(httplib::Server& server, Member& member) override;
  void start(Member& member) override { runner_.start(member.node()); }
  void stop() override { runner_.stop(); }

 private:
  JobsService(RunnerOptions options, std::chrono::milliseconds request_timeout,
              std::size_t retain_finished)
      : state_(retain_finished),
        runner_(state_, std::move(options)),
        request_timeout_(request_timeout) {}

  void submit(Node& node, const httplib::Request& req, httplib::Response& res);

  JobsState state_;
  Runner runner_;
  std::chrono::milliseconds request_timeout_;
};

}  // namespace skiff::examples::jobs
