#include "core/quorum.h"

#include <algorithm>
#include <array>
#include <limits>
#include <vector>

#include "core/str.h"

namespace skiff::detail {

Index MajorityConfig::committed_index(
    const std::function<std::optional<Index>(NodeId)>& acked) const {
  if (voters_.empty()) {
    // The empty config is the neutral element of joint quorums (thesis §4.3).
    return Index{std::numeric_limits<std::uint64_t>::max()};
  }
  // The leader asks this after every acknowledgement: groups of up to kOnStack voters (all
  // but unusual ones) need no allocation.
  constexpr std::size_t kOnStack = 7;
  std::array<Index, kOnStack> small;
  std::vector<Index> large;
  Index* indexes = small.data();
  if (voters_.size() > kOnStack) {
    large.resize(voters_.size());
    indexes = large.data();
  }
  std::size_t n = 0;
  for (NodeId id : voters_) {
    indexes[n++] = acked(id).value_or(Index{0});
  }
  // Sorted descending, the quorum()-th largest index is acknowledged by a majority.
  std::sort(indexes, indexes + n, std::greater<>());
  return indexes[quorum() - 1];
}

VoteResult MajorityConfig::vote_result(
    const std::function<std::optional<bool>(NodeId)>& vote) const {
  if (voters_.empty()) {
    return VoteResult::kWon;
  }
  std::size_t granted = 0;
  std::size_t missing = 0;
  for (NodeId id : voters_) {
    auto v = vote(id);
    if (!v.has_value()) {
      ++missing;
    } else if (*v) {
      ++granted;
    }
  }
  if (granted >= quorum()) {
    return VoteResult::kWon;
  }
  if (granted + missing >= quorum()) {
    return VoteResult::kPending;
  }
  return VoteResult::kLost;
}

std::string MajorityConfig::describe() const {
  std::string out = "[";
  bool first = true;
  for (NodeId id : voters_) {
    out += str_cat(first ? "" : " ", id);
    first = false;
  }
  return out + "]";
}

std::set<NodeId> JointConfig::ids() const {
  std::set<NodeId> out = incoming_.voters();
  out.insert(outgoing_.voters().begin(), outgoing_.voters().end());
  return out;
}

Index JointConfig::committed_index(const std::function<std::optional<Index>(NodeId)>& acked) const {
  return std::min(incoming_.committed_index(acked), outgoing_.committed_index(acked));
}

VoteResult JointConfig::vote_result(const std::function<std::optional<bool>(NodeId)>& vote) const {
  const VoteResult in = incoming_.vote_result(vote);
  const VoteResult out = outgoing_.vote_result(vote);
  if (in == out) {
    return in;
  }
  if (in == VoteResult::kLost || out == VoteResult::kLost) {
    return VoteResult::kLost;
  }
  return VoteResult::kPending;
}

std::string JointConfig::describe() const {
  if (!joint()) {
    return incoming_.describe();
  }
  return incoming_.describe() + "&&" + outgoing_.describe();
}

}  // namespace skiff::detail
