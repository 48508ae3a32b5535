// Flow control: the in-flight window per follower (Config::max_inflight_msgs), the size of one
// Append (Config::max_size_per_msg), recovery of a stalled window (PITFALLS #16), and the bound
// on uncommitted bytes across leadership changes (Config::max_uncommitted_size, PITFALLS #14).
#include <gtest/gtest.h>

#include <algorithm>

#include "support/cluster.h"

namespace skiff::test {
namespace {

// A window of two Appends, each carrying one entry.
ClusterOptions window_of_two() {
  return ClusterOptions{.tweak = [](Config& cfg) {
    cfg.max_inflight_msgs = 2;
    cfg.max_size_per_msg = 1;  // smaller than any entry: one entry per Append
  }};
}

bool carries_entries_to(const Message& m, std::uint64_t to) {
  return m.type == MessageType::kAppend && m.to == NodeId{to} && !m.entries.empty();
}

// Appends to `to` that the leader has not heard back about: on the wire, or answered with the
// answer still on the wire.
std::size_t unacknowledged(const Cluster& c, std::uint64_t to) {
  return c.count_in_flight([to](const Message& m) {
    return carries_entries_to(m, to) ||
           (m.type == MessageType::kAppendResponse && m.from == NodeId{to} && !m.reject);
  });
}

// Ten proposals at once: the leader never has more than two unacknowledged Appends to a
// follower, each with one entry, and the ten entries arrive in five windows.
TEST(FlowControl, NoMoreThanTheWindowOfAppendsInFlight) {
  Cluster c(window_of_two());
  c.elect(1);
  c.stabilize();  // both followers answered: they are in the replicate state
  for (int k = 0; k < 10; ++k) {
    ASSERT_TRUE(c.propose(1, "e" + std::to_string(k)).ok());
  }

  std::size_t most = 0;
  int windows = 0;  // leader Readies that sent entries to node 2
  int appends = 0;
  c.set_send_observer([&](const Message& m) {
    if (carries_entries_to(m, 2)) {
      EXPECT_EQ(m.entries.size(), 1u) << describe(m);
      ++appends;
    }
  });
  for (int round = 0; round < 100; ++round) {
    const int before = appends;
    const bool busy = c.process_readies();
    windows += appends > before ? 1 : 0;
    for (std::uint64_t id : {2, 3}) {
      most = std::max(most, unacknowledged(c, id));
      ASSERT_LE(unacknowledged(c, id), 2u) << "round " << round << "\n" << c.tail();
    }
    if (!busy && c.in_flight().empty()) {
      break;
    }
    c.deliver_matching([](const Message&) { return true; });
  }
  EXPECT_EQ(most, 2u);  // the window was used, not just respected
  EXPECT_EQ(appends, 10);
  EXPECT_EQ(windows, 5) << c.tail();
  for (std::uint64_t id : c.ids()) {
    EXPECT_EQ(c.applied(id).size(), 10u) << "node " << id;
  }
}

// PITFALLS #16, first part: one Append is lost and no new proposal comes to push the follower
// along. The lost entry reaches it anyway, and replication goes on in the replicate state.
TEST(FlowControl, Pitfall16_LostAppendIsRecoveredWithoutNewProposals) {
  Cluster c(window_of_two());
  c.elect(1);
  c.stabilize();

  // Two proposals fill node 3's window; the Append carrying the second one is lost.
  auto a = c.propose(1, "a");
  auto b = c.propose(1, "b");
  ASSERT_TRUE(a.ok() && b.ok());
  int dropped = 0;
  c.set_drop_filter([&](const Message& m) {
    const bool drop =
        dropped == 0 && carries_entries_to(m, 3) && m.entries.back().index == b->id.index;
    dropped += drop ? 1 : 0;
    return drop;
  });
  c.run_ticks(3);  // heartbeats flow; nobody proposes
  ASSERT_EQ(dropped, 1);
  EXPECT_EQ(c.applied(3), (std::vector<std::string>{"a", "b"})) << c.tail();

  // Back to normal: the next proposal reaches node 3 in exactly one Append.
  int appends_to_3 = 0;
  c.set_send_observer([&](const Message& m) { appends_to_3 += carries_entries_to(m, 3) ? 1 : 0; });
  ASSERT_TRUE(c.propose(1, "c").ok());
  c.stabilize();
  EXPECT_EQ(appends_to_3, 1);
  EXPECT_EQ(c.applied(3), (std::vector<std::string>{"a", "b", "c"}));
}

// PITFALLS #16: the whole window is lost. The leader may send nothing more to that follower
// until an answer frees the window; a heartbeat answer must do it, or replication stalls for
// good.
TEST(FlowControl, Pitfall16_LostFullWindowIsUnstuckByAHeartbeat) {
  Cluster c(window_of_two());
  c.elect(1);
  c.stabilize();

  c.set_drop_filter([](const Message& m) { return carries_entries_to(m, 3); });
  ASSERT_TRUE(c.propose(1, "a").ok());
  ASSERT_TRUE(c.propose(1, "b").ok());
  c.stabilize();
  c.set_drop_filter(nullptr);
  ASSERT_EQ(c.applied(2), (std::vector<std::string>{"a", "b"}));  // committed with node 2
  ASSERT_TRUE(c.applied(3).empty());

  // Without ticks, nothing moves: the window to node 3 is full.
  c.stabilize();
  EXPECT_TRUE(c.applied(3).empty());

  // One heartbeat round trip frees the window and node 3 catches up.
  c.tick(1);
  c.stabilize();
  EXPECT_EQ(c.applied(3), (std::vector<std::string>{"a", "b"})) << c.tail();
}

// PITFALLS #14 (etcd-io/raft #11): leadership flaps between nodes 1 and 2, which can talk to
// each other but whose Appends never reach nodes 3, 4 and 5 (votes do). Every leader accepts
// large proposals that can never commit. A leader counts the uncommitted entries it inherits,
// so across all the flaps the uncommitted bytes stay within the limit.
TEST(FlowControl, Pitfall14_UncommittedBytesStayBoundedAcrossLeadershipFlaps) {
  const std::uint64_t limit = 1000;
  Cluster c({.size = 5, .pre_vote = false, .check_quorum = false, .tweak = [&](Config& cfg) {
               cfg.max_uncommitted_size = limit;
             }});
  auto replication_to_minority_only = [](const Message& m) {
    const bool from_pair = m.from == NodeId{1} || m.from == NodeId{2};
    const bool to_pair = m.to == NodeId{1} || m.to == NodeId{2};
    const bool replication =
        m.type == MessageType::kAppend || m.type == MessageType::kAppendResponse ||
        m.type == MessageType::kHeartbeat || m.type == MessageType::kHeartbeatResponse;
    return replication && from_pair != to_pair;
  };
  c.set_drop_filter(replication_to_minority_only);

  const std::string big(300, 'x');
  int accepted = 0;
  for (int flap = 0; flap < 6; ++flap) {
    const std::uint64_t leader = flap % 2 == 0 ? 1 : 2;
    c.elect(leader);
    ASSERT_EQ(c.node(leader).term(), Term{static_cast<std::uint64_t>(flap + 1)});
    for (int k = 0; k < 10; ++k) {
      auto p = c.propose(leader, big);
      if (!p.ok()) {
        EXPECT_EQ(p.status().code(), ErrorCode::kProposalDropped);
        break;
      }
      ++accepted;
    }
    c.stabilize();
    for (std::uint64_t id : c.ids()) {
      EXPECT_LE(c.uncommitted_bytes(id), limit) << "flap " << flap << " node " << id;
    }
  }
  // 300 + 300 + 300 fit the first leader's limit of 1000; every later leader inherits 900
  // uncommitted bytes and refuses the next 300. Without counting across terms, each of the
  // six leaders would have taken three.
  EXPECT_EQ(accepted, 3);
  EXPECT_EQ(c.uncommitted_bytes(1), 900u);
  EXPECT_EQ(c.uncommitted_bytes(2), 900u);
  EXPECT_EQ(c.node(1).commit_index(), Index{0});

  // Once the majority hears the leader again, everything commits and the budget frees up.
  c.set_drop_filter(nullptr);
  c.run_ticks(1);
  for (std::uint64_t id : c.ids()) {
    EXPECT_EQ(c.applied(id), (std::vector<std::string>{big, big, big})) << "node " << id;
    EXPECT_EQ(c.uncommitted_bytes(id), 0u) << "node " << id;
  }
  EXPECT_TRUE(c.propose(2, big).ok());
}

// A single proposal larger than the whole limit is accepted when nothing else is pending, so
// a follower can hold more uncommitted bytes than the limit. When it becomes leader it still
// takes office: its no-op carries no payload and is never refused; further proposals are
// refused until the inherited tail commits.
TEST(FlowControl, LeaderInheritingMoreThanTheLimitStillTakesOffice) {
  const std::uint64_t limit = 100;
  Cluster c({.size = 3, .tweak = [&](Config& cfg) { cfg.max_uncommitted_size = limit; }});
  c.elect(1);
  // Node 2 receives the oversized entry, but node 1's commit never reaches anyone.
  c.isolate(3);
  c.set_drop_filter([](const Message& m) { return m.to == NodeId{1}; });
  const std::string huge(150, 'h');
  ASSERT_TRUE(c.propose(1, huge).ok());
  c.stabilize();
  ASSERT_EQ(c.uncommitted_bytes(2), 150u);
  c.crash(1);
  c.set_drop_filter(nullptr);
  c.heal();

  // Node 3 lacks the entry, so only node 2 can win (Raft §5.4.1).
  ASSERT_GE(c.run_until([&] { return c.leader() == std::optional<std::uint64_t>(2); }, 100), 0)
      << c.tail();
  // The inherited 150 bytes commit with the new leader's no-op, freeing the budget.
  c.stabilize();
  EXPECT_EQ(c.applied(2), std::vector<std::string>{huge});
  EXPECT_TRUE(c.propose(2, std::string(60, 'y')).ok());
}

}  // namespace
}  // namespace skiff::test
