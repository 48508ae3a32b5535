// skiff-jobs' state machine alone (examples/jobs/jobs_state.h): idempotent submit, the
// start/finish term fencing that makes a new leader take over and a deposed leader's late
// results refused, bad commands refused without a change, and snapshot -> restore.
#include "jobs_state.h"
#include "snapshot_strings.h"

#include <gtest/gtest.h>

#include <string>

namespace skiff::examples::jobs {
namespace {

using testing::StringReader;
using testing::StringWriter;

class JobsStateTest : public ::testing::Test {
 protected:
  Outcome apply(const std::string& command) {
    return parse_outcome(state_.apply(Index{++index_}, command).view());
  }
  std::uint64_t submit(const std::string& key = "", std::uint64_t time_ms = 1000) {
    Outcome o = apply(submit_command({"sh", "-c", "echo hi"}, key, 0, time_ms));
    EXPECT_TRUE(o.accepted) << o.reason;
    return o.id;
  }
  Outcome start(std::uint64_t id, std::uint64_t node, std::uint64_t term) {
    return apply(start_command(id, node, term, 2000));
  }
  Outcome finish(std::uint64_t id, std::uint64_t term, std::int64_t code = 0,
                 const std::string& output = "hi\n") {
    return apply(finish_command(id, term, code, output, "", 3000));
  }
  Job job(std::uint64_t id) {
    auto j = state_.job(id);
    EXPECT_TRUE(j.has_value()) << "no job " << id;
    return j.value_or(Job{});
  }

  JobsState state_;
  std::uint64_t index_ = 0;
};

TEST_F(JobsStateTest, SubmitAssignsIdsAndKeepsTheCommand) {
  const std::uint64_t a = submit("", 1234);
  const std::uint64_t b = submit();
  EXPECT_EQ(a, 1u);
  EXPECT_EQ(b, 2u);
  const Job j = job(a);
  EXPECT_EQ(j.state, JobState::kPending);
  EXPECT_EQ(j.command, (std::vector<std::string>{"sh", "-c", "echo hi"}));
  EXPECT_EQ(j.submitted_ms, 1234u);
  EXPECT_EQ(j.attempts, 0u);
  EXPECT_EQ(state_.jobs().size(), 2u);
}

TEST_F(JobsStateTest, ResubmittingAnIdempotencyKeyReturnsTheSameJobOnce) {
  Outcome first = apply(submit_command({"true"}, "key-1", 0, 1));
  Outcome again = apply(submit_command({"true"}, "key-1", 0, 2));
  Outcome other = apply(submit_command({"true"}, "key-2", 0, 3));
  EXPECT_TRUE(first.created);
  EXPECT_FALSE(again.created);
  EXPECT_EQ(again.id, first.id);
  EXPECT_NE(other.id, first.id);
  EXPECT_EQ(state_.jobs().size(), 2u);
  EXPECT_EQ(job(first.id).submitted_ms, 1u) << "the resubmission must not change the job";
}

TEST_F(JobsStateTest, StartThenFinishRecordsTheOutcome) {
  const std::uint64_t ok = submit();
  const std::uint64_t bad = submit();
  ASSERT_TRUE(apply(lead_command(3, 1)).accepted);
  ASSERT_TRUE(start(ok, 1, 3).accepted);
  ASSERT_TRUE(start(bad, 1, 3).accepted);
  Job running = job(ok);
  EXPECT_EQ(running.state, JobState::kRunning);
  EXPECT_EQ(running.node, 1u);
  EXPECT_EQ(running.term, 3u);
  EXPECT_EQ(running.attempts, 1u);
  EXPECT_EQ(running.started_ms, 2000u);

  ASSERT_TRUE(finish(ok, 3, 0, "hello\n").accepted);
  ASSERT_TRUE(finish(bad, 3, 2, "oops\n").accepted);
  EXPECT_EQ(job(ok).state, JobState::kSucceeded);
  EXPECT_EQ(job(ok).output, "hello\n");
  EXPECT_EQ(job(ok).finished_ms, 3000u);
  EXPECT_EQ(job(bad).state, JobState::kFailed);
  EXPECT_EQ(job(bad).exit_code, 2);
  // A job killed for a reason fails even with exit code 0.
  const std::uint64_t timed_out = submit();
  ASSERT_TRUE(start(timed_out, 1, 3).accepted);
  ASSERT_TRUE(apply(finish_command(timed_out, 3, 0, "", "timed out after 5 ms", 4)).accepted);
  EXPECT_EQ(job(timed_out).state, JobState::kFailed);
  EXPECT_EQ(job(timed_out).reason, "timed out after 5 ms");
}

TEST_F(JobsStateTest, ARunningJobIsNotStartedTwiceInOneTermNorFinishedTwice) {
  const std::uint64_t id = submit();
  ASSERT_TRUE(start(id, 1, 2).accepted);
  EXPECT_FALSE(start(id, 1, 2).accepted);
  EXPECT_FALSE(start(id, 2, 2).accepted);
  ASSERT_TRUE(finish(id, 2).accepted);
  EXPECT_FALSE(finish(id, 2, 1).accepted);
  EXPECT_EQ(job(id).exit_code, 0);
  EXPECT_FALSE(start(id, 1, 5).accepted) << "a finished job is never run again";
  EXPECT_EQ(job(id).state, JobState::kSucceeded);
}

TEST_F(JobsStateTest, ANewerTermTakesOverAndTheOldTermsResultIsRefused) {
  const std::uint64_t id = submit("k");
  ASSERT_TRUE(start(id, 1, 2).accepted);
  // Node 3 leads term 4 and takes the job over: at-least-once.
  Outcome takeover = start(id, 3, 4);
  ASSERT_TRUE(takeover.accepted) << takeover.reason;
  EXPECT_EQ(job(id).node, 3u);
  EXPECT_EQ(job(id).term, 4u);
  EXPECT_EQ(job(id).attempts, 2u);
  // The deposed leader of term 2 reports late: refused, the job still runs in term 4.
  EXPECT_FALSE(finish(id, 2, 0, "late\n").accepted);
  EXPECT_EQ(job(id).state, JobState::kRunning);
  // A start from the old term is refused too.
  const std::uint64_t other = submit();
  EXPECT_FALSE(start(other, 1, 2).accepted);
  EXPECT_EQ(job(other).state, JobState::kPending);
  // The new term's result is taken.
  ASSERT_TRUE(finish(id, 4, 0, "done\n").accepted);
  EXPECT_EQ(job(id).state, JobState::kSucceeded);
  EXPECT_EQ(job(id).output, "done\n");
  EXPECT_EQ(job(id).term, 4u);
}

TEST_F(JobsStateTest, LeadFencesOffEveryResultOfOlderTerms) {
  const std::uint64_t id = submit();
  ASSERT_TRUE(start(id, 1, 2).accepted);
  ASSERT_TRUE(apply(lead_command(3, 2)).accepted);
  EXPECT_EQ(state_.max_term(), 3u);
  EXPECT_FALSE(finish(id, 2).accepted) << "the leader of term 2 was deposed";
  EXPECT_FALSE(apply(lead_command(2, 1)).accepted);
  EXPECT_TRUE(apply(lead_command(3, 2)).accepted) << "the same term again is harmless";
  // The job is startable by the leader of term 3 (running in an older term), not by term 2.
  auto startable = state_.startable(3);
  ASSERT_EQ(startable.size(), 1u);
  EXPECT_EQ(startable[0].id, id);
  EXPECT_TRUE(state_.startable(2).empty());
  EXPECT_EQ(state_.running_on(1, 2).size(), 1u);
  EXPECT_TRUE(state_.running_on(2, 3).empty());
}

TEST_F(JobsStateTest, UnknownJobsAndMalformedCommandsAreRefusedWithoutAChange) {
  submit();
  EXPECT_FALSE(start(99, 1, 1).accepted);
  EXPECT_FALSE(finish(99, 1).accepted);
  EXPECT_FALSE(apply("not json").accepted);
  EXPECT_FALSE(apply(R"({"op":"start","id":"one","node":1,"term":1,"time_ms":0})").accepted);
  EXPECT_FALSE(
      apply(R"({"op":"submit","command":[],"key":"","timeout_ms":0,"time_ms":0})").accepted);
  EXPECT_FALSE(apply(R"({"op":"explode"})").accepted);
  EXPECT_FALSE(apply(R"([1,2])").accepted);
  EXPECT_EQ(state_.jobs().size(), 1u);
  EXPECT_EQ(job(1).state, JobState::kPending);
  EXPECT_EQ(state_.max_term(), 0u);
}

TEST_F(JobsStateTest, SnapshotRestoresAnEqualState) {
  const std::uint64_t a = submit("ka");
  const std::uint64_t b = submit("kb");
  submit();
  ASSERT_TRUE(start(a, 1, 2).accepted);
  ASSERT_TRUE(finish(a, 2, 7, "out\xff\n").accepted);  // not UTF-8: stored replaced
  ASSERT_TRUE(start(b, 2, 5).accepted);
  StringWriter out;
  ASSERT_TRUE(state_.snapshot(out).ok());

  JobsState copy;
  StringReader in(out.text);
  ASSERT_TRUE(copy.restore(in).ok());
  EXPECT_EQ(copy.jobs(), state_.jobs());
  EXPECT_EQ(copy.max_term(), 5u);
  // The restored state goes on the same way: next id, known keys, fencing.
  for (JobsState* s : {&state_, &copy}) {
    Outcome again = parse_outcome(s->apply(Index{100}, submit_command({"x"}, "kb", 0, 9)).view());
    EXPECT_EQ(again.id, b);
    EXPECT_FALSE(again.created);
    Outcome fresh = parse_outcome(s->apply(Index{101}, submit_command({"x"}, "", 0, 9)).view());
    EXPECT_EQ(fresh.id, 4u);
    EXPECT_FALSE(parse_outcome(s->apply(Index{102}, start_command(3, 1, 4, 0)).view()).accepted);
  }
  EXPECT_EQ(copy.jobs(), state_.jobs());

  // A snapshot of the restored copy is the same bytes.
  StringWriter again;
  ASSERT_TRUE(copy.snapshot(again).ok());
  StringWriter original;
  ASSERT_TRUE(state_.snapshot(original).ok());
  EXPECT_EQ(again.text, original.text);
}

TEST_F(JobsStateTest, RestoreRefusesWhatIsNotASnapshotAndKeepsTheState) {
  submit();
  for (const std::string& bad :
       {std::string("garbage"), std::string(R"({"next_id":1,"max_term":0,"jobs":[{"id":1}]})"),
        std::string(R"({"next_id":1,"max_term":0,"jobs":"x"})"), std::string("[]")}) {
    StringReader in(bad);
    EXPECT_FALSE(state_.restore(in).ok()) << bad;
  }
  EXPECT_EQ(state_.jobs().size(), 1u);
}

TEST(JobsStateRetention, OnlyTheNewestFinishedJobsAreKeptAndUnfinishedOnesNeverDropped) {
  JobsState state(/*retain_finished=*/2);
  std::uint64_t index = 0;
  auto apply = [&](const std::string& c) {
    return parse_outcome(state.apply(Index{++index}, c).view());
  };
  ASSERT_TRUE(apply(lead_command(1, 1)).accepted);
  std::vector<std::uint64_t> ids;
  for (int i = 0; i < 4; ++i) {
    ids.push_back(apply(submit_command({"true"}, "key-" + std::to_string(i), 0, 1)).id);
  }
  const std::uint64_t unfinished = apply(submit_command({"true"}, "", 0, 1)).id;
  for (std::uint64_t id : ids) {
    ASSERT_TRUE(apply(start_command(id, 1, 1, 2)).accepted);
    ASSERT_TRUE(apply(finish_command(id, 1, 0, "", "", 3)).accepted);
  }
  EXPECT_FALSE(state.job(ids[0]).has_value());
  EXPECT_FALSE(state.job(ids[1]).has_value());
  EXPECT_TRUE(state.job(ids[2]).has_value());
  EXPECT_TRUE(state.job(ids[3]).has_value());
  EXPECT_TRUE(state.job(unfinished).has_value()) << "pending jobs are never dropped";
  // A forgotten job's key is forgotten with it: submitting it again is a new job.
  const Outcome again = apply(submit_command({"true"}, "key-0", 0, 4));
  EXPECT_TRUE(again.created);
  EXPECT_NE(again.id, ids[0]);
  // A snapshot restored into a state with the same bound is the same state.
  StringWriter w;
  ASSERT_TRUE(state.snapshot(w).ok());
  JobsState restored(2);
  StringReader r(w.text);
  ASSERT_TRUE(restored.restore(r).ok());
  EXPECT_EQ(restored.jobs(), state.jobs());
}

}  // namespace
}  // namespace skiff::examples::jobs
