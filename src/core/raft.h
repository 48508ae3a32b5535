// Raft: the protocol state of one node and the dispatch of its inputs (Raft §5, thesis §3,
// §6.2 check-quorum, §9.6 pre-vote). RawNode wraps it with the Ready bookkeeping.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <variant>
#include <vector>

#include "core/membership.h"
#include "core/progress.h"
#include "core/quorum.h"
#include "core/raft_log.h"
#include "core/read_only.h"
#include "core/rng.h"
#include "core/startup.h"
#include "core/tracker.h"
#include "skiff/conf_change.h"
#include "skiff/config.h"
#include "skiff/log_storage.h"
#include "skiff/message.h"
#include "skiff/raw_node.h"
#include "skiff/ready.h"
#include "skiff/result.h"
#include "skiff/state.h"
#include "skiff/status.h"

namespace skiff::detail {

/// Role-specific state: it exists only while the node has that role (DESIGN.md §4).
struct FollowerState {};
struct PreCandidateState {
  std::map<NodeId, bool> votes;
};
struct CandidateState {
  std::map<NodeId, bool> votes;
};
struct LeaderState {
  explicit LeaderState(const Config& config)
      : progress(config.max_inflight_msgs, config.max_inflight_bytes) {}

  // One entry per voter and learner, this node included (its match = its durable log).
  ProgressTracker progress;
  // Payload bytes of uncommitted entries in the log (Config::max_uncommitted_size).
  std::uint64_t uncommitted_size = 0;
  // Followers need Appends (new entries or a commit to learn); sent when the Ready is built,
  // so that all proposals between two Readies leave as one message per follower.
  bool broadcast_pending = false;
  // Linearizable reads and the heartbeat rounds that confirm them (thesis §6.4).
  ReadOnly reads;
  // Leadership transfer in progress (thesis §3.10): the target and the ticks spent.
  NodeId transfer_target;
  std::uint32_t transfer_elapsed = 0;
  // A TimeoutNow was sent this term: its target may win an election that ignores leases at
  // any time (even after the transfer is abandoned, if the message was slow), so lease reads
  // are off for the rest of the term.
  bool timeout_now_sent = false;
};
using RoleState = std::variant<FollowerState, PreCandidateState, CandidateState, LeaderState>;

class Raft {
 public:
  /// Validates config and stored state; see RawNode::create.
  static Result<std::unique_ptr<Raft>> create(const Config& config, const LogStorage& storage);

  void tick();
  Status step(const Message& m);
  Result<Proposal> propose(Bytes data);
  Result<Proposal> propose_conf_change(const ConfChange& change);
  Status read_index(Bytes context);
  Status transfer_leadership(NodeId to);
  /// `snapshot`: the index of the snapshot reported on; nullopt for the pending one.
  void report_snapshot(NodeId to, std::optional<Index> snapshot, bool ok);
  void report_unreachable(NodeId to);
  Status campaign();

  // --- for RawNode's Ready bookkeeping ---
  /// Sends the Appends deferred by broadcast_pending.
  void flush_broadcast();
  bool has_pending_broadcast() const;
  std::vector<Message>& messages() { return msgs_; }
  const std::vector<Message>& messages() const { return msgs_; }
  std::vector<Message>& messages_after_persist() { return msgs_after_persist_; }
  const std::vector<Message>& messages_after_persist() const { return msgs_after_persist_; }
  const Config& config() const { return config_; }
  RaftLog& log() { return log_; }
  const RaftLog& log() const { return log_; }
  SoftState soft_state() const;
  HardState hard_state() const;
  /// This node's log is durable up to `id` (the last entry of an advanced Ready).
  void on_persisted(EntryId id);
  /// Entries were handed out for applying; a leader's uncommitted budget shrinks by them.
  void on_committed_handed_out(const std::vector<Entry>& ents);
  /// The application applied everything up to `index`.
  void applied_to(Index index);
  /// The snapshot handed out at `index` is installed in storage and state machine.
  void snapshot_installed(Index index);
  /// Confirmed reads not yet handed out.
  std::vector<ReadState>& read_states() { return read_states_; }
  const std::vector<ReadState>& read_states() const { return read_states_; }
  /// The membership in effect at the applied index.
  /// The membership in effect at the applied index; empty while a snapshot from the leader
  /// waits to be installed (the log it replaced held that membership).
  ConfState applied_conf_state() const {
    return log_.applied() < membership_.base_index() ? ConfState{} : membership_.at(log_.applied());
  }
  NodeStatus status() const;

  NodeId id() const { return id_; }
  Term term() const { return term_; }
  NodeId leader() const { return lead_; }
  Role role() const;
  const Counters& counters() const { return counters_; }
  Counters& counters() { return counters_; }

  /// Aborts with context on a broken invariant. Run after every step by tests and fuzzers.
  void check_invariants() const;

 private:
  Raft(const Config& config, const LogStorage& storage, StartState start);

  // Role transitions.
  void become_follower(Term term, NodeId lead);
  void become_pre_candidate();
  void become_candidate();
  void become_leader();
  void reset(Term term);
  void reset_randomized_election_timeout();

  // Elections.
  void start_election(bool pre_vote, bool transfer = false);
  void handle_vote_request(const Message& m);
  void handle_vote_response(const Message& m);
  bool promotable() const;
  // The term is kMaxTerm: no later term exists to campaign for (types.h).
  bool at_term_ceiling() const;
  bool in_lease() const;
  bool past_election_timeout() const;

  // Ticks.
  void tick_election();
  void tick_heartbeat();

  // Replication, leader side.
  void broadcast_append();
  void broadcast_heartbeat();
  void send_heartbeat(NodeId to, std::uint64_t round);
  bool maybe_send_append(NodeId to, bool send_if_empty);
  void send_appends_to(NodeId to, bool send_if_empty);
  bool send_snapshot(NodeId to, Progress& pr);
  bool maybe_commit();
  // Commit advanced on the leader: tell followers, release reads, leave a joint
  // configuration, or step down if this leader was removed. May end leadership.
  void on_commit_advanced();
  bool committed_in_term() const;
  bool append_entries(std::vector<Entry> ents, bool force = false);
  // The log changed from `from` on (entries written there): track configurations in it.
  void log_written(Index from, const std::vector<Entry>& ents);
  // Makes membership_.current() the configuration in use.
  void apply_membership();
  // After an input: logs a configuration that just committed (and re-derives the membership).
  void note_config_commit();
  void abort_transfer(const std::string& why);
  void send_timeout_now(NodeId to);
  void maybe_finish_transfer(NodeId from);
  void accept_read(Bytes context, NodeId from);
  void release_reads();
  Status handle_append_response(const Message& m);
  void handle_heartbeat_response(const Message& m);
  bool check_quorum_active();
  Status step_leader(const Message& m);

  // Replication, follower side.
  void handle_append(const Message& m);
  void handle_heartbeat(const Message& m);
  void handle_snapshot(const Message& m);
  Status step_follower(const Message& m);
  Status step_candidate(const Message& m);

  void send(Message m);
  void log(LogLevel level, const std::string& line) const;
  bool log_enabled(LogLevel level) const;
  LeaderState& leader_state() { return std::get<LeaderState>(role_); }
  bool is_leader() const { return std::holds_alternative<LeaderState>(role_); }
  Progress* progress(NodeId id);

  Config config_;
  NodeId id_;
  Term term_;
  NodeId vote_;
  NodeId lead_;
  RaftLog log_;
  Membership membership_;
  // Derived from membership_.current() by apply_membership().
  JointConfig voters_;
  std::set<NodeId> learners_;
  // Index of the last configuration entry known committed (note_config_commit).
  Index config_committed_;
  RoleState role_;
  // ReadMode::kLease: a restarted node does not know whose lease it may be inside; it refuses
  // votes for an election timeout as if it had just heard from a leader.
  bool lease_guard_at_start_ = false;

  // Ticks since the last reset of the election timer (leader: since the last quorum check).
  std::uint32_t election_elapsed_ = 0;
  std::uint32_t heartbeat_elapsed_ = 0;
  // Drawn from [election_tick, 2 * election_tick) at every reset.
  std::uint32_t randomized_election_timeout_ = 0;
  Rng rng_;

  std::vector<Message> msgs_;
  std::vector<Message> msgs_after_persist_;
  std::vector<ReadState> read_states_;
  Counters counters_;
};

}  // namespace skiff::detail
