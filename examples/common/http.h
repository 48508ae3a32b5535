// The HTTP/JSON side of the example services (internal to the examples), on cpp-httplib and
// nlohmann::json (Debian packages): the server with the routes every service has (GET /status,
// /health, /metrics; POST /members, DELETE /members/{id}), JSON errors for every failure, the
// `serve` main loop, and the clients' failover over --endpoints.
//
// Errors are {"error": "what went wrong", "code": "Name"} with a 4xx status for bad requests
// and 503 when the cluster cannot answer now (no quorum, no leader, timed out): retry then.
#pragma once

#include <httplib.h>

#include <chrono>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "connections.h"
#include "flags.h"
#include "member.h"
#include "skiff/result.h"

namespace skiff::examples {

using json = nlohmann::json;

/// Answers `body` as JSON with `http_status`.
void reply_json(httplib::Response& res, const json& body, int http_status = 200);
/// Answers {"error": message, "code": code} with `http_status`.
void reply_error(httplib::Response& res, int http_status, std::string_view code,
                 std::string_view message);
/// The HTTP status for a failed node call: 503 for what a retry may fix (no leader or quorum,
/// timed out, stopping), 400 for bad arguments, 409 for a refused change, 500 otherwise.
int http_status_for(const Status& status);
/// Answers a failed node call with http_status_for() and the error's code and message.
void reply_status(httplib::Response& res, const Status& status);

/// JSON bodies nest at most this deep and hold at most this many values (arrays, objects,
/// strings, numbers...): parsing allocates per value, so these bound a request's memory
/// beside the body limit (a 2 MiB body of `[` cost 125 MiB to parse, issue 15).
inline constexpr std::size_t kMaxJsonDepth = 32;
inline constexpr std::size_t kMaxJsonValues = 10000;
/// The request body as a JSON object; answers 400 (naming the limit when one was passed) and
/// returns nothing when it is not one, nests deeper than kMaxJsonDepth or holds more than
/// kMaxJsonValues values. Checked before parsing, in one pass over the text.
std::optional<json> json_body(const httplib::Request& req, httplib::Response& res);
/// Why `text` may not be parsed as a JSON body (too deep, too many values), or ok. Counts
/// brackets, braces, commas and colons outside strings: no allocation.
Status check_json_shape(std::string_view text);
/// Field readers for a JSON object: the value, nothing when absent (and not `required`), or
/// an answered 400 naming the field (then `*failed` is set).
std::optional<std::string> string_field(const json& obj, const char* name, bool required,
                                        httplib::Response& res, bool* failed);
std::optional<std::uint64_t> number_field(const json& obj, const char* name, bool required,
                                          httplib::Response& res, bool* failed);
/// Whether `text` is valid UTF-8 (JSON strings must be; values and keys are checked with it).
bool valid_utf8(std::string_view text);

/// Proposes `command` and waits for its outcome. The node completes every request within its
/// request timeout (`request_timeout`); the wait adds a margin for a node under load, so it
/// never waits forever.
Result<Bytes> propose_and_wait(Node& node, Bytes command,
                               std::chrono::milliseconds request_timeout);
/// Before a read: nothing for `?consistency=serializable` (local, maybe stale); otherwise
/// (`linearizable`, the default) waits for a ReadIndex barrier on `node`. Answers the error
/// (400 for another value, 503 without quorum...) and returns false when the read must not
/// go on.
bool read_barrier(Node& node, const httplib::Request& req, httplib::Response& res,
                  std::chrono::milliseconds request_timeout);
/// A whole snapshot as one string; kCorruption naming `what` when it ends before its size.
Result<std::string> read_snapshot(SnapshotReader& in, std::string_view what);

/// Limits of the HTTP server.
struct HttpLimits {
  /// Larger bodies are answered 413 naming this limit, before any of the body is read;
  /// whatever the Content-Type (curl --data-binary sends form-urlencoded).
  std::size_t max_body_bytes = 2 << 20;
  /// Connections, timeouts and request heads (connections.h); a long poll holds one
  /// connection, so services bound their long polls well below max_connections.
  http_detail::ConnectionLimits connections;
};

/// Changes member `id`'s raft address (PUT /members/{id}/address) through
/// Node::change_address, its own validated operation: adding a member that exists is refused
/// instead.
std::future<Status> change_member_address(Node& node, NodeId id, std::string address);

/// What an example service adds to a member: its state machine, routes and background work.
class Service {
 public:
  virtual ~Service() = default;
  /// The replicated state machine; lives as long as the service.
  virtual StateMachine& state_machine() = 0;
  /// Adds the service's routes; `member` runs until stop() returns.
  virtual void routes(httplib::Server& server, Member& member) = 0;
  /// Starts background work (after the member started) and stops it (before the HTTP server
  /// and the member stop: end long waits here, requests still in flight get their answers).
  /// Defaults: none.
  virtual void start(Member& member) { (void)member; }
  virtual void stop() {}
};

/// The HTTP API of one member: common routes plus the service's, served a thread per
/// connection with bounded connections (connections.h). Every request is checked before its
/// body is read: a Content-Length that is not a number of bytes is answered 400, one over
/// max_body_bytes 413, chunked bodies 411; those answers close the connection.
class HttpServer {
 public:
  /// Binds `host_port` (errors name it) and starts serving.
  static Result<std::unique_ptr<HttpServer>> start(const std::string& host_port, Member& member,
                                                   Service& service, HttpLimits limits = {});
  ~HttpServer();  ///< stop()
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;
  /// Stops accepting and waits for the serving thread; idempotent.
  void stop();

 private:
  HttpServer() = default;
  std::unique_ptr<http_detail::ConnectionServer> server_;
  std::thread thread_;
};

/// `PROGRAM serve ARGS...`: parses the flags (with the service's `extra_flags`), starts the
/// member, the service and the HTTP API, runs until SIGINT or SIGTERM, then stops gracefully.
/// `make_service` builds the service from the flags (nullptr and an error message to refuse).
/// Returns the process exit code.
int run_serve(std::string_view program, const std::vector<std::string>& args,
              const std::set<std::string>& extra_flags,
              const std::function<std::unique_ptr<Service>(const ServeFlags&, std::string* error)>&
                  make_service);

/// An HTTP answer received by a client.
struct HttpReply {
  int status = 0;
  std::string body;
  /// The body as JSON, or a null json when it is not JSON.
  json parsed() const;
};

/// A client of a cluster: tries the endpoints in turn, moving on when one cannot be reached or
/// answers 503, until one answers or `deadline` passes.
class ClusterClient {
 public:
  explicit ClusterClient(std::vector<std::string> endpoints,
                         std::chrono::milliseconds deadline = std::chrono::seconds(15));
  /// One request; `body` is sent as JSON when it starts with '{'. An error when no endpoint
  /// gave an answer other than 503 in time (the last 503's message, or why none answered).
  Result<HttpReply> call(const std::string& method, const std::string& path,
                         const std::string& body = "");
  /// The endpoint that answered last.
  const std::string& last_endpoint() const { return endpoints_[next_]; }

 private:
  std::vector<std::string> endpoints_;
  std::chrono::milliseconds deadline_;
  std::size_t next_ = 0;
};

/// The client subcommands every service has: `status`, `health`, `member add ID HOST:PORT
/// [--learner]`, `member address ID HOST:PORT`, `member remove ID`, `member list`. Returns the exit
/// code, or nothing when `command` is not one of them.
std::optional<int> run_common_client(const std::string& command,
                                     const std::vector<std::string>& args, ClusterClient& client);
/// A client identity for one CLI invocation's retries (kv client_id, lock request_id, jobs
/// idempotency_key): 128 bits from std::random_device as 32 hex digits. Never from the pid or
/// the clock, which repeat across restarts and hosts; fixed width, so two draws can never
/// spell the same text.
std::string random_client_id();
/// Prints a reply (JSON pretty-printed) and returns the exit code: 0 for 2xx, 1 otherwise.
int print_reply(const Result<HttpReply>& reply);
/// Splits `--endpoints LIST` out of `args` (default: 127.0.0.1:8101,:8102,:8103).
Result<std::vector<std::string>> take_endpoints(std::vector<std::string>& args);
/// Takes `--NAME VALUE` out of `args`; nothing when absent; an error when it has no value.
Result<std::optional<std::string>> take_flag(std::vector<std::string>& args, std::string_view name);

}  // namespace skiff::examples
