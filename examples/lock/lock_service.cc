// skiff-lock's HTTP API (lock_service.h).
#include "lock_service.h"

#include <future>
#include <optional>

namespace skiff::examples::lock {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr std::uint64_t kDefaultTtlSeconds = 10;
constexpr std::size_t kMaxDataBytes = 1 << 20;
// How often the leader looks for run-out leases: expiry comes at most this late.
constexpr milliseconds kExpiryPeriod{100};
// Acquires that may wait at once on this member: each holds one of the HTTP server's 256
// connections (HttpLimits), and the routes need most left.
constexpr int kMaxWaiting = 48;
// How long a stopping member waits for a queued request's cancel.
constexpr milliseconds kStopCancelLimit{1000};

// A name from the path or the body: valid UTF-8, 1..kMaxNameBytes bytes, no control
// characters; answers 400 otherwise.
bool check_name(const std::string& name, const std::string& what, httplib::Response& res) {
  if (valid_utf8(name) && valid_name(name)) {
    return true;
  }
  reply_error(res, 400, "InvalidArgument",
              what + " must be 1 to " + std::to_string(kMaxNameBytes) +
                  " bytes of UTF-8 without control characters");
  return false;
}

// A whole number of seconds in [lo, hi] from an optional field; answers 400 otherwise.
std::optional<std::uint64_t> seconds_field(const json& body, const char* name,
                                           std::uint64_t default_value, std::uint64_t lo,
                                           std::uint64_t hi, httplib::Response& res) {
  bool failed = false;
  const std::uint64_t v = number_field(body, name, false, res, &failed).value_or(default_value);
  if (failed) {
    return std::nullopt;
  }
  if (v < lo || v > hi) {
    reply_error(res, 400, "InvalidArgument",
                std::string("\"") + name + "\" must be from " + std::to_string(lo) + " to " +
                    std::to_string(hi) + " seconds");
    return std::nullopt;
  }
  return v;
}

// A write's path name (checked) and JSON body; answers 400 and returns nothing otherwise.
struct WriteRequest {
  std::string name;
  json body;
};
std::optional<WriteRequest> write_request(const httplib::Request& req, httplib::Response& res,
                                          const std::string& what) {
  std::string name = req.matches[1].str();
  if (!check_name(name, what, res)) {
    return std::nullopt;
  }
  auto body = json_body(req, res);
  if (!body) {
    return std::nullopt;
  }
  return WriteRequest{std::move(name), std::move(*body)};
}

// Answers a command's result: 200, or its refusal with the status it names.
void answer(httplib::Response& res, json result) {
  if (result.contains("error")) {
    const int http = result.value("http", 500);
    result.erase("http");
    reply_json(res, result, http);
    return;
  }
  reply_json(res, result);
}

}  // namespace

Result<json> LockService::propose(Node& node, std::string command,
                                  std::optional<milliseconds> limit) {
  auto f = node.propose(Bytes(std::move(command)));
  // The node completes every proposal by its request timeout; the margin only guards that.
  if (f.wait_for(limit.value_or(request_timeout_ + seconds(5))) != std::future_status::ready) {
    return Status(ErrorCode::kTimedOut, "the write had no outcome in time");
  }
  Result<Bytes> r = f.get();
  if (!r.ok()) {
    return r.status();
  }
  json j = json::parse(r->view(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) {
    return Status(ErrorCode::kCorruption, "the state machine answered something not JSON");
  }
  return j;
}

bool LockService::read_barrier(Node& node, const httplib::Request& req, httplib::Response& res) {
  return examples::read_barrier(node, req, res, request_timeout_);
}

void LockService::acquire(Node& node, const std::string& name, const json& body,
                          httplib::Response& res) {
  bool failed = false;
  const auto owner = string_field(body, "owner", true, res, &failed);
  const auto rid = string_field(body, "request_id", false, res, &failed).value_or("");
  if (failed || !check_name(*owner, "\"owner\"", res)) {
    return;
  }
  if (rid.size() > kMaxRequestIdBytes || !valid_utf8(rid)) {
    reply_error(
        res, 400, "InvalidArgument",
        "\"request_id\" must be at most " + std::to_string(kMaxRequestIdBytes) + " bytes of UTF-8");
    return;
  }
  const auto ttl = seconds_field(body, "ttl", kDefaultTtlSeconds, 1, kMaxTtlMs / 1000, res);
  const auto wait = ttl ? seconds_field(body, "wait", 0, 0, kMaxWaitMs / 1000, res) : std::nullopt;
  if (!wait) {
    return;
  }
  if (*wait > 0 && waiting_.fetch_add(1) >= kMaxWaiting) {
    waiting_.fetch_sub(1);
    reply_error(res, 503, "TooManyWaiters",
                "this member has " + std::to_string(kMaxWaiting) +
                    " acquires waiting already: retry, or ask another member");
    return;
  }
  struct Leave {
    std::atomic<int>* count;
    ~Leave() {
      if (count != nullptr) {
        count->fetch_sub(1);
      }
    }
  } leave{*wait > 0 ? &waiting_ : nullptr};
  // Registered before proposing: a grant applied before the wait below is not missed.
  LockMachine::Watch watch(machine_, name, *owner);
  auto r = propose(node, command::acquire(name, *owner, *ttl * 1000, *wait * 1000, rid));
  if (!r.ok()) {
    reply_status(res, r.status());
    return;
  }
  if (!r->value("queued", false)) {
    answer(res, *r);
    return;
  }
  if (auto token = watch.wait(std::chrono::steady_clock::now() + seconds(*wait))) {
    reply_json(res, {{"name", name}, {"owner", *owner}, {"token", *token}, {"count", 1}});
    return;
  }
  // Waited long enough: leave the line, unless the grant won the race. A stopping member
  // tries briefly (its peers may be stopping too); else the leader drops the waiter later.
  auto c = propose(node, command::cancel(name, *owner, r->value("seq", std::uint64_t{0})),
                   machine_.stopping() ? std::optional(kStopCancelLimit) : std::nullopt);
  if (!c.ok()) {
    reply_status(res, c.status());
    return;
  }
  if (c->contains("token")) {
    c->erase("cancelled");
    reply_json(res, *c);
    return;
  }
  const std::string holder = c->value("holder", std::string());
  if (machine_.stopping()) {
    reply_error(res, 503, "Stopped", "this member is stopping: ask another one");
    return;
  }
  reply_json(res,
             {{"error", "lock \"" + name + "\" is still held by \"" + holder + "\" after " +
                            std::to_string(*wait) + " s"},
              {"code", "Held"},
              {"holder", holder}},
             409);
}

void LockService::propose_and_answer(Node& node, std::string command, httplib::Response& res) {
  auto r = propose(node, std::move(command));
  if (!r.ok()) {
    reply_status(res, r.status());
    return;
  }
  answer(res, *r);
}

void LockService::routes(httplib::Server& server, Member& member) {
  Node& node = member.node();
  server.Post(R"(/v1/lock/(.+)/(acquire|keepalive|release))",
              [this, &node](const httplib::Request& req, httplib::Response& res) {
                auto w = write_request(req, res, "the lock name");
                if (!w) {
                  return;
                }
                const std::string op = req.matches[2].str();
                if (op == "acquire") {
                  acquire(node, w->name, w->body, res);
                  return;
                }
                bool failed = false;
                const auto owner = string_field(w->body, "owner", true, res, &failed);
                const auto rid = string_field(w->body, "request_id", false, res, &failed);
                if (failed || !check_name(*owner, "\"owner\"", res)) {
                  return;
                }
                propose_and_answer(node,
                                   op == "keepalive"
                                       ? command::keepalive(w->name, *owner)
                                       : command::release(w->name, *owner, rid.value_or("")),
                                   res);
              });
  server.Post(R"(/v1/resource/(.+))",
              [this, &node](const httplib::Request& req, httplib::Response& res) {
                auto w = write_request(req, res, "the resource name");
                if (!w) {
                  return;
                }
                bool failed = false;
                const auto token = number_field(w->body, "token", true, res, &failed);
                const auto data = string_field(w->body, "data", false, res, &failed).value_or("");
                if (failed) {
                  return;
                }
                if (*token == 0 || data.size() > kMaxDataBytes) {
                  reply_error(res, 400, "InvalidArgument",
                              "\"token\" must be a fencing token (>= 1) and \"data\" at most " +
                                  std::to_string(kMaxDataBytes) + " bytes");
                  return;
                }
                propose_and_answer(node, command::write(w->name, *token, data), res);
              });
  server.Get(R"(/v1/(lock|resource)/(.+))",
             [this, &node](const httplib::Request& req, httplib::Response& res) {
               const bool lock = req.matches[1].str() == "lock";
               const std::string name = req.matches[2].str();
               if (!check_name(name, lock ? "the lock name" : "the resource name", res) ||
                   !read_barrier(node, req, res)) {
                 return;
               }
               const json r = lock ? machine_.lock_json(name) : machine_.resource_json(name);
               if (r.is_null()) {
                 reply_error(res, 404, "NotFound", "resource \"" + name + "\" was never written");
                 return;
               }
               reply_json(res, r);
             });
}

void LockService::start(Member& member) {
  Node& node = member.node();
  loop_.start(
      node, kExpiryPeriod, [this](Term) { machine_.extend_deadlines(); },
      [this, &node](Term) { propose_due(node); });
}

void LockService::stop() {
  loop_.stop();
  machine_.stop_waits();
}

void LockService::propose_due(Node& node) {
  for (std::string& command : machine_.due_commands()) {
    {
      std::lock_guard lock(inflight_mu_);
      if (!inflight_.insert(command).second) {
        continue;
      }
    }
    node.propose(Bytes(command), [this, command](const Result<Bytes>&) {
      std::lock_guard lock(inflight_mu_);
      inflight_.erase(command);
    });
  }
}

}  // namespace skiff::examples::lock
