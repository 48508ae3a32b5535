// Node: the runtime most applications embed (target skiff::node). It drives a Raft core with
// a storage adapter, a transport adapter and the application's StateMachine:
//
//   skiff::NodeConfig config;
//   config.raft.id = skiff::NodeId{1};
//   config.peers = {{skiff::NodeId{2}, "127.0.0.1:7102"}, {skiff::NodeId{3}, "127.0.0.1:7103"}};
//   auto node = skiff::Node::create(config, storage, transport, state_machine);
//   (*node)->start();
//   auto result = (*node)->propose(skiff::Bytes("set x 1")).get();   // applied here, or an error
//
// Threads. The core runs on one thread of its own, fed by timer ticks, the transport's
// messages and the application's calls; proposals that arrive together go into one Ready:
// one storage write (one fsync) and one append per follower. The leader sends its appends
// before its own write finishes (thesis §10.2.1); its own copy counts once durable. A storage
// thread writes each Ready and takes snapshots and compactions; an apply thread applies
// committed entries, serves reads, completes proposals and takes snapshots by policy.
// Callbacks run on those threads: keep them short and never block in them.
//
// Members. The node replicates a record of each member's storage incarnation and address
// (docs/node.md), so a member that lost its data is refused until removed and added back.
//
// Errors. Every call that can fail says why with a Status: kNotLeader (with the leader's id
// as a hint when known), kProposalDropped, kTimedOut (the outcome is unknown: the command may
// still be applied), kStopped, kInvalidArgument, kStorage (the node stopped: its disk
// failed). A future or callback is always completed exactly once, by stop() at the latest.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "skiff/bytes.h"
#include "skiff/config.h"
#include "skiff/node/state_machine.h"
#include "skiff/result.h"
#include "skiff/status.h"
#include "skiff/storage.h"
#include "skiff/transport.h"
#include "skiff/types.h"

namespace skiff {

/// Settings of a node. An aggregate with defaults; Node::create checks it.
struct NodeConfig {
  /// The core's settings; raft.id is this node's id. raft.applied and raft.logger are set by
  /// the node (from the stored snapshot, and from `logger`).
  Config raft;
  /// Wall time per core tick: election and heartbeat timeouts are raft.election_tick and
  /// raft.heartbeat_tick of these. 1 ms to 10 s.
  std::chrono::milliseconds tick_interval{10};
  /// Addresses of the other members, handed to the transport (add_peer). Members added later
  /// get theirs from the membership change's address.
  std::map<NodeId, std::string> peers;
  /// This node starts with no membership and waits to be added by a membership change
  /// (add_voter/add_learner on the leader). Node::create refuses a fresh storage without a
  /// bootstrap membership unless this is set, and refuses it set on a storage that was
  /// bootstrapped with one: both are configuration mistakes.
  bool join = false;

  /// Take a snapshot once this many entries were applied since the last one (0: never by
  /// count), or this many bytes of commands (0: never by size).
  std::uint64_t snapshot_entries = 10000;
  std::uint64_t snapshot_bytes = 64 << 20;
  /// Entries kept in the log behind a snapshot, so a follower that lags a little catches up
  /// from the log instead of receiving a whole snapshot.
  std::uint64_t compaction_margin = 5000;

  /// A proposal, read or membership change without an outcome after this long completes
  /// with kTimedOut.
  std::chrono::milliseconds request_timeout{10000};
  /// Proposals and reads waiting for an outcome at most; beyond it new ones fail with
  /// kProposalDropped.
  std::size_t max_pending_requests = 100000;
  /// Bytes of committed entries queued for the apply thread at most; beyond it the core
  /// waits (back-pressure) before taking more work from the log.
  std::uint64_t max_apply_queue_bytes = 64 << 20;

  /// Where every line goes, prefixed with the node id and term; null: a default logger
  /// writing warnings and errors to stderr.
  std::shared_ptr<Logger> logger;

  /// Flight recorder (off when empty): a file receiving every input of the core and the
  /// storage it started from, replayable offline (skiff/node/flight_recorder.h). Truncated
  /// at start. It grows with traffic and costs a write per input: for investigations.
  std::string flight_recorder_path;
};

/// Counters and latency summaries since start; read with Node::metrics().
struct NodeMetrics {
  std::uint64_t proposals = 0;           ///< proposals accepted by the core
  std::uint64_t proposals_failed = 0;    ///< proposals completed with an error
  std::uint64_t applied = 0;             ///< commands applied to the state machine
  std::uint64_t reads = 0;               ///< linearizable reads served
  std::uint64_t readies = 0;             ///< Readies handled
  std::uint64_t storage_writes = 0;      ///< Ready writes (save calls)
  std::uint64_t storage_syncs = 0;       ///< of which synced
  std::uint64_t snapshots_taken = 0;     ///< snapshots of this node's state machine
  std::uint64_t snapshots_restored = 0;  ///< snapshots received and restored
  std::uint64_t elections = 0;           ///< campaigns started (core counter)
  std::uint64_t messages_sent = 0;       ///< messages handed to the transport
  std::uint64_t messages_received = 0;   ///< messages from the transport
  /// The most bytes of committed entries ever queued for the apply thread (at most
  /// max_apply_queue_bytes plus one Ready's worth, raft.max_committed_size_per_ready).
  std::uint64_t apply_queue_peak_bytes = 0;
  /// Traffic with one peer. Bytes are payload bytes (entry data and snapshot data), the part
  /// that grows with load; the transport's own counters have the bytes on the wire.
  struct Peer {
    std::uint64_t messages_sent = 0;
    std::uint64_t messages_received = 0;
    std::uint64_t bytes_sent = 0;
    std::uint64_t bytes_received = 0;
    std::uint64_t snapshots_sent = 0;  ///< Snapshot messages sent to it
  };
  std::map<NodeId, Peer> peers;
  /// Commit latency (propose to applied, on this node) and storage write time, in µs: count,
  /// sum and the bucket counts of Prometheus-style histograms (see prometheus_text()).
  struct Histogram {
    std::uint64_t count = 0;
    std::uint64_t sum_us = 0;
    std::vector<std::uint64_t> buckets;  ///< cumulative counts at histogram_bounds_us()
  };
  Histogram commit_latency;
  Histogram storage_write;
  /// Upper bounds, in µs, of the histogram buckets (the last bucket is +Inf).
  static const std::vector<std::uint64_t>& histogram_bounds_us();
};

/// A running Raft member. Thread-safe: every call may come from any thread.
class Node {
 public:
  using ProposeCallback = std::function<void(Result<Bytes>)>;
  using StatusCallback = std::function<void(Status)>;

  /// Checks `config` and opens the core on `storage`. The adapters and `state_machine` must
  /// outlive the node; the node restores the state machine from the stored snapshot.
  /// kInvalidArgument for a bad config or contradictory identities (a storage or transport of
  /// another node id or cluster, a fresh storage whose bootstrap voters lack raft.id, no
  /// membership without `join`); the storage's errors otherwise.
  static Result<std::unique_ptr<Node>> create(NodeConfig config, Storage& storage,
                                              Transport& transport, StateMachine& state_machine);
  ~Node();  ///< stop()
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;

  /// Starts the threads, the transport and the ticks. kFailedPrecondition if started before.
  Status start();
  /// Stops gracefully: refuses new requests, stops the transport (nothing new comes in), lets
  /// the storage write in flight finish, applies what was committed and handed over,
  /// completes every pending request (kStopped for those without an outcome) and joins the
  /// node's threads. Idempotent. Not from inside one of the node's callbacks.
  void stop();

  /// Proposes a command; `done` gets the state machine's result once it is applied on this
  /// node, or an error. On a follower: kNotLeader with a hint, unless raft.forward_proposals.
  void propose(Bytes command, ProposeCallback done);
  /// The same, as a future.
  std::future<Result<Bytes>> propose(Bytes command);

  /// Calls `ready` once a linearizable read may be served on this node (the state machine
  /// has applied everything committed before the call: thesis §6.4), on the apply thread,
  /// so reading the state machine inside `ready` is safe. Or an error.
  void linearizable_read(StatusCallback ready);
  /// The same, as a future: once it is ready the state machine may be read (from any thread,
  /// if the state machine allows it) and reflects at least every earlier acknowledged write.
  std::future<Status> read_index();

  /// Membership changes (thesis §4): done once the change is applied on this node. `address`
  /// is where the new member listens (handed to every member's transport). Adding a member
  /// that already is one is kFailedPrecondition (add_voter on a learner promotes it, and
  /// add_learner on a voter demotes it, each with an empty or the member's known address):
  /// moving a member is change_address.
  std::future<Status> add_voter(NodeId id, std::string address);
  std::future<Status> add_learner(NodeId id, std::string address);
  /// Promotes a learner to voter.
  std::future<Status> promote(NodeId id);
  std::future<Status> remove(NodeId id);
  /// Moves member `id` to `address` on every member (a replicated record, not a membership
  /// change); done once applied here. On the leader only (kNotLeader with a hint otherwise);
  /// kInvalidArgument for a non-member or an empty address.
  std::future<Status> change_address(NodeId id, std::string address);

  /// Hands leadership to `to` (thesis §3.10); done when the request is taken by the core
  /// (watch status() to see it complete). `to` = this node cancels a pending transfer
  /// (RawNode::transfer_leadership).
  Status transfer_leadership(NodeId to);
  /// Starts an election now (e.g. for tests or to move leadership to this node).
  Status campaign();

  /// The core's state; kStopped if the node is not running.
  Result<NodeStatus> status() const;
  /// Counters and histograms.
  NodeMetrics metrics() const;
  /// The metrics in Prometheus' text format, labelled with the node id.
  std::string prometheus_text() const;
  /// Why the node stopped on its own (a storage or state machine failure); OK otherwise.
  Status failure() const;

 private:
  struct Impl;
  explicit Node(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace skiff
