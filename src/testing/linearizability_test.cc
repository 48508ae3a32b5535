#include "skiff/testing/linearizability.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "core/rng.h"

namespace skiff::testing {
namespace {

// A completed operation: `client` sent `input` at `call` and received `output` at `ret`.
Operation done(std::uint64_t client, std::string input, std::string output, std::uint64_t call,
               std::uint64_t ret) {
  return Operation{client, std::move(input), std::move(output), call, ret, true};
}

// An indeterminate operation: sent at `call`, never answered.
Operation lost(std::uint64_t client, std::string input, std::uint64_t call) {
  return Operation{client, std::move(input), "", call, 0, false};
}

CheckOutcome outcome(const std::vector<Operation>& history) {
  return check_linearizable(history, kv_model()).outcome;
}

constexpr CheckOutcome kYes = CheckOutcome::kLinearizable;
constexpr CheckOutcome kNo = CheckOutcome::kNotLinearizable;

// --- sequential histories ------------------------------------------------------------------

TEST(Linearizability, EmptyHistoryIsLinearizable) {
  CheckResult r = check_linearizable({}, kv_model());
  EXPECT_EQ(r.outcome, kYes);
  EXPECT_TRUE(r.counterexample.empty());
}

TEST(Linearizability, LegalSequentialHistory) {
  EXPECT_EQ(outcome({
                done(1, "get x", "<nil>", 1, 2),
                done(1, "put x 1", "ok", 3, 4),
                done(2, "get x", "1", 5, 6),
                done(2, "put x 2", "ok", 7, 8),
                done(1, "get x", "2", 9, 10),
            }),
            kYes);
}

TEST(Linearizability, IllegalSequentialHistory) {
  EXPECT_EQ(outcome({
                done(1, "put x 1", "ok", 1, 2),
                done(1, "put x 2", "ok", 3, 4),
                done(2, "get x", "1", 5, 6),
            }),
            kNo);
}

TEST(Linearizability, PutMustAnswerOk) {
  EXPECT_EQ(outcome({done(1, "put x 1", "fail", 1, 2)}), kNo);
}

// --- real-time order -----------------------------------------------------------------------

TEST(Linearizability, OverlappingWritesTakeTheOnlyOrderThatWorks) {
  // put 1 and put 2 overlap; the reads after both say 1 then 1, so put 2 went first.
  EXPECT_EQ(outcome({
                done(1, "put x 1", "ok", 1, 10),
                done(2, "put x 2", "ok", 2, 9),
                done(3, "get x", "1", 11, 12),
                done(3, "get x", "1", 13, 14),
            }),
            kYes);
  // Same intervals, but a read inside them sees 1 and a later read sees 2: put 1 then put 2,
  // with the first read between them.
  EXPECT_EQ(outcome({
                done(1, "put x 1", "ok", 1, 10),
                done(2, "put x 2", "ok", 2, 9),
                done(3, "get x", "1", 3, 4),
                done(3, "get x", "2", 11, 12),
            }),
            kYes);
  // Both orders are excluded: reads after both writes disagree.
  EXPECT_EQ(outcome({
                done(1, "put x 1", "ok", 1, 10),
                done(2, "put x 2", "ok", 2, 9),
                done(3, "get x", "1", 11, 12),
                done(3, "get x", "2", 13, 14),
            }),
            kNo);
}

TEST(Linearizability, ConcurrentReadMaySeeOldOrNewValue) {
  EXPECT_EQ(outcome({done(1, "put x 1", "ok", 1, 5), done(2, "get x", "<nil>", 2, 3)}), kYes);
  EXPECT_EQ(outcome({done(1, "put x 1", "ok", 1, 5), done(2, "get x", "1", 2, 3)}), kYes);
}

TEST(Linearizability, StaleReadAfterCompletedWriteIsNotLinearizable) {
  CheckResult r = check_linearizable(
      {done(1, "put x 1", "ok", 1, 2), done(2, "get x", "<nil>", 3, 4)}, kv_model());
  EXPECT_EQ(r.outcome, kNo);
  EXPECT_EQ(r.counterexample, (std::vector<Operation>{done(1, "put x 1", "ok", 1, 2),
                                                      done(2, "get x", "<nil>", 3, 4)}));
}

TEST(Linearizability, ReadingAValueBeforeItsWriteWasCalledIsIllegal) {
  EXPECT_EQ(outcome({done(2, "get x", "1", 1, 2), done(1, "put x 1", "ok", 3, 4)}), kNo);
}

TEST(Linearizability, ReturnAtTheSameTimeAsACallCountsAsOverlapping) {
  // put returns at 5 and get is called at 5: concurrent, so the get may precede the put.
  EXPECT_EQ(outcome({done(1, "put x 1", "ok", 1, 5), done(2, "get x", "<nil>", 5, 6)}), kYes);
  // One tick later the put strictly precedes the get.
  EXPECT_EQ(outcome({done(1, "put x 1", "ok", 1, 5), done(2, "get x", "<nil>", 6, 7)}), kNo);
  // An instantaneous operation (call == ret) is accepted.
  EXPECT_EQ(outcome({done(1, "put x 1", "ok", 3, 3), done(2, "get x", "1", 4, 4)}), kYes);
}

// --- compare-and-set -----------------------------------------------------------------------

TEST(Linearizability, CasSucceedsOnlyOnTheExpectedValue) {
  EXPECT_EQ(outcome({
                done(1, "cas x <nil> 1", "ok", 1, 2),  // <nil> means absent
                done(1, "cas x 2 3", "fail", 3, 4),
                done(1, "cas x 1 2", "ok", 5, 6),
                done(1, "get x", "2", 7, 8),
            }),
            kYes);
  EXPECT_EQ(outcome({done(1, "put x 1", "ok", 1, 2), done(1, "cas x 1 2", "fail", 3, 4)}), kNo);
  EXPECT_EQ(outcome({done(1, "cas x 1 2", "ok", 1, 2)}), kNo);
  EXPECT_EQ(outcome({done(1, "cas x 1 2", "fail", 1, 2), done(1, "get x", "2", 3, 4)}), kNo);
}

TEST(Linearizability, ConcurrentCasesOnlyOneWins) {
  // Two clients race to cas from 0; both report success: impossible.
  EXPECT_EQ(outcome({
                done(1, "put x 0", "ok", 1, 2),
                done(1, "cas x 0 1", "ok", 3, 6),
                done(2, "cas x 0 2", "ok", 4, 7),
            }),
            kNo);
  EXPECT_EQ(outcome({
                done(1, "put x 0", "ok", 1, 2),
                done(1, "cas x 0 1", "fail", 3, 6),
                done(2, "cas x 0 2", "ok", 4, 7),
                done(3, "get x", "2", 8, 9),
            }),
            kYes);
}

// --- indeterminate operations --------------------------------------------------------------

TEST(Linearizability, IndeterminateWriteMustHaveTakenEffectToExplainALaterRead) {
  EXPECT_EQ(outcome({lost(1, "put x 1", 1), done(2, "get x", "1", 5, 6)}), kYes);
  // Even a read that starts before the lost write was sent cannot see it.
  EXPECT_EQ(outcome({done(2, "get x", "1", 1, 2), lost(1, "put x 1", 3)}), kNo);
}

TEST(Linearizability, IndeterminateWriteMayNeverTakeEffect) {
  EXPECT_EQ(outcome({
                lost(1, "put x 1", 1),
                done(2, "get x", "<nil>", 5, 6),
                done(2, "get x", "<nil>", 100, 101),
            }),
            kYes);
}

TEST(Linearizability, IndeterminateWriteMayTakeEffectLongAfterItsCall) {
  EXPECT_EQ(outcome({
                lost(1, "put x 1", 1),
                done(2, "get x", "<nil>", 5, 6),
                done(2, "put x 2", "ok", 7, 8),
                done(2, "get x", "1", 100, 101),
            }),
            kYes);
}

TEST(Linearizability, IndeterminateEffectCannotAppearThenDisappear) {
  CheckResult r = check_linearizable(
      {
          lost(1, "put x 1", 1),
          done(2, "get x", "1", 3, 4),
          done(2, "get x", "<nil>", 5, 6),
      },
      kv_model());
  EXPECT_EQ(r.outcome, kNo);
  // Shrinking keeps the smallest failing core: a read of 1 with no write of 1 is already
  // impossible on its own.
  EXPECT_EQ(r.counterexample, (std::vector<Operation>{done(2, "get x", "1", 3, 4)}));
}

TEST(Linearizability, IndeterminateCasAppliesOnlyIfItWouldSucceed) {
  EXPECT_EQ(outcome({
                done(1, "put x 0", "ok", 1, 2),
                lost(1, "cas x 0 1", 3),
                done(2, "get x", "1", 10, 11),
            }),
            kYes);
  EXPECT_EQ(outcome({
                done(1, "put x 5", "ok", 1, 2),
                lost(1, "cas x 0 1", 3),
                done(2, "get x", "1", 10, 11),
            }),
            kNo);
}

// --- partitions and counterexamples --------------------------------------------------------

TEST(Linearizability, ViolationIsReportedWithOnlyItsKeysOperations) {
  std::vector<Operation> history =
      {
          done(1, "put x 1", "ok", 1, 2),  done(2, "put y 1", "ok", 1, 3),
          done(1, "get x", "1", 3, 4),     done(3, "get y", "1", 4, 5),
          done(2, "get y", "<nil>", 6, 7),  // stale: put y 1 completed at 3
          done(3, "put x 2", "ok", 6, 8),  done(1, "get x", "2", 9, 10),
      };
  CheckResult r = check_linearizable(history, kv_model());
  ASSERT_EQ(r.outcome, kNo);
  EXPECT_EQ(r.counterexample, (std::vector<Operation>{done(2, "put y 1", "ok", 1, 3),
                                                      done(2, "get y", "<nil>", 6, 7)}));
  EXPECT_NE(r.report.find("partition 2 of 2 (3 operations) fails"), std::string::npos) << r.report;
  // Without partitioning the whole history fails too (P-compositionality, both directions).
  Model single = kv_model();
  single.partition = nullptr;
  EXPECT_EQ(check_linearizable(history, single).outcome, kNo);
  history[4].output = "1";
  EXPECT_EQ(check_linearizable(history, kv_model()).outcome, kYes);
  EXPECT_EQ(check_linearizable(history, single).outcome, kYes);
}

TEST(Linearizability, CounterexampleIsMinimal) {
  std::vector<Operation> history = {
      done(1, "put x 1", "ok", 1, 2),  done(4, "put z 7", "ok", 1, 9),
      done(1, "put x 2", "ok", 3, 4),  done(3, "cas x 5 6", "fail", 3, 8),
      done(2, "get x", "<nil>", 5, 6),  // stale: both writes completed before it
      done(1, "put x 3", "ok", 7, 8),  done(4, "get z", "7", 10, 11),
  };
  CheckResult r = check_linearizable(history, kv_model());
  ASSERT_EQ(r.outcome, kNo);
  // Either completed write makes the read stale; shrinking drops later calls first.
  EXPECT_EQ(r.counterexample, (std::vector<Operation>{done(1, "put x 1", "ok", 1, 2),
                                                      done(2, "get x", "<nil>", 5, 6)}));
  EXPECT_EQ(r.report,
            "not linearizable: partition 1 of 2 (5 operations) fails; minimal counterexample of 2 "
            "operations:\n"
            "  client 1  put x 1 -> ok   call 1, ret 2\n"
            "  client 2  get x -> <nil>  call 5, ret 6\n"
            "(shrunk from 5 operations: dropped ones may include what the rest depend on, e.g. "
            "the write a read saw)\n"
            "longest linearizable prefix found (1 of 2 operations), which has no linearizable "
            "continuation:\n"
            "  client 1  put x 1 -> ok\n");
}

TEST(Linearizability, IndeterminateOperationsNeverSurviveShrinking) {
  // Dropping an indeterminate operation only removes options, so a minimal counterexample
  // never contains one; here the lost write is irrelevant anyway.
  CheckResult r = check_linearizable(
      {done(1, "put x 1", "ok", 1, 2), lost(2, "put x 2", 3), done(1, "get x", "<nil>", 4, 5)},
      kv_model());
  ASSERT_EQ(r.outcome, kNo);
  EXPECT_EQ(r.counterexample, (std::vector<Operation>{done(1, "put x 1", "ok", 1, 2),
                                                      done(1, "get x", "<nil>", 4, 5)}));
}

TEST(Linearizability, LargePartitionIsReportedWholeWithoutShrinking) {
  std::vector<Operation> history = {done(1, "put x 0", "ok", 1, 2), lost(2, "put x 1", 3)};
  for (std::uint64_t t = 4; history.size() < 201; t += 2) {
    history.push_back(done(1, "get x", "0", t, t + 1));
  }
  history.push_back(done(1, "get x", "1", 1000, 1001));
  history.push_back(done(1, "get x", "0", 1002, 1003));  // the lost write vanished again
  Model plain = kv_model();
  plain.describe = nullptr;  // the default text form
  CheckResult r = check_linearizable(history, plain);
  ASSERT_EQ(r.outcome, kNo);
  EXPECT_EQ(r.counterexample.size(), 203u);
  EXPECT_TRUE(
      r.report.starts_with("not linearizable: partition 1 of 1 (203 operations) fails; "
                           "counterexample of 203 operations:\n"
                           "  client 1  put x 0 -> ok  call 1, ret 2\n"
                           "  client 2  put x 1 -> ?   call 3, no response\n"))
      << r.report;
  EXPECT_NE(r.report.find("(not shrunk: the partition has 203 operations (shrinking is limited "
                          "to 200))\nlongest linearizable prefix found (202 of 203 operations)"),
            std::string::npos)
      << r.report;
}

// --- malformed input -----------------------------------------------------------------------

TEST(Linearizability, MalformedHistoryIsUnknownNotAVerdict) {
  CheckResult r = check_linearizable({done(1, "put x 1", "ok", 5, 4)}, kv_model());
  EXPECT_EQ(r.outcome, CheckOutcome::kUnknown);
  EXPECT_NE(r.report.find("returns at 4 before its call at 5"), std::string::npos) << r.report;

  Model bad = kv_model();
  bad.partition = [](const std::vector<Operation>&) {
    return std::vector<std::vector<std::size_t>>{{0, 7}};
  };
  r = check_linearizable({done(1, "put x 1", "ok", 1, 2)}, bad);
  EXPECT_EQ(r.outcome, CheckOutcome::kUnknown);
  EXPECT_NE(r.report.find("index 7 is out of range"), std::string::npos) << r.report;

  bad.partition = [](const std::vector<Operation>&) {
    return std::vector<std::vector<std::size_t>>{{0}, {0}};
  };
  r = check_linearizable({done(1, "put x 1", "ok", 1, 2)}, bad);
  EXPECT_EQ(r.outcome, CheckOutcome::kUnknown);

  EXPECT_EQ(check_linearizable({}, Model{}).outcome, CheckOutcome::kUnknown);
}

TEST(Linearizability, MalformedKvInputIsNeverALegalResponse) {
  EXPECT_EQ(outcome({done(1, "put x", "ok", 1, 2)}), kNo);
  EXPECT_EQ(outcome({done(1, "frob x", "ok", 1, 2)}), kNo);
  EXPECT_EQ(outcome({lost(1, "frob x", 1), done(1, "get x", "<nil>", 2, 3)}), kYes);
}

// --- the kv model itself -------------------------------------------------------------------

TEST(KvModel, StateIsCanonicalAcrossKeys) {
  Model m = kv_model();
  auto apply = [&](const std::string& state, const std::string& input, const std::string& output) {
    auto [ok, next] = m.step(state, done(1, input, output, 1, 2));
    EXPECT_TRUE(ok) << input << " -> " << output << " on '" << state << "'";
    return next;
  };
  std::string s = m.initial_state;
  s = apply(s, "put b 2", "ok");
  s = apply(s, "put a 1", "ok");
  s = apply(s, "put c 3", "ok");
  EXPECT_EQ(s, "a 1\nb 2\nc 3\n");
  s = apply(s, "cas b 2 9", "ok");
  s = apply(s, "get b", "9");
  s = apply(s, "get d", "<nil>");
  EXPECT_EQ(s, "a 1\nb 9\nc 3\n");
  s = apply(s, "put a <nil>", "ok");  // storing <nil> is deleting
  EXPECT_EQ(s, "b 9\nc 3\n");
  EXPECT_EQ(m.partition({done(1, "put a 1", "ok", 1, 2), done(1, "get b", "<nil>", 3, 4),
                         done(1, "cas a 1 2", "ok", 5, 6)}),
            (std::vector<std::vector<std::size_t>>{{0, 2}, {1}}));
}

TEST(Linearizability, WorksWithAnyModel) {
  // A counter: "inc" answers the new value, "read" the current one; one partition.
  Model counter;
  counter.initial_state = "0";
  counter.step = [](const std::string& state, const Operation& op) {
    int value = std::stoi(state);
    if (op.input == "inc") {
      ++value;
    }
    return std::pair{!op.completed || op.output == std::to_string(value), std::to_string(value)};
  };
  EXPECT_EQ(check_linearizable(
                {done(1, "inc", "2", 1, 5), done(2, "inc", "1", 2, 6), done(3, "read", "2", 7, 8)},
                counter)
                .outcome,
            kYes);
  EXPECT_EQ(
      check_linearizable({done(1, "inc", "1", 1, 2), done(2, "inc", "1", 3, 4)}, counter).outcome,
      kNo);
}

// --- randomized ----------------------------------------------------------------------------

// Whether a linearization exists, by brute force over every order of every set of operations that
// contains the completed ones, respects real time and is legal in `model` (no partitioning, no
// cache).
bool brute_force_linearizable(const std::vector<Operation>& ops, const Model& model,
                              std::vector<bool>& used, const std::string& state) {
  bool all_completed_used = true;
  for (std::size_t i = 0; i < ops.size(); ++i) {
    all_completed_used = all_completed_used && (used[i] || !ops[i].completed);
  }
  if (all_completed_used) {
    return true;
  }
  for (std::size_t i = 0; i < ops.size(); ++i) {
    if (used[i]) {
      continue;
    }
    bool ready = true;  // every operation that really precedes i is already placed
    for (std::size_t j = 0; j < ops.size(); ++j) {
      ready = ready && (used[j] || !ops[j].completed || ops[j].ret >= ops[i].call);
    }
    if (!ready) {
      continue;
    }
    auto [ok, next] = model.step(state, ops[i]);
    if (!ok) {
      continue;
    }
    used[i] = true;
    bool found = brute_force_linearizable(ops, model, used, next);
    used[i] = false;
    if (found) {
      return true;
    }
  }
  return false;
}

TEST(LinearizabilityRandom, AgreesWithBruteForceOnSmallHistories) {
  const char* values[] = {"<nil>", "1", "2"};
  const char* keys[] = {"x", "y"};
  int verdicts[2] = {0, 0};
  for (std::uint64_t seed = 1; seed <= 3000; ++seed) {
    detail::Rng rng(seed, 7);
    std::vector<Operation> ops;
    std::size_t n = 1 + rng.uniform(7);
    for (std::size_t i = 0; i < n; ++i) {
      std::string key = keys[rng.uniform(seed % 3 == 0 ? 2 : 1)];
      std::uint64_t call = rng.uniform(10);
      std::uint64_t ret = call + rng.uniform(5);
      std::string v = values[1 + rng.uniform(2)];
      switch (rng.uniform(3)) {
        case 0:
          ops.push_back(done(i, "put " + key + " " + v, "ok", call, ret));
          break;
        case 1:
          ops.push_back(done(i, "get " + key, values[rng.uniform(3)], call, ret));
          break;
        default:
          ops.push_back(done(i, "cas " + key + " " + values[rng.uniform(3)] + " " + v,
                             rng.uniform(2) == 0 ? "ok" : "fail", call, ret));
      }
      if (rng.uniform(5) == 0) {
        ops.back().completed = false;
      }
    }
    Model model = kv_model();
    std::vector<bool> used(ops.size(), false);
    bool expected = brute_force_linearizable(ops, model, used, model.initial_state);
    CheckResult r = check_linearizable(ops, model);
    ASSERT_EQ(r.outcome, expected ? kYes : kNo) << "seed " << seed << "\n" << r.report;
    ++verdicts[expected ? 1 : 0];
    if (!expected) {
      // Minimal: the counterexample fails and dropping any one of its operations passes.
      std::vector<bool> none(r.counterexample.size(), false);
      ASSERT_FALSE(brute_force_linearizable(r.counterexample, model, none, model.initial_state))
          << "seed " << seed;
      for (std::size_t i = 0; i < r.counterexample.size(); ++i) {
        std::vector<Operation> fewer = r.counterexample;
        fewer.erase(fewer.begin() + static_cast<std::ptrdiff_t>(i));
        std::vector<bool> unused(fewer.size(), false);
        ASSERT_TRUE(brute_force_linearizable(fewer, model, unused, model.initial_state))
            << "seed " << seed << ": operation " << i << " is not needed\n"
            << r.report;
      }
    }
  }
  // Both verdicts are well represented, so the comparison means something.
  EXPECT_GT(verdicts[0], 500);
  EXPECT_GT(verdicts[1], 500);
}

struct GeneratorOptions {
  std::size_t ops = 200;
  std::size_t clients = 4;
  std::size_t keys = 3;
  std::uint64_t lost_percent = 5;  // indeterminate; half of them take effect
};

// A history of a real execution: each client issues one operation at a time with a random
// duration, each operation takes effect at a random point inside its interval (or, if
// indeterminate, after its call or never), and outputs come from a sequential map replayed
// in the order of those points. Linearizable by construction.
std::vector<Operation> generate(std::uint64_t seed, const GeneratorOptions& opt) {
  detail::Rng rng(seed, 11);
  std::vector<Operation> ops;
  std::vector<std::uint64_t> point;  // the moment each op takes effect, in 1/1000 ticks
  std::vector<bool> applied;
  std::vector<std::uint64_t> free_at(opt.clients);
  for (std::uint64_t& t : free_at) {
    t = rng.uniform(4);
  }
  std::map<std::string, std::vector<std::string>> written;  // values put per key so far
  for (std::size_t i = 0; i < opt.ops; ++i) {
    auto c = static_cast<std::size_t>(std::min_element(free_at.begin(), free_at.end()) -
                                      free_at.begin());
    std::string key = "k" + std::to_string(rng.uniform(opt.keys));
    std::string value = "v" + std::to_string(i);
    std::string input;
    std::uint64_t kind = rng.uniform(10);
    if (kind < 4) {
      input = "put " + key + " " + value;
      written[key].push_back(value);
    } else if (kind < 8) {
      input = "get " + key;
    } else {
      const std::vector<std::string>& w = written[key];
      std::string old = w.empty() || rng.uniform(4) == 0
                            ? "<nil>"
                            : w[w.size() - 1 - rng.uniform(std::min<std::size_t>(w.size(), 2))];
      input = "cas " + key + " " + old + " " + value;
      written[key].push_back(value);
    }
    std::uint64_t call = free_at[c];
    std::uint64_t ret = call + 1 + rng.uniform(20);
    bool completed = rng.uniform(100) >= opt.lost_percent;
    ops.push_back(Operation{c + 1, input, "", call, completed ? ret : 0, completed});
    point.push_back(call * 1000 + rng.uniform((ret - call) * 1000 + 1));
    applied.push_back(completed || rng.uniform(2) == 0);
    free_at[c] = ret + rng.uniform(3);
  }
  std::vector<std::size_t> order(ops.size());
  for (std::size_t i = 0; i < order.size(); ++i) {
    order[i] = i;
  }
  std::stable_sort(order.begin(), order.end(),
                   [&](std::size_t a, std::size_t b) { return point[a] < point[b]; });
  std::map<std::string, std::string> kv;
  for (std::size_t i : order) {
    if (!applied[i]) {
      continue;
    }
    Operation& op = ops[i];
    std::istringstream in(op.input);
    std::string words[4];
    in >> words[0] >> words[1] >> words[2] >> words[3];
    auto it = kv.find(words[1]);
    std::string current = it == kv.end() ? "<nil>" : it->second;
    if (words[0] == "put") {
      kv[words[1]] = words[2];
      op.output = "ok";
    } else if (words[0] == "get") {
      op.output = current;
    } else if (current == words[2]) {
      kv[words[1]] = words[3];
      op.output = "ok";
    } else {
      op.output = "fail";
    }
  }
  return ops;
}

TEST(LinearizabilityRandom, RealExecutionsAreLinearizableAndOneImpossibleReadIsNot) {
  int victims_found = 0;
  for (std::uint64_t seed = 1; seed <= 30; ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    std::vector<Operation> history = generate(seed, GeneratorOptions{});
    CheckResult r = check_linearizable(history, kv_model());
    ASSERT_EQ(r.outcome, kYes) << r.report;

    std::vector<std::size_t> reads;
    for (std::size_t i = 0; i < history.size(); ++i) {
      if (history[i].completed && history[i].input.starts_with("get")) {
        reads.push_back(i);
      }
    }
    ASSERT_FALSE(reads.empty());
    detail::Rng rng(seed, 13);
    std::size_t victim = reads[rng.uniform(reads.size())];
    history[victim].output = "never-written";
    r = check_linearizable(history, kv_model());
    ASSERT_EQ(r.outcome, kNo);
    // A read alone is a minimal counterexample: usually the impossible one, but shrinking may
    // settle on another read whose write it dropped (both are minimal failing sub-histories).
    ASSERT_EQ(r.counterexample.size(), 1u) << r.report;
    EXPECT_TRUE(r.counterexample[0].input.starts_with("get ")) << r.report;
    victims_found += r.counterexample[0] == history[victim];
  }
  EXPECT_GE(victims_found, 25);
}

TEST(LinearizabilityRandom, StaleReadInARealExecutionIsCaught) {
  int caught = 0;
  for (std::uint64_t seed = 1; seed <= 30; ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    GeneratorOptions opt;
    opt.lost_percent = 0;
    std::vector<Operation> history = generate(seed, opt);
    // A key never returns to <nil> once a put of it has completed (the generator never writes
    // <nil>), so a read called after that which answers <nil> is stale.
    for (std::size_t i = 0; i < history.size(); ++i) {
      if (!history[i].input.starts_with("get ")) {
        continue;
      }
      std::string put = "put " + history[i].input.substr(4) + " ";
      bool written_before = std::any_of(history.begin(), history.end(), [&](const Operation& w) {
        return w.input.starts_with(put) && w.ret < history[i].call;
      });
      if (!written_before) {
        continue;
      }
      history[i].output = "<nil>";
      CheckResult r = check_linearizable(history, kv_model());
      EXPECT_EQ(r.outcome, kNo) << r.report;
      ++caught;
      break;
    }
  }
  EXPECT_EQ(caught, 30);
}

TEST(LinearizabilityRandom, TinyBudgetOnALargeConcurrentHistoryIsUnknown) {
  GeneratorOptions opt;
  opt.ops = 300;
  opt.clients = 8;
  opt.keys = 1;
  std::vector<Operation> history = generate(42, opt);
  CheckResult r = check_linearizable(history, kv_model(), 50);
  EXPECT_EQ(r.outcome, CheckOutcome::kUnknown);
  EXPECT_NE(r.report.find("needs more than 50 search steps"), std::string::npos) << r.report;
  EXPECT_EQ(check_linearizable(history, kv_model()).outcome, kYes);
  // A violation found in another partition still wins over the undecided one.
  history.push_back(done(1, "put y 1", "ok", 1, 2));
  history.push_back(done(2, "get y", "<nil>", 3, 4));
  EXPECT_EQ(check_linearizable(history, kv_model(), 50).outcome, kNo);
}

TEST(LinearizabilityRandom, ThousandOperationsOverTenKeysCheckQuickly) {
  // Performance sanity (no timing assertion): 1,000 operations, 10 keys, 5 clients.
  GeneratorOptions opt;
  opt.ops = 1000;
  opt.clients = 5;
  opt.keys = 10;
  for (std::uint64_t seed = 1; seed <= 3; ++seed) {
    std::vector<Operation> history = generate(seed, opt);
    EXPECT_EQ(check_linearizable(history, kv_model()).outcome, kYes) << "seed " << seed;
  }
  // One key and no partitioning help: the same load as a single group.
  opt.keys = 1;
  EXPECT_EQ(check_linearizable(generate(4, opt), kv_model()).outcome, kYes);
}

}  // namespace
}  // namespace skiff::testing
