// Leader-side background work (leader_loop.h).
#include "leader_loop.h"

#include <algorithm>

namespace skiff::examples {

void LeaderLoop::start(Node& node, std::chrono::milliseconds period,
                       std::function<void(Term)> on_lead, std::function<void(Term)> step) {
  stop();
  {
    std::lock_guard lock(mu_);
    stopping_ = false;
  }
  thread_ =
      std::thread([this, &node, period, on_lead = std::move(on_lead), step = std::move(step)] {
        Term led;  // the last term this member led in
        std::unique_lock lock(mu_);
        while (!cv_.wait_for(lock, period, [this] { return stopping_; })) {
          lock.unlock();
          auto s = node.status();
          if (s.ok() && s->role == Role::kLeader) {
            if (s->term != led) {
              led = s->term;
              on_lead(led);
            }
            step(led);
          }
          lock.lock();
        }
      });
}

void LeaderLoop::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) {
    thread_.join();
  }
}

void Deadlines::touch(const std::string& key, std::chrono::milliseconds ttl) {
  std::lock_guard lock(mu_);
  entries_[key] = Entry{std::chrono::steady_clock::now() + ttl, ttl};
}

void Deadlines::erase(const std::string& key) {
  std::lock_guard lock(mu_);
  entries_.erase(key);
}

void Deadlines::clear() {
  std::lock_guard lock(mu_);
  entries_.clear();
}

void Deadlines::extend_all() {
  std::lock_guard lock(mu_);
  const auto now = std::chrono::steady_clock::now();
  for (auto& [key, e] : entries_) {
    e.deadline = std::max(e.deadline, now + e.ttl);
  }
}

std::vector<std::string> Deadlines::expired() const {
  std::lock_guard lock(mu_);
  const auto now = std::chrono::steady_clock::now();
  std::vector<std::string> out;
  for (const auto& [key, e] : entries_) {
    if (e.deadline <= now) {
      out.push_back(key);
    }
  }
  return out;
}

std::size_t Deadlines::size() const {
  std::lock_guard lock(mu_);
  return entries_.size();
}

}  // namespace skiff::examples
