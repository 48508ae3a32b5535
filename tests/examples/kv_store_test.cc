// skiff-kv's state machine alone (examples/kv/kv_store.h): revisions, compare-and-set,
// leases and their expiry decided by the leader, retries applied once, the watch history and
// snapshots.
#include "kv_store.h"
#include "snapshot_strings.h"

#include <gtest/gtest.h>

#include <thread>

namespace skiff::examples::kv {
namespace {

using Reader = testing::StringReader;
using Writer = testing::StringWriter;

// Applies commands at increasing indexes, as the node does.
struct Applier {
  explicit Applier(KvStore& s) : store(s) {}
  json operator()(const json& cmd) {
    const std::vector<std::uint8_t> bytes = json::to_cbor(cmd);
    const Bytes result = store.apply(Index{++index}, std::string(bytes.begin(), bytes.end()));
    return json::parse(result.view());
  }
  KvStore& store;
  std::uint64_t index = 0;
};

TEST(KvStore, RevisionsCountEveryChangeAndVersionsCountPuts) {
  KvStore s;
  Applier apply(s);
  EXPECT_EQ(apply(KvStore::put_command("a", "1", 0))["revision"], 1);
  EXPECT_EQ(apply(KvStore::put_command("b", "1", 0))["revision"], 2);
  EXPECT_EQ(apply(KvStore::put_command("a", "2", 0))["revision"], 3);
  const auto a = s.get("a");
  ASSERT_TRUE(a.has_value());
  EXPECT_EQ(a->value, "2");
  EXPECT_EQ(a->create_revision, 1u);
  EXPECT_EQ(a->mod_revision, 3u);
  EXPECT_EQ(a->version, 2u);
  // Deleting a missing key changes nothing; deleting one is a revision, and a new key of the
  // same name starts over.
  EXPECT_EQ(apply(KvStore::delete_command("zz"))["deleted"], 0);
  EXPECT_EQ(s.revision(), 3u);
  EXPECT_EQ(apply(KvStore::delete_command("a"))["revision"], 4);
  EXPECT_FALSE(s.get("a").has_value());
  apply(KvStore::put_command("a", "3", 0));
  EXPECT_EQ(s.get("a")->create_revision, 5u);
  EXPECT_EQ(s.get("a")->version, 1u);
}

TEST(KvStore, CompareAndSetByValueByRevisionAndAbsence) {
  KvStore s;
  Applier apply(s);
  EXPECT_EQ(apply(KvStore::txn_command("k", std::nullopt, 0, "v1"))["succeeded"], true);
  EXPECT_EQ(apply(KvStore::txn_command("k", std::nullopt, 0, "v2"))["succeeded"], false);
  json failed = apply(KvStore::txn_command("k", std::string("nope"), std::nullopt, "v2"));
  EXPECT_EQ(failed["succeeded"], false);
  EXPECT_EQ(failed["current"]["value"], "v1");
  EXPECT_EQ(apply(KvStore::txn_command("k", std::string("v1"), std::nullopt, "v2"))["succeeded"],
            true);
  const std::uint64_t rev = s.get("k")->mod_revision;
  EXPECT_EQ(apply(KvStore::txn_command("k", std::nullopt, rev - 1, "v3"))["succeeded"], false);
  EXPECT_EQ(apply(KvStore::txn_command("k", std::nullopt, rev, "v3"))["succeeded"], true);
  EXPECT_EQ(s.get("k")->value, "v3");
}

TEST(KvStore, ARetriedWriteIsAppliedOnce) {
  KvStore s;
  Applier apply(s);
  json put = KvStore::put_command("k", "v", 0);
  KvStore::identify(put, "client-1", 7);
  const json first = apply(put);
  const json again = apply(put);  // the same request, e.g. retried on another member
  EXPECT_EQ(first, again);
  EXPECT_EQ(s.revision(), 1u);
  EXPECT_EQ(s.get("k")->version, 1u);
  KvStore::identify(put, "client-1", 6);
  EXPECT_EQ(apply(put)["code"], "StaleRequest");
  KvStore::identify(put, "client-1", 8);
  EXPECT_EQ(apply(put)["revision"], 2);
}

TEST(KvStore, ForgottenClientsAreTheLeastRecentlyUsed) {
  KvLimits limits;
  limits.max_clients = 2;
  KvStore s(limits);
  Applier apply(s);
  auto put = [&](const std::string& client) {
    json cmd = KvStore::put_command("k", client, 0);
    KvStore::identify(cmd, client, 1);
    return apply(cmd);
  };
  put("a");
  put("b");
  put("a");  // a retry: a is used again
  put("c");  // evicts b, the least recently used
  const std::uint64_t rev = s.revision();
  put("a");
  EXPECT_EQ(s.revision(), rev) << "a is remembered";
  put("b");
  EXPECT_EQ(s.revision(), rev + 1) << "b was forgotten, so its retry applies again";
}

TEST(KvStore, KeysOfARevokedOrExpiredLeaseVanishInOneRevision) {
  std::vector<std::string> touched;
  std::vector<std::uint64_t> gone;
  KvStore s({}, LeaseHooks{[&](std::uint64_t id, std::uint64_t ttl) {
                             touched.push_back(std::to_string(id) + "/" + std::to_string(ttl));
                           },
                           [&](std::uint64_t id) { gone.push_back(id); },
                           {}});
  Applier apply(s);
  const std::uint64_t lease = apply(KvStore::grant_command(5))["id"];
  EXPECT_EQ(touched, std::vector<std::string>{std::to_string(lease) + "/5"});
  apply(KvStore::put_command("svc/a", "1", lease));
  apply(KvStore::put_command("svc/b", "1", lease));
  apply(KvStore::put_command("other", "1", 0));
  EXPECT_EQ(apply(KvStore::put_command("x", "1", 999))["code"], "LeaseNotFound");
  // The leader decided expiry after 0 keepalives, but one was applied first: void.
  apply(KvStore::keepalive_command(lease));
  EXPECT_EQ(apply(KvStore::expire_command(lease, 0))["expired"], false);
  EXPECT_TRUE(s.get("svc/a").has_value());
  const std::uint64_t rev = s.revision();
  EXPECT_EQ(apply(KvStore::expire_command(lease, 1))["expired"], true);
  EXPECT_EQ(s.revision(), rev + 1);
  EXPECT_FALSE(s.get("svc/a").has_value());
  EXPECT_FALSE(s.get("svc/b").has_value());
  EXPECT_TRUE(s.get("other").has_value());
  EXPECT_EQ(gone, std::vector<std::uint64_t>{lease});
  EXPECT_EQ(apply(KvStore::keepalive_command(lease))["code"], "LeaseNotFound");

  const std::uint64_t second = apply(KvStore::grant_command(5))["id"];
  EXPECT_NE(second, lease);
  apply(KvStore::put_command("k", "1", second));
  apply(KvStore::put_command("k", "2", 0));  // a put without the lease detaches the key
  EXPECT_EQ(apply(KvStore::revoke_command(second))["revoked"], true);
  EXPECT_TRUE(s.get("k").has_value());
}

TEST(KvStore, WatchSeesEveryChangeInOrderFromAnyRevision) {
  KvStore s;
  Applier apply(s);
  apply(KvStore::put_command("a/1", "x", 0));  // rev 1
  apply(KvStore::put_command("b/1", "x", 0));  // rev 2
  apply(KvStore::put_command("a/2", "y", 0));  // rev 3
  apply(KvStore::delete_command("a/1"));       // rev 4
  std::vector<Event> events;
  std::uint64_t next = 0;
  std::uint64_t compacted = 0;
  ASSERT_TRUE(s.watch("a/", 1, 100, std::chrono::milliseconds(0), &events, &next, &compacted).ok());
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[0].revision, 1u);
  EXPECT_EQ(events[1].revision, 3u);
  EXPECT_EQ(events[2].revision, 4u);
  EXPECT_TRUE(events[2].deleted);
  EXPECT_EQ(next, 5u);
  // Page by page with `next`: no gaps, no duplicates.
  events.clear();
  ASSERT_TRUE(s.watch("", 1, 2, std::chrono::milliseconds(0), &events, &next, &compacted).ok());
  EXPECT_EQ(events.size(), 2u);
  EXPECT_EQ(next, 3u);
  // A watcher waiting for the future wakes on the change.
  std::thread writer([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    Applier later(s);
    later.index = 100;
    later(KvStore::put_command("a/3", "z", 0));
  });
  events.clear();
  ASSERT_TRUE(s.watch("a/", 5, 10, std::chrono::seconds(10), &events, &next, &compacted).ok());
  writer.join();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].key, "a/3");
  EXPECT_EQ(events[0].revision, 5u);
}

TEST(KvStore, WatchFromACompactedRevisionIsRefused) {
  KvLimits limits;
  limits.max_history = 3;
  KvStore s(limits);
  Applier apply(s);
  for (int i = 0; i < 5; ++i) {
    apply(KvStore::put_command("k" + std::to_string(i), "v", 0));
  }
  std::vector<Event> events;
  std::uint64_t next = 0;
  std::uint64_t compacted = 0;
  Status st = s.watch("", 2, 10, std::chrono::milliseconds(0), &events, &next, &compacted);
  EXPECT_EQ(st.code(), ErrorCode::kCompacted);
  EXPECT_EQ(compacted, 3u);
  EXPECT_TRUE(s.watch("", 3, 10, std::chrono::milliseconds(0), &events, &next, &compacted).ok());
  EXPECT_EQ(events.size(), 3u);
}

TEST(KvStore, HistoryAndWatchPagesAreBoundedInBytes) {
  KvLimits limits;
  limits.max_history_bytes = 20;  // key "kN" + value "vvvv": 6 bytes per event
  limits.max_watch_bytes = 12;
  KvStore s(limits);
  Applier apply(s);
  for (int i = 0; i < 5; ++i) {
    apply(KvStore::put_command("k" + std::to_string(i), "vvvv", 0));
  }
  std::vector<Event> events;
  std::uint64_t next = 0;
  std::uint64_t compacted = 0;
  EXPECT_EQ(s.watch("", 2, 100, std::chrono::milliseconds(0), &events, &next, &compacted).code(),
            ErrorCode::kCompacted);
  EXPECT_EQ(compacted, 3u) << "3 events of 6 bytes fit in 20";
  ASSERT_TRUE(s.watch("", 3, 100, std::chrono::milliseconds(0), &events, &next, &compacted).ok());
  EXPECT_EQ(events.size(), 2u) << "a page stops once it holds 12 bytes";
  EXPECT_EQ(next, 5u);
}

TEST(KvStore, ClosedWatchesAnswerAtOnce) {
  KvStore s;
  s.close_watches();
  std::vector<Event> events;
  std::uint64_t next = 0;
  std::uint64_t compacted = 0;
  const auto start = std::chrono::steady_clock::now();
  ASSERT_TRUE(s.watch("", 1, 10, std::chrono::seconds(30), &events, &next, &compacted).ok());
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
  EXPECT_TRUE(events.empty());
}

TEST(KvStore, ASnapshotRestoresTheWholeStore) {
  KvStore s;
  Applier apply(s);
  const std::uint64_t lease = apply(KvStore::grant_command(30))["id"];
  apply(KvStore::put_command("a", "1", lease));
  apply(KvStore::put_command("b", "2", 0));
  json retried = KvStore::put_command("c", "3", 0);
  KvStore::identify(retried, "cl", 1);
  apply(retried);
  apply(KvStore::delete_command("b"));
  Writer w;
  ASSERT_TRUE(s.snapshot(w).ok());

  std::vector<std::uint64_t> touched;
  KvStore restored(
      {}, LeaseHooks{[&](std::uint64_t id, std::uint64_t) { touched.push_back(id); }, {}, {}});
  Reader r(w.text);
  ASSERT_TRUE(restored.restore(r).ok());
  EXPECT_EQ(restored.to_json(), s.to_json());
  EXPECT_EQ(touched, std::vector<std::uint64_t>{lease}) << "restored leases get a deadline";
  // It goes on exactly as the original: the retry is still recognised, ids continue.
  Applier next(restored);
  next.index = apply.index;
  EXPECT_EQ(next(retried), apply(retried));
  EXPECT_EQ(next(KvStore::grant_command(5)), apply(KvStore::grant_command(5)));
  EXPECT_EQ(next(KvStore::revoke_command(lease)), apply(KvStore::revoke_command(lease)));
  EXPECT_EQ(restored.to_json(), s.to_json());

  Reader garbage("not cbor at all");
  EXPECT_EQ(restored.restore(garbage).code(), ErrorCode::kCorruption);
}

TEST(KvStore, ForeignCommandsChangeNothing) {
  KvStore s;
  EXPECT_EQ(json::parse(s.apply(Index{1}, "garbage").view())["status"], 400);
  const std::vector<std::uint8_t> bad = json::to_cbor(json{{"op", "put"}, {"key", 5}});
  EXPECT_EQ(json::parse(s.apply(Index{2}, std::string(bad.begin(), bad.end())).view())["status"],
            400);
  EXPECT_EQ(s.revision(), 0u);
}

}  // namespace
}  // namespace skiff::examples::kv
