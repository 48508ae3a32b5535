// skiff-kv's HTTP API and lease expiry (kv_service.h).
#include "kv_service.h"

#include <atomic>
#include <future>
#include <mutex>

#include "kv_store.h"
#include "leader_loop.h"

namespace skiff::examples::kv {
namespace {

using httplib::Request;
using httplib::Response;

struct KvOptions {
  std::size_t max_key_bytes = 4096;
  std::size_t max_value_bytes = 1 << 20;
  std::chrono::milliseconds request_timeout{5000};
};

class KvService final : public Service {
 public:
  KvService(KvOptions options, KvLimits limits)
      : options_(options),
        store_(limits, LeaseHooks{
                           [this](std::uint64_t id, std::uint64_t ttl) {
                             deadlines_.touch(std::to_string(id), std::chrono::seconds(ttl));
                           },
                           [this](std::uint64_t id) { deadlines_.erase(std::to_string(id)); },
                           [this] { deadlines_.clear(); },
                       }) {}

  StateMachine& state_machine() override { return store_; }

  void start(Member& member) override {
    node_ = &member.node();
    // Expiry is the leader's decision, replicated as a command (so every member deletes the
    // same keys at the same revision). A new leader first gives every lease a full TTL.
    loop_.start(
        member.node(), std::chrono::milliseconds(100), [this](Term) { deadlines_.extend_all(); },
        [this](Term) { expire_due(); });
  }

  void stop() override {
    loop_.stop();
    store_.close_watches();
  }

  void routes(httplib::Server& server, Member& member) override {
    node_ = &member.node();
    server.Put(R"(/v1/kv/(.+))", [this](const Request& req, Response& res) { put(req, res); });
    server.Get(R"(/v1/kv/(.+))", [this](const Request& req, Response& res) { get(req, res); });
    server.Delete(R"(/v1/kv/(.+))", [this](const Request& req, Response& res) { del(req, res); });
    server.Get("/v1/kv", [this](const Request& req, Response& res) { list(req, res); });
    server.Post("/v1/txn", [this](const Request& req, Response& res) { txn(req, res); });
    server.Post("/v1/lease", [this](const Request& req, Response& res) { grant(req, res); });
    server.Post(R"(/v1/lease/([^/]+)/keepalive)", [this](const Request& req, Response& res) {
      lease_op(req, res, /*revoke=*/false);
    });
    server.Delete(R"(/v1/lease/([^/]+))", [this](const Request& req, Response& res) {
      lease_op(req, res, /*revoke=*/true);
    });
    server.Get(R"(/v1/lease/([^/]+))",
               [this](const Request& req, Response& res) { lease_get(req, res); });
    server.Get("/v1/watch", [this](const Request& req, Response& res) { watch(req, res); });
  }

 private:
  // Proposes `cmd` (with the request's client_id/seq) and answers with its result.
  void write(const Request& req, Response& res, json cmd, const json* body = nullptr) {
    std::string client;
    std::uint64_t seq = 0;
    if (body != nullptr) {
      bool failed = false;
      client = string_field(*body, "client_id", false, res, &failed).value_or("");
      seq = number_field(*body, "seq", false, res, &failed).value_or(0);
      if (failed) {
        return;
      }
    } else {
      client = req.get_param_value("client_id");
      if (req.has_param("seq")) {
        auto s = parse_number(req.get_param_value("seq"), "seq", 1, UINT64_MAX);
        if (!s.ok()) {
          reply_status(res, s.status());
          return;
        }
        seq = *s;
      }
    }
    if (!client.empty() && (seq == 0 || client.size() > 128 || !valid_utf8(client))) {
      reply_error(res, 400, "InvalidArgument",
                  "client_id needs a seq >= 1, and must be UTF-8 of at most 128 bytes");
      return;
    }
    if (!client.empty()) {
      KvStore::identify(cmd, client, seq);
    }
    const std::vector<std::uint8_t> bytes = json::to_cbor(cmd);
    Result<Bytes> r = propose_and_wait(*node_, Bytes(std::string(bytes.begin(), bytes.end())),
                                       options_.request_timeout);
    if (!r.ok()) {
      reply_status(res, r.status());
      return;
    }
    json out = json::parse(r->view(), nullptr, false);
    if (out.is_discarded()) {
      reply_error(res, 500, "Internal", "unreadable result");
      return;
    }
    const int status = out.value("status", 200);
    out.erase("status");
    reply_json(res, out, status);
  }

  bool read_barrier(const Request& req, Response& res) {
    return examples::read_barrier(*node_, req, res, options_.request_timeout);
  }

  bool check_key(const std::string& key, Response& res) {
    if (key.empty() || key.size() > options_.max_key_bytes || !valid_utf8(key)) {
      reply_error(res, 400, "InvalidArgument",
                  "a key is 1 to " + std::to_string(options_.max_key_bytes) + " bytes of UTF-8");
      return false;
    }
    return true;
  }

  bool check_value(const std::string& value, Response& res) {
    if (value.size() > options_.max_value_bytes) {
      reply_error(res, 413, "TooLarge",
                  "the value is " + std::to_string(value.size()) + " bytes, over the limit of " +
                      std::to_string(options_.max_value_bytes));
      return false;
    }
    if (!valid_utf8(value)) {
      reply_error(res, 400, "InvalidArgument", "values are UTF-8 text (JSON carries them)");
      return false;
    }
    return true;
  }

  void put(const Request& req, Response& res) {
    const std::string key = req.matches[1].str();
    if (!check_key(key, res) || !check_value(req.body, res)) {
      return;
    }
    std::uint64_t lease = 0;
    if (req.has_param("lease")) {
      auto l = parse_number(req.get_param_value("lease"), "lease", 1, UINT64_MAX);
      if (!l.ok()) {
        reply_status(res, l.status());
        return;
      }
      lease = *l;
    }
    write(req, res, KvStore::put_command(key, req.body, lease));
  }

  void get(const Request& req, Response& res) {
    const std::string key = req.matches[1].str();
    if (!check_key(key, res) || !read_barrier(req, res)) {
      return;
    }
    const auto kv = store_.get(key);
    if (!kv) {
      reply_error(res, 404, "NotFound", "key \"" + key + "\" not found");
      return;
    }
    reply_json(res, kv_to_json(key, *kv));
  }

  void del(const Request& req, Response& res) {
    const std::string key = req.matches[1].str();
    if (check_key(key, res)) {
      write(req, res, KvStore::delete_command(key));
    }
  }

  void list(const Request& req, Response& res) {
    std::size_t limit = 1000;
    if (req.has_param("limit")) {
      auto l = parse_number(req.get_param_value("limit"), "limit", 1, 100000);
      if (!l.ok()) {
        reply_status(res, l.status());
        return;
      }
      limit = *l;
    }
    if (!read_barrier(req, res)) {
      return;
    }
    bool more = false;
    const auto kvs = store_.list(req.get_param_value("prefix"), limit, &more);
    json out = {{"kvs", json::array()}, {"more", more}, {"revision", store_.revision()}};
    for (const auto& [key, kv] : kvs) {
      out["kvs"].push_back(kv_to_json(key, kv));
    }
    reply_json(res, out);
  }

  void txn(const Request& req, Response& res) {
    auto body = json_body(req, res);
    if (!body) {
      return;
    }
    bool failed = false;
    auto key = string_field(*body, "key", true, res, &failed);
    auto value = string_field(*body, "value", true, res, &failed);
    auto expect_value = string_field(*body, "expect_value", false, res, &failed);
    auto expect_rev = number_field(*body, "expect_mod_revision", false, res, &failed);
    if (failed || !check_key(*key, res) || !check_value(*value, res)) {
      return;
    }
    if (!expect_value && !expect_rev) {
      reply_error(res, 400, "InvalidArgument",
                  "a txn compares: give \"expect_value\" or \"expect_mod_revision\" (0: absent)");
      return;
    }
    write(req, res, KvStore::txn_command(*key, expect_value, expect_rev, *value), &*body);
  }

  void grant(const Request& req, Response& res) {
    auto body = json_body(req, res);
    if (!body) {
      return;
    }
    bool failed = false;
    auto ttl = number_field(*body, "ttl", true, res, &failed);
    if (failed) {
      return;
    }
    if (*ttl < 1 || *ttl > 86400) {
      reply_error(res, 400, "InvalidArgument", "\"ttl\" is in seconds, 1 to 86400");
      return;
    }
    write(req, res, KvStore::grant_command(*ttl), &*body);
  }

  std::optional<std::uint64_t> lease_id(const Request& req, Response& res) {
    auto id = parse_number(req.matches[1].str(), "lease id", 1, UINT64_MAX);
    if (!id.ok()) {
      reply_status(res, id.status());
      return std::nullopt;
    }
    return *id;
  }

  void lease_op(const Request& req, Response& res, bool revoke) {
    if (auto id = lease_id(req, res)) {
      write(req, res, revoke ? KvStore::revoke_command(*id) : KvStore::keepalive_command(*id));
    }
  }

  void lease_get(const Request& req, Response& res) {
    auto id = lease_id(req, res);
    if (!id || !read_barrier(req, res)) {
      return;
    }
    const auto lease = store_.lease(*id);
    if (!lease) {
      reply_error(res, 404, "LeaseNotFound", "lease " + std::to_string(*id) + " not found");
      return;
    }
    reply_json(res, {{"id", *id}, {"ttl", lease->ttl_seconds}, {"keys", lease->keys}});
  }

  void watch(const Request& req, Response& res) {
    std::uint64_t from = 0;
    std::uint64_t timeout_ms = 30000;
    std::uint64_t limit = 1000;
    for (auto [name, target, lo, hi] :
         {std::tuple{"from_revision", &from, std::uint64_t{0}, UINT64_MAX},
          std::tuple{"timeout_ms", &timeout_ms, std::uint64_t{0}, std::uint64_t{60000}},
          std::tuple{"limit", &limit, std::uint64_t{1}, std::uint64_t{10000}}}) {
      if (req.has_param(name)) {
        auto v = parse_number(req.get_param_value(name), name, lo, hi);
        if (!v.ok()) {
          reply_status(res, v.status());
          return;
        }
        *target = *v;
      }
    }
    if (from == 0) {
      from = store_.revision() + 1;  // from now on
    }
    // Each long poll holds one of the server's connections: leave most for everything else.
    if (watches_.fetch_add(1) >= kMaxWatches) {
      watches_.fetch_sub(1);
      reply_error(res, 503, "TooManyWatches",
                  "this member serves " + std::to_string(kMaxWatches) +
                      " watches at once; retry, or watch through another member");
      return;
    }
    std::vector<Event> events;
    std::uint64_t next = 0;
    std::uint64_t compacted = 0;
    Status s = store_.watch(req.get_param_value("prefix"), from, limit,
                            std::chrono::milliseconds(timeout_ms), &events, &next, &compacted);
    watches_.fetch_sub(1);
    if (!s.ok()) {
      reply_json(res,
                 {{"error", s.message()}, {"code", "Compacted"}, {"compact_revision", compacted}},
                 410);
      return;
    }
    json out = {{"events", json::array()}, {"next_revision", next}};
    for (const Event& e : events) {
      out["events"].push_back({{"type", e.deleted ? "DELETE" : "PUT"},
                               {"revision", e.revision},
                               {"kv", kv_to_json(e.key, e.kv)}});
    }
    reply_json(res, out);
  }

  // On the leader: proposes the expiry of every lease past its deadline (at most one
  // proposal in flight per lease).
  void expire_due() {
    for (const std::string& key : deadlines_.expired()) {
      const std::uint64_t id = std::stoull(key);
      const auto lease = store_.lease(id);
      if (!lease) {
        deadlines_.erase(key);
        continue;
      }
      {
        std::lock_guard lock(mu_);
        if (!expiring_.insert(id).second) {
          continue;
        }
      }
      const std::vector<std::uint8_t> bytes =
          json::to_cbor(KvStore::expire_command(id, lease->refreshes));
      node_->propose(Bytes(std::string(bytes.begin(), bytes.end())), [this, id](Result<Bytes>) {
        std::lock_guard lock(mu_);
        expiring_.erase(id);
      });
    }
  }

  const KvOptions options_;
  Deadlines deadlines_;  // before store_: its hooks use it
  KvStore store_;
  LeaderLoop loop_;
  Node* node_ = nullptr;
  std::mutex mu_;
  std::set<std::uint64_t> expiring_;
  static constexpr int kMaxWatches = 48;  // of the server's 256 connections (HttpLimits)
  std::atomic<int> watches_{0};
};

}  // namespace

const std::set<std::string>& kv_serve_flags() {
  static const std::set<std::string> flags = {"--max-value-bytes", "--history"};
  return flags;
}

std::unique_ptr<Service> make_kv_service(const ServeFlags& flags, std::string* error) {
  KvOptions options;
  options.request_timeout = flags.request_timeout;
  KvLimits limits;
  if (auto it = flags.extra.find("--max-value-bytes"); it != flags.extra.end()) {
    auto v = parse_number(it->second, it->first, 1, 1 << 20);
    if (!v.ok()) {
      *error = v.status().message();
      return nullptr;
    }
    options.max_value_bytes = *v;
  }
  if (auto it = flags.extra.find("--history"); it != flags.extra.end()) {
    auto v = parse_number(it->second, it->first, 1, 10000000);
    if (!v.ok()) {
      *error = v.status().message();
      return nullptr;
    }
    limits.max_history = *v;
  }
  return std::make_unique<KvService>(options, limits);
}

}  // namespace skiff::examples::kv
