#include "core/read_only.h"

#include <algorithm>

namespace skiff::detail {

void ReadOnly::activate_held(Index commit, std::uint64_t round) {
  for (PendingRead& r : held_) {
    r.index = commit;
    r.round = round;
    queue_.push_back(std::move(r));
  }
  held_.clear();
}

void ReadOnly::add(Bytes context, NodeId from, Index index, std::uint64_t round) {
  queue_.push_back(PendingRead{std::move(context), from, index, round});
}

std::uint64_t ReadOnly::start_round() {
  ++round_;
  sent_.emplace_back(round_, ticks_);
  // Keep a bounded window: a lease is never measured from a round older than the ones a
  // quorum can still answer usefully.
  while (sent_.size() > 1024) {
    sent_.pop_front();
  }
  return round_;
}

bool ReadOnly::needs_round() const {
  return !queue_.empty() && queue_.back().round > round_;
}

void ReadOnly::ack(NodeId from, std::uint64_t round) {
  std::uint64_t& acked = acked_[from];
  acked = std::max(acked, std::min(round, round_));
}

std::uint64_t ReadOnly::confirmed_round(const JointConfig& voters, NodeId self) const {
  const Index confirmed = voters.committed_index([&](NodeId id) -> std::optional<Index> {
    if (id == self) {
      return Index{round_};
    }
    auto it = acked_.find(id);
    return it == acked_.end() ? Index{0} : Index{it->second};
  });
  return std::min(confirmed.value, round_);
}

std::vector<PendingRead> ReadOnly::release(std::uint64_t round) {
  std::vector<PendingRead> out;
  while (!queue_.empty() && queue_.front().round <= round) {
    out.push_back(std::move(queue_.front()));
    queue_.pop_front();
  }
  return out;
}

bool ReadOnly::in_lease(const JointConfig& voters, NodeId self, std::uint32_t lease_ticks) const {
  const std::uint64_t confirmed = confirmed_round(voters, self);
  if (confirmed == 0) {
    return false;
  }
  // The lease runs from when the confirmed round was sent: followers heard it no earlier.
  auto it =
      std::lower_bound(sent_.begin(), sent_.end(), std::make_pair(confirmed, std::uint64_t{0}));
  if (it == sent_.end() || it->first != confirmed) {
    return false;
  }
  return ticks_ < it->second + lease_ticks;
}

}  // namespace skiff::detail
