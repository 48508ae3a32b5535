// skiff-sim: runs the simulator over many seeds and cluster sizes.
//
//   skiff-sim --seeds 100000 --nodes 3,5,7          a long campaign with a progress line
//   skiff-sim --seed 42 --nodes 5                   one run, with its summary
//   skiff-sim --seeds 500 --set "loss=100 crash=20" override any SimOptions field
//   skiff-sim --seed 42 --nodes 5 --record run.trace  keep the trace of a passing run too
//
// A failing run is rerun with recording on (the run is deterministic, so it fails the same
// way) and its trace is written to --trace-dir; `skiff-replay FILE` replays it event by event.
// Exit status: 0 if every run passed, 1 if any failed, 2 on a usage error.
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "skiff/testing/simulator.h"

namespace {

// For the abort handler: which run was in progress when a core assertion fired.
volatile std::sig_atomic_t g_nodes = 0;
volatile std::uint64_t g_seed = 0;

void on_abort(int) {
  char line[160];
  const int n = std::snprintf(line, sizeof(line),
                              "\nskiff-sim: aborted during seed %llu with %d nodes; rerun with "
                              "--seed %llu --nodes %d\n",
                              static_cast<unsigned long long>(g_seed), static_cast<int>(g_nodes),
                              static_cast<unsigned long long>(g_seed), static_cast<int>(g_nodes));
  if (n > 0) {
    std::fwrite(line, 1, static_cast<std::size_t>(n), stderr);
  }
  std::signal(SIGABRT, SIG_DFL);
  std::raise(SIGABRT);
}

int usage(const char* why) {
  std::fprintf(stderr,
               "skiff-sim: %s\n"
               "usage: skiff-sim [--seeds N | --seed S] [--first-seed S] [--nodes 3,5,7]\n"
               "                 [--set \"key=value ...\"] [--trace-dir DIR] [--keep-going]\n"
               "                 [--record FILE] [--quiet]\n",
               why);
  return 2;
}

std::vector<std::uint32_t> parse_sizes(const std::string& s) {
  std::vector<std::uint32_t> out;
  std::size_t pos = 0;
  while (pos < s.size()) {
    std::size_t end = s.find(',', pos);
    if (end == std::string::npos) {
      end = s.size();
    }
    out.push_back(
        static_cast<std::uint32_t>(std::strtoul(s.substr(pos, end - pos).c_str(), nullptr, 10)));
    pos = end + 1;
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  std::uint64_t first = 1;
  std::uint64_t count = 100;
  std::vector<std::uint32_t> sizes = {3, 5, 7};
  std::string overrides;
  std::string trace_dir = ".";
  bool keep_going = false;
  bool quiet = false;
  std::string record;
  for (int k = 1; k < argc; ++k) {
    const std::string arg = argv[k];
    auto value = [&]() -> std::string {
      if (k + 1 >= argc) {
        std::exit(usage(("missing value after " + arg).c_str()));
      }
      return argv[++k];
    };
    if (arg == "--seeds") {
      count = std::strtoull(value().c_str(), nullptr, 10);
    } else if (arg == "--seed") {
      first = std::strtoull(value().c_str(), nullptr, 10);
      count = 1;
    } else if (arg == "--first-seed") {
      first = std::strtoull(value().c_str(), nullptr, 10);
    } else if (arg == "--nodes") {
      sizes = parse_sizes(value());
    } else if (arg == "--set") {
      overrides = value();
    } else if (arg == "--trace-dir") {
      trace_dir = value();
    } else if (arg == "--keep-going") {
      keep_going = true;
    } else if (arg == "--record") {
      record = value();
    } else if (arg == "--quiet") {
      quiet = true;
    } else {
      return usage(("unknown argument " + arg).c_str());
    }
  }
  if (!record.empty() && (count != 1 || sizes.size() != 1)) {
    return usage("--record needs a single run: --seed S --nodes N");
  }
  auto base = skiff::testing::SimOptions::parse(overrides);
  if (!base.ok()) {
    return usage(base.status().message().c_str());
  }
  std::signal(SIGABRT, on_abort);

  skiff::testing::KvWorkload workload;
  const auto start = std::chrono::steady_clock::now();
  auto last_progress = start;
  std::uint64_t runs = 0;
  std::uint64_t failures = 0;
  std::uint64_t unknown = 0;
  for (std::uint32_t nodes : sizes) {
    for (std::uint64_t seed = first; seed < first + count; ++seed) {
      skiff::testing::SimOptions o = *base;
      o.nodes = nodes;
      o.seed = seed;
      g_nodes = static_cast<std::sig_atomic_t>(nodes);
      g_seed = seed;
      skiff::testing::SimReport report = skiff::testing::simulate(o, workload, !record.empty());
      if (!record.empty()) {
        std::ofstream(record, std::ios::binary) << skiff::testing::encode_trace(o, report.trace);
      }
      ++runs;
      unknown += report.linearizability_unknown ? 1 : 0;
      if (count == 1 && !quiet) {
        std::printf("seed %llu, %u nodes: %s\n", static_cast<unsigned long long>(seed), nodes,
                    report.summary().c_str());
      }
      if (!report.ok()) {
        ++failures;
        report = skiff::testing::simulate(o, workload, /*record=*/true);
        const std::string path = trace_dir + "/skiff-sim-n" + std::to_string(nodes) + "-s" +
                                 std::to_string(seed) + ".trace";
        std::ofstream(path, std::ios::binary) << skiff::testing::encode_trace(o, report.trace);
        std::fprintf(stderr, "\nFAIL seed %llu, %u nodes (trace: %s, replay: skiff-replay %s)\n",
                     static_cast<unsigned long long>(seed), nodes, path.c_str(), path.c_str());
        for (const std::string& v : report.violations) {
          std::fprintf(stderr, "  %s\n", v.c_str());
        }
        if (!keep_going) {
          return 1;
        }
      }
      const auto now = std::chrono::steady_clock::now();
      if (!quiet && now - last_progress > std::chrono::seconds(1)) {
        last_progress = now;
        const double secs = std::chrono::duration<double>(now - start).count();
        std::fprintf(stderr, "\r[%u nodes] seed %llu/%llu, %llu runs, %llu failures, %.0f runs/s  ",
                     nodes, static_cast<unsigned long long>(seed - first + 1),
                     static_cast<unsigned long long>(count), static_cast<unsigned long long>(runs),
                     static_cast<unsigned long long>(failures), runs / secs);
      }
    }
  }
  const double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::fprintf(stderr, "%sskiff-sim: %llu runs (seeds %llu..%llu, sizes", quiet ? "" : "\n",
               static_cast<unsigned long long>(runs), static_cast<unsigned long long>(first),
               static_cast<unsigned long long>(first + count - 1));
  for (std::uint32_t n : sizes) {
    std::fprintf(stderr, " %u", n);
  }
  std::fprintf(stderr, "), %llu failures, %llu with linearizability undecided, %.1f s\n",
               static_cast<unsigned long long>(failures), static_cast<unsigned long long>(unknown),
               secs);
  return failures == 0 ? 0 : 1;
}
