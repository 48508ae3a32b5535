// The replicated state of skiff-lock (lock_state.h).
#include "lock_state.h"

#include <algorithm>

namespace skiff::examples::lock {
namespace {

json refused(int http, std::string_view code, const std::string& message) {
  return {{"error", message}, {"code", std::string(code)}, {"http", http}};
}

// Field readers for commands: a command that does not carry what its op needs is refused
// (it can only come from another program or version), deterministically.
bool has_string(const json& c, const char* name) {
  return c.contains(name) && c[name].is_string();
}
bool has_number(const json& c, const char* name) {
  return c.contains(name) && c[name].is_number_unsigned();
}
std::string text(const json& c, const char* name) {
  return has_string(c, name) ? c[name].get<std::string>() : std::string();
}
std::uint64_t number(const json& c, const char* name) {
  return has_number(c, name) ? c[name].get<std::uint64_t>() : 0;
}

json held_json(const std::string& name, const Lock& l) {
  return {{"name", name}, {"owner", l.owner}, {"token", l.token}, {"count", l.count}};
}

json queued_json(const std::string& name, const Lock& l, std::size_t position) {
  return {{"name", name},
          {"queued", true},
          {"holder", l.owner},
          {"position", position + 1},
          {"seq", l.waiters[position].seq}};
}

std::string recent_key(const std::string& name, const std::string& owner, std::string_view op,
                       const std::string& rid) {
  std::string key = name;
  key.append(1, '\x1f').append(owner).append(1, '\x1f').append(op).append(1, '\x1f');
  return key.append(rid);
}

std::size_t find_waiter(const Lock& l, const std::string& owner, std::uint64_t seq = 0) {
  for (std::size_t i = 0; i < l.waiters.size(); ++i) {
    if (l.waiters[i].owner == owner && (seq == 0 || l.waiters[i].seq == seq)) {
      return i;
    }
  }
  return l.waiters.size();
}

}  // namespace

bool valid_name(std::string_view name) {
  if (name.empty() || name.size() > kMaxNameBytes) {
    return false;
  }
  return std::none_of(name.begin(), name.end(), [](char ch) {
    const auto c = static_cast<unsigned char>(ch);
    return c < 0x20 || c == 0x7f;
  });
}

namespace command {

std::string acquire(std::string_view name, std::string_view owner, std::uint64_t ttl_ms,
                    std::uint64_t wait_ms, std::string_view rid) {
  json c = {{"op", "acquire"},  {"name", name},       {"owner", owner},
            {"ttl_ms", ttl_ms}, {"wait_ms", wait_ms}, {"rid", rid}};
  return c.dump();
}

std::string keepalive(std::string_view name, std::string_view owner) {
  return json({{"op", "keepalive"}, {"name", name}, {"owner", owner}}).dump();
}

std::string release(std::string_view name, std::string_view owner, std::string_view rid) {
  return json({{"op", "release"}, {"name", name}, {"owner", owner}, {"rid", rid}}).dump();
}

std::string cancel(std::string_view name, std::string_view owner, std::uint64_t seq) {
  return json({{"op", "cancel"}, {"name", name}, {"owner", owner}, {"seq", seq}}).dump();
}

std::string expire(std::string_view name, std::string_view owner, std::uint64_t token,
                   std::uint64_t refreshed) {
  return json({{"op", "expire"},
               {"name", name},
               {"owner", owner},
               {"token", token},
               {"refreshed", refreshed}})
      .dump();
}

std::string write(std::string_view name, std::uint64_t token, std::string_view data) {
  return json({{"op", "write"}, {"name", name}, {"token", token}, {"data", data}}).dump();
}

}  // namespace command

Outcome LockState::apply(std::uint64_t index, std::string_view command) {
  Outcome out;
  const json c = json::parse(command, nullptr, /*allow_exceptions=*/false);
  if (c.is_discarded() || !c.is_object() || !has_string(c, "op") || !has_string(c, "name") ||
      !valid_name(c["name"].get<std::string>())) {
    out.result = refused(400, "BadCommand", "not a skiff-lock command");
    return out;
  }
  const std::string op = c["op"].get<std::string>();
  if (op == "write") {
    out.result = write(c);
    return out;
  }
  if (!has_string(c, "owner") || !valid_name(c["owner"].get<std::string>())) {
    out.result = refused(400, "BadCommand", "command without a valid owner");
    return out;
  }
  if (op == "acquire") {
    out.result = acquire(index, c, out.effects);
  } else if (op == "keepalive") {
    out.result = keepalive(index, c, out.effects);
  } else if (op == "release") {
    out.result = release(index, c, out.effects);
  } else if (op == "cancel") {
    out.result = cancel(c, out.effects);
  } else if (op == "expire") {
    out.result = expire(index, c, out.effects);
  } else {
    out.result = refused(400, "BadCommand", "unknown op \"" + op + "\"");
  }
  return out;
}

json LockState::acquire(std::uint64_t index, const json& c, std::vector<Effect>& fx) {
  const std::string name = text(c, "name");
  const std::string owner = text(c, "owner");
  const std::string rid = text(c, "rid");
  const std::uint64_t ttl_ms = std::clamp<std::uint64_t>(number(c, "ttl_ms"), 1, kMaxTtlMs);
  const std::uint64_t wait_ms = std::min(number(c, "wait_ms"), kMaxWaitMs);
  const std::string key = rid.empty() ? std::string() : recent_key(name, owner, "acquire", rid);
  if (!key.empty() && recent_.contains(key)) {
    // A retry: the owner's standing now, not a second acquisition.
    if (auto it = locks_.find(name); it != locks_.end()) {
      const Lock& l = it->second;
      if (l.owner == owner) {
        return held_json(name, l);
      }
      if (std::size_t at = find_waiter(l, owner); at < l.waiters.size()) {
        return queued_json(name, l, at);
      }
    }
    return recent_.at(key);
  }
  auto [it, created] = locks_.try_emplace(name);
  Lock& l = it->second;
  json result;
  if (created || l.owner.empty()) {
    result = grant(index, name, l, owner, ttl_ms, fx);
  } else if (l.owner == owner) {
    ++l.count;
    l.ttl_ms = ttl_ms;
    l.refreshed = index;
    fx.push_back({Effect::Kind::kHeld, name, owner, ttl_ms, l.token});
    result = held_json(name, l);
  } else if (wait_ms == 0) {
    result = refused(409, "Held", "lock \"" + name + "\" is held by \"" + l.owner + "\"");
    result["holder"] = l.owner;
  } else if (std::size_t at = find_waiter(l, owner); at < l.waiters.size()) {
    // Already in line: keeps its place; this request's wait and ttl count from now.
    l.waiters[at].ttl_ms = ttl_ms;
    l.waiters[at].wait_ms = wait_ms;
    fx.push_back({Effect::Kind::kQueued, name, owner, wait_ms, 0});
    result = queued_json(name, l, at);
  } else {
    l.waiters.push_back(Waiter{owner, ttl_ms, wait_ms, index});
    fx.push_back({Effect::Kind::kQueued, name, owner, wait_ms, 0});
    result = queued_json(name, l, l.waiters.size() - 1);
  }
  if (!key.empty()) {
    remember(key, result);
  }
  return result;
}

json LockState::grant(std::uint64_t index, const std::string& name, Lock& lock,
                      const std::string& owner, std::uint64_t ttl_ms, std::vector<Effect>& fx) {
  lock.owner = owner;
  lock.count = 1;
  lock.token = next_token_++;
  lock.ttl_ms = ttl_ms;
  lock.refreshed = index;
  fx.push_back({Effect::Kind::kHeld, name, owner, ttl_ms, lock.token});
  return held_json(name, lock);
}

json LockState::keepalive(std::uint64_t index, const json& c, std::vector<Effect>& fx) {
  const std::string name = text(c, "name");
  const std::string owner = text(c, "owner");
  auto it = locks_.find(name);
  if (it == locks_.end()) {
    return refused(404, "NotHeld", "lock \"" + name + "\" is not held");
  }
  Lock& l = it->second;
  if (l.owner != owner) {
    json r = refused(403, "NotOwner", "lock \"" + name + "\" is held by \"" + l.owner + "\"");
    r["holder"] = l.owner;
    return r;
  }
  l.refreshed = index;
  fx.push_back({Effect::Kind::kHeld, name, owner, l.ttl_ms, l.token});
  return held_json(name, l);
}

json LockState::release(std::uint64_t index, const json& c, std::vector<Effect>& fx) {
  const std::string name = text(c, "name");
  const std::string owner = text(c, "owner");
  const std::string rid = text(c, "rid");
  const std::string key = rid.empty() ? std::string() : recent_key(name, owner, "release", rid);
  if (!key.empty() && recent_.contains(key)) {
    return recent_.at(key);
  }
  auto it = locks_.find(name);
  json result;
  if (it == locks_.end()) {
    result = refused(404, "NotHeld", "lock \"" + name + "\" is not held");
  } else if (it->second.owner != owner) {
    result = refused(403, "NotOwner",
                     "lock \"" + name + "\" is held by \"" + it->second.owner + "\", not \"" +
                         owner + "\": only the holder may release it");
    result["holder"] = it->second.owner;
  } else if (--it->second.count > 0) {
    result = held_json(name, it->second);
    result["released"] = false;
  } else {
    result = {{"name", name}, {"released", true}, {"count", 0}, {"token", it->second.token}};
    fx.push_back({Effect::Kind::kFreed, name, owner, 0, it->second.token});
    result["next"] = hand_over(index, name, fx);
  }
  if (!key.empty()) {
    remember(key, result);
  }
  return result;
}

json LockState::hand_over(std::uint64_t index, const std::string& name, std::vector<Effect>& fx) {
  Lock& l = locks_.at(name);
  l.owner.clear();
  l.count = 0;
  if (l.waiters.empty()) {
    locks_.erase(name);
    return nullptr;
  }
  const Waiter w = l.waiters.front();
  l.waiters.pop_front();
  fx.push_back({Effect::Kind::kDequeued, name, w.owner, 0, 0});
  return grant(index, name, l, w.owner, w.ttl_ms, fx);
}

json LockState::cancel(const json& c, std::vector<Effect>& fx) {
  const std::string name = text(c, "name");
  const std::string owner = text(c, "owner");
  auto it = locks_.find(name);
  if (it == locks_.end()) {
    return {{"name", name}, {"cancelled", false}};
  }
  Lock& l = it->second;
  if (l.owner == owner) {
    // Granted before the cancel arrived: the waiter holds the lock after all.
    json r = held_json(name, l);
    r["cancelled"] = false;
    return r;
  }
  const std::size_t at = find_waiter(l, owner, number(c, "seq"));
  if (at == l.waiters.size()) {
    return {{"name", name}, {"cancelled", false}, {"holder", l.owner}};
  }
  l.waiters.erase(l.waiters.begin() + static_cast<std::ptrdiff_t>(at));
  fx.push_back({Effect::Kind::kDequeued, name, owner, 0, 0});
  return {{"name", name}, {"cancelled", true}, {"holder", l.owner}};
}

json LockState::expire(std::uint64_t index, const json& c, std::vector<Effect>& fx) {
  const std::string name = text(c, "name");
  auto it = locks_.find(name);
  // Only the holding the leader saw run out: a keepalive or a new grant since then (a
  // different `refreshed` or token) makes this expire stale.
  if (it == locks_.end() || it->second.owner != text(c, "owner") ||
      it->second.token != number(c, "token") || it->second.refreshed != number(c, "refreshed")) {
    return {{"name", name}, {"expired", false}};
  }
  const std::uint64_t token = it->second.token;
  fx.push_back({Effect::Kind::kFreed, name, it->second.owner, 0, token});
  json next = hand_over(index, name, fx);
  return {{"name", name}, {"expired", true}, {"token", token}, {"next", next}};
}

json LockState::write(const json& c) {
  const std::string name = text(c, "name");
  if (!has_number(c, "token") || !has_string(c, "data")) {
    return refused(400, "BadCommand", "write needs a token and data");
  }
  const std::uint64_t token = number(c, "token");
  // Tokens come from one counter (next_token_), so a grant issued exactly the tokens 1 to
  // next_token_ - 1. Any other token is forged or corrupt: accepting it would move the fence
  // past every real holder, who would then be refused for good (issue 15).
  if (token == 0 || token >= next_token_) {
    if (auto it = resources_.find(name); it != resources_.end()) {
      ++it->second.rejected;
    }
    return refused(409, "UnknownToken",
                   "token " + std::to_string(token) +
                       " was never issued by a grant (issued so far: 1 to " +
                       std::to_string(next_token_ - 1) + ")");
  }
  Resource& r = resources_[name];
  if (token < r.token) {
    ++r.rejected;
    json out =
        refused(409, "StaleToken",
                "token " + std::to_string(token) + " is older than " + std::to_string(r.token) +
                    ", the newest \"" + name + "\" has seen: its holder lost the lock");
    out["newest"] = r.token;
    return out;
  }
  r.token = token;
  r.data = text(c, "data");
  ++r.writes;
  return {{"name", name}, {"accepted", true}, {"token", token}, {"writes", r.writes}};
}

void LockState::remember(const std::string& key, const json& result) {
  recent_[key] = result;
  recent_order_.push_back(key);
  while (recent_order_.size() > kRecentRequests) {
    recent_.erase(recent_order_.front());
    recent_order_.pop_front();
  }
}

json LockState::lock_json(const std::string& name) const {
  auto it = locks_.find(name);
  if (it == locks_.end()) {
    return {{"name", name}, {"held", false}, {"waiters", json::array()}};
  }
  const Lock& l = it->second;
  json waiters = json::array();
  for (const Waiter& w : l.waiters) {
    waiters.push_back({{"owner", w.owner}, {"ttl", w.ttl_ms / 1000.0}});
  }
  json out = held_json(name, l);
  out["held"] = true;
  out["ttl"] = l.ttl_ms / 1000.0;
  out["waiters"] = std::move(waiters);
  return out;
}

json LockState::resource_json(const std::string& name) const {
  auto it = resources_.find(name);
  if (it == resources_.end()) {
    return nullptr;
  }
  const Resource& r = it->second;
  return {{"name", name},
          {"token", r.token},
          {"data", r.data},
          {"writes", r.writes},
          {"rejected", r.rejected}};
}

json LockState::to_json() const {
  json locks = json::object();
  for (const auto& [name, l] : locks_) {
    json waiters = json::array();
    for (const Waiter& w : l.waiters) {
      waiters.push_back({w.owner, w.ttl_ms, w.wait_ms, w.seq});
    }
    locks[name] = {{"owner", l.owner},   {"count", l.count},         {"token", l.token},
                   {"ttl_ms", l.ttl_ms}, {"refreshed", l.refreshed}, {"waiters", waiters}};
  }
  json resources = json::object();
  for (const auto& [name, r] : resources_) {
    resources[name] = {r.token, r.data, r.writes, r.rejected};
  }
  json recent = json::array();
  for (const std::string& key : recent_order_) {
    recent.push_back({key, recent_.at(key)});
  }
  return {{"version", 1},
          {"next_token", next_token_},
          {"locks", locks},
          {"resources", resources},
          {"recent", recent}};
}

Result<LockState> LockState::from_json(const json& j) {
  LockState s;
  try {
    if (j.at("version").get<int>() != 1) {
      return Status(ErrorCode::kCorruption, "skiff-lock snapshot: unknown version");
    }
    s.next_token_ = j.at("next_token").get<std::uint64_t>();
    for (const auto& [name, l] : j.at("locks").items()) {
      Lock& lock = s.locks_[name];
      lock.owner = l.at("owner").get<std::string>();
      lock.count = l.at("count").get<std::uint64_t>();
      lock.token = l.at("token").get<std::uint64_t>();
      lock.ttl_ms = l.at("ttl_ms").get<std::uint64_t>();
      lock.refreshed = l.at("refreshed").get<std::uint64_t>();
      for (const json& w : l.at("waiters")) {
        lock.waiters.push_back(Waiter{w.at(0).get<std::string>(), w.at(1).get<std::uint64_t>(),
                                      w.at(2).get<std::uint64_t>(), w.at(3).get<std::uint64_t>()});
      }
    }
    for (const auto& [name, r] : j.at("resources").items()) {
      s.resources_[name] = Resource{r.at(0).get<std::uint64_t>(), r.at(1).get<std::string>(),
                                    r.at(2).get<std::uint64_t>(), r.at(3).get<std::uint64_t>()};
    }
    for (const json& e : j.at("recent")) {
      s.remember(e.at(0).get<std::string>(), e.at(1));
    }
  } catch (const json::exception& e) {
    return Status(ErrorCode::kCorruption, std::string("skiff-lock snapshot: ") + e.what());
  }
  return s;
}

}  // namespace skiff::examples::lock
