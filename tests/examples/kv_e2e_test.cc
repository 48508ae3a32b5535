// skiff-kv end to end: three real processes on loopback (tests/examples/process_cluster.h),
// talked to over HTTP and through the CLI. The leader is killed with SIGKILL and restarted;
// a cluster without quorum answers 503 in time; bad requests get 4xx JSON errors.
#include <gtest/gtest.h>

#include <cstdio>
#include <set>

#include "process_cluster.h"

namespace skiff::examples::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

// Members answer 503 after 2 s without an outcome; snapshots come often, so a restarted
// member may catch up through one.
ProcessCluster make_cluster() {
  return ProcessCluster(SKIFF_KV_BINARY, 3,
                        {"--request-timeout-ms", "2000", "--snapshot-entries", "20"});
}

// A member other than `leader`.
int follower_of(int leader, int avoid = 0) {
  for (int id = 1; id <= 3; ++id) {
    if (id != leader && id != avoid) {
      return id;
    }
  }
  return 0;
}

json get_json(const ProcessCluster& c, int id, const std::string& path) {
  return c.call(id, "GET", path).parsed();
}

// Runs the CLI; returns its exit code and (through `out`) what it printed on stdout.
int cli(const ProcessCluster& c, const std::string& args, std::string* out) {
  const std::string cmd =
      std::string(SKIFF_KV_BINARY) + " --endpoints " + c.endpoints_flag() + " " + args;
  FILE* p = ::popen(cmd.c_str(), "r");
  if (p == nullptr) {
    return -1;
  }
  out->clear();
  char buf[4096];
  while (std::size_t n = std::fread(buf, 1, sizeof buf, p)) {
    out->append(buf, n);
  }
  const int status = ::pclose(p);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

TEST(KvE2e, AcknowledgedWritesSurviveTheLeadersSigkillAndItCatchesUpAfterRestart) {
  ProcessCluster c = make_cluster();
  c.start_all();
  const int leader = c.wait_leader();
  ASSERT_NE(leader, 0) << c.logs();
  const int f1 = follower_of(leader);
  const int f2 = follower_of(leader, f1);
  // Writes through a follower (forwarded to the leader), read back linearizably on the other.
  for (int i = 0; i < 30; ++i) {
    HttpReply r = c.call(f1, "PUT", "/v1/kv/k" + std::to_string(i), "v" + std::to_string(i));
    ASSERT_EQ(r.status, 200) << r.body << c.logs();
  }
  EXPECT_EQ(get_json(c, f2, "/v1/kv/k29")["value"], "v29");

  c.kill(leader);
  const int next = c.wait_leader();
  ASSERT_NE(next, 0) << c.logs();
  ASSERT_NE(next, leader);
  for (int i = 0; i < 30; ++i) {
    json kv = get_json(c, follower_of(leader, next), "/v1/kv/k" + std::to_string(i));
    ASSERT_EQ(kv["value"], "v" + std::to_string(i)) << kv.dump();
  }
  for (int i = 30; i < 60; ++i) {
    ASSERT_EQ(c.call(next, "PUT", "/v1/kv/k" + std::to_string(i), "w").status, 200) << c.logs();
  }

  c.start(leader);
  // Caught up: its own (serializable, local) reads show the writes made while it was down.
  ASSERT_TRUE(wait_until([&] {
    return get_json(c, leader, "/v1/kv/k59?consistency=serializable")["value"] == "w";
  })) << c.logs();
  json list = get_json(c, leader, "/v1/kv?prefix=k&consistency=serializable");
  EXPECT_EQ(list["kvs"].size(), 60u);
  EXPECT_EQ(list["revision"], 60);
}

TEST(KvE2e, AWatchSeesEveryChangeOnceInOrderAcrossALeaderChange) {
  ProcessCluster c = make_cluster();
  c.start_all();
  const int leader = c.wait_leader();
  ASSERT_NE(leader, 0) << c.logs();
  ClusterClient client = c.client();
  for (int i = 1; i <= 10; ++i) {
    ASSERT_EQ(client.call("PUT", "/v1/kv/w/" + std::to_string(i), "a")->status, 200);
  }
  c.kill(leader);
  ASSERT_NE(c.wait_leader(), 0) << c.logs();
  for (int i = 11; i <= 20; ++i) {
    auto r = client.call("PUT", "/v1/kv/w/" + std::to_string(i), "b");
    ASSERT_TRUE(r.ok() && r->status == 200) << (r.ok() ? r->body : r.status().message());
  }
  ASSERT_EQ(client.call("DELETE", "/v1/kv/w/3")->status, 200);
  // Long polls from revision 1, small pages, alternating between the surviving members.
  std::vector<std::uint64_t> revisions;
  std::uint64_t from = 1;
  int turn = 0;
  while (revisions.size() < 21) {
    const int id = follower_of(leader, turn++ % 2 == 0 ? 0 : follower_of(leader));
    json page = get_json(
        c, id, "/v1/watch?prefix=w/&limit=4&timeout_ms=2000&from_revision=" + std::to_string(from));
    ASSERT_TRUE(page.contains("events")) << page.dump();
    ASSERT_FALSE(page["events"].empty()) << "no event from " << from;
    for (const json& e : page["events"]) {
      revisions.push_back(e["revision"].get<std::uint64_t>());
    }
    from = page["next_revision"].get<std::uint64_t>();
  }
  for (std::size_t i = 0; i < revisions.size(); ++i) {
    EXPECT_EQ(revisions[i], i + 1) << "a gap or a duplicate";
  }
}

TEST(KvE2e, LeasedKeysVanishOnExpiryOnEveryMemberAndKeepalivesKeepThem) {
  ProcessCluster c = make_cluster();
  c.start_all();
  ASSERT_NE(c.wait_leader(), 0) << c.logs();
  ClusterClient client = c.client();
  const std::uint64_t short_lease =
      client.call("POST", "/v1/lease", R"({"ttl":1})")->parsed()["id"];
  const std::uint64_t kept = client.call("POST", "/v1/lease", R"({"ttl":2})")->parsed()["id"];
  ASSERT_EQ(client.call("PUT", "/v1/kv/svc/a?lease=" + std::to_string(short_lease), "x")->status,
            200);
  ASSERT_EQ(client.call("PUT", "/v1/kv/svc/b?lease=" + std::to_string(kept), "y")->status, 200);
  // Keep `kept` alive for 4 s (twice its TTL) while `short_lease` runs out.
  const auto until = std::chrono::steady_clock::now() + seconds(4);
  while (std::chrono::steady_clock::now() < until) {
    ASSERT_EQ(client.call("POST", "/v1/lease/" + std::to_string(kept) + "/keepalive")->status, 200);
    std::this_thread::sleep_for(milliseconds(400));
  }
  for (int id = 1; id <= 3; ++id) {
    EXPECT_EQ(c.call(id, "GET", "/v1/kv/svc/a?consistency=serializable").status, 404);
    EXPECT_EQ(c.call(id, "GET", "/v1/kv/svc/b?consistency=serializable").status, 200);
  }
  EXPECT_EQ(client.call("GET", "/v1/lease/" + std::to_string(short_lease))->status, 404);
  ASSERT_EQ(client.call("DELETE", "/v1/lease/" + std::to_string(kept))->status, 200);
  EXPECT_EQ(client.call("GET", "/v1/kv/svc/b")->status, 404);
}

TEST(KvE2e, ARetriedWriteIsAppliedOnceWhicheverMemberGetsIt) {
  ProcessCluster c = make_cluster();
  c.start_all();
  ASSERT_NE(c.wait_leader(), 0) << c.logs();
  const std::string path = "/v1/kv/once?client_id=test-client&seq=1";
  HttpReply first = c.call(1, "PUT", path, "v");
  HttpReply again = c.call(2, "PUT", path, "v");
  ASSERT_EQ(first.status, 200) << first.body;
  EXPECT_EQ(first.parsed()["revision"], again.parsed()["revision"]);
  EXPECT_EQ(get_json(c, 3, "/v1/kv/once")["version"], 1);
  json txn = {{"key", "once"},
              {"expect_value", "v"},
              {"value", "w"},
              {"client_id", "test-client"},
              {"seq", 2}};
  EXPECT_EQ(c.call(3, "POST", "/v1/txn", txn.dump()).parsed()["succeeded"], true);
  EXPECT_EQ(c.call(1, "POST", "/v1/txn", txn.dump()).parsed()["succeeded"], true)
      << "the retry gets the first outcome, not a failed comparison";
  EXPECT_EQ(get_json(c, 2, "/v1/kv/once")["version"], 2);
}

TEST(KvE2e, WithoutQuorumRequestsGet503InTime) {
  ProcessCluster c = make_cluster();
  c.start_all();
  const int leader = c.wait_leader();
  ASSERT_NE(leader, 0) << c.logs();
  const int survivor = follower_of(leader);
  c.kill(leader);
  c.kill(follower_of(leader, survivor));
  for (const auto& [method, path] : std::vector<std::pair<std::string, std::string>>{
           {"PUT", "/v1/kv/x"}, {"GET", "/v1/kv/x"}, {"GET", "/health"}}) {
    const auto start = std::chrono::steady_clock::now();
    HttpReply r = c.call(survivor, method, path, "v", seconds(20));
    const auto took = std::chrono::steady_clock::now() - start;
    EXPECT_EQ(r.status, 503) << method << " " << path << ": " << r.body;
    EXPECT_TRUE(r.parsed().contains("error")) << r.body;
    EXPECT_LT(took, seconds(8)) << "request timeout is 2 s";
  }
}

TEST(KvE2e, BadRequestsGet4xxJsonErrors) {
  ProcessCluster c = make_cluster();
  c.start_all();
  ASSERT_NE(c.wait_leader(), 0) << c.logs();
  struct Case {
    std::string method, path, body;
    int status;
  };
  const std::vector<Case> cases = {
      {"POST", "/v1/txn", "{not json", 400},
      {"POST", "/v1/txn", R"({"key":"k","value":"v"})", 400},  // nothing to compare
      {"POST", "/v1/txn", R"({"key":5,"value":"v","expect_value":"x"})", 400},
      {"POST", "/v1/lease", R"({"ttl":0})", 400},
      {"POST", "/v1/lease", R"({"ttl":"ten"})", 400},
      {"PUT", "/v1/kv/k?lease=424242", "v", 404},
      {"PUT", "/v1/kv/k?lease=abc", "v", 400},
      {"POST", "/v1/lease/424242/keepalive", "", 404},
      {"PUT", "/v1/kv/k", std::string((1 << 20) + 1, 'v'), 413},  // over --max-value-bytes
      {"PUT", "/v1/kv/k", std::string((2 << 20) + 1, 'v'), 413},  // over the body limit
      {"PUT", "/v1/kv/k", "\xff\xfe", 400},
      {"PUT", "/v1/kv/k?client_id=c", "v", 400},  // a client id needs a seq
      {"GET", "/v1/kv/k?consistency=maybe", "", 400},
      {"GET", "/v1/kv/missing", "", 404},
      {"GET", "/v1/watch?from_revision=x", "", 400},
      {"POST", "/members", R"({"id":4})", 400},
      {"DELETE", "/members/abc", "", 400},
      {"GET", "/no/such/route", "", 404},
  };
  for (const Case& k : cases) {
    HttpReply r = c.call(1, k.method, k.path, k.body);
    EXPECT_EQ(r.status, k.status) << k.method << " " << k.path << ": " << r.body;
    EXPECT_TRUE(r.parsed().contains("error")) << k.method << " " << k.path << ": " << r.body;
  }
  // Nothing of it changed the store.
  EXPECT_EQ(get_json(c, 2, "/v1/kv?prefix=")["revision"], 0);
}

TEST(KvE2e, TheCliTriesEndpointsInTurn) {
  ProcessCluster c = make_cluster();
  c.start_all();
  ASSERT_NE(c.wait_leader(), 0) << c.logs();
  c.kill(1);  // the first endpoint is down (maybe the leader): the CLI moves on
  const int leader = c.wait_leader();
  ASSERT_NE(leader, 0) << c.logs();
  std::string out;
  ASSERT_EQ(cli(c, "put greeting hello", &out), 0) << out;
  ASSERT_EQ(cli(c, "get greeting", &out), 0) << out;
  EXPECT_NE(out.find("\"hello\""), std::string::npos) << out;
  ASSERT_EQ(cli(c, "cas greeting hello bye", &out), 0) << out;
  EXPECT_NE(out.find("\"succeeded\": true"), std::string::npos) << out;
  EXPECT_EQ(cli(c, "cas greeting hello again", &out), 0) << out;
  EXPECT_NE(out.find("\"succeeded\": false"), std::string::npos) << out;
  EXPECT_EQ(cli(c, "watch greet --from-revision 1 --count 2", &out), 0) << out;
  EXPECT_EQ(out, "1 PUT greeting = hello\n2 PUT greeting = bye\n");
  EXPECT_EQ(cli(c, "get nothing-here", &out), 1);
  EXPECT_EQ(cli(c, "frobnicate", &out), 2);
  EXPECT_EQ(c.stop(leader), 0) << "SIGTERM stops a member gracefully\n" << c.log(leader);
}

TEST(KvE2e, AMemberJoinsThroughPostMembersAndLeavesThroughDelete) {
  ProcessCluster c(SKIFF_KV_BINARY, 4, {"--request-timeout-ms", "2000"});
  for (int id = 1; id <= 3; ++id) {
    c.start(id, {"--peers", c.peers({1, 2, 3})});  // the founders
  }
  const int leader = c.wait_leader();  // before member 4 runs: it knows no leader yet
  ASSERT_NE(leader, 0) << c.logs();
  ASSERT_EQ(c.call(1, "PUT", "/v1/kv/before", "1").status, 200);
  c.start(4, {"--join"});  // waits, with no membership, to be added
  // Membership changes are the leader's: a follower answers 503 naming it, and a client
  // trying the members in turn gets there.
  const std::string add = json{{"id", 4}, {"address", c.raft(4)}}.dump();
  HttpReply refused = c.call(follower_of(leader), "POST", "/members", add);
  EXPECT_EQ(refused.status, 503) << refused.body;
  EXPECT_EQ(refused.parsed()["leader"], leader) << refused.body;
  auto added = ClusterClient({c.http(1), c.http(2), c.http(3)}).call("POST", "/members", add);
  ASSERT_TRUE(added.ok() && added->status == 200)
      << (added.ok() ? added->body : added.status().message()) << c.logs();
  EXPECT_EQ(added->parsed()["members"]["voters"], json::array({1, 2, 3, 4}));
  ASSERT_EQ(c.call(3, "PUT", "/v1/kv/after", "2").status, 200);
  ASSERT_TRUE(wait_until([&] {
    return c.call(4, "GET", "/v1/kv/after?consistency=serializable").status == 200 &&
           c.call(4, "GET", "/v1/kv/before?consistency=serializable").status == 200;
  })) << c.logs();
  HttpReply removed = c.call(c.wait_leader(), "DELETE", "/members/4", "", seconds(20));
  ASSERT_EQ(removed.status, 200) << removed.body;
  EXPECT_EQ(removed.parsed()["members"]["voters"], json::array({1, 2, 3}));
  c.kill(4);
  EXPECT_EQ(c.call(1, "PUT", "/v1/kv/without-4", "3").status, 200);
}

TEST(KvE2e, SigtermEndsLongPollsAndStopsTheMemberCleanly) {
  ProcessCluster c = make_cluster();
  c.start_all();
  const int leader = c.wait_leader();
  ASSERT_NE(leader, 0) << c.logs();
  std::thread watcher(
      [&] { c.call(leader, "GET", "/v1/watch?timeout_ms=60000", "", seconds(70)); });
  std::this_thread::sleep_for(milliseconds(300));  // the long poll is waiting
  const auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(c.stop(leader), 0) << c.log(leader);
  EXPECT_LT(std::chrono::steady_clock::now() - start, seconds(10));
  watcher.join();
}

}  // namespace
}  // namespace skiff::examples::testing
