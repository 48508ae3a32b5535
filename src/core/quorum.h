// Quorum arithmetic over a set of voters (Raft §5.2, §5.3).
#pragma once

#include <functional>
#include <optional>
#include <set>
#include <string>

#include "skiff/types.h"

namespace skiff::detail {

/// The outcome of counting votes.
enum class VoteResult { kPending, kLost, kWon };

/// A set of voters where any majority is a quorum.
class MajorityConfig {
 public:
  MajorityConfig() = default;
  explicit MajorityConfig(std::set<NodeId> voters) : voters_(std::move(voters)) {}

  const std::set<NodeId>& voters() const { return voters_; }
  bool contains(NodeId id) const { return voters_.contains(id); }
  std::size_t size() const { return voters_.size(); }
  /// Smallest number of voters that forms a majority.
  std::size_t quorum() const { return voters_.size() / 2 + 1; }

  /// The largest index that a majority of voters has acknowledged, given each voter's
  /// acknowledged index (`acked` returns nullopt for a voter with no progress, counted as 0).
  /// An empty configuration commits everything (returns the maximum Index).
  Index committed_index(const std::function<std::optional<Index>(NodeId)>& acked) const;

  /// Won if a majority granted, Lost if a majority can no longer grant, else Pending.
  /// `vote` returns true (granted), false (rejected) or nullopt (not yet answered).
  VoteResult vote_result(const std::function<std::optional<bool>(NodeId)>& vote) const;

  /// "[1 2 3]".
  std::string describe() const;

 private:
  std::set<NodeId> voters_;
};

/// Two majority configurations that must both agree (thesis §4.3, joint consensus). Outside a
/// membership change `outgoing` is empty, which agrees with everything.
class JointConfig {
 public:
  JointConfig() = default;
  JointConfig(MajorityConfig incoming, MajorityConfig outgoing)
      : incoming_(std::move(incoming)), outgoing_(std::move(outgoing)) {}

  const MajorityConfig& incoming() const { return incoming_; }
  const MajorityConfig& outgoing() const { return outgoing_; }
  bool joint() const { return outgoing_.size() > 0; }
  /// Whether `id` votes in either half.
  bool contains(NodeId id) const { return incoming_.contains(id) || outgoing_.contains(id); }
  /// Every voter of either half, once.
  std::set<NodeId> ids() const;

  /// The largest index acknowledged by a majority of both halves.
  Index committed_index(const std::function<std::optional<Index>(NodeId)>& acked) const;
  /// Won if both halves won, Lost if either lost, else Pending.
  VoteResult vote_result(const std::function<std::optional<bool>(NodeId)>& vote) const;

  /// "[1 2 3]" or "[1 2 4]&&[1 2 3]".
  std::string describe() const;

 private:
  MajorityConfig incoming_;
  MajorityConfig outgoing_;
};

}  // namespace skiff::detail
