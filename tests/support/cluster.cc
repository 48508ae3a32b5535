#include "support/cluster.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <limits>
#include <string_view>

namespace skiff::test {
namespace {

// The entries load_log and append_msg make: payload "index/term".
Entry make_entry(std::uint64_t index, std::uint64_t term) {
  Entry e;
  e.index = Index{index};
  e.term = Term{term};
  e.data = Bytes(std::to_string(index) + "/" + std::to_string(term));
  return e;
}

// A state machine in a snapshot's data: each payload as "<length>:<bytes>".
Bytes encode_state(const std::vector<std::string>& payloads) {
  std::string out;
  for (const std::string& p : payloads) {
    out += std::to_string(p.size());
    out += ':';
    out += p;
  }
  return Bytes(std::move(out));
}

std::vector<std::string> decode_state(std::string_view data) {
  std::vector<std::string> out;
  while (!data.empty()) {
    const std::size_t colon = data.find(':');
    if (colon == std::string_view::npos) {
      ADD_FAILURE() << "malformed snapshot data";
      break;
    }
    const std::size_t len = std::strtoull(std::string(data.substr(0, colon)).c_str(), nullptr, 10);
    out.emplace_back(data.substr(colon + 1, len));
    data.remove_prefix(std::min(data.size(), colon + 1 + len));
  }
  return out;
}

std::vector<NodeId> node_ids(const std::vector<std::uint64_t>& ids) {
  std::vector<NodeId> out;
  for (std::uint64_t id : ids) {
    out.push_back(NodeId{id});
  }
  return out;
}

}  // namespace

Message snapshot_msg(std::uint64_t from, std::uint64_t to, Term term, const Snapshot& snapshot) {
  Message m;
  m.type = MessageType::kSnapshot;
  m.from = NodeId{from};
  m.to = NodeId{to};
  m.term = term;
  m.snapshot = snapshot;
  return m;
}

ConfChangeSingle add_voter(std::uint64_t id) {
  return ConfChangeSingle{ConfChangeType::kAddVoter, NodeId{id}};
}

ConfChangeSingle add_learner(std::uint64_t id) {
  return ConfChangeSingle{ConfChangeType::kAddLearner, NodeId{id}};
}

ConfChangeSingle remove_node(std::uint64_t id) {
  return ConfChangeSingle{ConfChangeType::kRemoveNode, NodeId{id}};
}

ConfChange conf_change(std::vector<ConfChangeSingle> changes, ConfChangeTransition transition) {
  ConfChange cc;
  cc.changes = std::move(changes);
  cc.transition = transition;
  return cc;
}

ConfState members(const std::vector<std::uint64_t>& voters,
                  const std::vector<std::uint64_t>& learners) {
  ConfState cs;
  cs.voters = node_ids(voters);
  cs.learners = node_ids(learners);
  return cs;
}

std::uint64_t seed_from_env(std::uint64_t fallback) {
  const char* env = std::getenv("SKIFF_SEED");
  return env != nullptr ? std::strtoull(env, nullptr, 10) : fallback;
}

std::function<bool(const Message&)> msg_is(MessageType type, std::uint64_t from, std::uint64_t to) {
  return [=](const Message& m) {
    return m.type == type && (from == 0 || m.from == NodeId{from}) &&
           (to == 0 || m.to == NodeId{to});
  };
}

Message append_msg(std::uint64_t from, std::uint64_t to, std::uint64_t term,
                   std::uint64_t prev_index, std::uint64_t prev_term,
                   const std::vector<std::uint64_t>& entry_terms, std::uint64_t commit) {
  Message m;
  m.type = MessageType::kAppend;
  m.from = NodeId{from};
  m.to = NodeId{to};
  m.term = Term{term};
  m.index = Index{prev_index};
  m.log_term = Term{prev_term};
  m.commit = Index{commit};
  for (std::size_t k = 0; k < entry_terms.size(); ++k) {
    m.entries.push_back(make_entry(prev_index + 1 + k, entry_terms[k]));
  }
  return m;
}

Cluster::Cluster(ClusterOptions options) : options_(std::move(options)), rng_state_(options_.seed) {
  for (std::uint64_t id = 1; id <= options_.size; ++id) {
    conf_state_.voters.push_back(NodeId{id});
  }
  for (std::uint64_t id = 1; id <= options_.size; ++id) {
    members_[id].storage.set_conf_state(conf_state_);
    restart(id);
  }
}

Config Cluster::config(std::uint64_t id) const {
  Config c;
  c.id = NodeId{id};
  c.election_tick = options_.election_tick;
  c.heartbeat_tick = options_.heartbeat_tick;
  c.pre_vote = options_.pre_vote;
  c.check_quorum = options_.check_quorum;
  c.seed = options_.seed;
  if (options_.tweak) {
    options_.tweak(c);
  }
  return c;
}

RawNode& Cluster::node(std::uint64_t id) {
  auto& m = members_.at(id);
  if (!m.node) {
    ADD_FAILURE() << "node " << id << " is crashed";
    std::abort();
  }
  return *m.node;
}

MemoryStorage& Cluster::storage(std::uint64_t id) {
  return members_.at(id).storage;
}

std::vector<std::uint64_t> Cluster::ids() const {
  std::vector<std::uint64_t> out;
  for (const auto& [id, m] : members_) {
    out.push_back(id);
  }
  return out;
}

bool Cluster::is_up(std::uint64_t id) const {
  return members_.at(id).node != nullptr;
}

void Cluster::add_node(std::uint64_t id) {
  if (members_.contains(id)) {
    ADD_FAILURE() << "node " << id << " already exists";
    return;
  }
  members_[id];  // MemoryStorage(): no members, nothing logged
  restart(id);
}

void Cluster::pause(std::uint64_t id) {
  members_.at(id).paused = true;
}

void Cluster::resume(std::uint64_t id) {
  members_.at(id).paused = false;
}

bool Cluster::is_paused(std::uint64_t id) const {
  return members_.at(id).paused;
}

void Cluster::isolate(std::uint64_t id) {
  for (std::uint64_t other : ids()) {
    if (other != id) {
      cut(id, other);
    }
  }
}

void Cluster::cut(std::uint64_t a, std::uint64_t b) {
  cut_links_.insert({a, b});
  cut_links_.insert({b, a});
}

void Cluster::cut_one_way(std::uint64_t from, std::uint64_t to) {
  cut_links_.insert({from, to});
}

void Cluster::partition(const std::vector<std::vector<std::uint64_t>>& groups) {
  std::map<std::uint64_t, std::size_t> group_of;
  for (std::size_t g = 0; g < groups.size(); ++g) {
    for (std::uint64_t id : groups[g]) {
      group_of[id] = g;
    }
  }
  for (std::uint64_t a : ids()) {
    for (std::uint64_t b : ids()) {
      if (a != b && group_of.count(a) && group_of.count(b) && group_of[a] != group_of[b]) {
        cut_links_.insert({a, b});
      }
    }
  }
}

void Cluster::heal() {
  cut_links_.clear();
}

bool Cluster::linked(NodeId from, NodeId to) const {
  return !cut_links_.contains({from.value, to.value});
}

double Cluster::next_random() {
  // SplitMix64: deterministic from the options' seed.
  std::uint64_t z = (rng_state_ += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  z ^= z >> 31;
  return static_cast<double>(z >> 11) / static_cast<double>(1ULL << 53);
}

void Cluster::tick(std::uint64_t id, int n) {
  for (int k = 0; k < n; ++k) {
    node(id).tick();
  }
}

Status Cluster::campaign(std::uint64_t id) {
  return node(id).campaign();
}

Result<Proposal> Cluster::propose(std::uint64_t id, const std::string& data) {
  return node(id).propose(Bytes(data));
}

Result<Proposal> Cluster::propose_conf_change(std::uint64_t id, const ConfChange& change) {
  return node(id).propose_conf_change(change);
}

Status Cluster::read_index(std::uint64_t id, const std::string& context) {
  return node(id).read_index(Bytes(context));
}

Status Cluster::transfer_leadership(std::uint64_t id, std::uint64_t to) {
  return node(id).transfer_leadership(NodeId{to});
}

void Cluster::send(const Message& m) {
  if (send_observer_) {
    send_observer_(m);
  }
  in_flight_.push_back(m);
}

std::size_t Cluster::deliver_matching(const std::function<bool(const Message&)>& pred) {
  std::size_t delivered = 0;
  // Messages to a paused node wait on the network.
  auto ready_to_arrive = [&](const Message& m) {
    return pred(m) && !(members_.contains(m.to.value) && members_.at(m.to.value).paused);
  };
  for (const Message& m : take_matching(ready_to_arrive)) {
    delivered += deliver(m) ? 1 : 0;
  }
  return delivered;
}

std::size_t Cluster::deliver_to(std::uint64_t id) {
  return deliver_matching([id](const Message& m) { return m.to == NodeId{id}; });
}

std::vector<Message> Cluster::take_matching(const std::function<bool(const Message&)>& pred) {
  std::vector<Message> taken;
  std::deque<Message> kept;
  for (Message& m : in_flight_) {
    if (pred(m)) {
      taken.push_back(std::move(m));
    } else {
      kept.push_back(std::move(m));
    }
  }
  in_flight_.swap(kept);
  return taken;
}

std::size_t Cluster::count_in_flight(const std::function<bool(const Message&)>& pred) const {
  return static_cast<std::size_t>(std::count_if(in_flight_.begin(), in_flight_.end(), pred));
}

bool Cluster::process_ready(std::uint64_t id) {
  if (!begin_ready(id)) {
    return false;
  }
  finish_ready(id);
  return true;
}

bool Cluster::process_readies() {
  bool progress = false;
  for (std::uint64_t id : ids()) {
    progress |= process_ready(id);
  }
  return progress;
}

std::optional<Ready> Cluster::begin_ready(std::uint64_t id) {
  Member& member = members_.at(id);
  if (!member.node || member.paused || !member.node->has_ready()) {
    return std::nullopt;
  }
  auto rd = member.node->ready();
  EXPECT_TRUE(rd.ok()) << rd.status().to_string();
  if (!rd.ok()) {
    return std::nullopt;
  }
  // Step 1 of the Ready contract: these may leave before the write.
  for (const Message& m : rd->messages) {
    send(m);
  }
  member.begun = std::move(rd).value();
  return member.begun;
}

void Cluster::persist(Member& member, const Ready& rd) {
  if (rd.snapshot) {
    // Ready contract step 2: the snapshot replaces the stored log, then the entries follow it.
    Status s = member.storage.apply_snapshot(*rd.snapshot);
    EXPECT_TRUE(s.ok()) << s.to_string();
  }
  Status s = member.storage.append(rd.entries);
  EXPECT_TRUE(s.ok()) << s.to_string();
  if (rd.hard_state) {
    member.storage.set_hard_state(*rd.hard_state);
  }
}

void Cluster::restore(std::uint64_t id, Member& member, const Snapshot& snap) {
  member.snapshot_payloads = decode_state(snap.data.view());
  member.applied.clear();
  member.last_applied = snap.meta.last.index;
  // State machine safety across snapshots: the snapshot holds exactly the normal entries
  // applied up to its index, when every one of them was seen applied.
  std::vector<std::string> expected;
  bool complete = true;
  for (Index i{1}; i <= snap.meta.last.index && complete; ++i) {
    auto it = committed_.find(i);
    complete = it != committed_.end();
    if (complete && it->second.type == EntryType::kNormal) {
      expected.emplace_back(it->second.data.view());
    }
  }
  if (complete) {
    EXPECT_EQ(member.snapshot_payloads, expected)
        << "node " << id << " restores " << describe(snap) << " unlike the applied entries";
  }
}

void Cluster::apply(std::uint64_t id, Member& member, const Ready& rd) {
  if (rd.snapshot) {
    restore(id, member, *rd.snapshot);
  }
  for (const Entry& e : rd.committed_entries) {
    auto [it, inserted] = committed_.emplace(e.index, e);
    EXPECT_EQ(it->second, e) << "state machine safety: node " << id << " applies " << describe(e)
                             << " where another node applied " << describe(it->second) << "\n"
                             << tail();
    EXPECT_EQ(member.last_applied + 1, e.index) << "node " << id << " applies out of order";
    member.applied.push_back(e);
    member.last_applied = e.index;
  }
  member.read_states.insert(member.read_states.end(), rd.read_states.begin(), rd.read_states.end());
}

void Cluster::finish_ready(std::uint64_t id) {
  Member& member = members_.at(id);
  if (!member.begun) {
    ADD_FAILURE() << "node " << id << " has no begun Ready";
    return;
  }
  const Ready rd = std::move(*member.begun);
  member.begun.reset();
  persist(member, rd);  // step 2
  for (const Message& m : rd.persisted_messages) {
    send(m);  // step 3
  }
  apply(id, member, rd);                // step 4
  Status s = member.node->advance(rd);  // step 5
  EXPECT_TRUE(s.ok()) << s.to_string();
  member.node->check_invariants();
}

bool Cluster::deliver(const Message& m) {
  const bool arrived = arrive(m);
  if (m.type == MessageType::kSnapshot) {
    // The transport tells the leader how the snapshot went (RawNode::report_snapshot).
    auto sender = members_.find(m.from.value);
    if (sender != members_.end() && sender->second.node) {
      sender->second.node->report_snapshot(m.to, m.snapshot.meta.last.index, arrived);
      sender->second.node->check_invariants();
    }
  }
  return arrived;
}

bool Cluster::arrive(const Message& m) {
  const std::uint64_t to = m.to.value;
  if (!members_.contains(to) || !members_.at(to).node || !linked(m.from, m.to)) {
    return false;
  }
  if (drop_filter_ && drop_filter_(m)) {
    return false;
  }
  if (loss_ > 0 && next_random() < loss_) {
    return false;
  }
  transcript_.push_back(describe(m));
  Status s = members_.at(to).node->step(m);
  EXPECT_TRUE(s.ok()) << s.to_string() << " for " << describe(m);
  members_.at(to).node->check_invariants();
  return true;
}

bool Cluster::step_round() {
  bool progress = process_readies();
  std::deque<Message> batch;
  batch.swap(in_flight_);
  for (const Message& m : batch) {
    if (members_.contains(m.to.value) && members_.at(m.to.value).paused) {
      in_flight_.push_back(m);  // waits for the paused node
      continue;
    }
    progress = true;
    deliver(m);
  }
  return progress;
}

void Cluster::stabilize(int max_rounds) {
  for (int round = 0; round < max_rounds; ++round) {
    if (!step_round()) {
      return;
    }
  }
  ADD_FAILURE() << "cluster did not stabilize in " << max_rounds << " rounds\n" << tail();
}

void Cluster::run_ticks(int n) {
  for (int k = 0; k < n; ++k) {
    for (std::uint64_t id : ids()) {
      if (is_up(id) && !is_paused(id)) {
        node(id).tick();
      }
    }
    stabilize();
  }
}

int Cluster::run_until(const std::function<bool()>& done, int max_ticks) {
  for (int k = 0; k <= max_ticks; ++k) {
    if (done()) {
      return k;
    }
    if (k < max_ticks) {
      run_ticks(1);
    }
  }
  return -1;
}

void Cluster::elect(std::uint64_t id) {
  Status s = campaign(id);
  ASSERT_TRUE(s.ok()) << s.to_string();
  stabilize();
  ASSERT_EQ(node(id).role(), Role::kLeader) << tail();
}

void Cluster::crash(std::uint64_t id) {
  Member& m = members_.at(id);
  m.node.reset();
  m.begun.reset();
  m.snapshot_payloads.clear();
  m.applied.clear();
  m.last_applied = Index{};
  m.read_states.clear();
}

void Cluster::crash_before_persist(std::uint64_t id) {
  // The Ready's `messages` may leave before the write: the crash cannot take them back.
  (void)begin_ready(id);
  crash(id);
}

void Cluster::crash_after_persist(std::uint64_t id) {
  Member& member = members_.at(id);
  if (!member.begun) {
    (void)begin_ready(id);
  }
  if (member.begun) {
    persist(member, *member.begun);
  }
  crash(id);
}

void Cluster::restart(std::uint64_t id) {
  Member& m = members_.at(id);
  m.begun.reset();
  m.snapshot_payloads.clear();
  m.applied.clear();
  m.last_applied = Index{};
  m.read_states.clear();
  Config cfg = config(id);
  auto snap = m.storage.snapshot();
  ASSERT_TRUE(snap.ok()) << snap.status().to_string();
  if (!snap->empty()) {
    // Restore the state machine from the snapshot first; the core resumes after it.
    restore(id, m, *snap);
    cfg.applied = snap->meta.last.index;
  }
  auto node = RawNode::create(cfg, m.storage);
  ASSERT_TRUE(node.ok()) << node.status().to_string();
  m.node = std::make_unique<RawNode>(std::move(node).value());
}

std::optional<std::uint64_t> Cluster::leader() const {
  std::optional<std::uint64_t> found;
  Term best;
  for (const auto& [id, m] : members_) {
    if (m.node && m.node->role() == Role::kLeader) {
      if (!found || m.node->term() > best) {
        found = id;
        best = m.node->term();
      }
    }
  }
  return found;
}

void Cluster::load_log(std::uint64_t id, const std::vector<std::uint64_t>& terms,
                       std::uint64_t commit, std::uint64_t term) {
  crash(id);
  Member& m = members_.at(id);
  m.storage = MemoryStorage(conf_state_);
  std::vector<Entry> entries;
  for (std::size_t k = 0; k < terms.size(); ++k) {
    entries.push_back(make_entry(k + 1, terms[k]));
  }
  Status s = m.storage.append(entries);
  ASSERT_TRUE(s.ok()) << s.to_string();
  const Term last = terms.empty() ? Term{0} : Term{terms.back()};
  m.storage.set_hard_state(HardState{std::max(last, Term{term}), kNoNode, Index{commit}});
  restart(id);
}

std::vector<Entry> Cluster::stored_log(std::uint64_t id) const {
  const MemoryStorage& s = members_.at(id).storage;
  auto ents =
      s.entries(s.first_index(), s.last_index() + 1, std::numeric_limits<std::uint64_t>::max());
  EXPECT_TRUE(ents.ok()) << ents.status().to_string();
  return ents.ok() ? *ents : std::vector<Entry>{};
}

std::vector<std::uint64_t> Cluster::log_terms(std::uint64_t id) const {
  std::vector<std::uint64_t> out;
  for (const Entry& e : stored_log(id)) {
    out.push_back(e.term.value);
  }
  return out;
}

std::uint64_t Cluster::uncommitted_bytes(std::uint64_t id) const {
  const Index commit = members_.at(id).storage.hard_state().commit;
  std::uint64_t bytes = 0;
  for (const Entry& e : stored_log(id)) {
    if (e.index > commit) {
      bytes += e.data.size();
    }
  }
  return bytes;
}

Index Cluster::take_snapshot(std::uint64_t id) {
  Member& m = members_.at(id);
  RawNode& n = node(id);
  const Index at = n.applied_index();
  EXPECT_EQ(m.last_applied, at) << "node " << id << ": state machine and core disagree";
  Status s = m.storage.create_snapshot(at, n.applied_conf_state(), encode_state(applied(id)));
  EXPECT_TRUE(s.ok()) << s.to_string();
  return at;
}

void Cluster::compact(std::uint64_t id, Index index) {
  Status s = members_.at(id).storage.compact(index);
  EXPECT_TRUE(s.ok()) << s.to_string();
}

Index Cluster::snapshot_and_compact(std::uint64_t id) {
  const Index at = take_snapshot(id);
  compact(id, at);
  return at;
}

const std::vector<ReadState>& Cluster::read_states(std::uint64_t id) const {
  return members_.at(id).read_states;
}

void Cluster::clear_read_states(std::uint64_t id) {
  members_.at(id).read_states.clear();
}

std::vector<std::string> Cluster::applied(std::uint64_t id) const {
  std::vector<std::string> out = members_.at(id).snapshot_payloads;
  for (const Entry& e : members_.at(id).applied) {
    if (e.type == EntryType::kNormal) {
      out.emplace_back(e.data.view());
    }
  }
  return out;
}

std::string Cluster::tail(std::size_t n) const {
  std::string out;
  const std::size_t from = transcript_.size() > n ? transcript_.size() - n : 0;
  for (std::size_t k = from; k < transcript_.size(); ++k) {
    out += transcript_[k];
    out += '\n';
  }
  return out;
}

}  // namespace skiff::test
