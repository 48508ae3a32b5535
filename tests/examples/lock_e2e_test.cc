// skiff-lock end to end: three real skiff-lock processes on loopback (ProcessCluster). A lock
// taken on a follower; FIFO waiters; reentrancy and refusals; a lease that runs out and a
// paused holder's late write refused by its fencing token; the leader killed while a lock is
// held, tokens still increasing, the killed member caught up after a restart; no quorum
// answered 503 within the request timeout; bad input answered 4xx JSON.
#include <gtest/gtest.h>

#include <chrono>
#include <future>
#include <string>

#include "process_cluster.h"

#ifndef SKIFF_LOCK_BINARY
#error "SKIFF_LOCK_BINARY must name the skiff-lock binary"
#endif

namespace skiff::examples::testing {
namespace {

using namespace std::chrono_literals;

// --request-timeout-ms 1500: a write or read without quorum is answered 503 quickly.
// --snapshot-entries 4: members snapshot often, so a restart restores the lock state from a
// snapshot (then replays the log after it).
std::vector<std::string> serve_flags() {
  return {"--tick-ms",          "10", "--election-ticks", "10", "--request-timeout-ms", "1500",
          "--snapshot-entries", "4"};
}

std::string owner_body(const std::string& owner, int ttl = 30, int wait = 0) {
  return json({{"owner", owner}, {"ttl", ttl}, {"wait", wait}}).dump();
}

std::uint64_t token_of(const HttpReply& r) {
  return r.parsed().value("token", std::uint64_t{0});
}

// Three members started and agreeing on a leader; `leader` and `follower` name two of them.
class LockCluster : public ::testing::Test {
 protected:
  void SetUp() override {
    cluster_.start_all();
    leader_ = cluster_.wait_leader();
    ASSERT_GT(leader_, 0) << cluster_.logs();
    follower_ = leader_ % 3 + 1;
  }
  HttpReply acquire(int id, const std::string& name, const std::string& owner, int ttl = 30,
                    int wait = 0) {
    return cluster_.call(id, "POST", "/v1/lock/" + name + "/acquire", owner_body(owner, ttl, wait),
                         std::chrono::seconds(wait + 10));
  }
  HttpReply release(int id, const std::string& name, const std::string& owner) {
    return cluster_.call(id, "POST", "/v1/lock/" + name + "/release", owner_body(owner));
  }
  // A lock's state as member `id` answers it; an empty object when it does not answer.
  json lock_state(int id, const std::string& name, bool serializable = false) {
    const json j =
        cluster_
            .call(id, "GET", "/v1/lock/" + name + (serializable ? "?consistency=serializable" : ""))
            .parsed();
    return j.is_object() ? j : json::object();
  }
  // Waits until `name`'s queue on member `id` holds `n` waiters.
  bool wait_queue(int id, const std::string& name, std::size_t n) {
    return wait_until([&] { return lock_state(id, name).value("waiters", json()).size() == n; },
                      10s);
  }

  ProcessCluster cluster_{SKIFF_LOCK_BINARY, 3, serve_flags()};
  int leader_ = 0;
  int follower_ = 0;
};

TEST_F(LockCluster, FollowerTakesLocksWaitersAreServedInOrderOnlyTheOwnerReleases) {
  const int other = follower_ % 3 + 1;  // the leader or the other follower
  const HttpReply a = acquire(follower_, "db", "a");
  ASSERT_EQ(a.status, 200) << a.body << cluster_.logs();
  const std::uint64_t t1 = token_of(a);
  EXPECT_EQ(lock_state(other, "db")["owner"], "a");  // linearizable read elsewhere

  // Held without waiting: refused at once, naming the holder.
  const HttpReply busy = acquire(other, "db", "d");
  EXPECT_EQ(busy.status, 409) << busy.body;
  EXPECT_EQ(busy.parsed()["holder"], "a");

  // b then c wait, on different members; a's release serves b, b's serves c.
  auto b = std::async(std::launch::async, [&] { return acquire(other, "db", "b", 30, 15); });
  ASSERT_TRUE(wait_queue(follower_, "db", 1));
  auto c = std::async(std::launch::async, [&] { return acquire(follower_, "db", "c", 30, 15); });
  ASSERT_TRUE(wait_queue(follower_, "db", 2));
  EXPECT_EQ(lock_state(follower_, "db")["waiters"][0]["owner"], "b");

  const HttpReply wrong = release(other, "db", "mallory");
  EXPECT_EQ(wrong.status, 403) << wrong.body;
  EXPECT_TRUE(wrong.parsed().contains("error"));
  EXPECT_EQ(release(other, "db", "c").status, 403);  // a waiter does not hold it either
  EXPECT_EQ(lock_state(other, "db")["owner"], "a");

  ASSERT_EQ(release(leader_, "db", "a").status, 200);
  const HttpReply rb = b.get();
  ASSERT_EQ(rb.status, 200) << rb.body;
  const std::uint64_t t2 = token_of(rb);
  EXPECT_GT(t2, t1);
  EXPECT_EQ(c.wait_for(200ms), std::future_status::timeout);  // c still waits its turn
  ASSERT_EQ(release(follower_, "db", "b").status, 200);
  const HttpReply rc = c.get();
  ASSERT_EQ(rc.status, 200) << rc.body;
  EXPECT_GT(token_of(rc), t2);

  // Reentrant: the holder acquires again (count 2, same token), keeps alive, releases twice.
  const HttpReply again = acquire(other, "db", "c");
  EXPECT_EQ(again.parsed()["count"], 2);
  EXPECT_EQ(token_of(again), token_of(rc));
  EXPECT_EQ(cluster_.call(other, "POST", "/v1/lock/db/keepalive", owner_body("c")).status, 200);
  EXPECT_EQ(cluster_.call(other, "POST", "/v1/lock/db/keepalive", owner_body("b")).status, 403);
  EXPECT_EQ(release(other, "db", "c").parsed()["count"], 1);

  // A wait that runs out is answered 409 and leaves the line.
  const auto start = std::chrono::steady_clock::now();
  const HttpReply late = acquire(other, "db", "e", 30, 1);
  EXPECT_EQ(late.status, 409) << late.body;
  EXPECT_EQ(late.parsed()["holder"], "c");
  EXPECT_LT(std::chrono::steady_clock::now() - start, 8s);
  EXPECT_TRUE(lock_state(follower_, "db")["waiters"].empty());
}

TEST_F(LockCluster, ExpiredLeasePassesOnAndTheLateHoldersStaleWriteIsRefused) {
  // p holds with a 1 s lease and writes; then "pauses": no keepalive.
  const HttpReply p = acquire(follower_, "job", "p", 1);
  ASSERT_EQ(p.status, 200) << p.body;
  const std::uint64_t tp = token_of(p);
  const std::string write_p = json({{"token", tp}, {"data", "p1"}}).dump();
  ASSERT_EQ(cluster_.call(follower_, "POST", "/v1/resource/out", write_p).status, 200);
  // q waits in line and gets it when p's lease runs out, with a bigger token.
  const HttpReply q = acquire(leader_, "job", "q", 30, 15);
  ASSERT_EQ(q.status, 200) << q.body << cluster_.logs();
  const std::uint64_t tq = token_of(q);
  EXPECT_GT(tq, tp);
  EXPECT_EQ(lock_state(follower_, "job")["owner"], "q");
  // p's keepalive comes too late; q writes; p's late write is refused by its token.
  EXPECT_EQ(cluster_.call(follower_, "POST", "/v1/lock/job/keepalive", owner_body("p")).status,
            403);
  const std::string write_q = json({{"token", tq}, {"data", "q1"}}).dump();
  ASSERT_EQ(cluster_.call(leader_, "POST", "/v1/resource/out", write_q).status, 200);
  const HttpReply stale = cluster_.call(follower_, "POST", "/v1/resource/out",
                                        json({{"token", tp}, {"data", "p2"}}).dump());
  EXPECT_EQ(stale.status, 409) << stale.body;
  EXPECT_EQ(stale.parsed()["code"], "StaleToken");
  const json out = cluster_.call(follower_, "GET", "/v1/resource/out").parsed();
  EXPECT_EQ(out["data"], "q1");
  EXPECT_EQ(out["token"], tq);
}

// Issue 15: a token no grant issued (2^64-1) is refused and does not move the fence, so the
// real holder's writes go on being accepted.
TEST_F(LockCluster, ForgedTokenIsRefusedAndTheHolderStillWrites) {
  const HttpReply h = acquire(follower_, "guard", "h");
  ASSERT_EQ(h.status, 200) << h.body << cluster_.logs();
  const std::uint64_t th = token_of(h);
  const std::string forged = json({{"token", UINT64_MAX}, {"data", "forged"}}).dump();
  const HttpReply f = cluster_.call(leader_, "POST", "/v1/resource/guarded", forged);
  EXPECT_EQ(f.status, 409) << f.body;
  EXPECT_EQ(f.parsed()["code"], "UnknownToken");
  const std::string mine = json({{"token", th}, {"data", "real"}}).dump();
  const HttpReply w = cluster_.call(follower_, "POST", "/v1/resource/guarded", mine);
  EXPECT_EQ(w.status, 200) << w.body;
  const json out = cluster_.call(leader_, "GET", "/v1/resource/guarded").parsed();
  EXPECT_EQ(out["data"], "real");
  EXPECT_EQ(out["token"], th);
}

TEST_F(LockCluster, LeaderKilledWhileHeldTokensStillGrowAndTheMemberCatchesUp) {
  const HttpReply a = acquire(follower_, "db", "a", 60);
  ASSERT_EQ(a.status, 200) << a.body;
  const std::uint64_t t1 = token_of(a);
  for (int i = 0; i < 8; ++i) {  // entries enough for snapshots (--snapshot-entries 4)
    ASSERT_EQ(cluster_.call(leader_, "POST", "/v1/lock/db/keepalive", owner_body("a")).status, 200);
  }
  const int killed = leader_;
  cluster_.kill(killed);
  const int leader = cluster_.wait_leader();
  ASSERT_GT(leader, 0) << cluster_.logs();
  ASSERT_NE(leader, killed);
  const json held = lock_state(follower_, "db");
  EXPECT_EQ(held["owner"], "a") << held;
  EXPECT_EQ(held["token"], t1);

  ASSERT_EQ(release(follower_, "db", "a").status, 200);
  const HttpReply b = acquire(leader, "db", "b", 60);
  ASSERT_EQ(b.status, 200) << b.body;
  const std::uint64_t t2 = token_of(b);
  EXPECT_GT(t2, t1);

  cluster_.start(killed);
  EXPECT_TRUE(wait_until(
      [&] {
        const json j = lock_state(killed, "db", /*serializable=*/true);
        return j.value("owner", "") == "b" && j.value("token", std::uint64_t{0}) == t2;
      },
      20s))
      << cluster_.logs();
  // Caught up: it applied at least what the leader had committed.
  const json leader_status = cluster_.call(leader, "GET", "/status").parsed();
  EXPECT_TRUE(wait_until(
      [&] {
        const json j = cluster_.call(killed, "GET", "/status").parsed();
        return j.is_object() && j.value("applied", 0) >= leader_status.value("commit", 0);
      },
      20s));
  const HttpReply c = acquire(killed, "db", "b");  // reentrant, through the restarted member
  EXPECT_EQ(token_of(c), t2);
  EXPECT_EQ(c.parsed()["count"], 2);
}

TEST_F(LockCluster, AStoppingMemberEndsItsWaitsAndTheyLeaveTheLine) {
  ASSERT_EQ(acquire(leader_, "db", "a").status, 200);
  auto b = std::async(std::launch::async, [&] { return acquire(follower_, "db", "b", 30, 60); });
  ASSERT_TRUE(wait_queue(leader_, "db", 1));
  const auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(cluster_.stop(follower_), 0) << cluster_.log(follower_);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 10s);  // not the 60 s wait
  const HttpReply rb = b.get();
  EXPECT_EQ(rb.status, 503) << rb.body;  // ask another member
  EXPECT_EQ(rb.parsed()["code"], "Stopped") << rb.body;
  EXPECT_TRUE(lock_state(leader_, "db")["waiters"].empty());
}

TEST_F(LockCluster, WaitingAcquiresPerMemberAreCappedSoRoutesKeepAThread) {
  ASSERT_EQ(acquire(leader_, "db", "a").status, 200);
  std::vector<std::future<HttpReply>> waits;
  for (int i = 0; i < 48; ++i) {  // one at a time: the server's listen backlog is short
    waits.push_back(std::async(std::launch::async, [this, i] {
      return acquire(follower_, "db", "w" + std::to_string(i), 30, 30);
    }));
    ASSERT_TRUE(wait_queue(leader_, "db", i + 1)) << lock_state(leader_, "db");
  }
  const HttpReply over = acquire(follower_, "db", "x", 30, 30);
  EXPECT_EQ(over.status, 503) << over.body;
  EXPECT_EQ(over.parsed()["code"], "TooManyWaiters") << over.body;
  EXPECT_EQ(acquire(follower_, "db", "x").status, 409);  // not waiting: served as usual
  EXPECT_EQ(cluster_.call(follower_, "GET", "/status").status, 200);
  EXPECT_EQ(cluster_.stop(follower_), 0);  // ends the waits
  for (auto& w : waits) {
    EXPECT_EQ(w.get().status, 503);
  }
}

TEST_F(LockCluster, WithoutQuorumAnswers503JsonWithinTheRequestTimeout) {
  ASSERT_EQ(acquire(follower_, "db", "a").status, 200);
  const int survivor = follower_;
  for (int id = 1; id <= 3; ++id) {
    if (id != survivor) {
      cluster_.kill(id);
    }
  }
  for (const auto& [method, path, body] :
       std::vector<std::tuple<std::string, std::string, std::string>>{
           {"POST", "/v1/lock/db/acquire", owner_body("b", 30, 5)},
           {"POST", "/v1/lock/db/release", owner_body("a")},
           {"GET", "/v1/lock/db", ""}}) {
    const auto start = std::chrono::steady_clock::now();
    const HttpReply r = cluster_.call(survivor, method, path, body, 15s);
    const auto took = std::chrono::steady_clock::now() - start;
    EXPECT_EQ(r.status, 503) << method << " " << path << ": " << r.body;
    EXPECT_TRUE(r.parsed().contains("error")) << r.body;
    EXPECT_LT(took, 6s) << method << " " << path;  // 1.5 s request timeout, plus slack
  }
  // A serializable read is still served locally.
  EXPECT_EQ(lock_state(survivor, "db", /*serializable=*/true)["owner"], "a");
}

TEST_F(LockCluster, BadInputIsAnswered4xxJson) {
  ASSERT_EQ(acquire(follower_, "db", "a").status, 200);
  struct Case {
    std::string method, path, body;
    int status;
  };
  const std::vector<Case> cases = {
      {"POST", "/v1/lock/db/acquire", "{not json", 400},
      {"POST", "/v1/lock/db/acquire", "[1,2]", 400},
      {"POST", "/v1/lock/db/acquire", R"({"ttl":5})", 400},                  // no owner
      {"POST", "/v1/lock/db/acquire", R"({"owner":7})", 400},                // not a string
      {"POST", "/v1/lock/db/acquire", R"({"owner":"b","ttl":"ten"})", 400},  // not a number
      {"POST", "/v1/lock/db/acquire", R"({"owner":"b","ttl":0})", 400},
      {"POST", "/v1/lock/db/acquire", R"({"owner":"b","ttl":99999})", 400},
      {"POST", "/v1/lock/db/acquire", R"({"owner":"b","wait":-1})", 400},
      {"POST", "/v1/lock/db/acquire", R"({"owner":"b","wait":1000})", 400},
      {"POST", "/v1/lock/db/acquire", R"({"owner":""})", 400},
      {"POST", "/v1/lock/" + std::string(200, 'x') + "/acquire", owner_body("b"), 400},
      {"POST", "/v1/lock/%FF%FE/acquire", owner_body("b"), 400},  // not UTF-8
      {"POST", "/v1/lock/a%01b/acquire", owner_body("b"), 400},   // a control character
      {"POST", "/v1/lock/db/release", owner_body("mallory"), 403},
      {"POST", "/v1/lock/db/release", "{}", 400},
      {"POST", "/v1/lock/never/release", owner_body("a"), 404},
      {"POST", "/v1/lock/never/keepalive", owner_body("a"), 404},
      {"POST", "/v1/lock/db/acquire", "{\"owner\":\"" + std::string((2 << 20) + 1, 'o') + "\"}",
       413},
      {"POST", "/v1/resource/r", R"({"data":"x"})", 400},  // no token
      {"POST", "/v1/resource/r", R"({"token":0})", 400},
      {"GET", "/v1/resource/never", "", 404},
      {"GET", "/v1/lock/db?consistency=maybe", "", 400},
      {"DELETE", "/v1/lock/db", "", 404},
  };
  for (const Case& k : cases) {
    const HttpReply r = cluster_.call(follower_, k.method, k.path, k.body);
    EXPECT_EQ(r.status, k.status) << k.method << " " << k.path.substr(0, 60) << ": " << r.body;
    EXPECT_TRUE(r.parsed().is_object() && r.parsed().contains("error"))
        << k.method << " " << k.path.substr(0, 60) << ": " << r.body.substr(0, 200);
  }
  EXPECT_EQ(lock_state(follower_, "db")["owner"], "a");  // none of it changed the lock
  // Names may hold slashes, spaces and any UTF-8, raw or percent-encoded.
  ASSERT_EQ(acquire(follower_, "team%2Fa%20b%C3%A9", "z").status, 200);
  EXPECT_EQ(lock_state(leader_, "team/a%20b\xC3\xA9")["owner"], "z");
  EXPECT_EQ(lock_state(leader_, "team/a%20b\xC3\xA9")["name"], "team/a b\xC3\xA9");
}

}  // namespace
}  // namespace skiff::examples::testing
