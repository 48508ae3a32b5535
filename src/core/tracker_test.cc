#include "core/tracker.h"

#include <gtest/gtest.h>

#include <set>

namespace skiff::detail {
namespace {

MajorityConfig majority(std::set<std::uint64_t> ids) {
  std::set<NodeId> out;
  for (std::uint64_t id : ids) {
    out.insert(NodeId{id});
  }
  return MajorityConfig(out);
}

JointConfig voters(std::set<std::uint64_t> in, std::set<std::uint64_t> out = {}) {
  return JointConfig(majority(std::move(in)), majority(std::move(out)));
}

const NodeId kSelf{1};

TEST(ProgressTracker, SyncTracksExactlyTheMembers) {
  ProgressTracker t(4, 0);
  EXPECT_TRUE(t.sync(voters({1, 2, 3}), {NodeId{4}}, Index{8}, kSelf, Index{7}, false));
  ASSERT_EQ(t.peers().size(), 4u);
  // The leader starts replicating at its durable log; the others probe from next.
  EXPECT_EQ(t.get(kSelf)->match(), Index{7});
  EXPECT_EQ(t.get(kSelf)->state(), ProgressState::kReplicate);
  EXPECT_EQ(t.get(NodeId{2})->match(), Index{0});
  EXPECT_EQ(t.get(NodeId{2})->next(), Index{8});
  EXPECT_EQ(t.get(NodeId{2})->state(), ProgressState::kProbe);

  // Removing 3 and adding 5 keeps the others' progress as it was.
  t.get(NodeId{2})->maybe_update(Index{6});
  EXPECT_TRUE(t.sync(voters({1, 2, 5}), {NodeId{4}}, Index{9}, kSelf, Index{7}, true));
  EXPECT_EQ(t.get(NodeId{3}), nullptr);
  EXPECT_EQ(t.get(NodeId{2})->match(), Index{6});
  EXPECT_EQ(t.get(NodeId{5})->next(), Index{9});
  EXPECT_FALSE(t.sync(voters({1, 2, 5}), {NodeId{4}}, Index{9}, kSelf, Index{7}, true));
}

TEST(ProgressTracker, NewPeersAreActiveOnlyWhenAsked) {
  ProgressTracker t(4, 0);
  t.sync(voters({1, 2, 3}), {}, Index{1}, kSelf, Index{0}, false);
  EXPECT_TRUE(t.get(kSelf)->recent_active());
  EXPECT_FALSE(t.get(NodeId{2})->recent_active());
  t.sync(voters({1, 2, 3, 4}), {}, Index{1}, kSelf, Index{0}, true);
  EXPECT_TRUE(t.get(NodeId{4})->recent_active());
}

// Raft §5.3-§5.4: the commit index is what a majority acknowledged; in a joint configuration,
// a majority of each half (thesis §4.3). A learner's acknowledgement never counts.
TEST(ProgressTracker, CommittedNeedsAQuorumOfVotersOnly) {
  ProgressTracker t(4, 0);
  t.sync(voters({1, 2, 3}), {NodeId{4}}, Index{1}, kSelf, Index{9}, false);
  t.get(NodeId{4})->maybe_update(Index{9});
  EXPECT_EQ(t.committed(voters({1, 2, 3})), Index{0}) << "the learner counted";
  t.get(NodeId{2})->maybe_update(Index{5});
  EXPECT_EQ(t.committed(voters({1, 2, 3})), Index{5});
  // Joint: incoming {3,5} has acknowledged nothing yet, so nothing commits, although the
  // outgoing {1,2,3} has a majority at 5.
  t.sync(voters({3, 5}, {1, 2, 3}), {}, Index{10}, kSelf, Index{9}, true);
  EXPECT_EQ(t.committed(voters({3, 5}, {1, 2, 3})), Index{0});
  t.get(NodeId{3})->maybe_update(Index{4});
  t.get(NodeId{5})->maybe_update(Index{8});
  EXPECT_EQ(t.committed(voters({3, 5}, {1, 2, 3})), Index{4});
}

// Thesis §6.2: check-quorum asks whether a quorum was heard from since the last check.
TEST(ProgressTracker, QuorumActiveCountsRecentAnswersAndResetsThem) {
  ProgressTracker t(4, 0);
  t.sync(voters({1, 2, 3}), {NodeId{4}}, Index{1}, kSelf, Index{0}, false);
  t.get(NodeId{4})->set_recent_active(true);  // a learner does not help
  EXPECT_FALSE(t.quorum_active(voters({1, 2, 3}), kSelf));
  t.get(NodeId{3})->set_recent_active(true);
  EXPECT_TRUE(t.quorum_active(voters({1, 2, 3}), kSelf));
  EXPECT_FALSE(t.get(NodeId{3})->recent_active());
  EXPECT_TRUE(t.get(kSelf)->recent_active());
  EXPECT_FALSE(t.quorum_active(voters({1, 2, 3}), kSelf));
}

TEST(ProgressTracker, StatusFlagsLearnersAndReportsStates) {
  ProgressTracker t(4, 0);
  t.sync(voters({1, 2}), {NodeId{3}}, Index{5}, kSelf, Index{4}, false);
  t.get(NodeId{2})->become_snapshot(Index{3});
  const auto st = t.status(voters({1, 2}));
  ASSERT_EQ(st.size(), 3u);
  EXPECT_FALSE(st.at(kSelf).learner);
  EXPECT_EQ(st.at(kSelf).state, ReplicationState::kReplicate);
  EXPECT_EQ(st.at(kSelf).match, Index{4});
  EXPECT_EQ(st.at(NodeId{2}).state, ReplicationState::kSnapshot);
  EXPECT_EQ(st.at(NodeId{2}).pending_snapshot, Index{3});
  EXPECT_TRUE(st.at(NodeId{3}).learner);
  EXPECT_EQ(st.at(NodeId{3}).next, Index{5});
}

TEST(ProgressTrackerDeathTest, InvariantsCatchAStrayPeer) {
  ProgressTracker t(4, 0);
  t.sync(voters({1, 2, 3}), {}, Index{1}, kSelf, Index{0}, false);
  t.check_invariants(voters({1, 2, 3}), {}, Index{0}, kSelf, Index{0});
  EXPECT_DEATH(t.check_invariants(voters({1, 2}), {}, Index{0}, kSelf, Index{0}), "peers");
}

}  // namespace
}  // namespace skiff::detail
