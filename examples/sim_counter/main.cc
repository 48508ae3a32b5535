// Simulating your own state machine: a replicated counter checked by skiff's simulator.
//
// Implement three things — the state machine, a generator of client commands, and the
// sequential model the clients' history must be linearizable against — and the simulator
// replicates your state machine on a faulty cluster, checking Raft's safety properties after
// every step and linearizability at the end. Runs are pure functions of their seed.
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <string>

#include "skiff/testing/simulator.h"

namespace {

using skiff::testing::Chooser;
using skiff::testing::Model;
using skiff::testing::Operation;

// The application: a counter with "add N" and "read".
class Counter final : public skiff::testing::StateMachine {
 public:
  std::string apply(std::string_view command) override {
    if (command.substr(0, 4) == "add ") {
      value_ += std::strtoll(std::string(command.substr(4)).c_str(), nullptr, 10);
      return "ok";
    }
    return std::to_string(value_);  // "read" (only if a read ever goes through the log)
  }
  std::string fingerprint() const override { return std::to_string(value_); }
  // Snapshots: the whole state as text, and back.
  std::string snapshot() const override { return std::to_string(value_); }
  void restore(std::string_view snapshot) override {
    value_ = std::strtoll(std::string(snapshot).c_str(), nullptr, 10);
  }
  // Reads are served from the state after ReadIndex confirms leadership, not through the log.
  std::string read(std::string_view) const override { return std::to_string(value_); }

 private:
  long long value_ = 0;
};

class CounterWorkload final : public skiff::testing::Workload {
 public:
  std::unique_ptr<skiff::testing::StateMachine> new_state_machine() const override {
    return std::make_unique<Counter>();
  }
  // Every decision comes from the chooser, never from elsewhere: that keeps runs replayable.
  std::string next_command(Chooser& chooser, std::uint64_t, std::uint64_t) const override {
    return chooser.choose(2) == 0 ? "add " + std::to_string(1 + chooser.choose(9)) : "read";
  }
  bool is_read(std::string_view command) const override { return command == "read"; }
  // The sequential specification: the state is the counter's value as text.
  Model model() const override {
    Model m;
    m.initial_state = "0";
    m.step = [](const std::string& state, const Operation& op) {
      const long long value = std::stoll(state);
      if (op.input.substr(0, 4) == "add ") {
        const long long next = value + std::stoll(op.input.substr(4));
        return std::make_pair(!op.completed || op.output == "ok", std::to_string(next));
      }
      return std::make_pair(!op.completed || op.output == state, state);
    };
    return m;
  }
};

}  // namespace

int main(int argc, char** argv) {
  const std::uint64_t seeds = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 200;
  CounterWorkload workload;
  for (std::uint64_t seed = 1; seed <= seeds; ++seed) {
    skiff::testing::SimOptions options;
    options.seed = seed;
    options.nodes = 5;
    const skiff::testing::SimReport report = skiff::testing::simulate(options, workload);
    if (!report.ok()) {
      // Rerun with recording (same seed, same run) and keep the trace for replay.
      const auto recorded = skiff::testing::simulate(options, workload, /*record=*/true);
      std::ofstream("counter.trace", std::ios::binary)
          << skiff::testing::encode_trace(options, recorded.trace);
      std::fprintf(stderr, "seed %llu: %s\n", static_cast<unsigned long long>(seed),
                   report.violations.front().c_str());
      return 1;
    }
  }
  std::printf("counter: %llu seeds, no violations\n", static_cast<unsigned long long>(seeds));
  return 0;
}
