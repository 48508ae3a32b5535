// skiff-kv's state machine (kv_store.h).
#include "kv_store.h"

#include <algorithm>

#include "http.h"

namespace skiff::examples::kv {
namespace {

json failure(int http_status, const char* code, const std::string& message) {
  return {{"error", message}, {"code", code}, {"status", http_status}};
}

}  // namespace

json kv_to_json(const std::string& key, const KeyValue& kv) {
  json out = {{"key", key},
              {"value", kv.value},
              {"create_revision", kv.create_revision},
              {"mod_revision", kv.mod_revision},
              {"version", kv.version}};
  if (kv.lease != 0) {
    out["lease"] = kv.lease;
  }
  return out;
}

namespace {

KeyValue kv_from(const json& j) {
  KeyValue kv;
  kv.value = j.at("value").get<std::string>();
  kv.create_revision = j.at("create_revision").get<std::uint64_t>();
  kv.mod_revision = j.at("mod_revision").get<std::uint64_t>();
  kv.version = j.at("version").get<std::uint64_t>();
  kv.lease = j.value("lease", std::uint64_t{0});
  return kv;
}

}  // namespace

KvStore::KvStore(KvLimits limits, LeaseHooks hooks) : limits_(limits), hooks_(std::move(hooks)) {}

json KvStore::put_command(const std::string& key, const std::string& value, std::uint64_t lease) {
  return {{"op", "put"}, {"key", key}, {"value", value}, {"lease", lease}};
}

json KvStore::delete_command(const std::string& key) {
  return {{"op", "del"}, {"key", key}};
}

json KvStore::txn_command(const std::string& key, std::optional<std::string> expect_value,
                          std::optional<std::uint64_t> expect_mod_revision,
                          const std::string& value) {
  json cmd = {{"op", "txn"}, {"key", key}, {"value", value}};
  if (expect_value) {
    cmd["expect_value"] = *expect_value;
  }
  if (expect_mod_revision) {
    cmd["expect_mod_revision"] = *expect_mod_revision;
  }
  return cmd;
}

json KvStore::grant_command(std::uint64_t ttl_seconds) {
  return {{"op", "grant"}, {"ttl", ttl_seconds}};
}

json KvStore::keepalive_command(std::uint64_t lease) {
  return {{"op", "keepalive"}, {"lease", lease}};
}

json KvStore::revoke_command(std::uint64_t lease) {
  return {{"op", "revoke"}, {"lease", lease}};
}

json KvStore::expire_command(std::uint64_t lease, std::uint64_t refreshes) {
  return {{"op", "expire"}, {"lease", lease}, {"refreshes", refreshes}};
}

void KvStore::identify(json& command, const std::string& client, std::uint64_t seq) {
  command["client"] = client;
  command["seq"] = seq;
}

Bytes KvStore::apply(Index index, std::string_view command) {
  json result;
  {
    std::unique_lock lock(mu_);
    applied_ = index.value;
    json cmd = json::from_cbor(command, /*strict=*/true, /*allow_exceptions=*/false);
    if (cmd.is_discarded() || !cmd.is_object()) {
      // Only this program writes commands; a foreign one must not change the state.
      result = failure(400, "InvalidArgument", "not a skiff-kv command");
    } else {
      const std::string client = cmd.value("client", std::string());
      const std::uint64_t seq = cmd.value("seq", std::uint64_t{0});
      auto it = client.empty() ? clients_.end() : clients_.find(client);
      if (it != clients_.end() && seq <= it->second.seq) {
        // A retry: the first outcome again, nothing applied twice. The client is active.
        it->second.used = index.value;
        result = seq == it->second.seq ? it->second.result
                                       : failure(409, "StaleRequest",
                                                 "request " + std::to_string(seq) + " of client " +
                                                     client + " is older than its last one (" +
                                                     std::to_string(it->second.seq) + ")");
      } else {
        try {
          result = apply_command(cmd);
        } catch (const json::exception& e) {
          result = failure(400, "InvalidArgument", std::string("malformed command: ") + e.what());
        }
        if (!client.empty()) {
          if (clients_.size() >= limits_.max_clients && !clients_.contains(client)) {
            auto oldest = std::min_element(
                clients_.begin(), clients_.end(),
                [](const auto& a, const auto& b) { return a.second.used < b.second.used; });
            clients_.erase(oldest);
          }
          clients_[client] = Client{seq, result, index.value};
        }
      }
    }
  }
  notify_watchers();
  return Bytes(result.dump());
}

json KvStore::apply_command(const json& cmd) {
  const std::string op = cmd.at("op").get<std::string>();
  if (op == "put") {
    const std::uint64_t lease = cmd.value("lease", std::uint64_t{0});
    if (lease != 0 && !leases_.contains(lease)) {
      return failure(404, "LeaseNotFound", "lease " + std::to_string(lease) + " not found");
    }
    return put_locked(cmd.at("key").get<std::string>(), cmd.at("value").get<std::string>(), lease);
  }
  if (op == "del") {
    const std::string key = cmd.at("key").get<std::string>();
    if (!data_.contains(key)) {
      return {{"deleted", 0}, {"revision", revision_}};
    }
    delete_locked(key, ++revision_);
    return {{"deleted", 1}, {"revision", revision_}};
  }
  if (op == "txn") {
    const std::string key = cmd.at("key").get<std::string>();
    const auto it = data_.find(key);
    bool ok = true;
    if (cmd.contains("expect_value")) {
      ok = it != data_.end() && it->second.value == cmd.at("expect_value").get<std::string>();
    }
    if (cmd.contains("expect_mod_revision")) {
      const auto want = cmd.at("expect_mod_revision").get<std::uint64_t>();
      ok = ok && (it == data_.end() ? want == 0 : it->second.mod_revision == want);
    }
    if (!ok) {
      json out = {{"succeeded", false}, {"revision", revision_}};
      if (it != data_.end()) {
        out["current"] = kv_to_json(key, it->second);
      }
      return out;
    }
    const std::uint64_t lease = it == data_.end() ? 0 : it->second.lease;
    json out = put_locked(key, cmd.at("value").get<std::string>(), lease);
    out["succeeded"] = true;
    return out;
  }
  if (op == "grant") {
    const auto ttl = cmd.at("ttl").get<std::uint64_t>();  // may throw: before any change
    const std::uint64_t id = next_lease_++;
    Lease& l = leases_[id];
    l.ttl_seconds = ttl;
    if (hooks_.touched) {
      hooks_.touched(id, l.ttl_seconds);
    }
    return {{"id", id}, {"ttl", l.ttl_seconds}};
  }
  if (op == "keepalive" || op == "revoke" || op == "expire") {
    const std::uint64_t id = cmd.at("lease").get<std::uint64_t>();
    const auto it = leases_.find(id);
    if (it == leases_.end()) {
      return failure(404, "LeaseNotFound", "lease " + std::to_string(id) + " not found");
    }
    if (op == "keepalive") {
      ++it->second.refreshes;
      if (hooks_.touched) {
        hooks_.touched(id, it->second.ttl_seconds);
      }
      return {{"id", id}, {"ttl", it->second.ttl_seconds}};
    }
    if (op == "expire" && cmd.at("refreshes").get<std::uint64_t>() != it->second.refreshes) {
      return {{"expired", false}};  // kept alive after the leader decided: the lease lives on
    }
    drop_lease_locked(id);
    return {{op == "expire" ? "expired" : "revoked", true}, {"revision", revision_}};
  }
  return failure(400, "InvalidArgument", "unknown operation \"" + op + "\"");
}

json KvStore::put_locked(const std::string& key, const std::string& value, std::uint64_t lease) {
  KeyValue& kv = data_[key];
  const std::uint64_t rev = ++revision_;
  if (kv.create_revision == 0) {
    kv.create_revision = rev;
  }
  if (kv.lease != lease) {
    if (kv.lease != 0) {
      leases_[kv.lease].keys.erase(key);
    }
    if (lease != 0) {
      leases_[lease].keys.insert(key);
    }
  }
  kv.value = value;
  kv.mod_revision = rev;
  ++kv.version;
  kv.lease = lease;
  record_locked(Event{rev, false, key, kv});
  return {{"revision", rev}};
}

void KvStore::delete_locked(const std::string& key, std::uint64_t revision) {
  auto it = data_.find(key);
  if (it->second.lease != 0) {
    const auto l = leases_.find(it->second.lease);
    if (l != leases_.end()) {
      l->second.keys.erase(key);
    }
  }
  Event e{revision, true, key, it->second};
  e.kv.mod_revision = revision;
  data_.erase(it);
  record_locked(std::move(e));
}

void KvStore::drop_lease_locked(std::uint64_t id) {
  const auto it = leases_.find(id);
  const std::set<std::string> keys = std::move(it->second.keys);
  leases_.erase(it);
  if (!keys.empty()) {
    // All of the lease's keys go in one revision, as one etcd transaction would.
    const std::uint64_t rev = ++revision_;
    for (const std::string& key : keys) {
      delete_locked(key, rev);
    }
  }
  if (hooks_.gone) {
    hooks_.gone(id);
  }
}

namespace {

std::size_t event_bytes(const Event& e) {
  return e.key.size() + e.kv.value.size();
}

}  // namespace

void KvStore::record_locked(Event e) {
  history_bytes_ += event_bytes(e);
  history_.push_back(std::move(e));
  while (history_.size() > limits_.max_history || history_bytes_ > limits_.max_history_bytes) {
    // Drop whole revisions only, so a watch never sees half of one.
    const std::uint64_t rev = history_.front().revision;
    while (!history_.empty() && history_.front().revision == rev) {
      history_bytes_ -= event_bytes(history_.front());
      history_.pop_front();
    }
    compacted_ = rev;
  }
}

std::optional<KeyValue> KvStore::get(const std::string& key) const {
  std::shared_lock lock(mu_);
  const auto it = data_.find(key);
  if (it == data_.end()) {
    return std::nullopt;
  }
  return it->second;
}

std::vector<std::pair<std::string, KeyValue>> KvStore::list(const std::string& prefix,
                                                            std::size_t limit, bool* more) const {
  std::shared_lock lock(mu_);
  std::vector<std::pair<std::string, KeyValue>> out;
  *more = false;
  for (auto it = data_.lower_bound(prefix); it != data_.end(); ++it) {
    if (it->first.compare(0, prefix.size(), prefix) != 0) {
      break;
    }
    if (out.size() == limit) {
      *more = true;
      break;
    }
    out.emplace_back(it->first, it->second);
  }
  return out;
}

std::uint64_t KvStore::revision() const {
  std::shared_lock lock(mu_);
  return revision_;
}

std::optional<Lease> KvStore::lease(std::uint64_t id) const {
  std::shared_lock lock(mu_);
  const auto it = leases_.find(id);
  if (it == leases_.end()) {
    return std::nullopt;
  }
  return it->second;
}

Status KvStore::watch(const std::string& prefix, std::uint64_t from, std::size_t max,
                      std::chrono::milliseconds wait, std::vector<Event>* events,
                      std::uint64_t* next, std::uint64_t* compacted) const {
  const auto until = std::chrono::steady_clock::now() + wait;
  while (true) {
    const std::uint64_t seen = generation_.load();
    {
      std::shared_lock lock(mu_);
      *compacted = compacted_ + 1;
      if (from <= compacted_) {
        return Status(ErrorCode::kCompacted,
                      "revision " + std::to_string(from) + " was compacted; the oldest one " +
                          "to watch from is " + std::to_string(compacted_ + 1));
      }
      *next = std::max(from, revision_ + 1);
      // Revisions in the history are ascending: skip to `from`, then collect whole revisions.
      auto it = std::lower_bound(history_.begin(), history_.end(), from,
                                 [](const Event& e, std::uint64_t r) { return e.revision < r; });
      std::size_t bytes = 0;
      for (; it != history_.end(); ++it) {
        // Full: stop at a revision boundary (a page never ends inside a revision).
        if (!events->empty() && (events->size() >= max || bytes >= limits_.max_watch_bytes) &&
            it->revision != events->back().revision) {
          *next = it->revision;
          break;
        }
        if (it->key.compare(0, prefix.size(), prefix) == 0) {
          bytes += event_bytes(*it);
          events->push_back(*it);
        }
      }
    }
    if (!events->empty() || closed_ || std::chrono::steady_clock::now() >= until) {
      return Status();
    }
    std::unique_lock lock(watch_mu_);
    changed_.wait_until(lock, until, [&] { return generation_.load() != seen; });
  }
}

void KvStore::notify_watchers() {
  generation_.fetch_add(1);
  {
    // A watcher between its check and its wait holds watch_mu_: it cannot miss this.
    std::lock_guard lock(watch_mu_);
  }
  changed_.notify_all();
}

void KvStore::close_watches() {
  closed_ = true;
  notify_watchers();
}

json KvStore::to_json() const {
  std::shared_lock lock(mu_);
  json data = json::object();
  for (const auto& [key, kv] : data_) {
    data[key] = kv_to_json(key, kv);
  }
  json leases = json::array();
  for (const auto& [id, l] : leases_) {
    leases.push_back({{"id", id}, {"ttl", l.ttl_seconds}, {"refreshes", l.refreshes}});
  }
  json history = json::array();
  for (const Event& e : history_) {
    history.push_back(
        {{"revision", e.revision}, {"deleted", e.deleted}, {"kv", kv_to_json(e.key, e.kv)}});
  }
  json clients = json::object();
  for (const auto& [id, c] : clients_) {
    clients[id] = {{"seq", c.seq}, {"result", c.result}, {"used", c.used}};
  }
  return {{"revision", revision_}, {"next_lease", next_lease_}, {"compacted", compacted_},
          {"data", data},          {"leases", leases},          {"history", history},
          {"clients", clients}};
}

void KvStore::from_json_locked(const json& j) {
  data_.clear();
  leases_.clear();
  history_.clear();
  clients_.clear();
  revision_ = j.at("revision").get<std::uint64_t>();
  next_lease_ = j.at("next_lease").get<std::uint64_t>();
  compacted_ = j.at("compacted").get<std::uint64_t>();
  for (const auto& l : j.at("leases")) {
    Lease& lease = leases_[l.at("id").get<std::uint64_t>()];
    lease.ttl_seconds = l.at("ttl").get<std::uint64_t>();
    lease.refreshes = l.at("refreshes").get<std::uint64_t>();
  }
  for (const auto& [key, kvj] : j.at("data").items()) {
    KeyValue kv = kv_from(kvj);
    if (kv.lease != 0) {
      leases_.at(kv.lease).keys.insert(key);
    }
    data_[key] = std::move(kv);
  }
  history_bytes_ = 0;
  for (const auto& e : j.at("history")) {
    const json& kvj = e.at("kv");
    history_.push_back(Event{e.at("revision").get<std::uint64_t>(), e.at("deleted").get<bool>(),
                             kvj.at("key").get<std::string>(), kv_from(kvj)});
    history_bytes_ += event_bytes(history_.back());
  }
  for (const auto& [id, c] : j.at("clients").items()) {
    clients_[id] =
        Client{c.at("seq").get<std::uint64_t>(), c.at("result"), c.at("used").get<std::uint64_t>()};
  }
}

Status KvStore::snapshot(SnapshotWriter& out) {
  const std::vector<std::uint8_t> bytes = json::to_cbor(to_json());
  return out.write(std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
}

Status KvStore::restore(SnapshotReader& in) {
  Result<std::string> bytes = read_snapshot(in, "skiff-kv");
  if (!bytes.ok()) {
    return bytes.status();
  }
  const json j = json::from_cbor(*bytes, /*strict=*/true, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) {
    return Status(ErrorCode::kCorruption, "skiff-kv snapshot: not a CBOR object");
  }
  {
    std::unique_lock lock(mu_);
    try {
      from_json_locked(j);
    } catch (const std::exception& e) {
      return Status(ErrorCode::kCorruption, std::string("skiff-kv snapshot: ") + e.what());
    }
    if (hooks_.cleared) {
      hooks_.cleared();
    }
    if (hooks_.touched) {
      for (const auto& [id, l] : leases_) {
        hooks_.touched(id, l.ttl_seconds);
      }
    }
  }
  notify_watchers();
  return Status();
}

}  // namespace skiff::examples::kv
