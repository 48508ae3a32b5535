// Proposals while leadership moves: what the old leader accepted but could not commit is never
// applied, the new leader commits, and followers send clients to the right place.
#include <gtest/gtest.h>

#include "support/cluster.h"

namespace skiff::test {
namespace {

TEST(LeaderChange, ProposalsDuringALeaderChange) {
  Cluster c;
  c.elect(1);
  ASSERT_TRUE(c.propose(1, "a").ok());
  c.stabilize();

  // "b" reaches node 2 only; then the leader is cut off before any answer comes back.
  auto b = c.propose(1, "b");
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->id, (EntryId{Term{1}, Index{3}}));  // after the no-op and "a"
  EXPECT_EQ(b->forwarded_to, kNoNode);
  c.process_readies();
  ASSERT_EQ(c.deliver_matching(msg_is(MessageType::kAppend, 1, 2)), 1u);
  c.isolate(1);
  c.stabilize();
  // The old leader does not know yet: it accepts "c", which reaches nobody.
  auto old = c.propose(1, "c");
  ASSERT_TRUE(old.ok());

  // Nodes 2 and 3 elect node 2, the one holding "b" (Raft §5.4.1); the old leader steps down
  // (check-quorum).
  const auto new_leader_elected = [&] {
    auto l = c.leader();
    return l.has_value() && *l != 1 && c.node(1).role() != Role::kLeader;
  };
  ASSERT_GE(c.run_until(new_leader_elected, 100), 0) << c.tail();
  ASSERT_EQ(*c.leader(), 2u);

  // A follower refuses a proposal and names the leader.
  auto refused = c.propose(3, "x");
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), ErrorCode::kNotLeader);
  EXPECT_EQ(refused.status().leader_hint(), NodeId{2});
  // The old leader knows no leader now, and accepts nothing.
  auto refused_old = c.propose(1, "y");
  ASSERT_FALSE(refused_old.ok());
  EXPECT_EQ(refused_old.status().leader_hint(), kNoNode);

  // The new leader commits "b" (with its own no-op, Raft §5.4.2) and a new proposal "d".
  auto d = c.propose(2, "d");
  ASSERT_TRUE(d.ok());
  c.stabilize();
  EXPECT_EQ(c.applied(2), (std::vector<std::string>{"a", "b", "d"}));

  // The old leader comes back: "c" is overwritten, never applied anywhere.
  c.heal();
  c.run_ticks(20);
  for (std::uint64_t id : c.ids()) {
    EXPECT_EQ(c.applied(id), (std::vector<std::string>{"a", "b", "d"})) << "node " << id;
    EXPECT_EQ(c.stored_log(id), c.stored_log(2)) << "node " << id;
  }
  // Proposal::id tells each client the outcome: "b" and "d" took effect, "c" did not.
  EXPECT_EQ(c.committed().at(b->id.index).term, b->id.term);
  EXPECT_EQ(c.committed().at(d->id.index).term, d->id.term);
  ASSERT_TRUE(c.committed().contains(old->id.index));
  EXPECT_NE(c.committed().at(old->id.index).term, old->id.term);
}

// With Config::forward_proposals, a follower hands the proposal to the leader it knows, and
// the entry commits there.
TEST(LeaderChange, FollowerForwardsProposalsWhenConfigured) {
  Cluster c({.tweak = [](Config& cfg) { cfg.forward_proposals = true; }});
  c.elect(1);
  auto p = c.propose(3, "via 3");
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->forwarded_to, NodeId{1});
  EXPECT_EQ(p->id, EntryId{});
  c.stabilize();
  for (std::uint64_t id : c.ids()) {
    EXPECT_EQ(c.applied(id), std::vector<std::string>{"via 3"}) << "node " << id;
  }
}

}  // namespace
}  // namespace skiff::test
