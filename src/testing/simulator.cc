#include "skiff/testing/simulator.h"

#include <algorithm>
#include <limits>
#include <map>
#include <memory>
#include <set>

#include "core/str.h"
#include "skiff/conf_change.h"
#include "skiff/memory_storage.h"
#include "skiff/raw_node.h"

namespace skiff::testing {

using detail::str_cat;

namespace {

// A message on the wire, deliverable from round `due` on.
struct InFlight {
  Message m;
  std::uint64_t due = 0;
};

struct SimNode {
  MemoryStorage storage;             // the durable state: survives crashes
  std::unique_ptr<RawNode> raw;      // null while crashed
  std::unique_ptr<StateMachine> sm;  // rebuilt from the log on restart
  std::uint64_t incarnation = 0;
  Index applied;                   // last index applied by this incarnation
  std::uint64_t paused_until = 0;  // no ticks and no I/O before this round
  std::uint64_t paused_from = 0;
  std::uint32_t tick_rate = 1000;  // per mille chance to tick per round
  std::uint64_t ticks = 0;         // ticks delivered to this incarnation
};

// An operation a client is waiting for.
struct Pending {
  std::size_t op = 0;  // index into history_
  std::uint64_t node = 0;
  std::uint64_t incarnation = 0;
  EntryId id;
  std::uint64_t deadline = 0;
  // A read served through ReadIndex: its context, and its read index once confirmed.
  bool read = false;
  std::string context;
  std::optional<Index> read_index;
};

// A leadership transfer the simulator asked for and watches.
struct Transfer {
  std::uint64_t from = 0;
  std::uint64_t to = 0;
  Term term;
  std::uint64_t start_ticks = 0;  // the leader's tick count when asked
};

struct Client {
  std::uint64_t target = 1;  // the node it believes leads
  std::uint64_t seq = 0;
  std::optional<Pending> pending;
};

class Run {
 public:
  Run(const SimOptions& o, const Workload& w, Chooser& c,
      const std::function<void(std::string_view)>& on_event)
      : o_(o), workload_(w), chooser_(c), on_event_(on_event) {}

  SimReport execute();

 private:
  // --- the schedule ---
  void round(bool faults);
  void inject_faults();
  void tick_nodes();
  void run_clients();
  void drain(bool faults);
  bool quiescent_and_live();

  // --- nodes ---
  void start(std::uint64_t id);
  void crash(std::uint64_t id, bool mid_write);
  void process_ready(std::uint64_t id);
  void apply(std::uint64_t id, const Entry& e);
  void install_snapshot(std::uint64_t id, const Snapshot& snap);
  void take_snapshot(std::uint64_t id);
  void serve_reads(std::uint64_t id);
  void change_membership(std::uint64_t leader);
  void transfer_leadership(std::uint64_t leader);
  void check_transfer();
  // Whether `victim` may crash and still leave a majority of every half of the configuration
  // up (faults test safety; a dead majority only stalls).
  bool keeps_majority(std::uint64_t victim) const;
  ConfState reference_config() const;
  void decommission_removed();
  bool up(std::uint64_t id) const { return nodes_.at(id).raw != nullptr; }
  bool active(std::uint64_t id) const { return up(id) && nodes_.at(id).paused_until <= round_; }
  std::optional<std::uint64_t> leader() const;

  // --- network ---
  void send(const Message& m);
  void deliver(std::size_t index, bool faults);
  bool linked(NodeId from, NodeId to) const { return !cut_.contains({from.value, to.value}); }

  // --- clients ---
  void issue(std::size_t client);
  void resolve(Client& c, bool completed, const std::string& output);
  void fail(Client& c);
  void drop_read(Client& c);
  // Records client `k`'s call of `command` in the history and makes it the client's pending
  // operation on its target node.
  Pending& begin_operation(std::size_t k, const std::string& command);

  // --- checks ---
  void check_new_entries(std::uint64_t id, const std::vector<Entry>& ents);
  void check_election_safety(std::uint64_t id);
  void check_leader_completeness(std::uint64_t id);
  void check_durability();
  void check_final_state();
  void violation(const std::string& what);
  void event(const std::string& what) {
    if (on_event_) {
      on_event_(str_cat("r", round_, " ", what));
    }
  }
  std::uint64_t pick_node() { return 1 + chooser_.choose(total_); }
  std::uint64_t total_nodes() const {
    return o_.nodes + (o_.faults.conf_change > 0 ? o_.spares : 0);
  }
  bool holds(const SimNode& n, Index index, Term term) const;

  const SimOptions& o_;
  const Workload& workload_;
  Chooser& chooser_;
  const std::function<void(std::string_view)>& on_event_;
  const std::uint64_t total_ = total_nodes();

  std::map<std::uint64_t, SimNode> nodes_;
  std::vector<InFlight> wire_;
  std::set<std::pair<std::uint64_t, std::uint64_t>> cut_;
  std::vector<Client> clients_;
  std::vector<Operation> history_;
  std::vector<bool> failed_;  // history_[k] definitely had no effect: left out of the check
  std::uint64_t round_ = 0;
  std::uint64_t clock_ = 0;  // logical time of client events
  bool faults_ = true;       // the fault phase; false while healing

  // Checker state.
  std::map<std::uint64_t, std::uint64_t> leaders_;  // term -> leader (election safety)
  struct Seen {
    Entry entry;
    Term prev_term;
  };
  std::map<std::pair<std::uint64_t, std::uint64_t>, Seen> seen_;  // (index, term) -> entry
  std::map<Index, Entry> applied_;  // index -> the entry every node must apply there
  // index -> term of the node that first applied it: the entry was committed in that term or
  // earlier, so every leader of a later term must hold it (leader completeness).
  std::map<Index, Term> committed_by_;
  // The state machine's fingerprint after applying each index (state machine safety across
  // replicas, snapshots and restores).
  std::map<Index, std::string> state_at_;
  // The configuration of the highest configuration entry applied anywhere (committed), and
  // the highest configuration entry index stored anywhere.
  ConfState committed_conf_;
  Index committed_conf_index_;
  Index max_conf_seen_;
  std::optional<Transfer> transfer_;
  std::optional<std::pair<std::uint64_t, Term>> handover_;  // (target, term) last asked for
  std::uint64_t next_read_ = 0;
  SimReport report_;
};

// ---------------------------------------------------------------------------------------------

SimReport Run::execute() {
  ConfState members;
  for (std::uint64_t id = 1; id <= o_.nodes; ++id) {
    members.voters.push_back(NodeId{id});
  }
  committed_conf_ = members;
  const std::uint32_t spread = 1000 - std::min<std::uint32_t>(o_.faults.min_tick_rate, 1000);
  for (std::uint64_t id = 1; id <= total_; ++id) {
    SimNode& n = nodes_[id];
    if (id <= o_.nodes) {
      n.storage.set_conf_state(members);  // spares start empty, waiting to be added
    }
    n.tick_rate = std::min<std::uint32_t>(o_.faults.min_tick_rate, 1000) +
                  static_cast<std::uint32_t>(chooser_.choose(spread + 1));
    start(id);
  }
  clients_.resize(o_.clients);
  for (Client& c : clients_) {
    c.target = pick_node();
  }

  for (std::uint32_t r = 0; r < o_.fault_rounds && report_.ok(); ++r) {
    round(true);
    if (chooser_.exhausted()) {
      break;  // a fuzzer's input is used up: go straight to healing
    }
  }

  // Heal: every link, every node, no more faults, no new operations. Liveness: a leader must
  // emerge and everyone must apply what it committed in its own term, within the bound.
  if (report_.ok()) {
    event("heal");
    cut_.clear();
    for (auto& [id, n] : nodes_) {
      n.paused_until = 0;
      if (!n.raw) {
        start(id);
      }
    }
    bool live = false;
    for (std::uint32_t r = 0; r < o_.heal_rounds && report_.ok(); ++r) {
      if (!o_.pre_vote || !o_.check_quorum) {
        decommission_removed();
      }
      round(false);
      if (quiescent_and_live()) {
        live = true;
        break;
      }
    }
    if (report_.ok() && !live) {
      const auto l = leader();
      violation(str_cat(
          "liveness: ", o_.heal_rounds, " rounds after healing, ",
          l ? str_cat("leader ", *l, " has not committed to everyone") : std::string("no leader")));
    }
  }
  if (report_.ok()) {
    check_durability();
    check_final_state();
  }
  for (Client& c : clients_) {
    if (c.pending) {
      resolve(c, false, "");
    }
  }
  if (report_.ok()) {
    std::vector<Operation> history;
    for (std::size_t k = 0; k < history_.size(); ++k) {
      if (!failed_[k]) {
        history.push_back(history_[k]);
      }
    }
    const CheckResult result = check_linearizable(history, workload_.model());
    if (result.outcome == CheckOutcome::kNotLinearizable) {
      violation("linearizability: the client history has no legal order\n" + result.report);
    }
    if (result.outcome == CheckOutcome::kUnknown &&
        result.report.find("malformed") != std::string::npos) {
      violation("the simulator recorded a malformed history\n" + result.report);
    }
    report_.linearizability_unknown = result.outcome == CheckOutcome::kUnknown;
  }
  report_.rounds = round_;
  report_.leaders_elected = leaders_.size();
  report_.entries_committed = applied_.empty() ? 0 : applied_.rbegin()->first.value;
  return report_;
}

void Run::round(bool faults) {
  ++round_;
  faults_ = faults;
  if (faults) {
    inject_faults();
  }
  tick_nodes();
  if (faults) {
    run_clients();
  } else {
    for (Client& c : clients_) {
      if (c.pending && round_ > c.pending->deadline) {
        resolve(c, false, "");
      }
    }
  }
  drain(faults);
}

void Run::inject_faults() {
  const FaultOptions& f = o_.faults;
  std::size_t down = 0;
  for (const auto& [id, n] : nodes_) {
    down += n.raw ? 0 : 1;
  }
  if (chooser_.chance(f.crash)) {
    const std::uint64_t id = pick_node();
    if (up(id) && keeps_majority(id)) {
      crash(id, chooser_.chance(500));
      ++down;
    }
  }
  // Leadership churn: what makes Figure 8 and log repair reachable.
  if (chooser_.chance(f.leader_fault)) {
    if (const auto l = leader()) {
      if (chooser_.chance(500)) {
        if (keeps_majority(*l)) {
          crash(*l, chooser_.chance(500));
          ++down;
        }
      } else {
        event(str_cat("isolate leader ", *l));
        for (std::uint64_t other = 1; other <= total_; ++other) {
          if (other != *l) {
            cut_.insert({*l, other});
            cut_.insert({other, *l});
          }
        }
      }
    }
  }
  if (down > 0 && chooser_.chance(f.restart)) {
    for (auto& [id, n] : nodes_) {
      if (!n.raw) {
        start(id);
        break;
      }
    }
  }
  if (chooser_.chance(f.partition)) {
    if (chooser_.chance(500)) {
      const std::uint64_t id = pick_node();
      event(str_cat("isolate ", id));
      for (std::uint64_t other = 1; other <= total_; ++other) {
        if (other != id) {
          cut_.insert({id, other});
          cut_.insert({other, id});
        }
      }
    } else {
      std::vector<std::uint64_t> side(total_ + 1);
      std::string desc;
      for (std::uint64_t id = 1; id <= total_; ++id) {
        side[id] = chooser_.choose(2);
        desc += str_cat(side[id] == 0 ? "" : "|", id, " ");
      }
      event("split " + desc);
      for (std::uint64_t a = 1; a <= total_; ++a) {
        for (std::uint64_t b = 1; b <= total_; ++b) {
          if (side[a] != side[b]) {
            cut_.insert({a, b});
          }
        }
      }
    }
  }
  if (chooser_.chance(f.one_way_cut)) {
    const std::uint64_t a = pick_node();
    const std::uint64_t b = pick_node();
    if (a != b) {
      event(str_cat("cut ", a, "->", b));
      cut_.insert({a, b});
    }
  }
  if (chooser_.chance(f.heal) && !cut_.empty()) {
    event("heal links");
    cut_.clear();
  }
  if (chooser_.chance(f.pause)) {
    const std::uint64_t id = pick_node();
    SimNode& n = nodes_.at(id);
    if (n.raw && n.paused_until <= round_) {
      n.paused_from = round_;
      n.paused_until = round_ + 1 + chooser_.choose(std::max<std::uint32_t>(f.max_pause, 1));
      event(str_cat("pause ", id, " until r", n.paused_until));
    }
  }
  if (chooser_.chance(f.snapshot)) {
    const std::uint64_t id = pick_node();
    if (active(id)) {
      take_snapshot(id);
    }
  }
  if (chooser_.chance(f.conf_change)) {
    if (const auto l = leader(); l && active(*l)) {
      change_membership(*l);
    }
  }
  if (chooser_.chance(f.transfer)) {
    if (const auto l = leader(); l && active(*l)) {
      transfer_leadership(*l);
    }
  }
}

void Run::decommission_removed() {
  // Without pre-vote and check-quorum, a removed node that never learned of its removal
  // campaigns forever and disrupts the group (thesis §4.2.3): operators shut removed nodes
  // down, and so does the simulator, once a leader's committed configuration excludes them.
  const auto l = leader();
  if (!l) {
    return;
  }
  const NodeStatus st = nodes_.at(*l).raw->status();
  if (!st.config_committed) {
    return;
  }
  std::set<NodeId> keep;
  for (const auto* list : {&st.config.voters, &st.config.voters_outgoing, &st.config.learners,
                           &st.config.learners_next}) {
    keep.insert(list->begin(), list->end());
  }
  for (auto& [id, n] : nodes_) {
    if (n.raw && !keep.contains(NodeId{id})) {
      event(str_cat("decommission removed node ", id));
      n.raw.reset();
      n.sm.reset();
    }
  }
}

ConfState Run::reference_config() const {
  // The leader's configuration if there is one, else the last committed one.
  if (const auto l = leader()) {
    return nodes_.at(*l).raw->status().config;
  }
  return committed_conf_;
}

bool Run::keeps_majority(std::uint64_t victim) const {
  const ConfState cs = reference_config();
  for (const auto* half : {&cs.voters, &cs.voters_outgoing}) {
    if (half->empty()) {
      continue;
    }
    std::size_t alive = 0;
    for (NodeId id : *half) {
      alive += up(id.value) && id.value != victim ? 1 : 0;
    }
    if (alive < half->size() / 2 + 1) {
      return false;
    }
  }
  return true;
}

void Run::take_snapshot(std::uint64_t id) {
  SimNode& n = nodes_.at(id);
  const Index applied = n.raw->applied_index();
  if (applied != n.applied) {
    violation(str_cat("node ", id, " core says applied ", applied, " but the state machine is at ",
                      n.applied));
    return;
  }
  auto existing = n.storage.snapshot();
  if (applied == Index{0} || (existing.ok() && existing->meta.last.index >= applied)) {
    return;
  }
  const ConfState conf = n.raw->applied_conf_state();
  if (conf.voters.empty()) {
    return;  // joined with an empty log: the membership here is not known to this node
  }
  if (Status s = n.storage.create_snapshot(applied, conf, Bytes(n.sm->snapshot())); !s.ok()) {
    violation(str_cat("node ", id, " cannot snapshot at applied ", applied, ": ", s.to_string()));
    return;
  }
  // Keep a few entries sometimes, so followers just behind still get Appends.
  const std::uint64_t keep = chooser_.choose(3);
  const Index upto = applied.value > keep ? applied - keep : Index{0};
  if (Status s = n.storage.compact(upto); !s.ok()) {
    violation(str_cat("node ", id, " cannot compact to ", upto, ": ", s.to_string()));
    return;
  }
  event(str_cat("snapshot ", id, " at ", applied, ", compact to ", upto));
}

void Run::change_membership(std::uint64_t l) {
  RawNode& raw = *nodes_.at(l).raw;
  const ConfState cs = raw.status().config;
  ConfChange cc;
  if (cs.joint()) {
    if (cs.auto_leave) {
      return;  // the leader leaves by itself
    }
    // kJointExplicit: the application leaves.
  } else {
    std::set<NodeId> members(cs.voters.begin(), cs.voters.end());
    members.insert(cs.learners.begin(), cs.learners.end());
    std::vector<NodeId> outsiders;
    for (std::uint64_t id = 1; id <= total_; ++id) {
      if (!members.contains(NodeId{id})) {
        outsiders.push_back(NodeId{id});
      }
    }
    auto pick = [&](const std::vector<NodeId>& from) -> std::optional<NodeId> {
      if (from.empty()) {
        return std::nullopt;
      }
      return from[chooser_.choose(from.size())];
    };
    const std::uint64_t steps = chooser_.chance(250) ? 2 : 1;
    for (std::uint64_t k = 0; k < steps; ++k) {
      std::optional<NodeId> node;
      ConfChangeType type = ConfChangeType::kAddVoter;
      switch (chooser_.choose(6)) {
        case 0:  // add a learner
          node = pick(outsiders);
          type = ConfChangeType::kAddLearner;
          break;
        case 1:  // promote a learner
          node = pick(cs.learners);
          type = ConfChangeType::kAddVoter;
          break;
        case 2:  // add a voter directly
          node = pick(outsiders);
          type = ConfChangeType::kAddVoter;
          break;
        case 3:  // remove a voter
          node = pick(cs.voters);
          type = ConfChangeType::kRemoveNode;
          break;
        case 4:  // remove a learner
          node = pick(cs.learners);
          type = ConfChangeType::kRemoveNode;
          break;
        default:  // demote a voter
          node = pick(cs.voters);
          type = ConfChangeType::kAddLearner;
          break;
      }
      if (node) {
        cc.changes.push_back(ConfChangeSingle{type, *node});
      }
    }
    if (cc.changes.empty()) {
      return;
    }
    const std::uint64_t t = chooser_.choose(4);
    cc.transition = t == 0   ? ConfChangeTransition::kJointAuto
                    : t == 1 ? ConfChangeTransition::kJointExplicit
                             : ConfChangeTransition::kAuto;
  }
  auto p = raw.propose_conf_change(cc);
  event(str_cat("conf change at ", l, ": ", describe(cc), " from ", describe(cs), " -> ",
                p.ok() ? describe(p->id) : p.status().to_string()));
}

void Run::transfer_leadership(std::uint64_t l) {
  SimNode& n = nodes_.at(l);
  const ConfState cs = n.raw->status().config;
  std::vector<NodeId> voters = cs.voters;
  voters.insert(voters.end(), cs.voters_outgoing.begin(), cs.voters_outgoing.end());
  const NodeId to = voters[chooser_.choose(voters.size())];
  const Status s = n.raw->transfer_leadership(to);
  event(str_cat("transfer ", l, " -> ", to, ": ", s.to_string()));
  if (s.ok() && to.value != l) {
    transfer_ = Transfer{l, to.value, n.raw->term(), n.ticks};
    handover_ = std::make_pair(to.value, n.raw->term());
  }
}

void Run::check_transfer() {
  // Thesis §3.10 / PITFALLS #17: a transfer completes or is abandoned within an election
  // timeout of the leader's clock.
  if (!transfer_) {
    return;
  }
  const SimNode& n = nodes_.at(transfer_->from);
  if (!n.raw || n.raw->role() != Role::kLeader || n.raw->term() != transfer_->term) {
    transfer_.reset();
    return;
  }
  if (n.raw->status().transfer_target != NodeId{transfer_->to}) {
    transfer_.reset();
    return;
  }
  if (n.ticks > transfer_->start_ticks + o_.election_tick) {
    violation(str_cat("transfer: leader ", transfer_->from, " still hands over to ", transfer_->to,
                      " ", n.ticks - transfer_->start_ticks, " ticks later"));
  }
}

void Run::tick_nodes() {
  std::string ticked;
  for (auto& [id, n] : nodes_) {
    if (o_.lease_reads && n.raw && n.paused_until == round_ && n.paused_from > 0) {
      // With leases, the runtime promises to catch up on time missed while the process was
      // frozen before it handles anything else (Config::max_clock_drift_percent).
      const std::uint64_t missed = (round_ - n.paused_from) * n.tick_rate / 1000;
      for (std::uint64_t k = 0; k < missed; ++k) {
        n.raw->tick();
        ++n.ticks;
      }
      n.paused_from = 0;
      n.raw->check_invariants();
      event(str_cat("resume ", id, " with ", missed, " missed ticks"));
    }
    if (active(id) && chooser_.chance(n.tick_rate)) {
      n.raw->tick();
      ++n.ticks;
      n.raw->check_invariants();
      ticked += str_cat(" ", id);
    }
  }
  if (on_event_ && !ticked.empty()) {
    event("tick" + ticked);
  }
  check_transfer();
}

void Run::run_clients() {
  for (std::size_t k = 0; k < clients_.size(); ++k) {
    Client& c = clients_[k];
    if (c.pending) {
      if (round_ > c.pending->deadline) {
        resolve(c, false, "");  // timed out: the client cannot know what happened
      }
      continue;
    }
    if (chooser_.chance(o_.client_rate)) {
      issue(k);
    }
  }
}

void Run::drain(bool faults) {
  // Interleave Ready handling and deliveries in a chosen order until nothing is due. Bounded:
  // every delivery consumes a message and the core answers each with finitely many.
  for (int step = 0; step < 100000 && report_.ok(); ++step) {
    std::vector<std::uint64_t> ready;
    for (auto& [id, n] : nodes_) {
      if (active(id) && n.raw->has_ready()) {
        ready.push_back(id);
      }
    }
    std::vector<std::size_t> due;
    for (std::size_t k = 0; k < wire_.size(); ++k) {
      const std::uint64_t to = wire_[k].m.to.value;
      if (wire_[k].due <= round_ && (!up(to) || nodes_.at(to).paused_until <= round_)) {
        due.push_back(k);
      }
    }
    if (ready.empty() && due.empty()) {
      return;
    }
    const std::uint64_t k = chooser_.choose(ready.size() + due.size());
    if (k < ready.size()) {
      const std::uint64_t id = ready[k];
      if (faults && chooser_.chance(o_.faults.crash / 4)) {
        crash(id, true);
      } else {
        process_ready(id);
      }
    } else {
      deliver(due[k - ready.size()], faults);
    }
  }
  if (report_.ok()) {
    violation("the schedule did not settle within 100000 steps in one round");
  }
}

bool Run::quiescent_and_live() {
  const auto l = leader();
  if (!l) {
    return false;
  }
  RawNode& lead = *nodes_.at(*l).raw;
  if (lead.commit_index() != lead.last_index()) {
    return false;
  }
  // Members of the leader's configuration must all catch up; nodes it removed need not.
  const ConfState cs = lead.status().config;
  std::set<NodeId> members(cs.voters.begin(), cs.voters.end());
  for (const auto* list : {&cs.learners, &cs.voters_outgoing, &cs.learners_next}) {
    members.insert(list->begin(), list->end());
  }
  for (const auto& [id, n] : nodes_) {
    if (!members.contains(NodeId{id})) {
      continue;
    }
    if (!n.raw || n.applied != lead.commit_index() || n.raw->leader() != NodeId{*l}) {
      return false;
    }
  }
  for (const Client& c : clients_) {
    if (c.pending) {
      return false;
    }
  }
  return true;
}

// ---------------------------------------------------------------------------------------------
// Nodes

void Run::start(std::uint64_t id) {
  SimNode& n = nodes_.at(id);
  Config config;
  config.id = NodeId{id};
  config.pre_vote = o_.pre_vote;
  config.check_quorum = o_.check_quorum;
  config.election_tick = o_.election_tick;
  config.heartbeat_tick = o_.heartbeat_tick;
  config.max_inflight_msgs = o_.max_inflight_msgs;
  config.max_size_per_msg = o_.max_size_per_msg;
  // A restarted node draws new timeouts rather than replaying its previous life's.
  config.seed = o_.seed * 1000003 + n.incarnation;
  if (o_.lease_reads) {
    config.read_mode = ReadMode::kLease;
    // The slowest clock ticks at min_tick_rate per mille of the fastest: that is the drift.
    const std::uint32_t rate = std::max<std::uint32_t>(o_.faults.min_tick_rate, 1);
    config.max_clock_drift_percent = (100000 + rate - 1) / rate - 100 + 1;
  }
  // A node restarts from its snapshot (if any) and replays the log after it.
  auto snap = n.storage.snapshot();
  if (!snap.ok()) {
    violation(str_cat("node ", id, " cannot read its snapshot: ", snap.status().to_string()));
    return;
  }
  config.applied = snap->meta.last.index;
  auto raw = RawNode::create(config, n.storage);
  if (!raw.ok()) {
    violation(str_cat("node ", id, " cannot restart from its storage: ", raw.status().to_string()));
    return;
  }
  n.raw = std::make_unique<RawNode>(std::move(raw).value());
  n.sm = workload_.new_state_machine();
  n.applied = Index{0};
  if (!snap->empty()) {
    n.sm->restore(snap->data.view());
    n.applied = snap->meta.last.index;
    auto it = state_at_.find(n.applied);
    if (it != state_at_.end() && it->second != n.sm->fingerprint()) {
      violation(str_cat("node ", id, " restored its snapshot at ", n.applied, " to state ",
                        n.sm->fingerprint(), " but replicas had ", it->second));
    }
  }
  n.paused_until = 0;
  n.paused_from = 0;
  n.ticks = 0;
  ++n.incarnation;
  event(str_cat("start ", id, " (incarnation ", n.incarnation, ")"));
}

void Run::crash(std::uint64_t id, bool mid_write) {
  SimNode& n = nodes_.at(id);
  if (mid_write && n.raw->has_ready()) {
    // The Ready's messages may leave before its write; the write itself is lost.
    auto rd = n.raw->ready();
    if (rd.ok()) {
      for (const Message& m : rd->messages) {
        send(m);
      }
    }
  }
  event(str_cat("crash ", id, mid_write ? " mid-write" : ""));
  n.raw.reset();
  n.sm.reset();
  ++report_.crashes;
  for (Client& c : clients_) {
    if (c.pending && c.pending->node == id) {
      if (c.pending->read) {
        drop_read(c);
      } else {
        resolve(c, false, "");
      }
    }
  }
  check_durability();
}

void Run::process_ready(std::uint64_t id) {
  SimNode& n = nodes_.at(id);
  auto rd = n.raw->ready();
  if (!rd.ok()) {
    violation(str_cat("node ", id, ": ", rd.status().to_string()));
    return;
  }
  for (const Message& m : rd->messages) {
    send(m);
  }
  // The Storage contract's atomic write of a whole Ready (skiff/storage.h).
  if (Status s = n.storage.save(WriteBatch::from(*rd)); !s.ok()) {
    violation(str_cat("node ", id, " handed out a Ready its storage refused: ", s.to_string()));
    return;
  }
  check_new_entries(id, rd->entries);
  for (const Message& m : rd->persisted_messages) {
    send(m);
  }
  if (rd->snapshot) {
    install_snapshot(id, *rd->snapshot);
  }
  for (const Entry& e : rd->committed_entries) {
    apply(id, e);
  }
  for (const ReadState& rs : rd->read_states) {
    for (Client& c : clients_) {
      if (c.pending && c.pending->read && c.pending->node == id &&
          c.pending->incarnation == n.incarnation && c.pending->context == rs.context.view()) {
        c.pending->read_index = rs.index;
        event(str_cat("read ", c.pending->context, " at ", id, " confirmed at index ", rs.index));
      }
    }
  }
  serve_reads(id);
  if (Status s = n.raw->advance(*rd); !s.ok()) {
    violation(str_cat("node ", id, ": ", s.to_string()));
  }
  n.raw->check_invariants();
  if (rd->soft_state && rd->soft_state->role == Role::kLeader) {
    check_election_safety(id);
    check_leader_completeness(id);
    if (handover_ && handover_->first == id && n.raw->term() == handover_->second.next()) {
      ++report_.transfers;
      handover_.reset();
    }
  }
}

void Run::install_snapshot(std::uint64_t id, const Snapshot& snap) {
  SimNode& n = nodes_.at(id);
  const Index index = snap.meta.last.index;
  if (index <= n.applied) {
    violation(str_cat("node ", id, " got ", describe(snap), " but has applied ", n.applied));
    return;
  }
  // The snapshot stands for committed entries: they must be the ones applied elsewhere.
  auto it = applied_.find(index);
  if (it != applied_.end() && it->second.term != snap.meta.last.term) {
    violation(str_cat("state machine safety: node ", id, " installs ", describe(snap), " where ",
                      describe(it->second), " was applied"));
    return;
  }
  n.sm->restore(snap.data.view());
  n.applied = index;
  ++report_.snapshots_installed;
  event(str_cat("node ", id, " installs ", describe(snap)));
  auto [st, inserted] = state_at_.emplace(index, n.sm->fingerprint());
  if (!inserted && st->second != n.sm->fingerprint()) {
    violation(str_cat("state machine safety: node ", id, " installed ", describe(snap),
                      " with state ", n.sm->fingerprint(), " but replicas had ", st->second));
  }
  for (Client& c : clients_) {
    // A proposal of this node now covered by the snapshot: its answer is unknown here.
    if (c.pending && !c.pending->read && c.pending->node == id && c.pending->id.index <= index) {
      resolve(c, false, "");
    }
  }
}

void Run::serve_reads(std::uint64_t id) {
  SimNode& n = nodes_.at(id);
  for (Client& c : clients_) {
    if (c.pending && c.pending->read && c.pending->node == id &&
        c.pending->incarnation == n.incarnation && c.pending->read_index &&
        *c.pending->read_index <= n.applied) {
      ++report_.reads_served;
      resolve(c, true, n.sm->read(history_[c.pending->op].input));
    }
  }
}

void Run::apply(std::uint64_t id, const Entry& e) {
  SimNode& n = nodes_.at(id);
  // State machine safety: one entry per index across all nodes, applied in order.
  if (e.index != n.applied + 1) {
    violation(str_cat("node ", id, " applies ", describe(e), " after ", n.applied));
    return;
  }
  n.applied = e.index;
  auto [it, inserted] = applied_.emplace(e.index, e);
  if (inserted) {
    committed_by_.emplace(e.index, n.raw->term());
  }
  if (!inserted && !(it->second == e)) {
    violation(str_cat("state machine safety: node ", id, " applies ", describe(e), " where ",
                      describe(it->second), " was applied"));
    return;
  }
  std::string response;
  if (e.type == EntryType::kNormal) {
    response = n.sm->apply(e.data.view());
  } else if (e.type == EntryType::kConfChange && inserted) {
    auto cc = decode_conf_change_entry(e.data.view());
    if (!cc.ok()) {
      violation(str_cat("node ", id, " applies an undecodable ", describe(e), ": ",
                        cc.status().to_string()));
      return;
    }
    ++report_.conf_changes;
    if (e.index > committed_conf_index_) {
      committed_conf_ = cc->result;
      committed_conf_index_ = e.index;
    }
  }
  auto [st, first] = state_at_.emplace(e.index, n.sm->fingerprint());
  if (!first && st->second != n.sm->fingerprint()) {
    violation(str_cat("state machine safety: node ", id, " reached state ", n.sm->fingerprint(),
                      " at ", e.index, " where replicas had ", st->second));
    return;
  }
  for (Client& c : clients_) {
    if (c.pending && !c.pending->read && c.pending->node == id &&
        c.pending->incarnation == n.incarnation && c.pending->id.index == e.index) {
      if (c.pending->id.term == e.term) {
        resolve(c, true, response);
      } else {
        fail(c);  // another entry took the slot: this one can never commit
      }
    }
  }
}

std::optional<std::uint64_t> Run::leader() const {
  std::optional<std::uint64_t> best;
  for (const auto& [id, n] : nodes_) {
    if (n.raw && n.raw->role() == Role::kLeader &&
        (!best || n.raw->term() > nodes_.at(*best).raw->term())) {
      best = id;
    }
  }
  return best;
}

// ---------------------------------------------------------------------------------------------
// Network

void Run::send(const Message& m) {
  InFlight f{m, round_};
  if (faults_ && chooser_.chance(o_.faults.delay)) {
    f.due += 1 + chooser_.choose(std::max<std::uint32_t>(o_.faults.max_delay, 1));
  }
  wire_.push_back(std::move(f));
}

void Run::deliver(std::size_t index, bool faults) {
  InFlight f = std::move(wire_[index]);
  wire_[index] = std::move(wire_.back());
  wire_.pop_back();
  const std::uint64_t to = f.m.to.value;
  const bool is_snapshot = f.m.type == MessageType::kSnapshot;
  if (!up(to) || !linked(f.m.from, f.m.to) || (faults && chooser_.chance(o_.faults.loss))) {
    ++report_.messages_dropped;
    if (on_event_) {
      event("drop " + describe(f.m));
    }
    if (is_snapshot && up(f.m.from.value)) {
      // The transport learns that the stream failed and tells the sender.
      nodes_.at(f.m.from.value).raw->report_snapshot(f.m.to, f.m.snapshot.meta.last.index, false);
    }
    return;
  }
  if (faults && chooser_.chance(o_.faults.duplicate)) {
    wire_.push_back(InFlight{f.m, round_ + chooser_.choose(3)});
  }
  ++report_.messages_delivered;
  if (on_event_) {
    event("deliver " + describe(f.m));
  }
  SimNode& n = nodes_.at(to);
  if (Status s = n.raw->step(f.m); !s.ok()) {
    // Only well-formed messages from correct cores travel here: any refusal is a bug.
    violation(str_cat("node ", to, " refused ", describe(f.m), ": ", s.to_string()));
    return;
  }
  n.raw->check_invariants();
  if (is_snapshot && up(f.m.from.value)) {
    nodes_.at(f.m.from.value).raw->report_snapshot(f.m.to, f.m.snapshot.meta.last.index, true);
  }
  if (n.raw->role() == Role::kLeader) {
    check_election_safety(to);
  }
}

// ---------------------------------------------------------------------------------------------
// Clients

void Run::issue(std::size_t k) {
  Client& c = clients_[k];
  const std::string command = workload_.next_command(chooser_, k, c.seq++);
  if (!active(c.target)) {
    c.target = pick_node();  // connection refused: nothing happened
    return;
  }
  if (workload_.is_read(command)) {
    // Reads go through ReadIndex (thesis §6.4), forwarded by followers, never the log.
    const std::string context = str_cat("read-", ++next_read_);
    const Status s = nodes_.at(c.target).raw->read_index(Bytes(context));
    if (!s.ok()) {
      c.target = pick_node();
      return;
    }
    Pending& p = begin_operation(k, command);
    p.read = true;
    p.context = context;
    event(str_cat("client ", k, " -> ", c.target, ": ", command, " as ", context));
    return;
  }
  auto p = nodes_.at(c.target).raw->propose(Bytes(command));
  if (!p.ok()) {
    if (p.status().code() == ErrorCode::kNotLeader) {
      c.target = p.status().leader_hint().value;
    } else {
      c.target = pick_node();
    }
    return;  // refused before anything was appended: not part of the history
  }
  begin_operation(k, command).id = p->id;
  event(str_cat("client ", k, " -> ", c.target, ": ", command, " at ", describe(p->id)));
}

void Run::resolve(Client& c, bool completed, const std::string& output) {
  if (!completed && c.pending->read) {
    drop_read(c);
    return;
  }
  Operation& op = history_[c.pending->op];
  op.completed = completed;
  op.output = output;
  op.ret = ++clock_;
  if (completed) {
    ++report_.ops_completed;
  } else {
    ++report_.ops_indeterminate;
  }
  event(str_cat("client ", op.client, completed ? " <- " : " gave up on ", op.input,
                completed ? ": " + output : std::string()));
  c.pending.reset();
}

Pending& Run::begin_operation(std::size_t k, const std::string& command) {
  Client& c = clients_[k];
  Operation op;
  op.client = k;
  op.input = command;
  op.call = ++clock_;
  history_.push_back(op);
  failed_.push_back(false);
  Pending p;
  p.op = history_.size() - 1;
  p.node = c.target;
  p.incarnation = nodes_.at(c.target).incarnation;
  p.deadline = round_ + o_.client_timeout;
  c.pending = p;
  return *c.pending;
}

void Run::drop_read(Client& c) {
  // A read that never answered had no effect: leave it out of the history.
  failed_[c.pending->op] = true;
  event(str_cat("client ", history_[c.pending->op].client, " gives up on ", c.pending->context));
  c.pending.reset();
}

void Run::fail(Client& c) {
  failed_[c.pending->op] = true;
  ++report_.ops_failed;
  event(str_cat("client ", history_[c.pending->op].client, " learns its entry was overwritten"));
  c.pending.reset();
}

// ---------------------------------------------------------------------------------------------
// Checks

void Run::violation(const std::string& what) {
  event("VIOLATION " + what);
  report_.violations.push_back(str_cat("round ", round_, ": ", what));
}

void Run::check_new_entries(std::uint64_t id, const std::vector<Entry>& ents) {
  // Log matching (Raft §5.3), inductively: an (index, term) pair always names the same entry
  // with the same predecessor term, so logs sharing an entry share the prefix before it.
  const MemoryStorage& s = nodes_.at(id).storage;
  for (const Entry& e : ents) {
    if (e.type == EntryType::kConfChange) {
      max_conf_seen_ = std::max(max_conf_seen_, e.index);
    }
    auto prev = s.term(e.index - 1);
    if (!prev.ok()) {
      violation(str_cat("node ", id, " stored ", describe(e), " without a predecessor"));
      return;
    }
    auto [it, inserted] =
        seen_.emplace(std::make_pair(e.index.value, e.term.value), Seen{e, *prev});
    if (!inserted && (!(it->second.entry == e) || it->second.prev_term != *prev)) {
      violation(str_cat("log matching: node ", id, " stored ", describe(e), " after term ", *prev,
                        " but elsewhere it is ", describe(it->second.entry), " after term ",
                        it->second.prev_term));
      return;
    }
  }
}

void Run::check_election_safety(std::uint64_t id) {
  // Raft §5.2: at most one leader per term.
  const RawNode& r = *nodes_.at(id).raw;
  auto [it, inserted] = leaders_.emplace(r.term().value, id);
  if (it->second != id) {
    violation(
        str_cat("election safety: nodes ", it->second, " and ", id, " both lead term ", r.term()));
  }
}

void Run::check_leader_completeness(std::uint64_t id) {
  // Raft §5.4: a new leader holds every entry committed in an earlier term. Called once its
  // first Ready as leader is persisted: that Ready carried its whole unpersisted tail, so
  // storage is its log. (A deposed leader can still handle its first Ready late, after later
  // terms committed more: only entries committed before its term are owed.)
  const RawNode& r = *nodes_.at(id).raw;
  const MemoryStorage& s = nodes_.at(id).storage;
  for (const auto& [index, e] : applied_) {
    if (committed_by_.at(index) >= r.term() || index < s.first_index()) {
      continue;  // committed later, or covered by this leader's snapshot
    }
    auto t = s.term(index);
    if (!t.ok() || *t != e.term) {
      violation(str_cat("leader completeness: leader ", id, " of term ", r.term(), " has ",
                        t.ok() ? describe(EntryId{*t, index}) : t.status().to_string(), " where ",
                        describe(e), " was applied"));
      return;
    }
  }
}

bool Run::holds(const SimNode& n, Index index, Term term) const {
  if (index < n.storage.first_index()) {
    return true;  // compacted: the node's snapshot covers it
  }
  auto t = n.storage.term(index);
  return t.ok() && *t == term;
}

void Run::check_durability() {
  // Anything applied anywhere was committed, so it is on the disks of a majority of the
  // configuration that committed it, through any crash. The last configuration applied
  // anywhere (C) was committed by a majority of C (one change at a time), which then held
  // every entry up to C's index; entries after it are checked against C only while no later
  // configuration entry exists, since configurations take effect when appended (thesis §4.1).
  const Index limit = max_conf_seen_ > committed_conf_index_
                          ? committed_conf_index_
                          : Index{std::numeric_limits<std::uint64_t>::max()};
  for (const auto& [index, e] : applied_) {
    if (index > limit) {
      break;
    }
    for (const auto* half : {&committed_conf_.voters, &committed_conf_.voters_outgoing}) {
      if (half->empty()) {
        continue;
      }
      std::size_t copies = 0;
      for (NodeId id : *half) {
        copies += holds(nodes_.at(id.value), index, e.term) ? 1 : 0;
      }
      if (copies < half->size() / 2 + 1) {
        violation(str_cat("durability: applied ", describe(e), " is on ", copies, " disks of ",
                          describe(committed_conf_), ", fewer than a majority"));
        return;
      }
    }
  }
}

void Run::check_final_state() {
  if (const auto l = leader()) {
    // Thesis §4.3: a joint configuration with auto-leave does not outlive its commit.
    const NodeStatus st = nodes_.at(*l).raw->status();
    if (st.config.joint() && st.config.auto_leave && st.config_committed) {
      violation(str_cat("membership: leader ", *l, " stays in the committed joint configuration ",
                        describe(st.config)));
    }
  }
  // Replicas that applied the same prefix hold the same state.
  std::map<Index, std::pair<std::uint64_t, std::string>> by_applied;
  for (const auto& [id, n] : nodes_) {
    if (!n.raw) {
      continue;
    }
    const std::string fp = n.sm->fingerprint();
    auto [it, inserted] = by_applied.emplace(n.applied, std::make_pair(id, fp));
    if (!inserted && it->second.second != fp) {
      violation(str_cat("replicas ", it->second.first, " and ", id, " applied up to ", n.applied,
                        " but differ: ", it->second.second, " vs ", fp));
    }
  }
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Public entry points

SimReport simulate_with(const SimOptions& options, const Workload& workload, Chooser& chooser,
                        const std::function<void(std::string_view)>& on_event) {
  Run run(options, workload, chooser, on_event);
  return run.execute();
}

SimReport simulate(const SimOptions& options, const Workload& workload, bool record,
                   const std::function<void(std::string_view)>& on_event) {
  SeededChooser seeded(options.seed);
  if (!record) {
    return simulate_with(options, workload, seeded, on_event);
  }
  RecordingChooser recording(seeded);
  SimReport report = simulate_with(options, workload, recording, on_event);
  report.trace = recording.recorded();
  return report;
}

std::string SimReport::summary() const {
  return str_cat(rounds, " rounds, ", leaders_elected, " terms led, ", entries_committed,
                 " entries, ", crashes, " crashes, ", messages_delivered, " delivered, ",
                 messages_dropped, " dropped, ops ", ops_completed, " ok/", ops_indeterminate,
                 " unknown/", ops_failed, " failed, ", reads_served, " reads, ",
                 snapshots_installed, " snapshots, ", conf_changes, " conf changes, ", transfers,
                 " transfers", linearizability_unknown ? " (lin. unknown)" : "");
}

}  // namespace skiff::testing
