// skiff-lock's StateMachine (lock_machine.h).
#include "lock_machine.h"

#include <algorithm>

#include "http.h"

namespace skiff::examples::lock {

using std::chrono::milliseconds;

Bytes LockMachine::apply(Index index, std::string_view command) {
  std::lock_guard lock(mu_);
  Outcome out = state_.apply(index.value, command);
  for (const Effect& e : out.effects) {
    track(e);
  }
  return Bytes(out.result.dump());
}

void LockMachine::track(const Effect& e) {
  switch (e.kind) {
    case Effect::Kind::kHeld: {
      deadlines_->touch(holder_key(e.name), milliseconds(e.ms));
      auto it = waiting_.find({e.name, e.owner});
      if (it != waiting_.end()) {
        it->second.token = e.token;
        granted_.notify_all();
      }
      break;
    }
    case Effect::Kind::kFreed:
      deadlines_->erase(holder_key(e.name));
      break;
    case Effect::Kind::kQueued:
      // The request waits e.ms; past that (and a margin for its own cancel) it is gone.
      deadlines_->touch(waiter_key(e.name, e.owner), milliseconds(e.ms + 2000));
      break;
    case Effect::Kind::kDequeued:
      deadlines_->erase(waiter_key(e.name, e.owner));
      break;
  }
}

Status LockMachine::snapshot(SnapshotWriter& out) {
  std::string text;
  {
    std::lock_guard lock(mu_);
    text = state_.to_json().dump();
  }
  return out.write(text);
}

Status LockMachine::restore(SnapshotReader& in) {
  Result<std::string> text = read_snapshot(in, "skiff-lock");
  if (!text.ok()) {
    return text.status();
  }
  const json j = json::parse(*text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) {
    return Status(ErrorCode::kCorruption, "skiff-lock snapshot: not JSON");
  }
  auto restored = LockState::from_json(j);
  if (!restored.ok()) {
    return restored.status();
  }
  std::lock_guard lock(mu_);
  state_ = std::move(*restored);
  deadlines_ = std::make_unique<Deadlines>();
  for (const auto& [name, l] : state_.locks()) {
    track({Effect::Kind::kHeld, name, l.owner, l.ttl_ms, l.token});
    for (const Waiter& w : l.waiters) {
      track({Effect::Kind::kQueued, name, w.owner, w.wait_ms, 0});
    }
  }
  return Status();
}

json LockMachine::lock_json(const std::string& name) const {
  std::lock_guard lock(mu_);
  return state_.lock_json(name);
}

json LockMachine::resource_json(const std::string& name) const {
  std::lock_guard lock(mu_);
  return state_.resource_json(name);
}

json LockMachine::state_json() const {
  std::lock_guard lock(mu_);
  return state_.to_json();
}

LockMachine::Watch::Watch(LockMachine& machine, std::string name, std::string owner)
    : machine_(machine), key_(std::move(name), std::move(owner)) {
  std::lock_guard lock(machine_.mu_);
  Waiting& w = machine_.waiting_[key_];
  if (w.requests++ == 0) {
    w.token.reset();
  }
}

LockMachine::Watch::~Watch() {
  std::lock_guard lock(machine_.mu_);
  auto it = machine_.waiting_.find(key_);
  if (--it->second.requests == 0) {
    machine_.waiting_.erase(it);
  }
}

std::optional<std::uint64_t> LockMachine::Watch::wait(std::chrono::steady_clock::time_point until) {
  std::unique_lock lock(machine_.mu_);
  const Waiting& w = machine_.waiting_.at(key_);
  machine_.granted_.wait_until(lock, until,
                               [this, &w] { return w.token.has_value() || machine_.stopping_; });
  return w.token;
}

void LockMachine::stop_waits() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  granted_.notify_all();
}

bool LockMachine::stopping() const {
  std::lock_guard lock(mu_);
  return stopping_;
}

std::vector<std::string> LockMachine::due_commands() {
  // Under mu_, so a deadline and the state read agree: a keepalive applied after the check
  // moves the deadline and `refreshed` together.
  std::lock_guard lock(mu_);
  std::vector<std::string> out;
  for (const std::string& key : deadlines_->expired()) {
    const std::string rest = key.substr(1);
    if (key[0] == 'h') {
      auto it = state_.locks().find(rest);
      if (it != state_.locks().end() && !it->second.owner.empty()) {
        const Lock& l = it->second;
        out.push_back(command::expire(rest, l.owner, l.token, l.refreshed));
        continue;
      }
    } else {
      const std::size_t sep = rest.find('\x1f');
      const std::string name = rest.substr(0, sep);
      const std::string owner = rest.substr(sep + 1);
      auto it = state_.locks().find(name);
      if (it != state_.locks().end()) {
        const Lock& l = it->second;
        auto w = std::find_if(l.waiters.begin(), l.waiters.end(),
                              [&owner](const Waiter& x) { return x.owner == owner; });
        if (w != l.waiters.end()) {
          out.push_back(command::cancel(name, owner, w->seq));
          continue;
        }
      }
    }
    deadlines_->erase(key);  // nothing left to act on
  }
  return out;
}

}  // namespace skiff::examples::lock
