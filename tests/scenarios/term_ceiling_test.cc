// The term ceiling (kMaxTerm, types.h): a term no codec could follow with a campaign would
// end elections for good, since terms are persisted and only grow (Raft §5.1). A message
// above the ceiling is refused as malformed and changes nothing; a node at the ceiling
// follows a leader of that term but does not campaign past it.
#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "support/cluster.h"

namespace skiff::test {
namespace {

constexpr Term kCeiling = kMaxTerm;
// The highest term the wire codec decodes (2^63 - 1): one campaign below what it refuses.
constexpr Term kTopOfTheWire{std::numeric_limits<std::uint64_t>::max() / 2};

Message forged(MessageType type, std::uint64_t from, std::uint64_t to, Term term) {
  Message m;
  m.type = type;
  m.from = NodeId{from};
  m.to = NodeId{to};
  m.term = term;
  return m;
}

// A forged Heartbeat (or vote request) with a term above the ceiling, to a follower and to the
// leader, is refused and counted: nobody's term moves, the leader keeps leading, and when it
// is lost the others elect a successor in the next term as usual, also after restarts.
TEST(TermCeiling, MessagesAboveTheCeilingAreRefusedAndTheGroupStillElects) {
  Cluster c;
  c.elect(1);
  ASSERT_TRUE(c.propose(1, "a").ok());
  c.stabilize();
  const Term term = c.node(1).term();

  std::uint64_t refused = 0;
  for (Term t : {kTopOfTheWire, kCeiling.next()}) {
    for (const Message& m :
         {forged(MessageType::kHeartbeat, 1, 2, t), forged(MessageType::kHeartbeat, 3, 1, t),
          forged(MessageType::kAppendResponse, 2, 1, t), forged(MessageType::kPreVote, 3, 2, t),
          forged(MessageType::kVote, 3, 2, t), forged(MessageType::kTimeoutNow, 1, 2, t)}) {
      const Status s = c.node(m.to.value).step(m);
      EXPECT_EQ(s.code(), ErrorCode::kInvalidArgument) << describe(m) << ": " << s.to_string();
      ++refused;
    }
  }
  EXPECT_EQ(c.node(1).counters().messages_rejected + c.node(2).counters().messages_rejected,
            refused);
  for (std::uint64_t id : c.ids()) {
    EXPECT_EQ(c.node(id).term(), term) << "node " << id;
  }
  EXPECT_EQ(c.node(1).role(), Role::kLeader);
  EXPECT_EQ(c.node(2).leader(), NodeId{1});
  ASSERT_TRUE(c.propose(1, "b").ok());
  c.stabilize();
  EXPECT_EQ(c.applied(2), (std::vector<std::string>{"a", "b"}));

  c.crash(1);
  c.restart(2);
  ASSERT_GE(c.run_until([&] { return c.leader().has_value(); }, 100), 0) << c.tail();
  const std::uint64_t next = *c.leader();
  EXPECT_EQ(c.node(next).term(), term.next());
  c.restart(1);
  ASSERT_TRUE(c.propose(next, "c").ok());
  c.stabilize();
  c.run_ticks(1);
  EXPECT_EQ(c.applied(1), (std::vector<std::string>{"a", "b", "c"}));
}

// One forged message may raise terms by at most kMaxTermJump (types.h): a Heartbeat at the
// ceiling itself (which, taken, would move every member there and end elections just as one
// past it would) is refused, and one at exactly the bound is taken, after which the group
// still elects in the next term.
TEST(TermCeiling, AForgedTermTooFarAheadIsRefusedAndOneWithinReachIsRecoveredFrom) {
  Cluster c;
  c.elect(1);
  ASSERT_TRUE(c.propose(1, "a").ok());
  c.stabilize();
  const Term term = c.node(1).term();
  for (Term t : {kCeiling, Term{term.value + kMaxTermJump + 1}}) {
    for (const Message& m :
         {forged(MessageType::kHeartbeat, 1, 2, t), forged(MessageType::kHeartbeat, 3, 1, t),
          forged(MessageType::kVote, 3, 2, t), forged(MessageType::kAppendResponse, 2, 1, t)}) {
      const Status s = c.node(m.to.value).step(m);
      EXPECT_EQ(s.code(), ErrorCode::kInvalidArgument) << describe(m) << ": " << s.to_string();
    }
  }
  for (std::uint64_t id : c.ids()) {
    EXPECT_EQ(c.node(id).term(), term) << "node " << id;
  }
  EXPECT_EQ(c.node(1).role(), Role::kLeader);
  // At the bound: taken (it could be real), and the group recovers by electing past it.
  const Term within{term.value + kMaxTermJump};
  ASSERT_TRUE(c.node(2).step(forged(MessageType::kHeartbeat, 3, 2, within)).ok());
  EXPECT_EQ(c.node(2).term(), within);
  ASSERT_GE(c.run_until(
                [&] {
                  auto l = c.leader();
                  return l.has_value() && c.node(*l).term() > within;
                },
                300),
            0)
      << c.tail();
  const std::uint64_t l = *c.leader();
  ASSERT_TRUE(c.propose(l, "b").ok());
  c.stabilize();
  EXPECT_EQ(c.applied(3), (std::vector<std::string>{"a", "b"}));
}

// The jump bound must not cut off a member the others left behind: a forged Heartbeat within
// the bound, "from" the leader, reaches one follower; its answer moves the leader there, the
// two elect past it, and the third member — more than the bound behind — still catches up
// once its old leader is silent for an election timeout (found by review: measured against
// the receiver's term alone, it was refused forever, and so was every new member at term 0).
TEST(TermCeiling, AMemberLeftBehindByAForgedJumpCatchesUp) {
  Cluster c;
  c.elect(1);
  ASSERT_TRUE(c.propose(1, "a").ok());
  c.stabilize();
  const Term term = c.node(1).term();
  const Term within{term.value + kMaxTermJump};
  ASSERT_TRUE(c.node(2).step(forged(MessageType::kHeartbeat, 1, 2, within)).ok());
  ASSERT_GE(c.run_until(
                [&] {
                  auto l = c.leader();
                  return l.has_value() && c.node(*l).term() > within && c.node(3).term() > within;
                },
                500),
            0)
      << c.tail();
  const std::uint64_t l = *c.leader();
  ASSERT_TRUE(c.propose(l, "b").ok());
  c.stabilize();
  c.run_ticks(1);
  EXPECT_EQ(c.applied(3), (std::vector<std::string>{"a", "b"}));
}

// At the ceiling itself: a group whose term reached kMaxTerm - 1 still elects a leader at
// kMaxTerm, and that leader commits as usual. Once it is gone, nobody campaigns for a term
// past the ceiling (every peer would refuse it): campaign() says why, no election is
// counted, no message above the ceiling is sent, and the group stays without a leader.
TEST(TermCeiling, AtTheCeilingTheLeaderServesButNoLaterTermIsCampaigned) {
  Cluster c;
  for (std::uint64_t id : c.ids()) {
    c.load_log(id, {1}, 1, kCeiling.value - 1);
  }
  c.elect(1);
  ASSERT_EQ(c.node(1).term(), kCeiling);
  ASSERT_TRUE(c.propose(1, "a").ok());
  c.stabilize();
  EXPECT_EQ(c.applied(2), (std::vector<std::string>{"1/1", "a"}));

  Term highest;
  c.set_send_observer([&](const Message& m) { highest = std::max(highest, m.term); });
  const std::uint64_t elections =
      c.node(2).counters().elections_started + c.node(3).counters().elections_started;
  c.crash(1);
  c.run_ticks(60);
  EXPECT_FALSE(c.leader().has_value()) << c.tail();
  const Status s = c.campaign(2);
  EXPECT_EQ(s.code(), ErrorCode::kFailedPrecondition) << s.to_string();
  c.stabilize();
  c.restart(1);
  c.run_ticks(30);
  EXPECT_FALSE(c.leader().has_value()) << c.tail();
  for (std::uint64_t id : c.ids()) {
    EXPECT_EQ(c.node(id).term(), kCeiling) << "node " << id;
    EXPECT_EQ(c.node(id).counters().messages_rejected, 0u) << "node " << id;
  }
  EXPECT_EQ(c.node(2).counters().elections_started + c.node(3).counters().elections_started,
            elections);
  EXPECT_LE(highest, kCeiling);
}

}  // namespace
}  // namespace skiff::test
