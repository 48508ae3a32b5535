// The node's waiting requests (requests.h).
#include "requests.h"

#include <fmt/format.h>

namespace skiff::node_detail {

std::optional<std::uint64_t> RequestTable::add(Request r, const Status& refuse) {
  Status why = refuse;
  if (why.ok()) {
    std::lock_guard lock(mu_);
    if (requests_.size() >= max_pending_) {
      why = Status(ErrorCode::kProposalDropped,
                   fmt::format("{} requests are pending (max_pending_requests)", requests_.size()));
    } else {
      const std::uint64_t id = next_++;
      r.started = Clock::now();
      r.deadline = r.started + timeout_;
      requests_.emplace(id, std::move(r));
      return id;
    }
  }
  finish(std::move(r), why);
  return std::nullopt;
}

void RequestTable::appended(std::uint64_t id, EntryId entry) {
  std::lock_guard lock(mu_);
  if (auto it = requests_.find(id); it != requests_.end()) {
    it->second.entry = entry;
    by_index_[entry.index] = id;
  }
}

void RequestTable::complete(std::uint64_t id, Result<Bytes> outcome) {
  std::optional<Request> r;
  {
    std::lock_guard lock(mu_);
    auto it = requests_.find(id);
    if (it == requests_.end()) {
      return;
    }
    r = std::move(it->second);
    requests_.erase(it);
    if (r->entry.index != Index{0}) {
      by_index_.erase(r->entry.index);
    }
  }
  finish(std::move(*r), std::move(outcome));
}

void RequestTable::complete_all(const Status& status) {
  std::map<std::uint64_t, Request> all;
  {
    std::lock_guard lock(mu_);
    all.swap(requests_);
    by_index_.clear();
  }
  for (auto& [id, r] : all) {
    finish(std::move(r), status);
  }
}

void RequestTable::expire(Clock::time_point now) {
  std::vector<Request> expired;
  {
    std::lock_guard lock(mu_);
    while (!requests_.empty() && requests_.begin()->second.deadline <= now) {
      Request& r = requests_.begin()->second;
      if (r.entry.index != Index{0}) {
        by_index_.erase(r.entry.index);
      }
      expired.push_back(std::move(r));
      requests_.erase(requests_.begin());
    }
  }
  for (Request& r : expired) {
    finish(std::move(r), Status(ErrorCode::kTimedOut,
                                fmt::format("no outcome within {} ms; it may still take effect",
                                            timeout_.count())));
  }
}

std::optional<std::uint64_t> RequestTable::at(Index index) const {
  std::lock_guard lock(mu_);
  if (auto it = by_index_.find(index); it != by_index_.end()) {
    return it->second;
  }
  return std::nullopt;
}

std::optional<std::uint64_t> RequestTable::replaced_by(const Entry& e) const {
  std::lock_guard lock(mu_);
  if (auto it = by_index_.find(e.index); it != by_index_.end()) {
    auto r = requests_.find(it->second);
    if (r != requests_.end() && r->second.entry.term != e.term) {
      return it->second;
    }
  }
  return std::nullopt;
}

std::vector<std::uint64_t> RequestTable::up_to(Index index) const {
  std::lock_guard lock(mu_);
  std::vector<std::uint64_t> out;
  for (auto it = by_index_.begin(); it != by_index_.end() && it->first <= index; ++it) {
    out.push_back(it->second);
  }
  return out;
}

void RequestTable::finish(Request r, Result<Bytes> outcome) {
  if (r.on_result) {
    if (outcome.ok()) {
      metrics_.commit_latency.observe(static_cast<std::uint64_t>(
          std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - r.started).count()));
    } else {
      ++metrics_.proposals_failed;
    }
    r.on_result(std::move(outcome));
  } else if (r.on_status) {
    r.on_status(outcome.ok() ? Status() : outcome.status());
  }
}

}  // namespace skiff::node_detail
