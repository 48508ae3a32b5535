// skiff-kv across SIGKILLs and restarts, end to end (issue 15): every answer a member gives
// must be the outcome of the request it answers. A node numbers its requests, and proposals and
// read barriers carry (origin, number); a restarted member that re-applies entries proposed by
// its earlier process must not take them for its new requests (a write answered with another
// write's revision, a compare-and-set that never ran answered "succeeded", a linearizable read
// served before its barrier). Every acknowledged answer is checked against what the cluster
// actually applied, read back through the leader at the end.
#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <random>
#include <set>

#include "process_cluster.h"

namespace skiff::examples::testing {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;
using std::chrono::seconds;

// Wrong answers, collected from many threads; the first few are printed in full.
class Violations {
 public:
  void add(const std::string& what) {
    std::lock_guard lock(mu_);
    ++count_;
    if (first_.size() < 25) {
      first_.push_back(what);
    }
  }
  std::size_t count() const {
    std::lock_guard lock(mu_);
    return count_;
  }
  std::string report() const {
    std::lock_guard lock(mu_);
    std::string out = std::to_string(count_) + " wrong answers; the first:\n";
    for (const std::string& w : first_) {
      out += "  " + w + "\n";
    }
    return out;
  }

 private:
  mutable std::mutex mu_;
  std::size_t count_ = 0;
  std::vector<std::string> first_;
};

// An acknowledged write of a key written once: the key must hold `value` at `revision`.
struct Ack {
  std::string key;
  std::string value;
  std::uint64_t revision = 0;
  std::string how;  // the request, for the failure message
};

// Acks collected from many threads.
class Acks {
 public:
  void add(Ack a) {
    std::lock_guard lock(mu_);
    acks_.push_back(std::move(a));
  }
  std::vector<Ack> all() const {
    std::lock_guard lock(mu_);
    return acks_;
  }

 private:
  mutable std::mutex mu_;
  std::vector<Ack> acks_;
};

// The "value" of a key's answer ("" when there is none, or no JSON object).
std::string value_of(const HttpReply& r) {
  const json j = r.parsed();
  return j.is_object() && j.contains("value") && j["value"].is_string()
             ? j["value"].get<std::string>()
             : "";
}

std::string put_path(const std::string& key, const std::string& client = "",
                     std::uint64_t seq = 0) {
  std::string path = "/v1/kv/" + key;
  if (!client.empty()) {
    path += "?client_id=" + client + "&seq=" + std::to_string(seq);
  }
  return path;
}

// A create-if-absent compare-and-set (must succeed on a fresh key).
std::string create_body(const std::string& key, const std::string& value,
                        const std::string& client = "", std::uint64_t seq = 0) {
  json body = {{"key", key}, {"value", value}, {"expect_mod_revision", 0}};
  if (!client.empty()) {
    body["client_id"] = client;
    body["seq"] = seq;
  }
  return body.dump();
}

// A compare-and-set that must fail: no key ever holds "never".
std::string failing_cas_body(const std::string& key, const std::string& client = "",
                             std::uint64_t seq = 0) {
  json body = {{"key", key}, {"value", "broken"}, {"expect_value", "never"}};
  if (!client.empty()) {
    body["client_id"] = client;
    body["seq"] = seq;
  }
  return body.dump();
}

// Checks a 200 answer to a PUT (or a successful create) of `key` = `value`: it must look like
// one, and is recorded for the final check. `cas`: the answer must say succeeded:true.
// Returns the revision it gave (0: a wrong answer).
std::uint64_t record_write(const HttpReply& r, const std::string& key, const std::string& value,
                           bool cas, const std::string& how, Acks& acks, Violations& v) {
  const json j = r.parsed();
  if (!j.is_object() || !j.contains("revision") || !j["revision"].is_number_unsigned()) {
    v.add(how + ": answer without a revision: " + r.body);
    return 0;
  }
  if (cas ? j.value("succeeded", false) != true : j.contains("succeeded")) {
    v.add(how + ": answer of another command: " + r.body);
    return 0;
  }
  const auto revision = j["revision"].get<std::uint64_t>();
  acks.add(Ack{key, value, revision, how});
  return revision;
}

// Checks an answer to a compare-and-set that cannot succeed.
void check_failed_cas(const HttpReply& r, const std::string& how, Violations& v) {
  const json j = r.parsed();
  if (!j.is_object() || !j.contains("succeeded") || j["succeeded"] != false) {
    v.add(how + ": a compare-and-set that cannot succeed was answered: " + r.body);
  }
}

// Every key under `prefix`, linearizably through member `id`.
std::map<std::string, json> list_all(const ProcessCluster& c, int id, const std::string& prefix) {
  std::map<std::string, json> out;
  HttpReply r = c.call(id, "GET", "/v1/kv?limit=100000&prefix=" + prefix, "", seconds(20));
  const json j = r.parsed();
  if (r.status != 200 || !j.contains("kvs")) {
    ADD_FAILURE() << "listing " << prefix << " on " << id << ": " << r.status << " " << r.body;
    return out;
  }
  EXPECT_FALSE(j.value("more", true)) << "more than 100000 keys";
  for (const json& kv : j["kvs"]) {
    out[kv["key"].get<std::string>()] = kv;
  }
  return out;
}

// Each acknowledged write is in the store: its key holds its value, written at the revision
// the answer gave.
void check_acks(const ProcessCluster& c, int id, const std::vector<Ack>& acks,
                const std::set<std::string>& prefixes, Violations& v) {
  std::map<std::string, json> store;
  for (const std::string& p : prefixes) {
    store.merge(list_all(c, id, p));
  }
  for (const Ack& a : acks) {
    const auto it = store.find(a.key);
    if (it == store.end()) {
      v.add(a.how + ": acknowledged at revision " + std::to_string(a.revision) +
            " but the key is not in the store");
    } else if (it->second["value"] != a.value ||
               it->second["mod_revision"].get<std::uint64_t>() != a.revision) {
      v.add(a.how + ": answered revision " + std::to_string(a.revision) + " but the store has " +
            it->second.dump());
    }
  }
}

// The member other than `a` and `b`.
int third(int a, int b) {
  return 6 - a - b;
}

// Writes `count` keys "<prefix><t>/<i>" through member `id` from `threads` threads (kept-alive
// connections); returns how many were acknowledged. Every odd one is a create-if-absent
// compare-and-set, the rest PUTs; acknowledged ones go to `acks` when it is set.
std::size_t write_many(const ProcessCluster& c, int id, const std::string& prefix, int threads,
                       int count, std::size_t value_bytes, Acks* acks, Violations& v) {
  std::atomic<std::size_t> acked{0};
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      MemberConnection conn(c.http(id));
      const std::string filler(value_bytes, 'x');
      for (int i = t; i < count; i += threads) {
        const std::string key = prefix + std::to_string(t) + "/" + std::to_string(i);
        const std::string value = std::to_string(i) + filler;
        const bool cas = i % 2 == 1;
        HttpReply r = cas ? conn.call("POST", "/v1/txn", create_body(key, value))
                          : conn.call("PUT", put_path(key), value);
        if (r.status == 200) {
          ++acked;
          if (acks != nullptr) {
            record_write(r, key, value, cas, "write " + key + " through " + std::to_string(id),
                         *acks, v);
          }
        }
      }
    });
  }
  for (auto& w : workers) {
    w.join();
  }
  return acked;
}

struct Setup {
  std::string storage;
  std::string snapshot_entries;
};

// Printed in test names and failure messages.
void PrintTo(const Setup& s, std::ostream* os) {
  *os << "--storage " << s.storage << " --snapshot-entries " << s.snapshot_entries;
}

std::string setup_name(const ::testing::TestParamInfo<Setup>& info) {
  return info.param.storage + "_snapshot_" + info.param.snapshot_entries;
}

class KvCrashloop : public ::testing::TestWithParam<Setup> {
 protected:
  ProcessCluster make_cluster(const std::string& timeout_ms) const {
    return ProcessCluster(SKIFF_KV_BINARY, 3,
                          {"--storage", GetParam().storage, "--snapshot-entries",
                           GetParam().snapshot_entries, "--request-timeout-ms", timeout_ms});
  }
};

// The targeted shape: a follower forwards hundreds of proposals (its request numbers 1, 2,
// ... in the log, after 5 MiB of the leader's entries); then, three times, the follower is
// restarted (numbers from 1 again), killed with SIGKILL 40 ms into a burst of forwarded
// writes, restarted, and sent requests whose right answers differ from the old entries'
// results from the moment it names a leader, while it re-applies and catches up.
TEST_P(KvCrashloop, ARestartedFollowerAnswersEachNewRequestWithItsOwnOutcome) {
  ProcessCluster c = make_cluster("5000");
  c.start_all();
  const int leader = c.wait_leader();
  ASSERT_NE(leader, 0) << c.logs();
  const int f = leader == 1 ? 2 : 1;
  Violations v;
  Acks acks;

  ASSERT_EQ(c.call(leader, "PUT", "/v1/kv/lin", "initial").status, 200);
  ASSERT_EQ(c.call(leader, "PUT", "/v1/kv/fixed", "base").status, 200);
  // MiBs of the leader's own entries: the restarted follower re-applies them first.
  const std::size_t bulk = write_many(c, leader, "bulk/", 16, 640, 8000, nullptr, v);
  ASSERT_GT(bulk, 320u) << c.logs();
  // Hundreds of the follower's forwarded proposals, numbered 1, 2, ... by its first process.
  const std::size_t old = write_many(c, f, "old/", 16, 320, 16, &acks, v);
  ASSERT_GT(old, 160u) << c.logs();
  // After them in the log: a read barrier on the restarted member must see it.
  ASSERT_EQ(c.call(leader, "PUT", "/v1/kv/lin", "final").status, 200);
  // Three rounds (each a chance: the catch-up races the new requests).
  std::atomic<int> answered{0};
  for (int round = 0; round < 3; ++round) {
    // A fresh process (numbers from 1 again) that is killed with SIGKILL while its first
    // forwarded writes are pending: the leader commits them, the member learns them only after
    // its next restart (a WAL member re-applies what it knew before its HTTP port answers).
    c.kill(f);
    c.start(f);
    ASSERT_NE(c.wait_knows_leader(f), 0) << c.logs();
    {
      std::atomic<bool> stop{false};
      std::vector<std::thread> burst;
      for (int t = 0; t < 16; ++t) {
        burst.emplace_back([&, t] {
          MemberConnection conn(c.http(f), seconds(3));
          for (int i = 0; i < 2000 && !stop; ++i) {
            const std::string key = "burst/" + std::to_string(round) + "/" + std::to_string(t) +
                                    "/" + std::to_string(i);
            HttpReply r = conn.call("PUT", put_path(key), "b");
            if (r.status == 200) {
              record_write(r, key, "b", false, "PUT " + key + " before the kill", acks, v);
            } else if (r.status == 0) {
              return;
            }
          }
        });
      }
      std::this_thread::sleep_for(milliseconds(40));
      c.kill(f);
      stop = true;
      for (auto& b : burst) {
        b.join();
      }
    }

    // Restarted, and hammered from the moment it knows the leader (before, every request is
    // refused at once), while it re-applies and catches up.
    c.start(f);
    ASSERT_NE(c.wait_knows_leader(f), 0) << c.logs();
    {
      std::vector<std::thread> hammer;
      for (int t = 0; t < 12; ++t) {
        hammer.emplace_back([&, t] {
          const auto until = Clock::now() + seconds(10);
          for (int i = 0, done = 0; done < 60 && Clock::now() < until; ++i) {
            const std::string tag =
                std::to_string(round) + "/" + std::to_string(t) + "/" + std::to_string(i);
            HttpReply r;
            std::string how;
            switch (i % 3) {
              case 0: {
                const std::string key = "new/" + tag;
                how = "PUT " + key + " after the restart";
                r = c.call(f, "PUT", put_path(key), "n" + tag);
                if (r.status == 200) {
                  record_write(r, key, "n" + tag, false, how, acks, v);
                }
                break;
              }
              case 1:
                how = "CAS fixed never->broken after the restart";
                r = c.call(f, "POST", "/v1/txn", failing_cas_body("fixed"));
                if (r.status == 200) {
                  check_failed_cas(r, how, v);
                }
                break;
              default:
                how = "linearizable GET lin after the restart";
                r = c.call(f, "GET", "/v1/kv/lin");
                if (r.status != 0 && r.status != 503 && value_of(r) != "final") {
                  v.add(how + " (acknowledged \"final\" before it started): " +
                        std::to_string(r.status) + " " + r.body);
                }
                break;
            }
            if (r.status == 0 || r.status == 503) {
              if (r.status == 0) {
                std::this_thread::sleep_for(milliseconds(1));
              }
            } else {
              ++done;
              ++answered;
            }
          }
        });
      }
      for (auto& h : hammer) {
        h.join();
      }
    }
  }
  EXPECT_GT(answered.load(), 300) << "the restarted member hardly answered\n" << c.logs();

  // Caught up: a last write through the leader is visible on the restarted member.
  ASSERT_EQ(c.call(leader, "PUT", "/v1/kv/done", "1").status, 200);
  ASSERT_TRUE(wait_until([&] {
    return value_of(c.call(f, "GET", "/v1/kv/done?consistency=serializable")) == "1";
  })) << c.logs();
  check_acks(c, c.wait_leader(), acks.all(), {"old/", "burst/", "new/"}, v);
  EXPECT_EQ(value_of(c.call(c.wait_leader(), "GET", "/v1/kv/fixed")), "base");
  EXPECT_EQ(v.count(), 0u) << v.report() << "\nnode " << f << " (restarted):\n"
                           << c.log(f).substr(0, 4000);
}

// The bounded crash loop: four writers through every member (forwarded proposals, retries
// with client_id+seq) and eight probers of the member restarted last, while the leader and the
// followers are killed with SIGKILL and restarted, a dozen times (every third kill hits the
// member restarted last again, while its new process has requests pending). Every
// acknowledged write must be in the store at the revision its answer gave; compare-and-sets
// and linearizable reads must be answered truly.
TEST_P(KvCrashloop, EveryAnswerHoldsThroughRepeatedSigkillsOfLeaderAndFollowers) {
  ProcessCluster c = make_cluster("2000");
  c.start_all();
  ASSERT_NE(c.wait_leader(), 0) << c.logs();
  Violations v;
  Acks acks;
  std::atomic<bool> stop{false};
  std::atomic<int> answers{0};

  auto writer = [&](int t) {
    std::mt19937 rng(static_cast<unsigned>(t * 7919 + 1));
    const std::string client = "writer" + std::to_string(t);
    std::uint64_t seq = 0;
    std::string last_key;
    std::string last_value;
    std::uint64_t last_revision = 0;
    for (int i = 0; i < 100000 && !stop; ++i) {
      const int kind = last_key.empty() ? 0 : i % 5;
      const std::string key = "w" + std::to_string(t) + "/" + std::to_string(i);
      const std::string value = "v" + std::to_string(t) + "-" + std::to_string(i);
      const bool write = kind != 4;
      if (write) {
        ++seq;  // a retry of this request keeps the number: it is applied at most once
      }
      // Tries random members until one answers other than 503 (bounded).
      const auto until = Clock::now() + seconds(12);
      HttpReply r;
      int member = 0;
      while (!stop && Clock::now() < until) {
        member = 1 + static_cast<int>(rng() % 3);
        switch (kind) {
          case 0:
          case 1:
            r = c.call(member, "PUT", put_path(key, client, seq), value, seconds(5));
            break;
          case 2:
            r = c.call(member, "POST", "/v1/txn", create_body(key, value, client, seq), seconds(5));
            break;
          case 3:
            r = c.call(member, "POST", "/v1/txn", failing_cas_body(last_key, client, seq),
                       seconds(5));
            break;
          default:
            r = c.call(member, "GET", "/v1/kv/" + last_key, "", seconds(5));
            break;
        }
        if (r.status != 0 && r.status != 503) {
          break;
        }
        std::this_thread::sleep_for(milliseconds(20));
      }
      if (r.status == 0 || r.status == 503) {
        continue;  // no outcome (stopped, or no quorum for long): nothing acknowledged
      }
      ++answers;
      const std::string how = "writer " + std::to_string(t) + " op " + std::to_string(i) + " via " +
                              std::to_string(member);
      if (r.status != 200) {
        v.add(how + ": unexpected answer " + std::to_string(r.status) + " " + r.body);
        continue;
      }
      if (kind == 3) {
        check_failed_cas(r, how + " (CAS " + last_key + " never->broken)", v);
      } else if (kind == 4) {
        const json j = r.parsed();
        if (value_of(r) != last_value || !j.is_object() ||
            j.value("mod_revision", std::uint64_t{0}) != last_revision) {
          v.add(how + ": linearizable GET " + last_key + " after its write was acknowledged at " +
                std::to_string(last_revision) + ": " + r.body);
        }
      } else {
        const std::uint64_t revision =
            record_write(r, key, value, kind == 2,
                         how + (kind == 2 ? " (create " : " (PUT ") + key + ")", acks, v);
        if (revision != 0) {
          last_key = key;
          last_value = value;
          last_revision = revision;
        }
      }
    }
  };
  std::vector<std::thread> writers;
  for (int t = 0; t < 4; ++t) {
    writers.emplace_back(writer, t);
  }

  // Probers: from the moment a restarted member names a leader, requests to it alone
  // (no retry elsewhere, no pause after a 503): PUTs of fresh keys, a compare-and-set that
  // cannot succeed, linearizable reads of a key acknowledged through the leader before.
  std::atomic<int> restarted{0};  // the member restarted last
  std::atomic<int> lin_acked{0};  // "lin" holds "k<this>" or later
  ASSERT_EQ(c.client().call("PUT", "/v1/kv/fixed", "base")->status, 200);
  auto prober = [&](int t) {
    for (int i = 0; i < 1000000 && !stop; ++i) {
      const int id = restarted.load();
      if (id == 0) {
        std::this_thread::sleep_for(milliseconds(5));
        continue;
      }
      const std::string how = "prober " + std::to_string(t) + " op " + std::to_string(i) +
                              " on restarted " + std::to_string(id);
      HttpReply r;
      if (i % 3 == 0) {
        const std::string key = "p" + std::to_string(t) + "/" + std::to_string(i);
        r = c.call(id, "PUT", put_path(key), "p", seconds(3));
        if (r.status == 200) {
          record_write(r, key, "p", false, how + " (PUT " + key + ")", acks, v);
        }
      } else if (i % 3 == 1) {
        r = c.call(id, "POST", "/v1/txn", failing_cas_body("fixed"), seconds(3));
        if (r.status == 200) {
          check_failed_cas(r, how + " (CAS fixed never->broken)", v);
        }
      } else {
        const int before = lin_acked.load();
        r = c.call(id, "GET", "/v1/kv/lin", "", seconds(3));
        const std::string value = value_of(r);
        // Values are "k<n>"; before the first acknowledged one there is nothing to see.
        if (before > 0 && r.status != 0 && r.status != 503 &&
            (value.size() < 2 || std::stoi(value.substr(1)) < before)) {
          v.add(how + ": linearizable GET lin after k" + std::to_string(before) +
                " was acknowledged: " + std::to_string(r.status) + " " + r.body);
        }
      }
      if (r.status == 0) {
        std::this_thread::sleep_for(milliseconds(1));
      } else if (r.status != 503) {
        ++answers;
      }
    }
  };
  std::vector<std::thread> probers;
  for (int t = 0; t < 8; ++t) {
    probers.emplace_back(prober, t);
  }

  // 12 kills: the leader, a follower, and again the member restarted last (its new process
  // has requests pending with low numbers), each restarted after a short pause.
  std::mt19937 rng(42);
  int leader_kills = 0;
  int follower_kills = 0;
  const auto loop_until = Clock::now() + seconds(50);
  for (int k = 1; k <= 12 && Clock::now() < loop_until; ++k) {
    // Again the member restarted last: 60 ms after it named a leader, when the probers'
    // first requests (low numbers) are pending.
    std::this_thread::sleep_for(milliseconds(k % 3 == 0 ? 60 : 1500 + rng() % 1000));
    const int leader = c.wait_leader(seconds(10));
    auto lin = c.client(seconds(5))
                   .call("PUT", put_path("lin", "lin-writer", static_cast<std::uint64_t>(k)),
                         "k" + std::to_string(k));
    if (lin.ok() && lin->status == 200) {
      lin_acked = k;
    }
    int victim = 1 + static_cast<int>(rng() % 3);
    if (k % 3 == 0 && restarted != 0) {
      victim = restarted;
    } else if (leader != 0) {
      victim = k % 3 == 1 ? leader : third(leader, 1 + (leader % 3));
    }
    (victim == leader ? leader_kills : follower_kills)++;
    restarted = 0;
    c.kill(victim);
    std::this_thread::sleep_for(milliseconds(200 + rng() % 600));
    c.start(victim);
    c.wait_knows_leader(victim, seconds(10));
    restarted = victim;
  }
  std::this_thread::sleep_for(seconds(2));
  stop = true;
  for (auto& w : writers) {
    w.join();
  }
  for (auto& p : probers) {
    p.join();
  }
  EXPECT_EQ(value_of(c.call(c.wait_leader(), "GET", "/v1/kv/fixed")), "base");
  EXPECT_GE(leader_kills, 3);
  EXPECT_GE(follower_kills, 3);
  EXPECT_GT(answers.load(), 200) << c.logs();

  const int leader = c.wait_leader();
  ASSERT_NE(leader, 0) << c.logs();
  std::set<std::string> prefixes;
  for (int t = 0; t < 4; ++t) {
    prefixes.insert("w" + std::to_string(t) + "/");
  }
  for (int t = 0; t < 8; ++t) {
    prefixes.insert("p" + std::to_string(t) + "/");
  }
  check_acks(c, leader, acks.all(), prefixes, v);
  EXPECT_EQ(v.count(), 0u) << v.report() << "\n"
                           << acks.all().size() << " acknowledged writes\n"
                           << c.logs();
}

INSTANTIATE_TEST_SUITE_P(Storage, KvCrashloop,
                         ::testing::Values(Setup{"lmdb", "0"}, Setup{"wal", "5000"}), setup_name);

}  // namespace
}  // namespace skiff::examples::testing
