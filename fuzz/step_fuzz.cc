// skiff_step_fuzz: a libFuzzer target whose input bytes are the simulator's schedule (which
// message is delivered next, which fault strikes, what the clients ask) for a small cluster.
// Every check of the simulator runs (docs/simulator.md): the cores' invariants and Raft's
// safety properties after every step, liveness after healing, linearizability at the end. A
// violation aborts, so libFuzzer keeps the input; `skiff_fuzz_replay FILE` replays it.
//
// The input format is described in step_fuzz.h. The same file is linked into
// skiff_fuzz_replay (with standalone_main.cc), which replays the seed corpus in every build.
#include "step_fuzz.h"

#include <cstdio>
#include <cstdlib>

namespace skiff::fuzz {

namespace {

constexpr std::uint8_t kFiveNodes = 1u << 0;
constexpr std::uint8_t kNoPreVote = 1u << 1;
constexpr std::uint8_t kNoCheckQuorum = 1u << 2;
constexpr int kSeedShift = 3;
constexpr std::uint64_t kSeeds = 32;

}  // namespace

testing::SimOptions step_options(std::uint8_t header) {
  testing::SimOptions o;
  o.nodes = (header & kFiveNodes) != 0 ? 5 : 3;
  o.pre_vote = (header & kNoPreVote) == 0;
  o.check_quorum = (header & kNoCheckQuorum) == 0;
  o.seed = 1 + (header >> kSeedShift);
  // A short fault phase keeps one input at a few milliseconds; the input's length usually
  // ends it sooner. The heal phase keeps the simulator's liveness bound (it stops as soon as
  // the cluster is live, so only a failing run pays for all of it).
  o.fault_rounds = 200;
  if (!o.pre_vote || !o.check_quorum) {
    // Without both, a removed node that missed its removal disrupts the group forever (thesis
    // §4.2.3), so liveness after healing needs membership changes off.
    o.faults.conf_change = 0;
  }
  return o;
}

std::optional<std::uint8_t> step_header(const testing::SimOptions& options) {
  if (options.seed < 1 || options.seed > kSeeds || (options.nodes != 3 && options.nodes != 5)) {
    return std::nullopt;
  }
  std::uint8_t header = static_cast<std::uint8_t>((options.seed - 1) << kSeedShift);
  header |= options.nodes == 5 ? kFiveNodes : 0;
  header |= options.pre_vote ? 0 : kNoPreVote;
  header |= options.check_quorum ? 0 : kNoCheckQuorum;
  // Only options that step_options reproduces exactly: every other field must be its choice.
  if (step_options(header).to_string() != options.to_string()) {
    return std::nullopt;
  }
  return header;
}

StepInput decode_step_input(std::string_view input) {
  if (input.empty()) {
    return StepInput{step_options(0), std::string_view()};
  }
  return StepInput{step_options(static_cast<std::uint8_t>(input[0])), input.substr(1)};
}

testing::SimReport run_step_input(std::string_view input,
                                  const std::function<void(std::string_view)>& on_event) {
  const StepInput in = decode_step_input(input);
  const testing::KvWorkload workload;
  testing::ByteChooser chooser(in.choices);
  return testing::simulate_with(in.options, workload, chooser, on_event);
}

}  // namespace skiff::fuzz

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size > skiff::fuzz::kMaxInputSize) {
    return -1;  // not added to the corpus
  }
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const skiff::testing::SimReport report = skiff::fuzz::run_step_input(input);
  if (!report.ok()) {
    const skiff::fuzz::StepInput in = skiff::fuzz::decode_step_input(input);
    std::fprintf(stderr, "\nskiff_step_fuzz: %zu violation(s) in a %zu-byte input\n",
                 report.violations.size(), size);
    for (const std::string& v : report.violations) {
      std::fprintf(stderr, "  violation: %s\n", v.c_str());
    }
    std::fprintf(stderr, "  options: %s\n  summary: %s\n", in.options.to_string().c_str(),
                 report.summary().c_str());
    std::fprintf(stderr,
                 "  replay it with: skiff_fuzz_replay --events FILE  (or --write-trace OUT, "
                 "then skiff-replay OUT)\n");
    std::fflush(stderr);
    std::abort();
  }
  return 0;
}
