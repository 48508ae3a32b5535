// Vocabulary types shared by every part of skiff: node ids, terms and log indexes.
//
// Each is a distinct type so that a term can never be passed where an index is expected.
// They are cheap value types (one uint64_t) with total ordering.
#pragma once

#include <compare>
#include <cstdint>
#include <string>

namespace skiff {

/// Identifies a member of a Raft group. Zero is reserved for "no node" (`kNoNode`).
struct NodeId {
  std::uint64_t value = 0;

  constexpr NodeId() = default;
  constexpr explicit NodeId(std::uint64_t v) : value(v) {}
  friend constexpr auto operator<=>(NodeId, NodeId) = default;
};

/// The absent node: no vote cast, no leader known.
inline constexpr NodeId kNoNode{};

/// A Raft term (Raft §5.1). Zero is the term before any election.
struct Term {
  std::uint64_t value = 0;

  constexpr Term() = default;
  constexpr explicit Term(std::uint64_t v) : value(v) {}
  friend constexpr auto operator<=>(Term, Term) = default;
  /// The term after this one.
  [[nodiscard]] constexpr Term next() const { return Term{value + 1}; }
};

/// The highest term the core accepts or reaches (2^62). Terms only grow and are persisted
/// (Raft §5.1), so a term with no successor the wire can carry (the codec decodes up to 2^63 - 1)
/// would end elections for good. Messages above it are refused as malformed (RawNode::step); a
/// node at it follows a leader of that term but never campaigns past it, so a group that gets
/// there keeps its leader and cannot elect another (2^62 elections: only a forged or corrupt
/// term reaches it). Stored state above it is corruption. See docs/ready_contract.md.
inline constexpr Term kMaxTerm{std::uint64_t{1} << 62};

/// The most a message may raise the term of a node that has a live leader (it leads, or heard
/// from its leader within the election timeout) at once: 2^32. Honest terms grow by one per
/// election, so no real gap comes near it; a forged message beyond it is refused
/// (RawNode::step), so a healthy group is not moved to kMaxTerm by one message. A node without
/// a live leader takes any term up to kMaxTerm (so one left behind catches up). See
/// docs/ready_contract.md.
inline constexpr std::uint64_t kMaxTermJump = std::uint64_t{1} << 32;

/// A position in the replicated log. Entries start at 1; zero is "before the first entry".
struct Index {
  std::uint64_t value = 0;

  constexpr Index() = default;
  constexpr explicit Index(std::uint64_t v) : value(v) {}
  friend constexpr auto operator<=>(Index, Index) = default;

  /// Moves forward by `n` entries.
  friend constexpr Index operator+(Index i, std::uint64_t n) { return Index{i.value + n}; }
  /// Moves back by `n` entries. Precondition: `n <= i.value`.
  friend constexpr Index operator-(Index i, std::uint64_t n) { return Index{i.value - n}; }
  /// The number of entries in [b, a). Precondition: `b <= a`.
  friend constexpr std::uint64_t operator-(Index a, Index b) { return a.value - b.value; }
  constexpr Index& operator++() {
    ++value;
    return *this;
  }
};

/// A log position together with the term of the entry there: identifies an entry uniquely
/// (Raft §5.3, Log Matching Property).
struct EntryId {
  Term term;
  Index index;
  friend constexpr bool operator==(const EntryId&, const EntryId&) = default;
};

/// Whom an adapter was created for: the cluster and the node. Node::create refuses adapters
/// that disagree with each other or with the node's id. 0 / kNoNode for a part the adapter
/// does not record (then that part is not checked).
struct AdapterIdentity {
  std::uint64_t cluster_id = 0;
  NodeId node;
  friend constexpr bool operator==(const AdapterIdentity&, const AdapterIdentity&) = default;
};

/// Text forms used by logs, errors and test transcripts.
std::string describe(NodeId id);
std::string describe(EntryId id);  // "index/term", e.g. "7/2"

}  // namespace skiff
