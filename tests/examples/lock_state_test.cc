// skiff-lock's state machine alone (examples/lock/lock_state.h, lock_machine.h), no network:
// fencing tokens that only increase, FIFO hand-over, reentrancy, refusals, stale expiries,
// the guarded resource, request-id retries, and a snapshot restored elsewhere answering alike.
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <thread>

#include "lock_machine.h"
#include "lock_state.h"
#include "snapshot_strings.h"

namespace skiff::examples::lock {
namespace {

using namespace std::chrono_literals;

// A LockState fed commands at increasing log indexes.
class LockStateTest : public ::testing::Test {
 protected:
  json run(const std::string& command) { return state_.apply(++index_, command).result; }
  json acquire(const std::string& name, const std::string& owner, std::uint64_t wait_ms = 0,
               std::uint64_t ttl_ms = 10000, const std::string& rid = "") {
    return run(command::acquire(name, owner, ttl_ms, wait_ms, rid));
  }
  json release(const std::string& name, const std::string& owner, const std::string& rid = "") {
    return run(command::release(name, owner, rid));
  }
  // Expires `name`'s current holding as a leader would have seen it.
  json expire_now(const std::string& name) {
    const Lock& l = state_.locks().at(name);
    return run(command::expire(name, l.owner, l.token, l.refreshed));
  }
  std::uint64_t token(const json& r) { return r.value("token", std::uint64_t{0}); }

  LockState state_;
  std::uint64_t index_ = 0;
};

TEST_F(LockStateTest, TokensStrictlyIncreaseAcrossAcquireReleaseAndExpire) {
  std::uint64_t last = 0;
  for (int round = 0; round < 5; ++round) {
    const json a = acquire("db", "a");
    ASSERT_FALSE(a.contains("error")) << a;
    EXPECT_GT(token(a), last);
    last = token(a);
    if (round % 2 == 0) {
      EXPECT_TRUE(release("db", "a")["released"].get<bool>());
    } else {
      EXPECT_TRUE(expire_now("db")["expired"].get<bool>());
    }
    EXPECT_FALSE(state_.lock_json("db")["held"].get<bool>());  // free locks are forgotten...
  }
  EXPECT_GT(token(acquire("db", "b")), last);  // ... but not their tokens
}

TEST_F(LockStateTest, WaitersAreGrantedInArrivalOrderWithNewTokens) {
  const std::uint64_t t1 = token(acquire("db", "a"));
  EXPECT_EQ(acquire("db", "b", 5000)["position"], 1);
  EXPECT_EQ(acquire("db", "c", 5000)["position"], 2);
  EXPECT_EQ(acquire("db", "b", 9000, 7000)["position"], 1);      // asking again keeps its place
  EXPECT_EQ(state_.locks().at("db").waiters[0].wait_ms, 9000u);  // with the newer wait and ttl
  EXPECT_EQ(state_.lock_json("db")["waiters"].size(), 2u);

  const json r = release("db", "a");
  EXPECT_EQ(r["next"]["owner"], "b");
  EXPECT_EQ(state_.locks().at("db").ttl_ms, 7000u);
  const std::uint64_t t2 = token(r["next"]);
  EXPECT_GT(t2, t1);
  const json e = expire_now("db");
  EXPECT_EQ(e["next"]["owner"], "c");
  EXPECT_GT(token(e["next"]), t2);
  EXPECT_EQ(state_.lock_json("db")["owner"], "c");
  EXPECT_TRUE(state_.lock_json("db")["waiters"].empty());
}

TEST_F(LockStateTest, HeldWithoutWaitIsRefusedAtOnceNamingTheHolder) {
  acquire("db", "a");
  const json r = acquire("db", "b");
  EXPECT_EQ(r["code"], "Held");
  EXPECT_EQ(r["http"], 409);
  EXPECT_EQ(r["holder"], "a");
  EXPECT_TRUE(state_.lock_json("db")["waiters"].empty());
}

TEST_F(LockStateTest, ReentrantAcquireCountsAndNeedsAsManyReleases) {
  const std::uint64_t t = token(acquire("db", "a"));
  const json again = acquire("db", "a");
  EXPECT_EQ(again["count"], 2);
  EXPECT_EQ(token(again), t);  // the same holding: the same token
  const json first = release("db", "a");
  EXPECT_FALSE(first["released"].get<bool>());
  EXPECT_EQ(first["count"], 1);
  EXPECT_EQ(state_.lock_json("db")["owner"], "a");
  EXPECT_TRUE(release("db", "a")["released"].get<bool>());
  EXPECT_EQ(release("db", "a")["code"], "NotHeld");
}

TEST_F(LockStateTest, OnlyTheHolderMayReleaseOrKeepAlive) {
  acquire("db", "a");
  acquire("db", "b", 5000);
  const json r = release("db", "b");  // a waiter is not the holder either
  EXPECT_EQ(r["code"], "NotOwner");
  EXPECT_EQ(r["http"], 403);
  EXPECT_EQ(release("db", "mallory")["code"], "NotOwner");
  EXPECT_EQ(run(command::keepalive("db", "b"))["code"], "NotOwner");
  EXPECT_EQ(state_.lock_json("db")["owner"], "a");
  EXPECT_EQ(release("nothing", "a")["http"], 404);
  EXPECT_EQ(run(command::keepalive("nothing", "a"))["http"], 404);
}

TEST_F(LockStateTest, ExpireAfterAKeepaliveIsStaleAndIgnored) {
  acquire("db", "a");
  const Lock seen = state_.locks().at("db");  // what the leader saw run out
  EXPECT_FALSE(run(command::keepalive("db", "a")).contains("error"));
  const json e = run(command::expire("db", seen.owner, seen.token, seen.refreshed));
  EXPECT_FALSE(e["expired"].get<bool>());
  EXPECT_EQ(state_.lock_json("db")["owner"], "a");
  // A re-acquire refreshes too; an expire of the current holding works.
  const Lock seen2 = state_.locks().at("db");
  acquire("db", "a");
  EXPECT_FALSE(
      run(command::expire("db", "a", seen2.token, seen2.refreshed))["expired"].get<bool>());
  EXPECT_TRUE(expire_now("db")["expired"].get<bool>());
  // An expire of an older holding never frees a newer one.
  const std::uint64_t old = token(acquire("db", "a"));
  const std::uint64_t refreshed = state_.locks().at("db").refreshed;
  release("db", "a");
  acquire("db", "a");
  EXPECT_FALSE(run(command::expire("db", "a", old, refreshed))["expired"].get<bool>());
  EXPECT_TRUE(state_.lock_json("db")["held"].get<bool>());
}

TEST_F(LockStateTest, CancelLeavesTheLineOrReportsTheGrant) {
  acquire("db", "a");
  const std::uint64_t seq = acquire("db", "b", 5000)["seq"];
  acquire("db", "c", 5000);
  EXPECT_FALSE(run(command::cancel("db", "b", seq + 100))["cancelled"].get<bool>());  // not it
  EXPECT_TRUE(run(command::cancel("db", "b", seq))["cancelled"].get<bool>());
  EXPECT_EQ(release("db", "a")["next"]["owner"], "c");
  const json late = run(command::cancel("db", "c"));  // granted before the cancel came
  EXPECT_FALSE(late["cancelled"].get<bool>());
  EXPECT_EQ(late["owner"], "c");
  EXPECT_GT(token(late), 0u);
}

TEST_F(LockStateTest, GuardedResourceRefusesTokensOlderThanTheNewest) {
  const std::uint64_t ta = token(acquire("db", "a", 0, 1000));
  expire_now("db");  // a paused past its lease
  const std::uint64_t tb = token(acquire("db", "b"));
  ASSERT_GT(tb, ta);
  EXPECT_TRUE(run(command::write("file", tb, "from b"))["accepted"].get<bool>());
  const json late = run(command::write("file", ta, "from a, late"));
  EXPECT_EQ(late["code"], "StaleToken");
  EXPECT_EQ(late["http"], 409);
  EXPECT_EQ(late["newest"], tb);
  EXPECT_TRUE(run(command::write("file", tb, "b again"))["accepted"].get<bool>());
  const json r = state_.resource_json("file");
  EXPECT_EQ(r["data"], "b again");
  EXPECT_EQ(r["token"], tb);
  EXPECT_EQ(r["rejected"], 1);
  EXPECT_TRUE(state_.resource_json("other").is_null());
}

// Issue 15: a token no grant issued (2^64-1, or one past the newest) must not move the fence,
// or the real holder would be refused from then on.
TEST_F(LockStateTest, GuardedResourceRefusesTokensNoGrantIssued) {
  const std::uint64_t ta = token(acquire("db", "a"));
  ASSERT_TRUE(run(command::write("file", ta, "from a"))["accepted"].get<bool>());
  for (const std::uint64_t forged : {UINT64_MAX, state_.next_token(), std::uint64_t{0}}) {
    const json r = run(command::write("file", forged, "forged"));
    EXPECT_EQ(r["code"], "UnknownToken") << forged;
    EXPECT_EQ(r["http"], 409) << forged;
  }
  const json res = state_.resource_json("file");
  EXPECT_EQ(res["token"], ta);  // the fence did not move
  EXPECT_EQ(res["data"], "from a");
  EXPECT_EQ(res["rejected"], 3);
  EXPECT_TRUE(run(command::write("file", ta, "a again"))["accepted"].get<bool>());
  // A resource never written to refuses a forged token too, and is not created by it.
  EXPECT_EQ(run(command::write("other", UINT64_MAX, "x"))["code"], "UnknownToken");
  EXPECT_TRUE(state_.resource_json("other").is_null());
}

TEST_F(LockStateTest, RetriesWithTheSameRequestIdAreAppliedOnce) {
  const json first = acquire("db", "a", 0, 10000, "r1");
  const json retry = acquire("db", "a", 0, 10000, "r1");
  EXPECT_EQ(retry["count"], 1);
  EXPECT_EQ(token(retry), token(first));
  EXPECT_EQ(acquire("db", "a", 0, 10000, "r2")["count"], 2);  // a new request is reentrant
  EXPECT_EQ(release("db", "a", "x1")["count"], 1);
  EXPECT_EQ(release("db", "a", "x1")["count"], 1);  // retried release: not twice
  EXPECT_TRUE(state_.lock_json("db")["held"].get<bool>());
}

TEST_F(LockStateTest, MalformedCommandsAndNamesAreRefusedWithoutChange) {
  EXPECT_EQ(run("not json")["code"], "BadCommand");
  EXPECT_EQ(run(R"({"op":"acquire","name":"db"})")["code"], "BadCommand");
  EXPECT_EQ(run(R"({"op":"nope","name":"db","owner":"a"})")["code"], "BadCommand");
  EXPECT_EQ(acquire(std::string(kMaxNameBytes + 1, 'x'), "a")["code"], "BadCommand");
  EXPECT_EQ(acquire("a\x1f b", "a")["code"], "BadCommand");
  EXPECT_EQ(acquire("db", "")["code"], "BadCommand");
  EXPECT_TRUE(state_.locks().empty());
  EXPECT_EQ(state_.next_token(), 1u);
}

// A member's machine: snapshot at some point, restore into a fresh one, feed both the same
// commands: every answer and the final state agree.
TEST(LockMachineTest, SnapshotRestoredIntoAFreshMachineAnswersIdentically) {
  using Writer = testing::StringWriter;
  using Reader = testing::StringReader;
  LockMachine a;
  std::uint64_t i = 0;
  auto apply = [&i](LockMachine& m, const std::string& c) {
    return std::string(m.apply(Index{++i}, c).view());
  };
  apply(a, command::acquire("db", "x", 10000, 0, "r1"));
  apply(a, command::acquire("db", "y", 10000, 5000));
  apply(a, command::acquire("db", "z", 10000, 5000));
  apply(a, command::acquire("db", "x", 10000, 0));
  apply(a, command::acquire("cache", "y", 10000, 0));
  apply(a, command::write("file", 3, "hello"));
  Writer w;
  ASSERT_TRUE(a.snapshot(w).ok());
  LockMachine b;
  Reader r(w.text);
  ASSERT_TRUE(b.restore(r).ok());
  EXPECT_EQ(a.state_json(), b.state_json());

  const std::uint64_t after = i;
  const std::vector<std::string> more = {
      command::acquire("db", "x", 10000, 0, "r1"),  // a retry remembered by the snapshot
      command::release("db", "y"),
      command::release("db", "x"),
      command::release("db", "x"),
      command::cancel("db", "z"),
      command::expire("cache", "y", 5, 5),
      command::write("file", 2, "stale"),
      command::acquire("db", "w", 10000, 0),
  };
  std::vector<std::string> answers_a;
  for (const auto& c : more) {
    answers_a.push_back(apply(a, c));
  }
  i = after;
  for (std::size_t k = 0; k < more.size(); ++k) {
    EXPECT_EQ(apply(b, more[k]), answers_a[k]) << more[k];
  }
  EXPECT_EQ(a.state_json(), b.state_json());
  EXPECT_EQ(b.lock_json("db")["owner"], "y");  // x released twice, z left the line
  EXPECT_TRUE(b.lock_json("db")["waiters"].empty());

  Reader garbage("{\"version\": 1}");
  EXPECT_FALSE(b.restore(garbage).ok());
}

// The leader side: a lease that ran out becomes an expire command naming that holding, and a
// grant applied on this member wakes a request waiting for it.
TEST(LockMachineTest, DueExpiresAndGrantsReachWaitingRequests) {
  LockMachine m;
  m.apply(Index{1}, command::acquire("db", "a", 1, 0));  // a 1 ms lease
  LockMachine::Watch watch(m, "db", "b");
  m.apply(Index{2}, command::acquire("db", "b", 10000, 5000));
  std::vector<std::string> due;
  const auto until = std::chrono::steady_clock::now() + 5s;
  while (due.empty() && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(5ms);
    due = m.due_commands();
  }
  ASSERT_EQ(due.size(), 1u);
  EXPECT_EQ(json::parse(due[0])["op"], "expire");
  EXPECT_FALSE(watch.wait(std::chrono::steady_clock::now()).has_value());
  std::thread applier([&m, &due] {
    std::this_thread::sleep_for(20ms);
    m.apply(Index{3}, due[0]);
  });
  const auto token = watch.wait(std::chrono::steady_clock::now() + 5s);
  applier.join();
  ASSERT_TRUE(token.has_value());
  EXPECT_EQ(*token, m.lock_json("db")["token"].get<std::uint64_t>());
  EXPECT_EQ(m.lock_json("db")["owner"], "b");
  EXPECT_TRUE(m.due_commands().empty());  // b's lease is 10 s
}

}  // namespace
}  // namespace skiff::examples::lock
