#include "support/cluster.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <limits>

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

}  // namespace

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

Config Cluster::make_config(std::uint64_t id) const {
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

void Cluster::send(const Message& m) {
  if (send_observer_) {
    send_observer_(m);
  }
  in_flight_.push_back(m);
}

std::size_t Cluster::deliver_matching(const std::function<bool(const Message&)>& pred) {
  std::size_t delivered = 0;
  for (const Message& m : take_matching(pred)) {
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
  if (!member.node || !member.node->has_ready()) {
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
  Status s = member.storage.append(rd.entries);
  EXPECT_TRUE(s.ok()) << s.to_string();
  if (rd.hard_state) {
    member.storage.set_hard_state(*rd.hard_state);
  }
}

void Cluster::apply(std::uint64_t id, Member& member, const Ready& rd) {
  for (const Entry& e : rd.committed_entries) {
    auto [it, inserted] = committed_.emplace(e.index, e);
    EXPECT_EQ(it->second, e) << "state machine safety: node " << id << " applies " << describe(e)
                             << " where another node applied " << describe(it->second) << "\n"
                             << tail();
    if (!member.applied.empty()) {
      EXPECT_EQ(member.applied.back().index + 1, e.index)
          << "node " << id << " applies out of order";
    }
    member.applied.push_back(e);
  }
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
  progress |= !batch.empty();
  for (const Message& m : batch) {
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
      if (is_up(id)) {
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
  m.applied.clear();
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
  m.applied.clear();
  auto node = RawNode::create(make_config(id), m.storage);
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

std::vector<std::string> Cluster::applied(std::uint64_t id) const {
  std::vector<std::string> out;
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
