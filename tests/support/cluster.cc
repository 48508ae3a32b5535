#include "support/cluster.h"

#include <gtest/gtest.h>

#include <algorithm>

namespace skiff::test {

Cluster::Cluster(ClusterOptions options) : options_(std::move(options)), rng_state_(options_.seed) {
  ConfState cs;
  for (std::uint64_t id = 1; id <= options_.size; ++id) {
    cs.voters.push_back(NodeId{id});
  }
  for (std::uint64_t id = 1; id <= options_.size; ++id) {
    members_[id].storage.set_conf_state(cs);
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
  in_flight_.push_back(m);
}

bool Cluster::process_ready(std::uint64_t id) {
  Member& member = members_.at(id);
  if (!member.node || !member.node->has_ready()) {
    return false;
  }
  auto rd = member.node->ready();
  EXPECT_TRUE(rd.ok()) << rd.status().to_string();
  if (!rd.ok()) {
    return false;
  }
  for (const Message& m : rd->messages) {
    send(m);
  }
  Status s = member.storage.append(rd->entries);
  EXPECT_TRUE(s.ok()) << s.to_string();
  if (rd->hard_state) {
    member.storage.set_hard_state(*rd->hard_state);
  }
  for (const Message& m : rd->persisted_messages) {
    send(m);
  }
  for (const Entry& e : rd->committed_entries) {
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
  s = member.node->advance(*rd);
  EXPECT_TRUE(s.ok()) << s.to_string();
  member.node->check_invariants();
  return true;
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
  bool progress = false;
  for (std::uint64_t id : ids()) {
    progress |= process_ready(id);
  }
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

void Cluster::elect(std::uint64_t id) {
  Status s = campaign(id);
  ASSERT_TRUE(s.ok()) << s.to_string();
  stabilize();
  ASSERT_EQ(node(id).role(), Role::kLeader) << tail();
}

void Cluster::crash(std::uint64_t id) {
  Member& m = members_.at(id);
  m.node.reset();
  m.applied.clear();
}

void Cluster::crash_before_persist(std::uint64_t id) {
  Member& member = members_.at(id);
  if (member.node && member.node->has_ready()) {
    auto rd = member.node->ready();
    if (rd.ok()) {
      for (const Message& m : rd->messages) {
        send(m);  // allowed to leave before the write: the crash cannot take them back
      }
    }
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
