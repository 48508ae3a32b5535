// skiff-jobs end to end: three real processes on loopback (tests/examples/process_cluster.h).
// Jobs submitted anywhere run on the leader only and record their outcome; an idempotency
// key is applied once; a job whose leader is killed is run again by the next leader in a
// higher term (at-least-once) and the killed member catches up when restarted; without a
// quorum the API answers 503 in time; bad input gets 4xx JSON errors.
#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "process_cluster.h"
#include "support/temp_dir.h"

namespace skiff::examples::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

// Elections in 0.5 to 1 s: calm on a loaded machine, quick enough to fail over in a test.
// A snapshot every few entries, so members save and restore the jobs' state (a restarted
// member starts from its snapshot).
const std::vector<std::string> kFlags = {
    "--tick-ms", "20", "--election-ticks",   "25", "--request-timeout-ms", "1500",
    "--workers", "2",  "--snapshot-entries", "4"};

// The job's command: appends "NODE TERM KEY" to `file`, then runs `then`.
json recording_job(const std::string& file, const std::string& then, const std::string& key) {
  json body = {
      {"command",
       json::array({"sh", "-c",
                    "echo \"$SKIFF_NODE_ID $SKIFF_FENCING_TERM $SKIFF_IDEMPOTENCY_KEY\" >> " +
                        file + "; " + then})}};
  if (!key.empty()) {
    body["idempotency_key"] = key;
  }
  return body;
}

std::vector<std::string> lines(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::string> out;
  for (std::string line; std::getline(in, line);) {
    out.push_back(line);
  }
  return out;
}

std::uint64_t term_of(const ProcessCluster& c, int id) {
  return c.call(id, "GET", "/status").parsed().value("term", std::uint64_t{0});
}

// The job as member `via` shows it (null when it does not answer 200).
json job(const ProcessCluster& c, int via, std::uint64_t id) {
  HttpReply r = c.call(via, "GET", "/v1/jobs/" + std::to_string(id), "", seconds(5));
  return r.status == 200 ? r.parsed() : json();
}

// Waits (bounded) until the job is finished as `via` shows it; returns it (null if not).
json wait_finished(const ProcessCluster& c, int via, std::uint64_t id,
                   milliseconds limit = seconds(20)) {
  json j;
  wait_until(
      [&] {
        j = job(c, via, id);
        const std::string state = j.is_object() ? j.value("state", "") : "";
        return state == "succeeded" || state == "failed";
      },
      limit);
  return j;
}

std::uint64_t submit(const ProcessCluster& c, int via, const json& body, int want_status = 201) {
  HttpReply r = c.call(via, "POST", "/v1/jobs", body.dump());
  EXPECT_EQ(r.status, want_status) << r.body;
  return r.parsed().value("id", std::uint64_t{0});
}

// Three members started, a leader agreed on, and a directory for the jobs' files.
class JobsE2E : public ::testing::Test {
 protected:
  void SetUp() override {
    c.start_all();
    leader = c.wait_leader();
    ASSERT_NE(leader, 0) << c.logs();
    follower = leader % 3 + 1;
    other = follower % 3 + 1;
  }

  ProcessCluster c{SKIFF_JOBS_BINARY, 3, kFlags};
  skiff::test::TempDir dir{"skiff-jobs-e2e"};
  const std::string runs = dir.path() + "/runs";  ///< the recording jobs' file
  int leader = 0;
  int follower = 0;  ///< and `other`: the two members that are not the leader
  int other = 0;
};

TEST_F(JobsE2E, JobsRunOnTheLeaderOnlyAndRecordTheirOutcome) {
  const std::uint64_t ok = submit(c, follower, recording_job(runs, "echo hello", "first"));
  ASSERT_NE(ok, 0u);
  const std::uint64_t bad =
      submit(c, other, {{"command", json::array({"sh", "-c", "echo oops >&2; exit 3"})}});
  const std::uint64_t slow =
      submit(c, follower, {{"command", json::array({"sleep", "10"})}, {"timeout_ms", 300}});
  // The same key again, on another member: the same job, not a new one.
  HttpReply again = c.call(other, "POST", "/v1/jobs", recording_job(runs, "true", "first").dump());
  EXPECT_EQ(again.status, 200) << again.body;
  EXPECT_EQ(again.parsed().value("id", 0ull), ok);
  EXPECT_EQ(again.parsed().value("created", true), false);

  json j = wait_finished(c, follower, ok);
  ASSERT_EQ(j.value("state", ""), "succeeded") << j.dump() << c.logs();
  EXPECT_EQ(j["exit_code"], 0);
  EXPECT_EQ(j["output_tail"], "hello\n");
  EXPECT_EQ(j["node"], leader) << "only the leader runs jobs";
  EXPECT_EQ(j["attempts"], 1);
  const std::uint64_t term = j["term"].get<std::uint64_t>();
  EXPECT_GE(term, 1u);
  EXPECT_EQ(lines(runs), std::vector<std::string>{std::to_string(leader) + " " +
                                                  std::to_string(term) + " first"})
      << "run once, on the leader, with its fencing term and key in the environment";

  j = wait_finished(c, other, bad);
  EXPECT_EQ(j.value("state", ""), "failed") << j.dump();
  EXPECT_EQ(j["exit_code"], 3);
  EXPECT_EQ(j["output_tail"], "oops\n");
  EXPECT_EQ(j["node"], leader);

  j = wait_finished(c, leader, slow, seconds(8));
  EXPECT_EQ(j.value("state", ""), "failed") << j.dump();
  EXPECT_EQ(j["reason"], "timed out after 300 ms");

  // Lists, on every member, linearizable: every job, or those in one state.
  for (int id = 1; id <= 3; ++id) {
    HttpReply all = c.call(id, "GET", "/v1/jobs");
    ASSERT_EQ(all.status, 200) << all.body;
    EXPECT_EQ(all.parsed()["jobs"].size(), 3u);
    HttpReply failed = c.call(id, "GET", "/v1/jobs?state=failed");
    EXPECT_EQ(failed.parsed()["jobs"].size(), 2u) << failed.body;
  }
  EXPECT_EQ(lines(runs).size(), 1u);
}

TEST_F(JobsE2E, BadRequestsGetJsonErrors) {
  const std::string huge = R"({"command": [")" + std::string((2 << 20) + 16, 'a') + R"("]})";
  const std::vector<std::tuple<std::string, std::string, std::string, int>> cases = {
      {"POST", "/v1/jobs", "{not json", 400},
      {"POST", "/v1/jobs", "[1]", 400},
      {"POST", "/v1/jobs", "{}", 400},
      {"POST", "/v1/jobs", R"({"command": "echo hi"})", 400},
      {"POST", "/v1/jobs", R"({"command": []})", 400},
      {"POST", "/v1/jobs", R"({"command": ["echo", 1]})", 400},
      {"POST", "/v1/jobs", R"({"command": [""]})", 400},
      {"POST", "/v1/jobs", R"({"command": ["true"], "idempotency_key": 5})", 400},
      {"POST", "/v1/jobs", R"({"command": ["true"], "timeout_ms": -1})", 400},
      {"POST", "/v1/jobs", huge, 413},
      {"GET", "/v1/jobs/999", "", 404},
      {"GET", "/v1/jobs/abc", "", 400},
      {"GET", "/v1/jobs?state=bogus", "", 400},
  };
  for (const auto& [method, path, body, want] : cases) {
    HttpReply r = c.call(follower, method, path, body);
    EXPECT_EQ(r.status, want) << method << " " << path << " " << body.substr(0, 60);
    EXPECT_TRUE(r.parsed().contains("error")) << r.body;
  }
  HttpReply list = c.call(follower, "GET", "/v1/jobs");
  EXPECT_EQ(list.status, 200);
  EXPECT_EQ(list.parsed()["jobs"].size(), 0u) << "nothing bad was submitted";
}

TEST_F(JobsE2E, ANewLeaderTakesOverTheJobOfAKilledLeader) {
  const int old_leader = leader;

  const std::uint64_t id = submit(c, follower, recording_job(runs, "sleep 2; echo done", "slow"));
  ASSERT_TRUE(wait_until([&] { return lines(runs).size() == 1; }, seconds(10))) << c.logs();
  json running = job(c, follower, id);
  EXPECT_EQ(running.value("state", ""), "running") << running.dump();
  EXPECT_EQ(running["node"], old_leader);
  const std::uint64_t old_term = running["term"].get<std::uint64_t>();

  c.kill(old_leader);  // SIGKILL while the job runs; its process dies with it
  const int new_leader = c.wait_leader(seconds(15));
  ASSERT_NE(new_leader, 0) << c.logs();
  ASSERT_NE(new_leader, old_leader);

  json done = wait_finished(c, new_leader, id);
  ASSERT_EQ(done.value("state", ""), "succeeded") << done.dump() << c.logs();
  EXPECT_EQ(done["output_tail"], "done\n");
  EXPECT_EQ(done["node"], new_leader);
  EXPECT_GT(done["term"].get<std::uint64_t>(), old_term);
  EXPECT_GE(done["attempts"].get<std::uint64_t>(), 2u) << "at-least-once: run again";
  const auto seen = lines(runs);
  ASSERT_GE(seen.size(), 2u);
  EXPECT_EQ(seen.front(), std::to_string(old_leader) + " " + std::to_string(old_term) + " slow");
  EXPECT_EQ(seen.back(), std::to_string(new_leader) + " " + done["term"].dump() + " slow")
      << "the new run has the new fencing term and the same key";

  // The killed member comes back and catches up: it serves the finished job itself.
  const std::uint64_t commit =
      c.call(new_leader, "GET", "/status").parsed().value("commit", std::uint64_t{0});
  c.start(old_leader);
  EXPECT_TRUE(wait_until(
      [&] {
        json s = c.call(old_leader, "GET", "/status", "", seconds(2)).parsed();
        return s.is_object() && s.value("applied", std::uint64_t{0}) >= commit;
      },
      seconds(15)))
      << c.logs();
  json caught_up = job(c, old_leader, id);
  EXPECT_EQ(caught_up.value("state", ""), "succeeded") << caught_up.dump();
  EXPECT_EQ(caught_up["term"], done["term"]);
  EXPECT_GE(term_of(c, old_leader), done["term"].get<std::uint64_t>());
}

TEST_F(JobsE2E, WithoutAQuorumTheApiAnswers503InTime) {
  const std::uint64_t id = submit(c, leader, {{"command", json::array({"true"})}});
  ASSERT_EQ(wait_finished(c, leader, id).value("state", ""), "succeeded");
  // The leader is left alone, not knowing yet that it lost its quorum.
  c.kill(follower);
  c.kill(other);
  const std::vector<std::pair<std::string, std::string>> calls = {
      {"POST", R"({"command": ["true"]})"}, {"GET", ""}, {"GET", "/1"}};
  for (const auto& [method, tail] : calls) {
    const bool post = method == "POST";
    const auto started = std::chrono::steady_clock::now();
    HttpReply r = c.call(leader, method, post ? "/v1/jobs" : "/v1/jobs" + tail, post ? tail : "",
                         seconds(10));
    const auto took = std::chrono::steady_clock::now() - started;
    EXPECT_EQ(r.status, 503) << method << " " << tail << ": " << r.body;
    EXPECT_TRUE(r.parsed().contains("error")) << r.body;
    EXPECT_LT(took, milliseconds(1500 + 2500)) << "answered within the request timeout";
  }
}

}  // namespace
}  // namespace skiff::examples::testing
