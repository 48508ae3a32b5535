// RawNode: the Raft core's public face. A pure, deterministic state machine.
//
//   auto node = skiff::RawNode::create(config, storage);   // Result<RawNode>
//   node->tick();                  // every tick of the application's clock
//   node->step(message);           // every message received from a peer
//   node->propose(payload);        // on the leader: a new entry
//   while (node->has_ready()) {
//     skiff::Ready rd = node->ready().value();
//     ... persist, send, apply as described on `Ready` ...
//     node->advance(rd);
//   }
//
// No threads, sockets, files or clocks inside: time is tick(), randomness comes from
// Config::seed. The same configuration, storage contents and sequence of calls always give
// the same Readies. Not thread-safe: drive each RawNode from one thread at a time.
#pragma once

#include <cstdint>
#include <memory>

#include "skiff/bytes.h"
#include "skiff/conf_change.h"
#include "skiff/config.h"
#include "skiff/log_storage.h"
#include "skiff/message.h"
#include "skiff/ready.h"
#include "skiff/result.h"
#include "skiff/state.h"
#include "skiff/status.h"
#include "skiff/types.h"

namespace skiff {

namespace detail {
class RawNodeImpl;
}  // namespace detail

/// Where a successful proposal went.
struct Proposal {
  /// Term and index the entry was appended at on this leader; zero when forwarded. The
  /// proposal took effect if and only if the entry applied at `id.index` has term `id.term`.
  EntryId id;
  /// The leader the proposal was forwarded to, or kNoNode if this node appended it.
  NodeId forwarded_to;
};

/// Monotonic counters, for metrics and tests.
struct Counters {
  std::uint64_t messages_rejected = 0;         // inbound messages refused by validation
  std::uint64_t proposals_dropped = 0;         // proposals refused (not leader, limits...)
  std::uint64_t elections_started = 0;         // campaigns for a real term (not pre-votes)
  std::uint64_t leader_elected = 0;            // times this node became leader
  std::uint64_t storage_read_errors = 0;       // failed reads from LogStorage other than compaction
  std::uint64_t snapshots_sent = 0;            // Snapshot messages emitted by this leader
  std::uint64_t snapshots_installed = 0;       // snapshots from a leader handed out to install
  std::uint64_t reads_confirmed = 0;           // ReadStates handed out
  std::uint64_t transfers_started = 0;         // leadership transfers begun by this leader
  std::uint64_t transfers_aborted = 0;         // ... that ran out of time or lost their target
  std::uint64_t conf_changes_applied = 0;      // configuration entries that took effect here
  std::uint64_t snapshot_reports_ignored = 0;  // report_snapshot on a snapshot not waited on
};

/// The Raft state machine of one node, driven by the application.
class RawNode {
 public:
  /// Validates `config`, loads the hard state and membership from `storage` and starts as a
  /// follower. `storage` must outlive the RawNode. Errors: kInvalidArgument for a bad config,
  /// kCorruption for stored state that contradicts itself or a stored term above kMaxTerm,
  /// or the storage's own error.
  static Result<RawNode> create(const Config& config, LogStorage& storage);

  RawNode(RawNode&&) noexcept;
  RawNode& operator=(RawNode&&) noexcept;
  ~RawNode();

  /// Advances logical time by one tick: may start an election or send heartbeats.
  void tick();

  /// Handles a message from a peer. A malformed message (wrong recipient, inconsistent
  /// fields, a term above kMaxTerm) is refused with kInvalidArgument and counted; it changes
  /// nothing.
  Status step(const Message& m);

  /// Proposes `data` as a new log entry. On the leader it is appended and replicated; on a
  /// follower it is forwarded (Config::forward_proposals) or refused with kNotLeader carrying
  /// the leader hint. kProposalDropped when no leader is known or a limit is reached.
  Result<Proposal> propose(Bytes data);

  /// Proposes a membership change (thesis §4). Leader only (kNotLeader with the hint
  /// otherwise). The new configuration takes effect as soon as its entry is appended;
  /// Proposal::id names that entry. Errors: kInvalidArgument for a change apply_conf_change
  /// refuses; kFailedPrecondition while an earlier change is uncommitted (one at a time) or
  /// before this leader has committed an entry of its term; kProposalDropped during a
  /// leadership transfer.
  Result<Proposal> propose_conf_change(const ConfChange& change);

  /// Asks for a linearizable read (thesis §6.4). When leadership is confirmed, a ReadState
  /// with `context` and the read index appears in a later Ready. On a follower the request is
  /// forwarded to the leader. Reads lost to a leader change produce no ReadState: callers
  /// retry after a timeout. kUnavailable when no leader is known.
  Status read_index(Bytes context);

  /// Hands leadership to voter `to` (thesis §3.10): the leader brings it up to date, refuses
  /// proposals meanwhile, then tells it to campaign. Aborted after an election timeout, or
  /// at once by a transfer to this node (proposals are taken again). kNotLeader on a
  /// follower; kInvalidArgument for a learner, an unknown id, or this node with no transfer
  /// pending.
  Status transfer_leadership(NodeId to);

  /// Reports whether the snapshot at index `snapshot` sent to `to` was delivered (true) or
  /// failed (false); replication to `to` leaves the snapshot state either way. Ignored unless
  /// leader and waiting on that very snapshot: a late report on an older one is counted
  /// (Counters::snapshot_reports_ignored) and changes nothing.
  void report_snapshot(NodeId to, Index snapshot, bool ok);
  /// As above for whichever snapshot `to` waits on now: for a caller that cannot tell which
  /// snapshot it reports on. Prefer the form naming the snapshot (every TransportHandler
  /// report names it): this one lets a late report end the wait on a newer snapshot.
  void report_snapshot(NodeId to, bool ok);

  /// Reports that a message to `to` could not be delivered; the leader resumes probing it.
  void report_unreachable(NodeId to);

  /// Starts an election now (with pre-vote if enabled), as if the election timeout elapsed.
  /// kFailedPrecondition if this node is the leader, not a voter, or at kMaxTerm.
  Status campaign();

  /// Whether ready() would return work. False while a Ready is outstanding.
  bool has_ready() const;

  /// Takes the pending work. kFailedPrecondition if the previous Ready was not advanced.
  Result<Ready> ready();

  /// Reports that `rd` (the outstanding Ready) was handled as its contract says.
  /// kFailedPrecondition if `rd` is not the outstanding Ready.
  Status advance(const Ready& rd);

  /// This node's id.
  NodeId id() const;
  /// Current term.
  Term term() const;
  /// The leader this node knows of, or kNoNode.
  NodeId leader() const;
  /// Current role.
  Role role() const;
  /// Highest index known committed.
  Index commit_index() const;
  /// Highest index handed back as applied via advance().
  Index applied_index() const;
  /// Index of the last entry in this node's log (persisted or not).
  Index last_index() const;
  /// The membership in effect at applied_index(): store it with a snapshot taken there. Empty
  /// (no voters) when this node cannot know it: it joined with an empty log and has not yet
  /// applied the configuration entry that added it, or a snapshot from the leader is waiting
  /// to be installed; take no snapshot until then.
  ConfState applied_conf_state() const;
  /// Role, indexes, membership and (on the leader) every peer's progress.
  NodeStatus status() const;
  /// Counters since creation.
  const Counters& counters() const;
  /// Aborts with a description if an internal invariant is broken. Cheap enough for
  /// simulators and fuzzers to call after every input; never needed in production.
  void check_invariants() const;

 private:
  explicit RawNode(std::unique_ptr<detail::RawNodeImpl> impl);
  std::unique_ptr<detail::RawNodeImpl> impl_;
};

}  // namespace skiff
