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
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "skiff/config.h"
#include "skiff/memory_storage.h"
#include "skiff/raw_node.h"

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

class Cluster {
 public:
  explicit Cluster(ClusterOptions options = {});

  RawNode& node(std::uint64_t id);
  MemoryStorage& storage(std::uint64_t id);
  std::vector<std::uint64_t> ids() const;
  bool is_up(std::uint64_t id) const;

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

  // --- inputs ---
  void tick(std::uint64_t id, int n = 1);
  Status campaign(std::uint64_t id);
  Result<Proposal> propose(std::uint64_t id, const std::string& data);

  // --- driving ---
  /// Handles the pending Ready of `id` per the Ready contract. Returns false if none.
  bool process_ready(std::uint64_t id);
  /// Handles every node's Ready once, then delivers the messages in flight at that moment.
  /// Returns whether anything happened.
  bool step_round();
  /// Repeats step_round until nothing happens (at most `max_rounds`; failing the test beyond).
  void stabilize(int max_rounds = 10000);
  /// `n` times: tick every live node once, then stabilize.
  void run_ticks(int n);
  /// Campaigns on `id`, stabilizes and expects `id` to lead.
  void elect(std::uint64_t id);

  // --- crashes ---
  /// Forgets the node's volatile state; its storage survives. Messages to it are dropped.
  void crash(std::uint64_t id);
  /// Takes the node's Ready, sends only what may leave before persistence, and crashes before
  /// the write completes: models a crash mid-fsync (PITFALLS #8, #9, #10).
  void crash_before_persist(std::uint64_t id);
  /// Rebuilds the node from its storage with a fresh (empty) state machine.
  void restart(std::uint64_t id);

  // --- observations ---
  /// The unique live leader of the highest term, if there is one.
  std::optional<std::uint64_t> leader() const;
  /// Payloads of the normal entries `id` applied since its last (re)start, in order.
  std::vector<std::string> applied(std::uint64_t id) const;
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
    std::vector<Entry> applied;
  };
  Config make_config(std::uint64_t id) const;
  void send(const Message& m);
  bool deliver(const Message& m);
  bool linked(NodeId from, NodeId to) const;
  double next_random();

  ClusterOptions options_;
  std::map<std::uint64_t, Member> members_;
  std::deque<Message> in_flight_;
  std::set<std::pair<std::uint64_t, std::uint64_t>> cut_links_;
  double loss_ = 0;
  std::function<bool(const Message&)> drop_filter_;
  std::uint64_t rng_state_;
  std::vector<std::string> transcript_;
  std::map<Index, Entry> committed_;
};

}  // namespace skiff::test
