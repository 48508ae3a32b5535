// An in-process cluster of RawNodes for scenario tests: a test reads like a story.
//
//   Cluster c({.size = 3});
//   c.elect(1);
//   c.isolate(1);
//   c.propose(1, "x");          // accepted by the old leader, never committed
//   c.run_ticks(30);            // 2 and 3 elect a new leader
//   c.heal();
//   c.stabilize();
//
// Messages travel through a FIFO network with per-link cuts, seeded random loss and a drop
// filter. Each node's MemoryStorage is its durable state: crash() forgets the RawNode (and
// its unpersisted Ready), restart() rebuilds it from storage. Every applied entry is checked
// against every other node's entry at the same index (state machine safety).
//
// Step-by-step stories take the wheel instead of stabilize(): process_readies() runs every
// node's Ready without delivering, deliver_matching()/deliver_to() deliver chosen messages,
// take_matching() holds messages back, inject() puts them (or forged ones) on the wire, and
// begin_ready()/finish_ready() split one Ready around a slow disk write.
//
// Snapshots, membership and reads: each node's state machine is the list of normal payloads
// it applied; a snapshot's data is that list, encoded. A Ready's snapshot is installed in
// storage (before its entries) and restores the state machine; take_snapshot()/compact() do
// what an application does to bound its log. Snapshot messages are reported back to their
// sender with report_snapshot(): ok when delivered, failed when a cut, the loss, the drop
// filter or a down recipient lost them. add_node() starts a node with empty storage that
// joins through propose_conf_change(). pause() stops a node (no Readies, no ticks, messages
// to it wait on the network) as a stopped process would.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <ostream>
#include <set>
#include <string>
#include <vector>

#include "skiff/conf_change.h"
#include "skiff/config.h"
#include "skiff/memory_storage.h"
#include "skiff/raw_node.h"

namespace skiff {

// GoogleTest printers, so that failures show values in their text form (DESIGN.md §5.5).
inline void PrintTo(const Entry& e, std::ostream* os) {
  *os << describe(e);
}
inline void PrintTo(const Message& m, std::ostream* os) {
  *os << describe(m);
}
inline void PrintTo(const HardState& hs, std::ostream* os) {
  *os << describe(hs);
}
inline void PrintTo(const EntryId& id, std::ostream* os) {
  *os << describe(id);
}
inline void PrintTo(NodeId id, std::ostream* os) {
  *os << "node " << id.value;
}
inline void PrintTo(Term t, std::ostream* os) {
  *os << "t" << t.value;
}
inline void PrintTo(Index i, std::ostream* os) {
  *os << "index " << i.value;
}
inline void PrintTo(Role r, std::ostream* os) {
  *os << to_string(r);
}
inline void PrintTo(ErrorCode code, std::ostream* os) {
  *os << to_string(code);
}
inline void PrintTo(const ConfState& cs, std::ostream* os) {
  *os << describe(cs);
}
inline void PrintTo(const Snapshot& s, std::ostream* os) {
  *os << describe(s);
}
inline void PrintTo(ReplicationState s, std::ostream* os) {
  *os << to_string(s);
}
inline void PrintTo(const ReadState& rs, std::ostream* os) {
  *os << "read " << rs.index.value << " ctx " << rs.context.view();
}

}  // namespace skiff

namespace skiff::test {

struct ClusterOptions {
  std::size_t size = 3;
  bool pre_vote = true;
  bool check_quorum = true;
  std::uint32_t election_tick = 10;
  std::uint32_t heartbeat_tick = 1;
  std::uint64_t seed = 1;
  /// Adjusts each node's config before it is created (and on restart).
  std::function<void(Config&)> tweak;
};

/// The seed of a randomized test: the environment variable SKIFF_SEED if set (to replay a
/// failure or explore), else `fallback`. Tests print it in their failure messages.
std::uint64_t seed_from_env(std::uint64_t fallback);

/// A predicate for the manual delivery functions: messages of `type`, from `from` (0: anyone)
/// to `to` (0: anyone). E.g. c.deliver_matching(msg_is(MessageType::kVote, 1, 3)).
std::function<bool(const Message&)> msg_is(MessageType type, std::uint64_t from = 0,
                                           std::uint64_t to = 0);

/// A hand-made Append from `from` to `to` in `term`, after entry (prev_index, prev_term),
/// carrying entries with the given terms and load_log's payloads ("index/term").
Message append_msg(std::uint64_t from, std::uint64_t to, std::uint64_t term,
                   std::uint64_t prev_index, std::uint64_t prev_term,
                   const std::vector<std::uint64_t>& entry_terms, std::uint64_t commit = 0);

/// A Snapshot message from `from` to `to` in `term` carrying `snapshot` (a delayed or
/// duplicated one, for instance).
Message snapshot_msg(std::uint64_t from, std::uint64_t to, Term term, const Snapshot& snapshot);

/// One-node membership changes, for ConfChange::changes.
ConfChangeSingle add_voter(std::uint64_t id);
ConfChangeSingle add_learner(std::uint64_t id);
ConfChangeSingle remove_node(std::uint64_t id);
/// A membership change request: conf_change({add_voter(4), remove_node(1)}).
ConfChange conf_change(std::vector<ConfChangeSingle> changes,
                       ConfChangeTransition transition = ConfChangeTransition::kAuto);
/// A membership of voters (and learners): voters {1, 2, 3} learners {4}.
ConfState members(const std::vector<std::uint64_t>& voters,
                  const std::vector<std::uint64_t>& learners = {});

/// Raft as the paper describes it: no pre-vote, no check-quorum, so that a campaign goes
/// straight to a vote and nobody ignores it.
inline ClusterOptions plain_raft(std::size_t size = 3) {
  return ClusterOptions{.size = size, .pre_vote = false, .check_quorum = false};
}

class Cluster {
 public:
  explicit Cluster(ClusterOptions options = {});

  RawNode& node(std::uint64_t id);
  MemoryStorage& storage(std::uint64_t id);
  std::vector<std::uint64_t> ids() const;
  bool is_up(std::uint64_t id) const;
  /// The configuration restart() creates the node with (before Config::applied is set).
  Config config(std::uint64_t id) const;
  /// Starts a new node `id` with empty storage (no members): it waits to be added to the
  /// group by a membership change, and learns the log (or a snapshot) from the leader.
  void add_node(std::uint64_t id);

  // --- network ---
  /// Cuts every link to and from `id`.
  void isolate(std::uint64_t id);
  /// Cuts both directions between `a` and `b`.
  void cut(std::uint64_t a, std::uint64_t b);
  /// Cuts only messages from `from` to `to`.
  void cut_one_way(std::uint64_t from, std::uint64_t to);
  /// Only nodes in the same group can talk.
  void partition(const std::vector<std::vector<std::uint64_t>>& groups);
  /// Restores every link (loss and the drop filter stay).
  void heal();
  /// Drops each message with probability `p` (seeded by the options' seed).
  void set_loss(double p) { loss_ = p; }
  /// Drops every message for which `f` returns true (until cleared with nullptr).
  void set_drop_filter(std::function<bool(const Message&)> f) { drop_filter_ = std::move(f); }
  /// Messages sent and not yet delivered.
  const std::deque<Message>& in_flight() const { return in_flight_; }
  /// Discards every message in flight.
  void clear_in_flight() { in_flight_.clear(); }
  /// Calls `f` with every message a node sends, before cuts, loss or the drop filter.
  void set_send_observer(std::function<void(const Message&)> f) { send_observer_ = std::move(f); }

  // --- manual delivery ---
  /// Delivers, in FIFO order, every message in flight for which `pred` holds; the others stay
  /// in flight. Cuts, loss and the drop filter still apply. Returns how many arrived.
  std::size_t deliver_matching(const std::function<bool(const Message&)>& pred);
  /// Delivers every message in flight addressed to `id`.
  std::size_t deliver_to(std::uint64_t id);
  /// Takes the matching messages off the network and returns them (to hold or inspect).
  std::vector<Message> take_matching(const std::function<bool(const Message&)>& pred);
  /// Puts `m` on the network as if its sender had sent it (a held message, or a forged one).
  void inject(const Message& m) { in_flight_.push_back(m); }
  /// How many messages in flight match `pred`.
  std::size_t count_in_flight(const std::function<bool(const Message&)>& pred) const;

  // --- inputs ---
  void tick(std::uint64_t id, int n = 1);
  Status campaign(std::uint64_t id);
  Result<Proposal> propose(std::uint64_t id, const std::string& data);
  Result<Proposal> propose_conf_change(std::uint64_t id, const ConfChange& change);
  /// RawNode::read_index with `context`; the ReadStates show up in read_states(id).
  Status read_index(std::uint64_t id, const std::string& context);
  Status transfer_leadership(std::uint64_t id, std::uint64_t to);

  // --- driving ---
  /// Handles the pending Ready of `id` per the Ready contract. Returns false if none.
  bool process_ready(std::uint64_t id);
  /// Handles every node's pending Ready once, delivering nothing.
  bool process_readies();
  /// Takes the pending Ready of `id` and sends only its `messages`; the write, the persisted
  /// messages and the applying wait for finish_ready (a slow disk). Returns a copy, or nullopt
  /// if there was no Ready.
  std::optional<Ready> begin_ready(std::uint64_t id);
  /// Completes the Ready begun on `id`: persist, send persisted_messages, apply, advance.
  void finish_ready(std::uint64_t id);
  /// Handles every node's Ready once, then delivers the messages in flight at that moment.
  /// Returns whether anything happened.
  bool step_round();
  /// Repeats step_round until nothing happens (at most `max_rounds`; failing the test beyond).
  void stabilize(int max_rounds = 10000);
  /// `n` times: tick every live node once, then stabilize.
  void run_ticks(int n);
  /// Campaigns on `id`, stabilizes and expects `id` to lead.
  void elect(std::uint64_t id);
  /// Like run_ticks(1), repeated until `done()` holds, at most `max_ticks` times. Returns the
  /// number of ticks it took (0 if it already held), or -1 if it never did.
  int run_until(const std::function<bool()>& done, int max_ticks);

  // --- crashes ---
  /// Forgets the node's volatile state; its storage survives. Messages to it are dropped.
  void crash(std::uint64_t id);
  /// Takes the node's Ready, sends only what may leave before persistence, and crashes before
  /// the write completes: models a crash mid-fsync (PITFALLS #8, #9, #10).
  void crash_before_persist(std::uint64_t id);
  /// Completes the write of the node's pending (or begun) Ready, then crashes before sending
  /// its persisted_messages or applying: the disk has it, nobody heard of it.
  void crash_after_persist(std::uint64_t id);
  /// Rebuilds the node from its storage with a fresh state machine: restored from the stored
  /// snapshot if there is one (Config::applied is then its index), else empty.
  void restart(std::uint64_t id);

  // --- pauses ---
  /// Stops the node like a stopped process: it takes no Readies and no ticks from run_ticks,
  /// and messages to it stay on the network until resume(). Its clock is not advanced:
  /// after resume(), the test hands it the ticks it missed with tick(id, n).
  void pause(std::uint64_t id);
  void resume(std::uint64_t id);
  bool is_paused(std::uint64_t id) const;

  // --- snapshots ---
  /// Takes a snapshot of the node's state machine at its applied index, with the membership in
  /// effect there (MemoryStorage::create_snapshot), keeping the log. Returns the index.
  Index take_snapshot(std::uint64_t id);
  /// Drops the node's stored entries up to `index` (MemoryStorage::compact).
  void compact(std::uint64_t id, Index index);
  /// take_snapshot, then compact everything it covers. Returns the snapshot's index.
  Index snapshot_and_compact(std::uint64_t id);

  // --- logs ---
  /// Replaces the node's durable state with a log whose entry k (from 1) has term `terms[k-1]`
  /// and payload "k/term", a hard state in term max(`term`, last entry's term) with no vote,
  /// committed at `commit`, and restarts it: a node that lived through earlier terms.
  void load_log(std::uint64_t id, const std::vector<std::uint64_t>& terms, std::uint64_t commit = 0,
                std::uint64_t term = 0);
  /// The node's durable log.
  std::vector<Entry> stored_log(std::uint64_t id) const;
  /// Terms of the node's durable log in index order: {1, 1, 2} for [1/1 2/1 3/2].
  std::vector<std::uint64_t> log_terms(std::uint64_t id) const;
  /// Payload bytes of the node's durable entries above its durable commit index.
  std::uint64_t uncommitted_bytes(std::uint64_t id) const;

  // --- observations ---
  /// The unique live leader of the highest term, if there is one.
  std::optional<std::uint64_t> leader() const;
  /// The node's state machine: payloads of the normal entries it holds, in order: those of the
  /// snapshot it was last restored from (at restart or from a leader), then those it applied
  /// since. Without snapshots: what it applied since its last (re)start.
  std::vector<std::string> applied(std::uint64_t id) const;
  /// ReadStates the node handed out since its last (re)start, in order.
  const std::vector<ReadState>& read_states(std::uint64_t id) const;
  /// Forgets the node's recorded ReadStates.
  void clear_read_states(std::uint64_t id);
  /// Every message delivered so far, described (for failure messages).
  const std::vector<std::string>& transcript() const { return transcript_; }
  /// The last `n` lines of the transcript, joined.
  std::string tail(std::size_t n = 40) const;
  /// Entries applied by any node, by index: checks state machine safety across nodes.
  const std::map<Index, Entry>& committed() const { return committed_; }

 private:
  struct Member {
    MemoryStorage storage;
    std::unique_ptr<RawNode> node;  // null while crashed
    // The state machine: the payloads of the snapshot it was restored from, then the entries
    // applied since. Invariant: last_applied is the index of applied.back(), or of the
    // snapshot (or the restart point) when applied is empty.
    std::vector<std::string> snapshot_payloads;
    std::vector<Entry> applied;
    Index last_applied;
    std::vector<ReadState> read_states;
    std::optional<Ready> begun;  // taken by begin_ready, not yet finished
    bool paused = false;
  };
  void send(const Message& m);
  void restore(std::uint64_t id, Member& member, const Snapshot& snap);
  void persist(Member& member, const Ready& rd);
  void apply(std::uint64_t id, Member& member, const Ready& rd);
  bool deliver(const Message& m);
  bool arrive(const Message& m);
  bool linked(NodeId from, NodeId to) const;
  double next_random();

  ClusterOptions options_;
  std::map<std::uint64_t, Member> members_;
  std::deque<Message> in_flight_;
  std::set<std::pair<std::uint64_t, std::uint64_t>> cut_links_;
  double loss_ = 0;
  std::function<bool(const Message&)> drop_filter_;
  std::function<void(const Message&)> send_observer_;
  std::uint64_t rng_state_;
  ConfState conf_state_;
  std::vector<std::string> transcript_;
  std::map<Index, Entry> committed_;
};

}  // namespace skiff::test
