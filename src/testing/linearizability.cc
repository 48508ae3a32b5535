#include "skiff/testing/linearizability.h"

#include <algorithm>
#include <limits>
#include <optional>
#include <string_view>
#include <unordered_map>
#include <unordered_set>

#include "core/assert.h"
#include "core/str.h"

namespace skiff::testing {
namespace {

using detail::str_cat;

constexpr std::size_t kNone = std::numeric_limits<std::size_t>::max();
// Shrinking re-checks the failing partition once per candidate removal, pass after pass;
// beyond this size the cost outweighs the benefit and the whole partition is reported.
constexpr std::size_t kMaxShrinkOps = 200;

// SplitMix64's finalizer: spreads operation ids over 64 bits so XOR-ing them hashes a set.
std::uint64_t mix64(std::uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

std::string describe_op(const Model& model, const Operation& op) {
  if (model.describe) {
    return model.describe(op);
  }
  return str_cat(op.input, " -> ", op.completed ? op.output : std::string("?"));
}

// The outcome of searching one group, with the longest linearizable prefix it found.
struct SearchResult {
  CheckOutcome outcome = CheckOutcome::kUnknown;
  std::vector<std::size_t> longest;  // indexes into the group, in linearization order
  std::uint64_t steps = 0;
};

// A memoized configuration (Lowe 2017): the set of linearized operations and the state they
// lead to. Two paths reaching the same configuration have the same future, so the second is
// pruned.
struct Configuration {
  std::vector<std::uint64_t> linearized;  // bitset over the group's operations
  std::string state;
  std::size_t hash = 0;

  friend bool operator==(const Configuration& a, const Configuration& b) {
    return a.hash == b.hash && a.linearized == b.linearized && a.state == b.state;
  }
};

struct ConfigurationHash {
  std::size_t operator()(const Configuration& c) const { return c.hash; }
};

// Wing & Gong's search over one group of operations, iterative, with Lowe's cache.
//
// The history is a doubly linked list of call and return events in time order. Linearizing an
// operation "lifts" its call and return out of the list; backtracking re-inserts them
// (dancing links). From the head, the search tries each call before the first return: if the
// model accepts it and the resulting configuration is new, it is linearized and the scan
// restarts; reaching a return means the returning operation cannot be placed, so the last
// choice is undone and the scan continues after it.
class GroupSearch {
 public:
  GroupSearch(const std::vector<Operation>& ops, const Model& model)
      : ops_(ops), model_(model), linearized_((ops.size() + 63) / 64, 0) {
    struct Event {
      std::uint64_t time;
      bool is_return;
      std::size_t op;
    };
    std::vector<Event> events;
    events.reserve(2 * ops_.size());
    for (std::size_t i = 0; i < ops_.size(); ++i) {
      events.push_back({ops_[i].call, false, i});
      if (ops_[i].completed) {
        events.push_back({ops_[i].ret, true, i});
        ++remaining_completed_;
      }
    }
    // At equal times calls sort first: such operations overlap (see the header).
    std::sort(events.begin(), events.end(), [](const Event& a, const Event& b) {
      if (a.time != b.time) {
        return a.time < b.time;
      }
      if (a.is_return != b.is_return) {
        return !a.is_return;
      }
      return a.op < b.op;
    });
    // entries_[0] is the sentinel head of a circular list.
    entries_.resize(events.size() + 1);
    std::vector<std::size_t> return_entry(ops_.size(), kNone);
    for (std::size_t i = 0; i < events.size(); ++i) {
      Entry& e = entries_[i + 1];
      e.op = events[i].op;
      e.is_call = !events[i].is_return;
      if (events[i].is_return) {
        return_entry[e.op] = i + 1;
      }
    }
    for (std::size_t i = 0; i < entries_.size(); ++i) {
      entries_[i].next = (i + 1) % entries_.size();
      entries_[i].prev = (i + entries_.size() - 1) % entries_.size();
      if (i > 0 && entries_[i].is_call) {
        entries_[i].match = return_entry[entries_[i].op];
      }
    }
  }

  SearchResult run(std::uint64_t max_steps) {
    SearchResult result;
    std::string state = model_.initial_state;
    std::size_t cursor = entries_[0].next;
    while (true) {
      // Indeterminate operations never return, so they need not all be linearized: the search
      // succeeds once every completed one is ("never took effect" for the rest).
      if (remaining_completed_ == 0) {
        result.outcome = CheckOutcome::kLinearizable;
        break;
      }
      if (result.steps >= max_steps) {
        result.outcome = CheckOutcome::kUnknown;
        break;
      }
      ++result.steps;
      // Invariant: a completed operation is unlinearized, so its return is ahead of the cursor.
      SKIFF_ASSERT(cursor != 0, "linearizability search ran off the end of the history");
      const Entry& entry = entries_[cursor];
      if (entry.is_call) {
        const Operation& op = ops_[entry.op];
        auto [ok, next_state] = model_.step(state, op);
        // An indeterminate operation that would leave the state unchanged (a lost read) is
        // better left unlinearized: that keeps every option open, and is already explored.
        if (ok && (op.completed || next_state != state)) {
          flip(entry.op);
          Configuration seen{linearized_, next_state, configuration_hash(next_state)};
          if (cache_.insert(std::move(seen)).second) {
            stack_.push_back({cursor, std::move(state)});
            state = std::move(next_state);
            lift(cursor);
            if (op.completed) {
              --remaining_completed_;
            }
            if (stack_.size() > best_depth_) {
              best_depth_ = stack_.size();
              best_unsaved_ = true;
            }
            cursor = entries_[0].next;
            continue;
          }
          flip(entry.op);
        }
        cursor = entry.next;
      } else {
        // The operation returning here was not linearized by the calls before it: backtrack.
        if (stack_.empty()) {
          result.outcome = CheckOutcome::kNotLinearizable;
          break;
        }
        save_best();
        Frame frame = std::move(stack_.back());
        stack_.pop_back();
        state = std::move(frame.state);
        unlift(frame.entry);
        flip(entries_[frame.entry].op);
        if (ops_[entries_[frame.entry].op].completed) {
          ++remaining_completed_;
        }
        cursor = entries_[frame.entry].next;
      }
    }
    save_best();
    result.longest = std::move(best_);
    return result;
  }

 private:
  struct Entry {
    std::size_t op = kNone;
    bool is_call = false;
    std::size_t match = kNone;  // for a call: its return entry; kNone if indeterminate
    std::size_t prev = 0;
    std::size_t next = 0;
  };
  struct Frame {
    std::size_t entry;  // the lifted call
    std::string state;  // the state before it
  };

  void flip(std::size_t op) {
    linearized_[op / 64] ^= std::uint64_t{1} << (op % 64);
    linearized_hash_ ^= mix64(op);
  }
  std::size_t configuration_hash(const std::string& state) const {
    return static_cast<std::size_t>(mix64(linearized_hash_ ^ std::hash<std::string>{}(state)));
  }
  void unlink(std::size_t i) {
    entries_[entries_[i].prev].next = entries_[i].next;
    entries_[entries_[i].next].prev = entries_[i].prev;
  }
  void relink(std::size_t i) {
    entries_[entries_[i].prev].next = i;
    entries_[entries_[i].next].prev = i;
  }
  void lift(std::size_t call) {
    unlink(call);
    if (entries_[call].match != kNone) {
      unlink(entries_[call].match);
    }
  }
  // Exactly reverses `lift`; calls are unlifted in the reverse order of lifting.
  void unlift(std::size_t call) {
    if (entries_[call].match != kNone) {
      relink(entries_[call].match);
    }
    relink(call);
  }
  // The stack is the deepest prefix so far until the first pop after reaching a new depth.
  void save_best() {
    if (!best_unsaved_) {
      return;
    }
    best_.clear();
    for (const Frame& f : stack_) {
      best_.push_back(entries_[f.entry].op);
    }
    best_unsaved_ = false;
  }

  const std::vector<Operation>& ops_;
  const Model& model_;
  std::vector<Entry> entries_;
  std::vector<std::uint64_t> linearized_;
  std::uint64_t linearized_hash_ = 0;  // XOR of mix64(op) over linearized ops
  std::size_t remaining_completed_ = 0;
  std::vector<Frame> stack_;
  std::unordered_set<Configuration, ConfigurationHash> cache_;
  std::size_t best_depth_ = 0;
  bool best_unsaved_ = false;
  std::vector<std::size_t> best_;
};

SearchResult search(const std::vector<Operation>& ops, const Model& model,
                    std::uint64_t max_steps) {
  return GroupSearch(ops, model).run(max_steps);
}

// "1 operation", "2 operations".
std::string operations(std::size_t n) {
  return str_cat(n, n == 1 ? " operation" : " operations");
}

// A failing group after shrinking, with the last failing search's evidence.
struct Shrunk {
  std::vector<Operation> ops;
  SearchResult evidence;
  std::string note;  // why it may not be minimal; empty if it is
};

// Shrinking: cut a failing prefix, then greedily drop any single operation whose removal
// keeps the history failing, until none remains. Removal is not monotone (once a write is
// dropped, an operation that was needed before may no longer be), hence the repeated passes.
// Candidates are tried latest call first, so operations after the violation go first and a
// read goes before the write it saw: the result more often keeps the read that really failed
// rather than one whose write was dropped. Indeterminate operations never survive (dropping
// one only removes options).
Shrunk shrink(std::vector<Operation> ops, SearchResult failing, const Model& model,
              std::uint64_t max_steps) {
  Shrunk out{std::move(ops), std::move(failing), ""};
  if (out.ops.size() > kMaxShrinkOps) {
    out.note = str_cat("not shrunk: the partition has ", operations(out.ops.size()),
                       " (shrinking is limited to ", kMaxShrinkOps, ")");
    return out;
  }
  std::uint64_t budget = max_steps;
  bool exhausted = false;
  // Returns whether `candidate` still fails, adopting it if so; false once the budget is spent.
  auto try_candidate = [&](std::vector<Operation>& candidate) {
    SearchResult r = search(candidate, model, budget);
    budget -= r.steps;
    if (r.outcome == CheckOutcome::kUnknown) {
      exhausted = true;
      out.note = str_cat("shrinking stopped after ", max_steps,
                         " steps: the counterexample may not be minimal");
      return false;
    }
    if (r.outcome != CheckOutcome::kNotLinearizable) {
      return false;
    }
    out.ops = std::move(candidate);
    out.evidence = std::move(r);
    return true;
  };
  // First cut the operations called after the violation: bisect for a short failing prefix
  // in call order (`hi` always fails). Prefixes need not fail monotonically; any failing one
  // will do.
  std::size_t lo = 1;
  std::size_t hi = out.ops.size();
  while (lo < hi && !exhausted) {
    std::size_t mid = lo + (hi - lo) / 2;
    std::vector<Operation> prefix(out.ops.begin(),
                                  out.ops.begin() + static_cast<std::ptrdiff_t>(mid));
    if (try_candidate(prefix)) {
      hi = mid;
    } else {
      lo = mid + 1;
    }
  }
  bool changed = !exhausted;
  while (changed) {
    changed = false;
    for (std::size_t i = out.ops.size(); i-- > 0;) {
      std::vector<Operation> candidate = out.ops;
      candidate.erase(candidate.begin() + static_cast<std::ptrdiff_t>(i));
      if (try_candidate(candidate)) {
        changed = true;
      } else if (exhausted) {
        return out;
      }
    }
  }
  return out;
}

std::string time_text(const Operation& op) {
  if (!op.completed) {
    return str_cat("call ", op.call, ", no response");
  }
  return str_cat("call ", op.call, ", ret ", op.ret);
}

// One operation per line: "  client 2  get x -> 1   call 4, ret 6".
void append_ops(std::string& out, const Model& model, const std::vector<Operation>& ops,
                const std::vector<std::size_t>& order, bool with_times) {
  std::vector<std::string> texts;
  std::size_t width = 0;
  for (std::size_t i : order) {
    texts.push_back(describe_op(model, ops[i]));
    width = std::max(width, texts.back().size());
  }
  for (std::size_t k = 0; k < order.size(); ++k) {
    const Operation& op = ops[order[k]];
    out += str_cat("  client ", op.client, "  ", texts[k]);
    if (with_times) {
      out += std::string(width - texts[k].size() + 2, ' ');
      out += time_text(op);
    }
    out += '\n';
  }
}

CheckResult unknown(std::string why) {
  return CheckResult{CheckOutcome::kUnknown, {}, str_cat("unknown: ", why)};
}

}  // namespace

CheckResult check_linearizable(const std::vector<Operation>& history, const Model& model,
                               std::uint64_t max_steps) {
  if (!model.step) {
    return unknown("the model has no step function");
  }
  for (std::size_t i = 0; i < history.size(); ++i) {
    const Operation& op = history[i];
    if (op.completed && op.ret < op.call) {
      return unknown(str_cat("malformed history: operation ", i, " (", describe_op(model, op),
                             ") returns at ", op.ret, " before its call at ", op.call));
    }
  }
  std::vector<std::vector<std::size_t>> groups;
  if (model.partition) {
    groups = model.partition(history);
  } else {
    groups.emplace_back();
    for (std::size_t i = 0; i < history.size(); ++i) {
      groups.back().push_back(i);
    }
  }
  std::vector<bool> seen(history.size(), false);
  for (const auto& group : groups) {
    for (std::size_t i : group) {
      if (i >= history.size() || seen[i]) {
        return unknown(str_cat("malformed partition: index ", i,
                               i >= history.size() ? " is out of range" : " appears twice"));
      }
      seen[i] = true;
    }
  }

  std::optional<std::string> undecided;
  for (std::size_t g = 0; g < groups.size(); ++g) {
    std::vector<std::size_t> indexes = groups[g];
    // Call order, so the counterexample reads in time order.
    std::stable_sort(indexes.begin(), indexes.end(), [&](std::size_t a, std::size_t b) {
      return history[a].call < history[b].call;
    });
    std::vector<Operation> ops;
    ops.reserve(indexes.size());
    for (std::size_t i : indexes) {
      ops.push_back(history[i]);
    }
    SearchResult r = search(ops, model, max_steps);
    if (r.outcome == CheckOutcome::kUnknown) {
      if (!undecided) {
        undecided = str_cat("partition ", g + 1, " of ", groups.size(), " (",
                            operations(ops.size()), ") needs more than ", max_steps,
                            " search steps; the longest linearizable prefix found has ",
                            operations(r.longest.size()));
      }
      continue;
    }
    if (r.outcome == CheckOutcome::kLinearizable) {
      continue;
    }
    std::size_t group_size = ops.size();
    Shrunk shrunk = shrink(std::move(ops), std::move(r), model, max_steps);
    CheckResult result{CheckOutcome::kNotLinearizable, std::move(shrunk.ops), ""};
    result.report = str_cat("not linearizable: partition ", g + 1, " of ", groups.size(), " (",
                            operations(group_size), ") fails; ",
                            shrunk.note.empty() ? "minimal counterexample" : "counterexample",
                            " of ", operations(result.counterexample.size()), ":\n");
    std::vector<std::size_t> all(result.counterexample.size());
    for (std::size_t i = 0; i < all.size(); ++i) {
      all[i] = i;
    }
    append_ops(result.report, model, result.counterexample, all, true);
    if (!shrunk.note.empty()) {
      result.report += str_cat("(", shrunk.note, ")\n");
    } else if (result.counterexample.size() < group_size) {
      result.report += str_cat("(shrunk from ", operations(group_size),
                               ": dropped ones may include what the rest depend on, "
                               "e.g. the write a read saw)\n");
    }
    result.report += str_cat("longest linearizable prefix found (", shrunk.evidence.longest.size(),
                             " of ", operations(result.counterexample.size()),
                             "), which has no linearizable continuation:\n");
    append_ops(result.report, model, result.counterexample, shrunk.evidence.longest, false);
    return result;
  }
  if (undecided) {
    return unknown(*undecided);
  }
  return CheckResult{CheckOutcome::kLinearizable,
                     {},
                     str_cat("linearizable: ", operations(history.size()), " in ", groups.size(),
                             groups.size() == 1 ? " partition" : " partitions")};
}

namespace {

constexpr std::string_view kNil = "<nil>";

std::vector<std::string_view> split_words(std::string_view s) {
  std::vector<std::string_view> words;
  std::size_t i = 0;
  while (i < s.size()) {
    if (s[i] == ' ') {
      ++i;
      continue;
    }
    std::size_t end = s.find(' ', i);
    if (end == std::string_view::npos) {
      end = s.size();
    }
    words.push_back(s.substr(i, end - i));
    i = end;
  }
  return words;
}

// The lines of `s`, without their '\n'; a missing final '\n' is tolerated.
std::vector<std::string_view> split_lines(std::string_view s) {
  std::vector<std::string_view> lines;
  while (!s.empty()) {
    std::size_t nl = std::min(s.find('\n'), s.size());
    lines.push_back(s.substr(0, nl));
    s.remove_prefix(std::min(nl + 1, s.size()));
  }
  return lines;
}

// The kv state is canonical: one "key value\n" line per present key, sorted by key.
std::string_view kv_get(std::string_view state, std::string_view key) {
  for (std::string_view line : split_lines(state)) {
    std::size_t space = line.find(' ');
    if (space != std::string_view::npos && line.substr(0, space) == key) {
      return line.substr(space + 1);
    }
  }
  return kNil;
}

// `state` with `key` set to `value`, or removed if `value` is "<nil>".
std::string kv_set(std::string_view state, std::string_view key, std::string_view value) {
  std::string out;
  bool placed = false;
  auto place = [&] {
    if (!placed && value != kNil) {
      out += str_cat(key, " ", value, "\n");
    }
    placed = true;
  };
  for (std::string_view line : split_lines(state)) {
    std::string_view line_key = line.substr(0, line.find(' '));
    if (line_key >= key) {
      place();
    }
    if (line_key != key) {
      out += str_cat(line, "\n");
    }
  }
  place();
  return out;
}

std::pair<bool, std::string> kv_step(const std::string& state, const Operation& op) {
  std::vector<std::string_view> w = split_words(op.input);
  auto legal = [&](std::string_view expected) { return !op.completed || op.output == expected; };
  if (w.size() == 3 && w[0] == "put") {
    return {legal("ok"), kv_set(state, w[1], w[2])};
  }
  if (w.size() == 2 && w[0] == "get") {
    return {legal(kv_get(state, w[1])), state};
  }
  if (w.size() == 4 && w[0] == "cas") {
    if (kv_get(state, w[1]) == w[2]) {
      return {legal("ok"), kv_set(state, w[1], w[3])};
    }
    return {legal("fail"), state};
  }
  // Malformed: no response is legal; an indeterminate one is taken as having had no effect.
  return {!op.completed, state};
}

std::vector<std::vector<std::size_t>> kv_partition(const std::vector<Operation>& history) {
  std::vector<std::vector<std::size_t>> groups;
  std::unordered_map<std::string, std::size_t> group_of_key;
  for (std::size_t i = 0; i < history.size(); ++i) {
    std::vector<std::string_view> w = split_words(history[i].input);
    std::string key(w.size() >= 2 ? w[1] : std::string_view());
    auto [it, inserted] = group_of_key.emplace(key, groups.size());
    if (inserted) {
      groups.emplace_back();
    }
    groups[it->second].push_back(i);
  }
  return groups;
}

}  // namespace

Model kv_model() {
  Model model;
  model.partition = kv_partition;
  model.step = kv_step;
  model.describe = [](const Operation& op) {
    return str_cat(op.input, " -> ", op.completed ? op.output : std::string("?"));
  };
  return model;
}

}  // namespace skiff::testing
