// The example services' HTTP layer (http.h).
#include "http.h"

#include <signal.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <random>

namespace skiff::examples {
namespace {

json members_json(const ConfState& c) {
  auto ids = [](const std::vector<NodeId>& v) {
    json out = json::array();
    for (NodeId id : v) {
      out.push_back(id.value);
    }
    return out;
  };
  json out = {{"voters", ids(c.voters)}, {"learners", ids(c.learners)}};
  if (c.joint()) {
    out["voters_outgoing"] = ids(c.voters_outgoing);
  }
  return out;
}

json status_json(const NodeStatus& s) {
  return {{"id", s.id.value},
          {"role", std::string(to_string(s.role))},
          {"term", s.term.value},
          {"leader", s.leader.value},
          {"first_index", s.first_index.value},
          {"last_index", s.last_index.value},
          {"commit", s.commit.value},
          {"applied", s.applied.value},
          {"members", members_json(s.config)}};
}

// Waits for a membership change's future, at most the node's request timeout plus a margin
// (the node completes every request by then).
Status wait_change(std::future<Status> f) {
  if (f.wait_for(std::chrono::minutes(2)) != std::future_status::ready) {
    return Status(ErrorCode::kTimedOut, "membership change without an outcome");
  }
  return f.get();
}

// The connection layer's counters for /metrics, in the Prometheus text format.
std::string connection_metrics(const http_detail::ConnectionCounters& c) {
  std::string out;
  auto counter = [&out](const char* name, const char* help, const std::atomic<std::uint64_t>& v) {
    out += std::string("# HELP skiff_http_") + name + " " + help + "\n# TYPE skiff_http_" + name +
           " counter\nskiff_http_" + name + " " + std::to_string(v.load()) + "\n";
  };
  counter("connections_accepted_total", "HTTP connections accepted.", c.accepted);
  counter("connections_refused_total", "HTTP connections answered 503: all busy.", c.refused_full);
  counter("connections_evicted_total", "Idle HTTP connections closed for a new client.",
          c.evicted_idle);
  counter("idle_timeouts_total", "HTTP connections closed idle.", c.idle_timeouts);
  counter("request_timeouts_total", "HTTP requests not read in time.", c.request_timeouts);
  counter("heads_too_large_total", "HTTP request heads over the limit.", c.head_too_large);
  counter("closed_after_error_total", "HTTP connections closed after a refused request.",
          c.closed_after_error);
  return out;
}

// Whether `id` is in `config` as a voter (also an outgoing one) or a learner.
bool is_member(const ConfState& config, NodeId id) {
  auto in = [id](const std::vector<NodeId>& v) {
    return std::find(v.begin(), v.end(), id) != v.end();
  };
  return in(config.voters) || in(config.voters_outgoing) || in(config.learners);
}

void common_routes(httplib::Server& server, Member& member,
                   const http_detail::ConnectionCounters& counters) {
  Node& node = member.node();
  server.Get("/status", [&node](const httplib::Request&, httplib::Response& res) {
    auto s = node.status();
    if (!s.ok()) {
      reply_status(res, s.status());
      return;
    }
    reply_json(res, status_json(*s));
  });
  server.Get("/health", [&node](const httplib::Request&, httplib::Response& res) {
    auto s = node.status();
    if (!s.ok()) {
      reply_status(res, s.status());
    } else if (Status f = node.failure(); !f.ok()) {
      reply_error(res, 503, to_string(f.code()), "node failed: " + f.message());
    } else if (s->leader == kNoNode) {
      reply_error(res, 503, "NoLeader", "no leader known: the cluster has no quorum right now");
    } else {
      reply_json(res, {{"healthy", true}, {"leader", s->leader.value}, {"term", s->term.value}});
    }
  });
  server.Get("/metrics", [&node, &counters](const httplib::Request&, httplib::Response& res) {
    res.set_content(node.prometheus_text() + connection_metrics(counters),
                    "text/plain; version=0.0.4");
  });
  server.Post("/members", [&node](const httplib::Request& req, httplib::Response& res) {
    auto body = json_body(req, res);
    if (!body) {
      return;
    }
    bool failed = false;
    auto id = number_field(*body, "id", true, res, &failed);
    auto address = string_field(*body, "address", true, res, &failed);
    if (failed) {
      return;
    }
    if (*id == 0) {
      reply_error(res, 400, "InvalidArgument", "\"id\" must be at least 1");
      return;
    }
    if (Status s = check_host_port(*address, "\"address\""); !s.ok()) {
      reply_status(res, s);
      return;
    }
    bool learner = false;
    if (body->contains("learner")) {
      if (!(*body)["learner"].is_boolean()) {
        reply_error(res, 400, "InvalidArgument", "\"learner\" must be true or false");
        return;
      }
      learner = (*body)["learner"].get<bool>();
    }
    const NodeId node_id{*id};
    // Adding a member that exists would only change its address, with nothing checked: one
    // wrong address cuts the member off for good (issue 15). An address change is its own
    // operation (PUT /members/{id}/address); promoting a learner is POST .../promote.
    auto now = node.status();
    if (!now.ok()) {
      reply_status(res, now.status());
      return;
    }
    if (is_member(now->config, node_id)) {
      json err = {{"error", "member " + std::to_string(*id) +
                                " already exists: change its address with PUT /members/" +
                                std::to_string(*id) +
                                "/address, promote a learner with POST "
                                "/members/" +
                                std::to_string(*id) + "/promote"},
                  {"code", "AlreadyMember"},
                  {"id", *id}};
      reply_json(res, err, 409);
      return;
    }
    Status s = wait_change(learner ? node.add_learner(node_id, *address)
                                   : node.add_voter(node_id, *address));
    if (!s.ok()) {
      reply_status(res, s);
      return;
    }
    auto st = node.status();
    reply_json(res, {{"members", st.ok() ? members_json(st->config) : json()}});
  });
  auto remove = [&node](const httplib::Request& req, httplib::Response& res) {
    auto id = parse_number(req.matches[1].str(), "member id", 1, UINT64_MAX);
    if (!id.ok()) {
      reply_status(res, id.status());
      return;
    }
    if (Status s = wait_change(node.remove(NodeId{*id})); !s.ok()) {
      reply_status(res, s);
      return;
    }
    auto st = node.status();
    reply_json(res, {{"members", st.ok() ? members_json(st->config) : json()}});
  };
  server.Delete(R"(/members/([^/]+))", remove);
  server.Put(
      R"(/members/([^/]+)/address)", [&node](const httplib::Request& req, httplib::Response& res) {
        auto id = parse_number(req.matches[1].str(), "member id", 1, UINT64_MAX);
        if (!id.ok()) {
          reply_status(res, id.status());
          return;
        }
        auto body = json_body(req, res);
        if (!body) {
          return;
        }
        bool failed = false;
        auto address = string_field(*body, "address", true, res, &failed);
        if (failed) {
          return;
        }
        if (Status s = check_host_port(*address, "\"address\""); !s.ok()) {
          reply_status(res, s);
          return;
        }
        auto now = node.status();
        if (!now.ok()) {
          reply_status(res, now.status());
          return;
        }
        if (!is_member(now->config, NodeId{*id})) {
          reply_json(res,
                     {{"error", "member " + std::to_string(*id) +
                                    " does not exist: add it with POST /members"},
                      {"code", "NotMember"},
                      {"id", *id}},
                     404);
          return;
        }
        if (Status s = wait_change(change_member_address(node, NodeId{*id}, *address)); !s.ok()) {
          reply_status(res, s);
          return;
        }
        reply_json(res, {{"id", *id}, {"address", *address}});
      });
  server.Post(R"(/members/([^/]+)/promote)",
              [&node](const httplib::Request& req, httplib::Response& res) {
                auto id = parse_number(req.matches[1].str(), "member id", 1, UINT64_MAX);
                if (!id.ok()) {
                  reply_status(res, id.status());
                  return;
                }
                if (Status s = wait_change(node.promote(NodeId{*id})); !s.ok()) {
                  reply_status(res, s);
                  return;
                }
                reply_json(res, {{"promoted", *id}});
              });
}

// Splits "host:port".
std::pair<std::string, int> host_port(const std::string& text) {
  const std::size_t colon = text.rfind(':');
  return {text.substr(0, colon), std::atoi(text.c_str() + colon + 1)};
}

}  // namespace

void reply_json(httplib::Response& res, const json& body, int http_status) {
  res.status = http_status;
  res.set_content(body.dump(-1, ' ', false, json::error_handler_t::replace) + "\n",
                  "application/json");
}

void reply_error(httplib::Response& res, int http_status, std::string_view code,
                 std::string_view message) {
  reply_json(res, {{"error", std::string(message)}, {"code", std::string(code)}}, http_status);
}

int http_status_for(const Status& status) {
  switch (status.code()) {
    case ErrorCode::kInvalidArgument:
      return 400;
    case ErrorCode::kNotLeader:
    case ErrorCode::kProposalDropped:
    case ErrorCode::kUnavailable:
    case ErrorCode::kTimedOut:
    case ErrorCode::kStopped:
      return 503;
    case ErrorCode::kFailedPrecondition:
      return 409;
    case ErrorCode::kCompacted:
      return 410;
    default:
      return 500;
  }
}

void reply_status(httplib::Response& res, const Status& status) {
  std::string message = status.message();
  if (status.code() == ErrorCode::kTimedOut) {
    message += " (no quorum? the request may still take effect)";
  }
  json body = {{"error", message}, {"code", std::string(to_string(status.code()))}};
  if (status.code() == ErrorCode::kNotLeader && status.leader_hint() != kNoNode) {
    body["leader"] = status.leader_hint().value;  // membership changes go there
  }
  reply_json(res, body, http_status_for(status));
}

bool valid_utf8(std::string_view text) {
  std::size_t i = 0;
  while (i < text.size()) {
    const auto c = static_cast<unsigned char>(text[i]);
    std::size_t n = 0;
    std::uint32_t cp = 0;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xE0) == 0xC0) {
      n = 1;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      n = 2;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      n = 3;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (i + n >= text.size()) {
      return false;  // truncated sequence
    }
    for (std::size_t k = 1; k <= n; ++k) {
      const auto d = static_cast<unsigned char>(text[i + k]);
      if ((d & 0xC0) != 0x80) {
        return false;
      }
      cp = (cp << 6) | (d & 0x3F);
    }
    // Overlong forms, surrogates and code points past U+10FFFF are not UTF-8.
    static constexpr std::uint32_t kMin[] = {0, 0x80, 0x800, 0x10000};
    if (cp < kMin[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
      return false;
    }
    i += n + 1;
  }
  return true;
}

Status check_json_shape(std::string_view text) {
  std::size_t depth = 0;
  std::size_t values = 1;
  bool in_string = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\') {
        ++i;  // the escaped character cannot end the string
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    switch (c) {
      case '"':
        in_string = true;
        break;
      case '[':
      case '{':
        if (++depth > kMaxJsonDepth) {
          return Status(
              ErrorCode::kInvalidArgument,
              "the JSON body nests deeper than the limit of " + std::to_string(kMaxJsonDepth));
        }
        break;
      case ']':
      case '}':
        depth -= depth > 0 ? 1 : 0;
        break;
      case ',':
      case ':':
        // Every value but the first follows a comma or a colon (and a colon's key, a comma).
        if (++values > 2 * kMaxJsonValues) {
          return Status(ErrorCode::kInvalidArgument, "the JSON body holds more than the limit of " +
                                                         std::to_string(kMaxJsonValues) +
                                                         " values");
        }
        break;
      default:
        break;
    }
  }
  return Status();
}

std::optional<json> json_body(const httplib::Request& req, httplib::Response& res) {
  if (Status s = check_json_shape(req.body); !s.ok()) {
    reply_status(res, s);
    return std::nullopt;
  }
  json body = json::parse(req.body, nullptr, /*allow_exceptions=*/false);
  if (body.is_discarded() || !body.is_object()) {
    reply_error(res, 400, "InvalidArgument", "the body must be a JSON object");
    return std::nullopt;
  }
  return body;
}

namespace {

// A field of type T: nothing when absent (an answered 400 if `required`), or when it fails
// `is_type` (an answered 400 saying it must be `type`); *failed is set on an answer.
template <typename T>
std::optional<T> typed_field(const json& obj, const char* name, bool required,
                             httplib::Response& res, bool* failed, bool (json::*is_type)() const,
                             const char* type) {
  if (*failed) {
    return std::nullopt;
  }
  const auto it = obj.find(name);
  const bool absent = it == obj.end() || it->is_null();
  if (absent ? required : !((*it).*is_type)()) {
    reply_error(res, 400, "InvalidArgument",
                std::string("\"") + name + (absent ? "\" is required" : "\" must be ") +
                    (absent ? "" : type));
    *failed = true;
  }
  if (absent || *failed) {
    return std::nullopt;
  }
  return it->get<T>();
}

}  // namespace

std::optional<std::string> string_field(const json& obj, const char* name, bool required,
                                        httplib::Response& res, bool* failed) {
  return typed_field<std::string>(obj, name, required, res, failed, &json::is_string, "a string");
}

std::optional<std::uint64_t> number_field(const json& obj, const char* name, bool required,
                                          httplib::Response& res, bool* failed) {
  return typed_field<std::uint64_t>(obj, name, required, res, failed, &json::is_number_unsigned,
                                    "a whole number >= 0");
}

namespace {

// What a wait adds to the node's request timeout, after which the node has completed it.
constexpr std::chrono::seconds kWaitMargin(5);

}  // namespace

Result<Bytes> propose_and_wait(Node& node, Bytes command,
                               std::chrono::milliseconds request_timeout) {
  std::future<Result<Bytes>> f = node.propose(std::move(command));
  if (f.wait_for(request_timeout + kWaitMargin) != std::future_status::ready) {
    return Status(ErrorCode::kTimedOut, "the write had no outcome in time");
  }
  return f.get();
}

bool read_barrier(Node& node, const httplib::Request& req, httplib::Response& res,
                  std::chrono::milliseconds request_timeout) {
  const std::string consistency =
      req.has_param("consistency") ? req.get_param_value("consistency") : "linearizable";
  if (consistency == "serializable") {
    return true;
  }
  if (consistency != "linearizable") {
    reply_error(res, 400, "InvalidArgument",
                "consistency must be \"linearizable\" (the default) or \"serializable\"");
    return false;
  }
  std::future<Status> f = node.read_index();
  const Status s = f.wait_for(request_timeout + kWaitMargin) == std::future_status::ready
                       ? f.get()
                       : Status(ErrorCode::kTimedOut, "the read had no outcome in time");
  if (!s.ok()) {
    reply_status(res, s);
    return false;
  }
  return true;
}

Result<std::string> read_snapshot(SnapshotReader& in, std::string_view what) {
  std::string text(in.size(), '\0');
  std::size_t at = 0;
  while (at < text.size()) {
    const std::size_t n = in.read(text.data() + at, text.size() - at);
    if (n == 0) {
      return Status(ErrorCode::kCorruption,
                    std::string(what) + " snapshot: shorter than its size (" + std::to_string(at) +
                        " of " + std::to_string(text.size()) + " bytes)");
    }
    at += n;
  }
  return text;
}

std::future<Status> change_member_address(Node& node, NodeId id, std::string address) {
  return node.change_address(id, std::move(address));
}

namespace {

// A request refused before its body is read: answered with `code` and `message`, and the
// connection closed after the answer (the unread body cannot be told from the next request).
// The Connection header is the request's, which httplib answers with (the request object is
// httplib's own, not const: the handlers only see it as const).
void refuse_unread(const httplib::Request& req, httplib::Response& res, int status,
                   std::string_view code, const std::string& message) {
  auto& headers = const_cast<httplib::Request&>(req).headers;
  headers.erase("Connection");
  headers.emplace("Connection", "close");
  http_detail::close_after_answer();
  reply_error(res, status, code, message);
}

// Checks what a request's head says about its body before any of it is read, and tells the
// connection how many bytes it is; false (answered, the connection will close) when it may
// not be read: a Content-Length that is not a number of bytes (e.g. -5, read as 2^64-5 by
// httplib) or over `max` (httplib would read and discard all of 99999999999 bytes), a chunked
// body, a body on a method that has none.
bool check_body_head(const httplib::Request& req, httplib::Response& res, std::size_t max) {
  if (req.has_header("Transfer-Encoding")) {
    refuse_unread(req, res, 411, "LengthRequired",
                  "send the body with a Content-Length (Transfer-Encoding is not supported)");
    return false;
  }
  const std::size_t lengths = req.get_header_value_count("Content-Length");
  std::uint64_t length = 0;
  if (lengths > 1) {
    refuse_unread(req, res, 400, "InvalidArgument", "more than one Content-Length");
    return false;
  }
  if (lengths == 1) {
    const std::string text = req.get_header_value("Content-Length");
    if (text.empty() ||
        !std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      refuse_unread(req, res, 400, "InvalidArgument",
                    "Content-Length \"" + text.substr(0, 32) + "\" is not a number of bytes");
      return false;
    }
    const std::size_t digits = text.find_first_not_of('0');
    const bool huge = digits != std::string::npos && text.size() - digits > 19;
    length = huge ? UINT64_MAX : std::strtoull(text.c_str(), nullptr, 10);
    if (length > max) {
      refuse_unread(req, res, 413, "TooLarge",
                    "the body is " + (huge ? text.substr(0, 32) : std::to_string(length)) +
                        " bytes, over the limit of " + std::to_string(max) + " bytes per request");
      return false;
    }
  }
  // The methods httplib reads a body for (the others leave it to be read as the next request).
  const bool reads_body = req.method == "POST" || req.method == "PUT" || req.method == "PATCH" ||
                          (req.method == "DELETE" && lengths == 1);
  if (!reads_body && length > 0) {
    refuse_unread(req, res, 400, "InvalidArgument", req.method + " requests carry no body");
    return false;
  }
  // A body is the value or a JSON document, never form fields: curl --data-binary (the
  // README's command) sends this type, which httplib would cap at 8 KiB
  // (CPPHTTPLIB_FORM_URL_ENCODED_PAYLOAD_MAX_LENGTH) and parse into query parameters.
  if (req.get_header_value("Content-Type").rfind("application/x-www-form-urlencoded", 0) == 0) {
    auto& headers = const_cast<httplib::Request&>(req).headers;
    headers.erase("Content-Type");
    headers.emplace("Content-Type", "application/octet-stream");
  }
  http_detail::expect_body(reads_body ? length : 0);
  return true;
}

}  // namespace

Result<std::unique_ptr<HttpServer>> HttpServer::start(const std::string& host_port_text,
                                                      Member& member, Service& service,
                                                      HttpLimits limits) {
  std::unique_ptr<HttpServer> h(new HttpServer());
  h->server_ = std::make_unique<http_detail::ConnectionServer>(limits.connections);
  http_detail::ConnectionServer& server = *h->server_;
  server.set_payload_max_length(limits.max_body_bytes);
  const std::size_t max = limits.max_body_bytes;
  server.set_pre_routing_handler([max](const httplib::Request& req, httplib::Response& res) {
    return check_body_head(req, res, max) ? httplib::Server::HandlerResponse::Unhandled
                                          : httplib::Server::HandlerResponse::Handled;
  });
  // A client that waits for 100 Continue (curl does for large bodies) learns of a refused
  // body before sending it.
  server.set_expect_100_continue_handler(
      [max](const httplib::Request& req, httplib::Response& res) {
        return check_body_head(req, res, max) ? 100 : res.status;
      });
  // Every error gets a JSON body: those the routes answer already have one; the rest (no
  // route, a head that did not parse, ...) get one here, and but for a 404 the connection is
  // closed after it (its bytes may not frame the next request).
  server.set_error_handler(httplib::Server::HandlerWithResponse(
      [max](const httplib::Request& req, httplib::Response& res) {
        if (!res.body.empty()) {
          return httplib::Server::HandlerResponse::Unhandled;
        }
        if (res.status == 404) {
          reply_error(res, 404, "NotFound", "no route " + req.method + " " + req.path);
          return httplib::Server::HandlerResponse::Handled;
        }
        http_detail::close_after_answer();
        if (res.status == 413) {
          reply_error(res, 413, "TooLarge",
                      "the body is over the limit of " + std::to_string(max) + " bytes");
        } else if (res.status == 414) {
          reply_error(res, 414, "TooLarge", "the request line is over the limit of 8192 bytes");
        } else {
          reply_error(res, res.status, "HttpError", "HTTP error " + std::to_string(res.status));
        }
        return httplib::Server::HandlerResponse::Handled;
      }));
  server.set_exception_handler(
      [](const httplib::Request&, httplib::Response& res, std::exception_ptr ep) {
        std::string what = "unknown error";
        try {
          std::rethrow_exception(ep);
        } catch (const std::exception& e) {
          what = e.what();
        } catch (...) {
        }
        reply_error(res, 500, "Internal", what);
      });
  common_routes(server, member, server.counters());
  service.routes(server, member);
  const auto [host, port] = host_port(host_port_text);
  if (!server.bind_to_port(host, port)) {
    return Status(ErrorCode::kInvalidArgument,
                  "--http " + host_port_text + ": cannot listen there (in use or not local?)");
  }
  if (!server.raise_backlog()) {
    return Status(ErrorCode::kInvalidArgument,
                  "--http " + host_port_text + ": listen failed: " + std::strerror(errno));
  }
  h->thread_ = std::thread([s = h->server_.get()] { s->listen_after_bind(); });
  return h;
}

HttpServer::~HttpServer() {
  stop();
}

void HttpServer::stop() {
  if (server_ == nullptr) {
    return;
  }
  server_->stop();               // no new connections
  server_->close_connections();  // idle ones close; requests in flight get their answers
  if (thread_.joinable()) {
    thread_.join();  // returns once every connection is closed
  }
}

int run_serve(std::string_view program, const std::vector<std::string>& args,
              const std::set<std::string>& extra_flags,
              const std::function<std::unique_ptr<Service>(const ServeFlags&, std::string* error)>&
                  make_service) {
  auto flags = parse_serve_flags(args, extra_flags);
  if (!flags.ok()) {
    std::cerr << program << ": " << flags.status().message() << "\n" << serve_usage(program);
    return 2;
  }
  std::string error;
  std::unique_ptr<Service> service = make_service(*flags, &error);
  if (!service) {
    std::cerr << program << ": " << error << "\n";
    return 2;
  }
  // Every thread started from here on inherits the mask, so only sigwait below sees the
  // signals; a client that goes away mid-answer must not kill the process.
  ::signal(SIGPIPE, SIG_IGN);
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  auto member = Member::start(*flags, service->state_machine());
  if (!member.ok()) {
    std::cerr << program << ": " << member.status().message() << "\n";
    return 1;
  }
  service->start(**member);
  auto http = HttpServer::start(flags->http, **member, *service);
  if (!http.ok()) {
    std::cerr << program << ": " << http.status().message() << "\n";
    service->stop();
    (*member)->stop();
    return 1;
  }
  std::fprintf(stderr, "%.*s: node %llu serving HTTP on %s, raft on %s, data in %s\n",
               static_cast<int>(program.size()), program.data(),
               static_cast<unsigned long long>(flags->id.value), flags->http.c_str(),
               flags->peers.at(flags->id).c_str(), flags->data_dir.c_str());
  int sig = 0;
  sigwait(&stop_signals, &sig);
  std::fprintf(stderr, "%.*s: signal %d, stopping\n", static_cast<int>(program.size()),
               program.data(), sig);
  // The service first: it ends long polls and leader work, so the HTTP server's threads
  // finish their requests (the member still answers them) and the server can stop.
  service->stop();
  (*http)->stop();
  (*member)->stop();
  if (Status f = (*member)->node().failure(); !f.ok()) {
    std::cerr << program << ": the node had failed: " << f.message() << "\n";
    return 1;
  }
  return 0;
}

json HttpReply::parsed() const {
  json out = json::parse(body, nullptr, /*allow_exceptions=*/false);
  return out.is_discarded() ? json() : out;
}

ClusterClient::ClusterClient(std::vector<std::string> endpoints, std::chrono::milliseconds deadline)
    : endpoints_(std::move(endpoints)), deadline_(deadline) {}

Result<HttpReply> ClusterClient::call(const std::string& method, const std::string& path,
                                      const std::string& body) {
  const auto until = std::chrono::steady_clock::now() + deadline_;
  std::string last_error = "no endpoint";
  const std::string type = !body.empty() && body[0] == '{' ? "application/json" : "text/plain";
  while (true) {
    for (std::size_t tried = 0; tried < endpoints_.size(); ++tried) {
      const auto left = until - std::chrono::steady_clock::now();
      if (left <= std::chrono::milliseconds(0)) {
        return Status(ErrorCode::kTimedOut, last_error);
      }
      const std::string& endpoint = endpoints_[next_];
      const auto [host, port] = host_port(endpoint);
      httplib::Client cli(host, port);
      cli.set_connection_timeout(std::chrono::seconds(1));
      cli.set_read_timeout(std::chrono::duration_cast<std::chrono::milliseconds>(left));
      cli.set_write_timeout(std::chrono::seconds(5));
      httplib::Result r = method == "GET"      ? cli.Get(path)
                          : method == "DELETE" ? cli.Delete(path, body, type)
                          : method == "PUT"    ? cli.Put(path, body, type)
                                               : cli.Post(path, body, type);
      if (r && r->status != 503) {
        return HttpReply{r->status, r->body};
      }
      last_error = r ? endpoint + ": " +
                           HttpReply{r->status, r->body}.parsed().value("error", std::string("503"))
                     : endpoint + ": " + httplib::to_string(r.error());
      next_ = (next_ + 1) % endpoints_.size();
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
}

std::string random_client_id() {
  std::random_device rd;
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (int word = 0; word < 4; ++word) {
    const std::uint32_t bits = rd();  // 32 bits per draw (libstdc++: rdrand or getentropy)
    for (int shift = 28; shift >= 0; shift -= 4) {
      out += kHex[(bits >> shift) & 15];
    }
  }
  return out;
}

int print_reply(const Result<HttpReply>& reply) {
  if (!reply.ok()) {
    std::cerr << "error: " << reply.status().message() << "\n";
    return 1;
  }
  const json j = reply->parsed();
  if (j.is_null()) {
    std::cout << reply->body;
  } else {
    std::cout << j.dump(2, ' ', false, json::error_handler_t::replace) << "\n";
  }
  return reply->status / 100 == 2 ? 0 : 1;
}

Result<std::optional<std::string>> take_flag(std::vector<std::string>& args,
                                             std::string_view name) {
  for (std::size_t i = 0; i < args.size(); ++i) {
    if (args[i] == name) {
      if (i + 1 >= args.size()) {
        return Status(ErrorCode::kInvalidArgument, std::string(name) + " needs a value");
      }
      std::string value = args[i + 1];
      args.erase(args.begin() + static_cast<std::ptrdiff_t>(i),
                 args.begin() + static_cast<std::ptrdiff_t>(i + 2));
      return std::optional<std::string>(std::move(value));
    }
  }
  return std::optional<std::string>();
}

Result<std::vector<std::string>> take_endpoints(std::vector<std::string>& args) {
  auto flag = take_flag(args, "--endpoints");
  if (!flag.ok()) {
    return flag.status();
  }
  return parse_endpoints(flag->value_or("127.0.0.1:8101,127.0.0.1:8102,127.0.0.1:8103"));
}

std::optional<int> run_common_client(const std::string& command,
                                     const std::vector<std::string>& args, ClusterClient& client) {
  auto usage = [](const char* text) {
    std::cerr << "usage: " << text << "\n";
    return 2;
  };
  if (command == "status") {
    return print_reply(client.call("GET", "/status"));
  }
  if (command == "health") {
    return print_reply(client.call("GET", "/health"));
  }
  if (command != "member") {
    return std::nullopt;
  }
  const std::string sub = args.empty() ? "" : args[0];
  if (sub == "list" && args.size() == 1) {
    auto r = client.call("GET", "/status");
    if (r.ok() && r->status == 200) {
      json j = r->parsed();
      std::cout << j.value("members", json()).dump(2) << "\n";
      return 0;
    }
    return print_reply(r);
  }
  if (sub == "add" && (args.size() == 3 || (args.size() == 4 && args[3] == "--learner"))) {
    auto id = parse_number(args[1], "ID", 1, UINT64_MAX);
    if (!id.ok()) {
      std::cerr << id.status().message() << "\n";
      return 2;
    }
    json body = {{"id", *id}, {"address", args[2]}, {"learner", args.size() == 4}};
    return print_reply(client.call("POST", "/members", body.dump()));
  }
  if (sub == "address" && args.size() == 3) {
    auto id = parse_number(args[1], "ID", 1, UINT64_MAX);
    if (!id.ok()) {
      std::cerr << id.status().message() << "\n";
      return 2;
    }
    json body = {{"address", args[2]}};
    return print_reply(client.call("PUT", "/members/" + args[1] + "/address", body.dump()));
  }
  if (sub == "remove" && args.size() == 2) {
    return print_reply(client.call("DELETE", "/members/" + args[1]));
  }
  if (sub == "promote" && args.size() == 2) {
    return print_reply(client.call("POST", "/members/" + args[1] + "/promote", "{}"));
  }
  return usage(
      "member list | member add ID RAFT_HOST:PORT [--learner] | member address ID "
      "RAFT_HOST:PORT | member remove ID | member promote ID");
}

}  // namespace skiff::examples
