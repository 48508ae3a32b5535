// Randomized stories: partitions, one-way cuts, crashes (also mid-write), restarts, message
// loss, delay, reordering and duplication, nodes ticking at different rates, and proposals,
// chosen by a seeded generator; then the faults stop and the cluster must
// recover. A stand-in until the simulator (issue 3) takes over, small enough for every CI run.
//
// Checked throughout: at most one leader per term (Raft §5.2), no two nodes apply different
// entries at one index (the Cluster helper), core invariants after every input (the helper).
// Checked at the end: a leader is elected within a bound once the network heals, a new
// proposal commits everywhere, and every entry any node ever applied is still in every log.
//
// SKIFF_SEED=<n> runs only that seed (to replay a failure); the default sweep is fixed.
// SKIFF_CHAOS_STATS=1 prints, per run, the node states after the faults and how many terms
// had a leader and entries committed: evidence that the faults really bite.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>

#include "support/cluster.h"

namespace skiff::test {
namespace {

class Chaos {
 public:
  Chaos(std::size_t size, std::uint64_t seed, bool pre_vote, bool check_quorum)
      : seed_(seed),
        rng_(seed * 0x9e3779b97f4a7c15ULL + size),
        c_(ClusterOptions{
            .size = size, .pre_vote = pre_vote, .check_quorum = check_quorum, .seed = seed}) {
    for (std::uint64_t id : c_.ids()) {
      tick_percent_[id] = 60 + static_cast<int>(next() % 41);  // clock drift: 60..100%
    }
  }

  void run(int fault_ticks) {
    c_.set_loss(0.05);
    for (int t = 0; t < fault_ticks && !::testing::Test::HasFailure(); ++t) {
      inject_fault();
      for (std::uint64_t id : c_.ids()) {
        if (c_.is_up(id) && chance(tick_percent_[id])) {
          c_.tick(id);
        }
      }
      // A few rounds, not a full stabilize: messages of different ticks interleave.
      for (int r = 0; r < 3; ++r) {
        c_.process_readies();
        disturb_network();
        c_.step_round();
        check_election_safety();
      }
    }
    if (std::getenv("SKIFF_CHAOS_STATS") != nullptr) {
      for (std::uint64_t id : c_.ids()) {
        if (c_.is_up(id)) {
          std::printf("  node %llu %s t%llu commit %llu\n", static_cast<unsigned long long>(id),
                      std::string(to_string(c_.node(id).role())).c_str(),
                      static_cast<unsigned long long>(c_.node(id).term().value),
                      static_cast<unsigned long long>(c_.node(id).commit_index().value));
        }
      }
    }
    release_all();
    recover();
  }

 private:
  std::uint64_t next() {
    std::uint64_t z = (rng_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  bool chance(int percent) { return next() % 100 < static_cast<std::uint64_t>(percent); }
  std::uint64_t pick() { return 1 + next() % c_.ids().size(); }

  std::size_t down() const {
    std::size_t n = 0;
    for (std::uint64_t id : c_.ids()) {
      n += c_.is_up(id) ? 0 : 1;
    }
    return n;
  }

  void inject_fault() {
    if (chance(3)) {
      c_.isolate(pick());
    }
    if (chance(2)) {
      std::vector<std::vector<std::uint64_t>> halves(2);
      for (std::uint64_t id : c_.ids()) {
        halves[next() % 2].push_back(id);
      }
      c_.partition(halves);
    }
    if (chance(2)) {
      c_.cut_one_way(pick(), pick());
    }
    if (chance(4)) {
      c_.heal();
    }
    // Crashes keep a majority up so that progress stays possible between them.
    if (chance(2) && (down() + 1) * 2 < c_.ids().size()) {
      const std::uint64_t id = pick();
      if (c_.is_up(id)) {
        if (chance(50)) {
          c_.crash_before_persist(id);
        } else {
          c_.crash(id);
        }
      }
    }
    if (chance(5)) {
      for (std::uint64_t id : c_.ids()) {
        if (!c_.is_up(id)) {
          c_.restart(id);
          break;
        }
      }
    }
    if (chance(30)) {
      if (auto l = c_.leader()) {
        (void)c_.propose(*l, "s" + std::to_string(seed_) + "-" + std::to_string(proposals_++));
      }
    }
  }

  // Holds some messages back for a while (delay and reordering) and duplicates a few.
  void disturb_network() {
    ++round_;
    for (const Message& m : c_.take_matching([&](const Message&) { return chance(20); })) {
      held_.emplace(round_ + 1 + next() % 25, m);
    }
    for (const Message& m : c_.take_matching([&](const Message&) { return chance(2); })) {
      c_.inject(m);
      c_.inject(m);
    }
    while (!held_.empty() && held_.begin()->first <= round_) {
      c_.inject(held_.begin()->second);
      held_.erase(held_.begin());
    }
  }

  void release_all() {
    for (const auto& [due, m] : held_) {
      c_.inject(m);
    }
    held_.clear();
  }

  void check_election_safety() {
    for (std::uint64_t id : c_.ids()) {
      if (c_.is_up(id) && c_.node(id).role() == Role::kLeader) {
        auto [it, inserted] = leaders_.emplace(c_.node(id).term().value, id);
        ASSERT_EQ(it->second, id) << "two leaders in term " << it->first << " (seed " << seed_
                                  << ")\n"
                                  << c_.tail();
      }
    }
  }

  void recover() {
    if (::testing::Test::HasFailure()) {
      return;
    }
    c_.heal();
    c_.set_loss(0);
    for (std::uint64_t id : c_.ids()) {
      if (!c_.is_up(id)) {
        c_.restart(id);
      }
    }
    // Liveness: a leader emerges and a client write commits everywhere within a bound. Like
    // a client, retry a write that a leader change swallowed (Raft never promised it).
    const std::string last = "final-" + std::to_string(seed_);
    auto everyone_applied = [&] {
      for (std::uint64_t id : c_.ids()) {
        const auto applied = c_.applied(id);
        if (applied.empty() || applied.back() != last) {
          return false;
        }
      }
      return true;
    };
    int attempts = 0;
    for (; attempts < 5 && !everyone_applied(); ++attempts) {
      ASSERT_GE(c_.run_until([&] { return c_.leader().has_value(); }, 100), 0)
          << "no leader within 100 ticks (seed " << seed_ << ")\n"
          << c_.tail();
      (void)c_.propose(*c_.leader(), last);
      c_.run_until(everyone_applied, 30);
      check_election_safety();
    }
    ASSERT_TRUE(everyone_applied())
        << "write not applied everywhere after " << attempts << " attempts (seed " << seed_ << ")\n"
        << c_.tail();
    if (std::getenv("SKIFF_CHAOS_STATS") != nullptr) {
      std::printf("seed %llu: %zu terms with a leader, %zu entries committed, %d proposals\n",
                  static_cast<unsigned long long>(seed_), leaders_.size(), c_.committed().size(),
                  proposals_);
    }
    for (std::uint64_t id : c_.ids()) {
      // Nothing ever applied anywhere was lost from any log.
      const std::vector<Entry> log = c_.stored_log(id);
      for (const auto& [index, entry] : c_.committed()) {
        if (index >= c_.storage(id).first_index() && index <= c_.storage(id).last_index()) {
          EXPECT_EQ(log.at(index.value - log.front().index.value), entry)
              << "node " << id << " lost committed " << describe(entry) << " (seed " << seed_
              << ")";
        } else {
          ADD_FAILURE() << "node " << id << " log lacks committed index " << index.value
                        << " (seed " << seed_ << ")";
        }
      }
    }
  }

  std::uint64_t seed_;
  std::uint64_t rng_;
  Cluster c_;
  std::map<std::uint64_t, std::uint64_t> leaders_;  // term -> leader
  std::map<std::uint64_t, int> tick_percent_;       // node -> chance to tick per tick
  std::multimap<std::uint64_t, Message> held_;      // release round -> delayed message
  std::uint64_t round_ = 0;
  int proposals_ = 0;
};

struct ChaosParams {
  std::size_t size;
  bool pre_vote;
  bool check_quorum;
};

class ChaosTest : public ::testing::TestWithParam<ChaosParams> {};

TEST_P(ChaosTest, SafeUnderFaultsAndLiveAfterHealing) {
  const ChaosParams p = GetParam();
  const std::uint64_t only = seed_from_env(0);
  for (std::uint64_t seed = 1; seed <= 12; ++seed) {
    const std::uint64_t s = only != 0 ? only : seed;
    SCOPED_TRACE("seed " + std::to_string(s));
    Chaos(p.size, s, p.pre_vote, p.check_quorum).run(400);
    if (only != 0 || HasFailure()) {
      return;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Clusters, ChaosTest,
                         ::testing::Values(ChaosParams{3, true, true}, ChaosParams{5, true, true},
                                           ChaosParams{5, false, false},
                                           ChaosParams{5, true, false}),
                         [](const ::testing::TestParamInfo<ChaosParams>& param) {
                           return "n" + std::to_string(param.param.size) +
                                  (param.param.pre_vote ? "_prevote" : "") +
                                  (param.param.check_quorum ? "_checkquorum" : "");
                         });

}  // namespace
}  // namespace skiff::test
