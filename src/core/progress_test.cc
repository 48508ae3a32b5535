#include "core/progress.h"

#include <gtest/gtest.h>

namespace skiff::detail {
namespace {

// A follower the leader knows nothing about, with a window of `window` messages.
Progress fresh(std::uint64_t next, std::size_t window = 4, std::uint64_t window_bytes = 0) {
  return Progress(Index{next}, window, window_bytes);
}

// A follower known to match up to `match`, in the replicate state.
Progress replicating(std::uint64_t match, std::size_t window = 4) {
  Progress pr = fresh(match + 1, window);
  pr.maybe_update(Index{match});
  pr.become_replicate();
  return pr;
}

TEST(Progress, StartsProbingFromTheGivenNext) {
  Progress pr = fresh(8);
  EXPECT_EQ(pr.state(), ProgressState::kProbe);
  EXPECT_EQ(pr.match(), Index{0});
  EXPECT_EQ(pr.next(), Index{8});
  EXPECT_FALSE(pr.is_paused());
  EXPECT_FALSE(pr.recent_active());
  pr.check_invariants();
}

TEST(Progress, BecomeReplicateRestartsRightAfterMatch) {
  Progress pr = fresh(10);
  pr.maybe_update(Index{4});
  pr.become_replicate();
  EXPECT_EQ(pr.state(), ProgressState::kReplicate);
  EXPECT_EQ(pr.match(), Index{4});
  EXPECT_EQ(pr.next(), Index{5});
  EXPECT_EQ(pr.inflights().count(), 0U);
  pr.check_invariants();
}

TEST(Progress, BecomeProbeResumesAtMatchPlusOneAndEmptiesTheWindow) {
  Progress pr = replicating(3);
  pr.sent_entries(Index{3}, 2, 100, Index{0});
  pr.sent_entries(Index{5}, 1, 50, Index{0});
  ASSERT_EQ(pr.next(), Index{7});
  pr.become_probe();
  EXPECT_EQ(pr.state(), ProgressState::kProbe);
  EXPECT_EQ(pr.next(), Index{4});
  EXPECT_EQ(pr.inflights().count(), 0U);
  EXPECT_EQ(pr.inflights().bytes(), 0U);
  EXPECT_FALSE(pr.is_paused());
  pr.check_invariants();
}

TEST(Progress, ProbeSendsOneAppendThenWaits) {
  Progress pr = fresh(5);
  pr.sent_entries(Index{4}, 3, 60, Index{2});
  // Probing does not move next optimistically and does not use the window.
  EXPECT_EQ(pr.next(), Index{5});
  EXPECT_EQ(pr.inflights().count(), 0U);
  EXPECT_TRUE(pr.is_paused());
  pr.on_heartbeat_response();  // the follower is alive: probe again
  EXPECT_FALSE(pr.is_paused());
}

TEST(Progress, ReplicateMovesNextPastSentEntriesAndFillsTheWindow) {
  Progress pr = replicating(3, /*window=*/2);
  pr.sent_entries(Index{3}, 2, 40, Index{0});
  EXPECT_EQ(pr.next(), Index{6});
  EXPECT_EQ(pr.inflights().count(), 1U);
  EXPECT_FALSE(pr.is_paused());
  pr.sent_entries(Index{5}, 1, 20, Index{0});
  EXPECT_EQ(pr.next(), Index{7});
  EXPECT_EQ(pr.inflights().count(), 2U);
  EXPECT_EQ(pr.inflights().bytes(), 60U);
  EXPECT_TRUE(pr.is_paused());  // the window is full
  pr.check_invariants();
}

TEST(Progress, ReplicateEmptyAppendDoesNotUseTheWindow) {
  Progress pr = replicating(3, /*window=*/1);
  pr.sent_entries(Index{3}, 0, 0, Index{3});
  EXPECT_EQ(pr.next(), Index{4});
  EXPECT_EQ(pr.inflights().count(), 0U);
  EXPECT_FALSE(pr.is_paused());
  EXPECT_EQ(pr.sent_commit(), Index{3});
}

TEST(Progress, ReplicatePausesWhenTheByteWindowIsFull) {
  Progress pr = fresh(1, /*window=*/10, /*window_bytes=*/100);
  pr.become_replicate();
  pr.sent_entries(Index{0}, 5, 100, Index{0});
  EXPECT_TRUE(pr.is_paused());
}

TEST(Progress, SentCommitIsClampedToTheLastEntrySent) {
  // Raft Figure 2: the follower commits min(leaderCommit, index of last new entry), so the
  // leader only counts that as told.
  Progress pr = replicating(0);
  pr.sent_entries(Index{0}, 2, 40, Index{5});
  EXPECT_EQ(pr.sent_commit(), Index{2});
  pr.sent_entries(Index{2}, 4, 80, Index{5});
  EXPECT_EQ(pr.sent_commit(), Index{5});
  // Never goes back.
  pr.sent_entries(Index{6}, 1, 20, Index{3});
  EXPECT_EQ(pr.sent_commit(), Index{5});
  pr.sent_commit_index(Index{4});
  EXPECT_EQ(pr.sent_commit(), Index{5});
  pr.sent_commit_index(Index{6});
  EXPECT_EQ(pr.sent_commit(), Index{6});
}

TEST(Progress, MaybeUpdateMovesMatchAndNextForward) {
  Progress pr = fresh(3);
  EXPECT_TRUE(pr.maybe_update(Index{5}));
  EXPECT_EQ(pr.match(), Index{5});
  EXPECT_EQ(pr.next(), Index{6});
  pr.check_invariants();
}

TEST(Progress, MaybeUpdateIgnoresStaleAcknowledgements) {
  Progress pr = fresh(10);
  ASSERT_TRUE(pr.maybe_update(Index{5}));
  EXPECT_FALSE(pr.maybe_update(Index{5}));
  EXPECT_FALSE(pr.maybe_update(Index{3}));
  EXPECT_EQ(pr.match(), Index{5});
  EXPECT_EQ(pr.next(), Index{10});  // next never moves back on an acknowledgement
}

TEST(Progress, MaybeUpdateUnpausesAProbe) {
  Progress pr = fresh(5);
  pr.sent_entries(Index{4}, 1, 20, Index{0});
  ASSERT_TRUE(pr.is_paused());
  EXPECT_TRUE(pr.maybe_update(Index{5}));
  EXPECT_FALSE(pr.is_paused());
}

TEST(Progress, ProbeRejectionOfTheLastProbeMovesNextToTheHint) {
  Progress pr = fresh(10);
  pr.sent_entries(Index{9}, 1, 20, Index{0});
  // The follower rejected prev 9 and says its log may match up to 5.
  EXPECT_TRUE(pr.maybe_decrease_to(Index{9}, Index{5}));
  EXPECT_EQ(pr.next(), Index{6});
  EXPECT_FALSE(pr.is_paused());
  pr.check_invariants();
}

TEST(Progress, ProbeRejectionHintNeverMovesNextForward) {
  // next = max(min(rejected, hint + 1), match + 1): a hint at or past the rejected index
  // still backs off by one.
  Progress pr = fresh(10);
  EXPECT_TRUE(pr.maybe_decrease_to(Index{9}, Index{9}));
  EXPECT_EQ(pr.next(), Index{9});
  EXPECT_TRUE(pr.maybe_decrease_to(Index{8}, Index{50}));
  EXPECT_EQ(pr.next(), Index{8});
}

TEST(Progress, ProbeRejectionHintNeverGoesBelowMatch) {
  Progress pr = fresh(10);
  pr.maybe_update(Index{3});
  ASSERT_EQ(pr.next(), Index{10});
  EXPECT_TRUE(pr.maybe_decrease_to(Index{9}, Index{0}));
  EXPECT_EQ(pr.next(), Index{4});
  pr.check_invariants();
}

TEST(Progress, ProbeIgnoresStaleRejections) {
  Progress pr = fresh(10);
  pr.sent_entries(Index{9}, 1, 20, Index{0});
  // Only the answer to the last probe (prev == next - 1) is news.
  EXPECT_FALSE(pr.maybe_decrease_to(Index{7}, Index{2}));
  EXPECT_FALSE(pr.maybe_decrease_to(Index{12}, Index{2}));
  EXPECT_EQ(pr.next(), Index{10});
  EXPECT_TRUE(pr.is_paused());  // still waiting for the real answer
}

TEST(Progress, ProbeRejectionClampsSentCommit) {
  Progress pr = fresh(10);
  pr.sent_commit_index(Index{9});
  EXPECT_TRUE(pr.maybe_decrease_to(Index{9}, Index{4}));
  EXPECT_EQ(pr.next(), Index{5});
  // The follower can only have learned commits it has entries for.
  EXPECT_EQ(pr.sent_commit(), Index{4});
}

TEST(Progress, ReplicateRejectionFallsBackToMatchPlusOne) {
  Progress pr = replicating(5);
  pr.sent_entries(Index{5}, 3, 60, Index{5});
  ASSERT_EQ(pr.next(), Index{9});
  // In replicate the hint is not needed: everything up to match is known to be shared.
  EXPECT_TRUE(pr.maybe_decrease_to(Index{8}, Index{2}));
  EXPECT_EQ(pr.next(), Index{6});
  EXPECT_EQ(pr.match(), Index{5});
  EXPECT_EQ(pr.sent_commit(), Index{5});
  pr.check_invariants();
}

TEST(Progress, ReplicateIgnoresStaleRejections) {
  Progress pr = replicating(5);
  pr.sent_entries(Index{5}, 3, 60, Index{0});
  // A rejection at or below match answers an Append from before the follower caught up.
  EXPECT_FALSE(pr.maybe_decrease_to(Index{5}, Index{1}));
  EXPECT_FALSE(pr.maybe_decrease_to(Index{2}, Index{1}));
  EXPECT_EQ(pr.next(), Index{9});
  EXPECT_EQ(pr.inflights().count(), 1U);
}

TEST(Progress, HeartbeatResponseUnpausesAProbe) {
  Progress pr = fresh(5);
  pr.sent_entries(Index{4}, 1, 20, Index{0});
  ASSERT_TRUE(pr.is_paused());
  pr.on_heartbeat_response();
  EXPECT_FALSE(pr.is_paused());
}

TEST(Progress, HeartbeatResponseFreesOneSlotOfAFullWindow) {
  // PITFALLS #16: window of 2, the first Append is lost. Without freeing a slot on heartbeat
  // responses the leader would wait forever for acknowledgements that never come.
  Progress pr = replicating(0, /*window=*/2);
  pr.sent_entries(Index{0}, 1, 20, Index{0});  // lost
  pr.sent_entries(Index{1}, 1, 20, Index{0});  // its answer lost too
  ASSERT_TRUE(pr.is_paused());
  pr.on_heartbeat_response();
  EXPECT_FALSE(pr.is_paused());
  EXPECT_EQ(pr.inflights().count(), 1U);
  // Only one slot per response, and only when full.
  pr.on_heartbeat_response();
  EXPECT_EQ(pr.inflights().count(), 1U);
}

TEST(Progress, CanBumpCommitOnlyWhenTheFollowerHasEntriesToCommit) {
  Progress pr = replicating(0);
  pr.sent_entries(Index{0}, 3, 60, Index{0});
  ASSERT_EQ(pr.sent_commit(), Index{0});
  ASSERT_EQ(pr.next(), Index{4});
  EXPECT_FALSE(pr.can_bump_commit(Index{0}));  // nothing new
  EXPECT_TRUE(pr.can_bump_commit(Index{2}));
  pr.sent_commit_index(Index{3});
  // The follower was told everything it was sent: a higher commit is of no use to it.
  EXPECT_FALSE(pr.can_bump_commit(Index{5}));
}

TEST(Progress, CanBumpCommitIsFalseForAFollowerThatWasSentNothing) {
  Progress pr = fresh(1);
  EXPECT_FALSE(pr.can_bump_commit(Index{7}));
}

// --- Snapshot state (Raft §7: a follower that needs compacted entries gets the snapshot) ---

TEST(Progress, BecomeSnapshotPausesEverything) {
  Progress pr = replicating(3, /*window=*/4);
  pr.sent_entries(Index{3}, 2, 40, Index{0});
  pr.become_snapshot(Index{20});
  EXPECT_EQ(pr.state(), ProgressState::kSnapshot);
  EXPECT_EQ(pr.pending_snapshot(), Index{20});
  EXPECT_EQ(pr.match(), Index{3});
  // Nothing else is sent until the snapshot is acknowledged or reported.
  EXPECT_TRUE(pr.is_paused());
  EXPECT_EQ(pr.inflights().count(), 0U);
  EXPECT_EQ(pr.inflights().bytes(), 0U);
  // A heartbeat answer does not unpause it either (it is not a probe).
  pr.on_heartbeat_response();
  EXPECT_TRUE(pr.is_paused());
  pr.check_invariants();
}

TEST(Progress, SnapshotDoneProbesFromAfterTheSnapshot) {
  Progress pr = fresh(5);
  pr.maybe_update(Index{2});
  pr.become_snapshot(Index{20});
  pr.snapshot_done();
  EXPECT_EQ(pr.state(), ProgressState::kProbe);
  EXPECT_EQ(pr.next(), Index{21});
  EXPECT_EQ(pr.match(), Index{2});  // match moves only when the follower says so
  EXPECT_EQ(pr.pending_snapshot(), Index{0});
  // Waits for the follower's answer before probing.
  EXPECT_TRUE(pr.is_paused());
  pr.on_heartbeat_response();
  EXPECT_FALSE(pr.is_paused());
  pr.check_invariants();
}

TEST(Progress, SnapshotDoneAfterTheFollowerMovedPastIt) {
  // The follower acknowledged entries beyond the snapshot (e.g. it caught up another way).
  Progress pr = fresh(5);
  pr.become_snapshot(Index{20});
  EXPECT_TRUE(pr.maybe_update(Index{25}));
  pr.snapshot_done();
  EXPECT_EQ(pr.next(), Index{26});
  EXPECT_EQ(pr.match(), Index{25});
  pr.check_invariants();
}

TEST(Progress, SnapshotFailedProbesFromMatchAgain) {
  Progress pr = fresh(10);
  pr.maybe_update(Index{4});
  pr.become_snapshot(Index{20});
  pr.snapshot_failed();
  EXPECT_EQ(pr.state(), ProgressState::kProbe);
  EXPECT_EQ(pr.next(), Index{5});
  EXPECT_EQ(pr.pending_snapshot(), Index{0});
  // Not before the next heartbeat answer: the peer may be unreachable.
  EXPECT_TRUE(pr.is_paused());
  pr.on_heartbeat_response();
  EXPECT_FALSE(pr.is_paused());
  pr.check_invariants();
}

TEST(Progress, RejectionsAreIgnoredInSnapshotState) {
  // An answer to an Append sent before the snapshot: the snapshot decides now.
  Progress pr = fresh(10);
  pr.maybe_update(Index{3});
  pr.become_snapshot(Index{20});
  const Index next_before = pr.next();
  EXPECT_FALSE(pr.maybe_decrease_to(Index{9}, Index{2}));
  EXPECT_FALSE(pr.maybe_decrease_to(next_before - 1, Index{0}));
  EXPECT_EQ(pr.state(), ProgressState::kSnapshot);
  EXPECT_EQ(pr.next(), next_before);
  EXPECT_EQ(pr.pending_snapshot(), Index{20});
  EXPECT_TRUE(pr.is_paused());
}

TEST(Progress, LeavingSnapshotStateForgetsThePendingSnapshot) {
  Progress pr = fresh(10);
  pr.become_snapshot(Index{20});
  pr.become_replicate();
  EXPECT_EQ(pr.pending_snapshot(), Index{0});
  Progress probe = fresh(10);
  probe.become_snapshot(Index{20});
  probe.become_probe();
  EXPECT_EQ(probe.pending_snapshot(), Index{0});
  EXPECT_FALSE(probe.is_paused());
}

TEST(Progress, DescribeInSnapshotStateNamesTheSnapshot) {
  Progress pr = fresh(5);
  pr.maybe_update(Index{2});
  pr.become_snapshot(Index{20});
  EXPECT_EQ(pr.describe(), "snapshot match 2 next 5 inflight 0 snap 20");
}

TEST(ProgressDeathTest, AppendsToAFollowerWaitingForASnapshotAbort) {
  Progress pr = fresh(5);
  pr.become_snapshot(Index{20});
  EXPECT_DEATH(pr.sent_entries(Index{4}, 1, 20, Index{0}), "waiting for a snapshot");
}

TEST(Progress, DescribeNamesStateMatchNextAndWindow) {
  Progress pr = replicating(7);
  pr.sent_entries(Index{7}, 1, 20, Index{0});
  pr.sent_entries(Index{8}, 1, 20, Index{0});
  EXPECT_EQ(pr.describe(), "replicate match 7 next 10 inflight 2");
  Progress probe = fresh(3);
  probe.sent_entries(Index{2}, 1, 20, Index{0});
  EXPECT_EQ(probe.describe(), "probe match 0 next 3 inflight 0 paused");
}

}  // namespace
}  // namespace skiff::detail
