// skiff_fuzz_replay: the schedule fuzzer without libFuzzer, built with any compiler.
//
//   skiff_fuzz_replay PATH...                     run LLVMFuzzerTestOneInput on every file
//                                                 (directories: every file in them, sorted);
//                                                 aborts with the violations on a bad input
//   skiff_fuzz_replay --events FILE               replay one input, printing every event
//   skiff_fuzz_replay --write-trace OUT FILE      convert an input into a skiff-replay trace
//   skiff_fuzz_replay --write-corpus DIR [--count N] [--first-seed S]
//                                                 write the seed corpus: N recorded simulator
//                                                 runs over the fuzz options, and edge inputs
//
// The ctest fuzz_corpus_step runs the first form over fuzz/corpus/step_fuzz/.
// Exit status: 0 if every input passed, 1 if one failed (--events, --write-corpus), 2 on a
// usage or I/O error; a failing input in the first form aborts, as under libFuzzer.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "step_fuzz.h"

namespace {

namespace fs = std::filesystem;
using skiff::testing::SimOptions;
using skiff::testing::SimReport;

int usage(const std::string& why) {
  std::fprintf(stderr,
               "skiff_fuzz_replay: %s\n"
               "usage: skiff_fuzz_replay PATH...\n"
               "       skiff_fuzz_replay --events FILE\n"
               "       skiff_fuzz_replay --write-trace OUT FILE\n"
               "       skiff_fuzz_replay --write-corpus DIR [--count N] [--first-seed S]\n",
               why.c_str());
  return 2;
}

bool read_file(const fs::path& path, std::string& out) {
  std::FILE* in = std::fopen(path.c_str(), "rb");
  if (in == nullptr) {
    return false;
  }
  out.clear();
  char buf[65536];
  for (std::size_t n; (n = std::fread(buf, 1, sizeof(buf), in)) > 0;) {
    out.append(buf, n);
  }
  const bool ok = std::ferror(in) == 0;
  std::fclose(in);
  return ok;
}

bool write_file(const fs::path& path, std::string_view data) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(data.data(), static_cast<std::streamsize>(data.size()));
  return static_cast<bool>(out);
}

void print_report(const SimOptions& options, const SimReport& report) {
  std::printf("options: %s\nsummary: %s\n", options.to_string().c_str(), report.summary().c_str());
  for (const std::string& v : report.violations) {
    std::printf("violation: %s\n", v.c_str());
  }
}

// The first form: every file through LLVMFuzzerTestOneInput, as libFuzzer would run it.
int replay_all(const std::vector<std::string>& paths) {
  std::vector<fs::path> files;
  for (const std::string& p : paths) {
    std::error_code ec;
    if (fs::is_directory(p, ec)) {
      std::vector<fs::path> in_dir;
      for (const auto& entry : fs::recursive_directory_iterator(p, ec)) {
        if (entry.is_regular_file()) {
          in_dir.push_back(entry.path());
        }
      }
      std::sort(in_dir.begin(), in_dir.end());
      files.insert(files.end(), in_dir.begin(), in_dir.end());
    } else if (fs::is_regular_file(p, ec)) {
      files.emplace_back(p);
    } else {
      std::fprintf(stderr, "skiff_fuzz_replay: no such file or directory: %s\n", p.c_str());
      return 2;
    }
  }
  if (files.empty()) {
    std::fprintf(stderr, "skiff_fuzz_replay: no inputs found (an empty corpus proves nothing)\n");
    return 2;
  }
  std::size_t bytes = 0;
  for (const fs::path& f : files) {
    std::string data;
    if (!read_file(f, data)) {
      std::fprintf(stderr, "skiff_fuzz_replay: cannot read %s\n", f.c_str());
      return 2;
    }
    // Named before the run: a failing input aborts inside LLVMFuzzerTestOneInput.
    std::fprintf(stderr, "%s (%zu bytes)\n", f.c_str(), data.size());
    if (data.size() > skiff::fuzz::kMaxInputSize) {
      std::fprintf(stderr, "  larger than %zu bytes: the fuzz target ignores it\n",
                   skiff::fuzz::kMaxInputSize);
    }
    LLVMFuzzerTestOneInput(reinterpret_cast<const std::uint8_t*>(data.data()), data.size());
    bytes += data.size();
  }
  std::printf("skiff_fuzz_replay: %zu inputs (%zu bytes), no violations\n", files.size(), bytes);
  return 0;
}

int replay_events(const std::string& path) {
  std::string data;
  if (!read_file(path, data)) {
    return usage("cannot read " + path);
  }
  const auto in = skiff::fuzz::decode_step_input(data);
  std::printf("options: %s\n", in.options.to_string().c_str());
  const SimReport report = skiff::fuzz::run_step_input(data, [](std::string_view line) {
    std::printf("%.*s\n", static_cast<int>(line.size()), line.data());
  });
  print_report(in.options, report);
  return report.ok() ? 0 : 1;
}

int write_trace(const std::string& out, const std::string& path) {
  std::string data;
  if (!read_file(path, data)) {
    return usage("cannot read " + path);
  }
  const auto in = skiff::fuzz::decode_step_input(data);
  if (!write_file(out, skiff::testing::encode_trace(in.options, in.choices))) {
    return usage("cannot write " + out);
  }
  std::printf("wrote %s: skiff-replay %s replays it\n", out.c_str(), out.c_str());
  return 0;
}

// The seed corpus: recorded runs (a header byte, then the choices of a SeededChooser run,
// which ByteChooser replays exactly), cycling through the eight header flag combinations, and
// a few edge inputs.
int write_corpus(const fs::path& dir, std::uint64_t count, std::uint64_t first_seed) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) {
    return usage("cannot create " + dir.string() + ": " + ec.message());
  }
  const skiff::testing::KvWorkload workload;
  int failed = 0;
  for (std::uint64_t k = 0; k < count; ++k) {
    const std::uint64_t seed = first_seed + k;
    const auto flags = static_cast<std::uint8_t>(k % 8);
    const auto header = static_cast<std::uint8_t>(flags | ((seed - 1) % 32) << 3);
    const SimOptions options = skiff::fuzz::step_options(header);
    skiff::testing::SeededChooser seeded(seed);
    skiff::testing::RecordingChooser recording(seeded);
    const SimReport report = skiff::testing::simulate_with(options, workload, recording);
    std::string input(1, static_cast<char>(header));
    input += recording.recorded();
    if (input.size() > skiff::fuzz::kMaxInputSize) {
      std::fprintf(stderr, "seed %llu: %zu bytes, over the input cap: skipped\n",
                   static_cast<unsigned long long>(seed), input.size());
      continue;
    }
    char name[64];
    std::snprintf(name, sizeof(name), "rec-n%u-pv%d-cq%d-seed%04llu", options.nodes,
                  options.pre_vote ? 1 : 0, options.check_quorum ? 1 : 0,
                  static_cast<unsigned long long>(seed));
    // The replayed input must be the recorded run.
    const SimReport replayed = skiff::fuzz::run_step_input(input);
    if (!report.ok() || replayed.summary() != report.summary()) {
      std::printf("%s: FAILED\n", name);
      print_report(options, report);
      if (replayed.summary() != report.summary()) {
        std::printf("replay differs: %s\n", replayed.summary().c_str());
      }
      ++failed;
    }
    if (!write_file(dir / name, input)) {
      return usage("cannot write " + (dir / name).string());
    }
    std::printf("%s: %zu bytes, %s\n", name, input.size(), report.summary().c_str());
  }
  const std::vector<std::pair<const char*, std::string>> edges = {
      {"edge-empty", std::string()},
      {"edge-one-byte", std::string(1, '\0')},
      {"edge-five-nodes-no-choices", std::string(1, '\x01')},
      {"edge-ff-1", std::string(1, '\xff')},
      {"edge-ff-4k", std::string(4096, '\xff')},
      {"edge-00-4k", std::string(4096, '\0')},
  };
  for (const auto& [name, input] : edges) {
    const SimReport report = skiff::fuzz::run_step_input(input);
    if (!report.ok()) {
      std::printf("%s: FAILED\n", name);
      print_report(skiff::fuzz::decode_step_input(input).options, report);
      ++failed;
    }
    if (!write_file(dir / name, input)) {
      return usage("cannot write " + (dir / name).string());
    }
    std::printf("%s: %zu bytes, %s\n", name, input.size(), report.summary().c_str());
  }
  return failed == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty()) {
    return usage("nothing to replay");
  }
  if (args[0] == "--events") {
    return args.size() == 2 ? replay_events(args[1]) : usage("--events takes one FILE");
  }
  if (args[0] == "--write-trace") {
    return args.size() == 3 ? write_trace(args[1], args[2]) : usage("--write-trace OUT FILE");
  }
  if (args[0] == "--write-corpus") {
    if (args.size() < 2) {
      return usage("--write-corpus needs a directory");
    }
    std::uint64_t count = 40;
    std::uint64_t first_seed = 1;
    for (std::size_t k = 2; k < args.size(); k += 2) {
      if (k + 1 >= args.size()) {
        return usage("missing value after " + args[k]);
      }
      char* end = nullptr;
      const unsigned long long v = std::strtoull(args[k + 1].c_str(), &end, 10);
      if (end == args[k + 1].c_str() || *end != '\0') {
        return usage("bad number: " + args[k + 1]);
      }
      if (args[k] == "--count") {
        count = v;
      } else if (args[k] == "--first-seed" && v >= 1) {
        first_seed = v;
      } else {
        return usage("unknown option " + args[k]);
      }
    }
    return write_corpus(args[1], count, first_seed);
  }
  for (const std::string& a : args) {
    if (a.starts_with("--")) {
      return usage("unknown option " + a);
    }
  }
  return replay_all(args);
}
