#include "core/read_only.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <initializer_list>
#include <set>
#include <string>
#include <vector>

namespace skiff::detail {
namespace {

constexpr NodeId kSelf{1};

MajorityConfig majority(std::initializer_list<std::uint64_t> ids) {
  std::set<NodeId> set;
  for (std::uint64_t id : ids) {
    set.insert(NodeId{id});
  }
  return MajorityConfig(std::move(set));
}

JointConfig simple(std::initializer_list<std::uint64_t> ids) {
  return JointConfig(majority(ids), MajorityConfig());
}

// The contexts of `reads`, in order: "a b c".
std::string contexts(const std::vector<PendingRead>& reads) {
  std::string out;
  for (const PendingRead& r : reads) {
    out += (out.empty() ? "" : " ") + std::string(r.context.view());
  }
  return out;
}

void ticks(ReadOnly& ro, int n) {
  for (int k = 0; k < n; ++k) {
    ro.tick();
  }
}

// --- Heartbeat rounds (thesis §6.4 step 3: a round of heartbeats confirms leadership) ---

TEST(ReadOnly, NoRoundIsConfirmedBeforeOneStarts) {
  ReadOnly ro;
  EXPECT_EQ(ro.confirmed_round(simple({1}), kSelf), 0U);
  EXPECT_EQ(ro.confirmed_round(simple({1, 2, 3}), kSelf), 0U);
  EXPECT_EQ(ro.upcoming_round(), 1U);
}

TEST(ReadOnly, RoundsAreNumberedFromOne) {
  ReadOnly ro;
  EXPECT_EQ(ro.start_round(), 1U);
  EXPECT_EQ(ro.start_round(), 2U);
  EXPECT_EQ(ro.upcoming_round(), 3U);
}

TEST(ReadOnly, ASingleVoterConfirmsEveryRoundAlone) {
  ReadOnly ro;
  ro.start_round();
  EXPECT_EQ(ro.confirmed_round(simple({1}), kSelf), 1U);
  ro.start_round();
  EXPECT_EQ(ro.confirmed_round(simple({1}), kSelf), 2U);
}

TEST(ReadOnly, ThreeVotersNeedOneAckBesidesTheLeader) {
  ReadOnly ro;
  const JointConfig c = simple({1, 2, 3});
  ro.start_round();
  EXPECT_EQ(ro.confirmed_round(c, kSelf), 0U);
  ro.ack(NodeId{2}, 1);
  EXPECT_EQ(ro.confirmed_round(c, kSelf), 1U);
  // Round 2: node 2 has only answered round 1 so far.
  ro.start_round();
  EXPECT_EQ(ro.confirmed_round(c, kSelf), 1U);
  ro.ack(NodeId{3}, 2);
  EXPECT_EQ(ro.confirmed_round(c, kSelf), 2U);
}

TEST(ReadOnly, FiveVotersNeedTwoAcks) {
  ReadOnly ro;
  const JointConfig c = simple({1, 2, 3, 4, 5});
  ro.start_round();
  ro.start_round();
  ro.ack(NodeId{4}, 2);
  EXPECT_EQ(ro.confirmed_round(c, kSelf), 0U);
  ro.ack(NodeId{5}, 1);
  // Self and node 4 answered round 2, node 5 round 1: three voters vouch for round 1.
  EXPECT_EQ(ro.confirmed_round(c, kSelf), 1U);
  ro.ack(NodeId{2}, 2);
  EXPECT_EQ(ro.confirmed_round(c, kSelf), 2U);
}

TEST(ReadOnly, AcksFromNonVotersDoNotCount) {
  ReadOnly ro;
  ro.start_round();
  ro.ack(NodeId{7}, 1);  // a learner, say
  ro.ack(NodeId{8}, 1);
  EXPECT_EQ(ro.confirmed_round(simple({1, 2, 3}), kSelf), 0U);
}

TEST(ReadOnly, AnAckForARoundNotYetStartedCountsOnlyUpToTheCurrentOne) {
  // A follower cannot vouch for a heartbeat that was never sent.
  ReadOnly ro;
  const JointConfig c = simple({1, 2, 3});
  ro.start_round();
  ro.ack(NodeId{2}, 5);
  EXPECT_EQ(ro.confirmed_round(c, kSelf), 1U);
  ro.start_round();
  ro.start_round();
  EXPECT_EQ(ro.confirmed_round(c, kSelf), 1U);
}

TEST(ReadOnly, StaleAcksNeverLowerWhatWasConfirmed) {
  ReadOnly ro;
  const JointConfig c = simple({1, 2, 3});
  ro.start_round();
  ro.start_round();
  ro.start_round();
  ro.ack(NodeId{2}, 3);
  ro.ack(NodeId{2}, 1);  // a delayed answer to an older heartbeat
  EXPECT_EQ(ro.confirmed_round(c, kSelf), 3U);
}

TEST(ReadOnly, JointConfigurationNeedsBothHalves) {
  // Thesis §4.3: during C(old,new) every decision needs a majority of each.
  ReadOnly ro;
  const JointConfig c(majority({1, 2, 4}), majority({1, 2, 3}));
  ro.start_round();
  ro.ack(NodeId{4}, 1);  // {1 4} is a majority of the new half only
  EXPECT_EQ(ro.confirmed_round(c, kSelf), 0U);
  ro.ack(NodeId{3}, 1);  // {1 3} completes the old half
  EXPECT_EQ(ro.confirmed_round(c, kSelf), 1U);

  ReadOnly shared;
  shared.start_round();
  shared.ack(NodeId{2}, 1);  // node 2 votes in both halves
  EXPECT_EQ(shared.confirmed_round(c, kSelf), 1U);
}

TEST(ReadOnly, ALeaderOutsideTheIncomingHalfNeedsAMajorityOfItWithoutItself) {
  // The leader (1) is being removed: C(new) = {2 3 4} does not count its own answer.
  ReadOnly ro;
  const JointConfig c(majority({2, 3, 4}), majority({1, 2, 3}));
  ro.start_round();
  ro.ack(NodeId{2}, 1);
  EXPECT_EQ(ro.confirmed_round(c, kSelf), 0U);
  ro.ack(NodeId{4}, 1);
  EXPECT_EQ(ro.confirmed_round(c, kSelf), 1U);
}

// --- Pending reads ---

TEST(ReadOnly, ReleaseReturnsConfirmedReadsInRequestOrder) {
  ReadOnly ro;
  ro.add(Bytes::copy_of("a"), kNoNode, Index{5}, 1);
  ro.add(Bytes::copy_of("b"), NodeId{3}, Index{6}, 1);
  ro.add(Bytes::copy_of("c"), kNoNode, Index{6}, 2);
  ro.add(Bytes::copy_of("d"), NodeId{2}, Index{8}, 3);
  EXPECT_EQ(ro.pending(), 4U);

  EXPECT_TRUE(ro.release(0).empty());
  const std::vector<PendingRead> first = ro.release(1);
  EXPECT_EQ(contexts(first), "a b");
  ASSERT_EQ(first.size(), 2U);
  EXPECT_EQ(first[1].from, NodeId{3});
  EXPECT_EQ(first[1].index, Index{6});
  EXPECT_EQ(first[1].round, 1U);
  EXPECT_EQ(ro.pending(), 2U);

  // Round 3 confirms round 2's reads too: a later round proves leadership at least as late.
  EXPECT_EQ(contexts(ro.release(3)), "c d");
  EXPECT_EQ(ro.pending(), 0U);
  EXPECT_TRUE(ro.release(3).empty());
}

TEST(ReadOnly, NeedsARoundWhenReadsWaitForOneNotStarted) {
  ReadOnly ro;
  EXPECT_FALSE(ro.needs_round());
  ro.add(Bytes::copy_of("a"), kNoNode, Index{3}, ro.upcoming_round());
  EXPECT_TRUE(ro.needs_round());
  EXPECT_EQ(ro.start_round(), 1U);
  EXPECT_FALSE(ro.needs_round());
  ro.add(Bytes::copy_of("b"), kNoNode, Index{3}, 1);  // joins the round in flight
  EXPECT_FALSE(ro.needs_round());
}

TEST(ReadOnly, HeldReadsWaitForACommitInTheLeadersTerm) {
  // Thesis §6.4 step 1: until the leader commits an entry of its term its commit index may be
  // behind, so reads are held without an index.
  ReadOnly ro;
  ro.hold(Bytes::copy_of("x"), kNoNode);
  ro.hold(Bytes::copy_of("y"), NodeId{2});
  EXPECT_TRUE(ro.has_held());
  EXPECT_EQ(ro.pending(), 2U);
  EXPECT_FALSE(ro.needs_round());
  EXPECT_TRUE(ro.release(100).empty());  // not released by any round while held

  ro.activate_held(Index{7}, 3);
  EXPECT_FALSE(ro.has_held());
  EXPECT_EQ(ro.pending(), 2U);
  EXPECT_TRUE(ro.needs_round());  // round 3 has not started
  EXPECT_TRUE(ro.release(2).empty());
  const std::vector<PendingRead> released = ro.release(3);
  EXPECT_EQ(contexts(released), "x y");
  ASSERT_EQ(released.size(), 2U);
  EXPECT_EQ(released[0].index, Index{7});
  EXPECT_EQ(released[1].index, Index{7});
  EXPECT_EQ(released[1].from, NodeId{2});
  EXPECT_EQ(released[1].round, 3U);
}

TEST(ReadOnly, ActivatedReadsQueueBehindEarlierOnes) {
  ReadOnly ro;
  ro.add(Bytes::copy_of("early"), kNoNode, Index{4}, 1);
  ro.hold(Bytes::copy_of("held"), kNoNode);
  ro.activate_held(Index{5}, 2);
  EXPECT_EQ(contexts(ro.release(2)), "early held");
}

// --- Lease (thesis §6.4.1) ---

TEST(ReadOnly, NoLeaseWithoutAConfirmedRound) {
  ReadOnly ro;
  EXPECT_FALSE(ro.in_lease(simple({1, 2, 3}), kSelf, 5));
  ro.start_round();
  EXPECT_FALSE(ro.in_lease(simple({1, 2, 3}), kSelf, 5));
}

TEST(ReadOnly, LeaseRunsFromWhenTheConfirmedRoundWasSent) {
  // Followers heard the heartbeat no earlier than it was sent, so their election timers were
  // reset no earlier than that: the lease is counted from the send tick, not the ack's.
  ReadOnly ro;
  const JointConfig c = simple({1, 2, 3});
  ro.start_round();  // sent at tick 0
  ticks(ro, 3);
  ro.ack(NodeId{2}, 1);  // answered at tick 3
  EXPECT_TRUE(ro.in_lease(c, kSelf, 5));
  ro.tick();  // 4
  EXPECT_TRUE(ro.in_lease(c, kSelf, 5));
  ro.tick();  // 5 = 0 + 5: over
  EXPECT_FALSE(ro.in_lease(c, kSelf, 5));
}

TEST(ReadOnly, AnUnansweredRoundDoesNotExtendTheLease) {
  ReadOnly ro;
  const JointConfig c = simple({1, 2, 3});
  ro.start_round();  // tick 0
  ro.ack(NodeId{2}, 1);
  ticks(ro, 3);
  ro.start_round();  // tick 3, never answered
  ticks(ro, 2);      // tick 5
  EXPECT_FALSE(ro.in_lease(c, kSelf, 5));
}

TEST(ReadOnly, ALaterConfirmedRoundRenewsTheLease) {
  ReadOnly ro;
  const JointConfig c = simple({1, 2, 3});
  ro.start_round();  // round 1 at tick 0
  ro.ack(NodeId{2}, 1);
  ticks(ro, 3);
  ro.start_round();  // round 2 at tick 3
  ticks(ro, 2);      // tick 5
  ro.ack(NodeId{3}, 2);
  EXPECT_TRUE(ro.in_lease(c, kSelf, 5));
  ticks(ro, 2);  // tick 7 < 3 + 5
  EXPECT_TRUE(ro.in_lease(c, kSelf, 5));
  ro.tick();  // tick 8
  EXPECT_FALSE(ro.in_lease(c, kSelf, 5));
}

TEST(ReadOnly, ASingleVoterHoldsTheLeaseFromItsLatestRound) {
  ReadOnly ro;
  const JointConfig c = simple({1});
  ro.start_round();  // tick 0
  ticks(ro, 4);
  EXPECT_TRUE(ro.in_lease(c, kSelf, 5));
  ro.tick();
  EXPECT_FALSE(ro.in_lease(c, kSelf, 5));
  ro.start_round();  // tick 5
  EXPECT_TRUE(ro.in_lease(c, kSelf, 5));
}

TEST(ReadOnly, AZeroLeaseNeverHolds) {
  ReadOnly ro;
  ro.start_round();
  EXPECT_FALSE(ro.in_lease(simple({1}), kSelf, 0));
}

TEST(ReadOnly, JointLeaseNeedsBothHalves) {
  ReadOnly ro;
  const JointConfig c(majority({1, 2, 4}), majority({1, 2, 3}));
  ro.start_round();
  ro.ack(NodeId{4}, 1);
  EXPECT_FALSE(ro.in_lease(c, kSelf, 5));
  ro.ack(NodeId{3}, 1);
  EXPECT_TRUE(ro.in_lease(c, kSelf, 5));
}

}  // namespace
}  // namespace skiff::detail
