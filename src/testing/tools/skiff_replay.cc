// skiff-replay TRACE: replays a recorded simulator run event by event and prints what
// happened, ending with the violations found (if any). The trace holds the options and every
// choice of the run, so the replay is the run, bit for bit.
//   --quiet   print only the summary and violations
// Exit status: 0 if the replayed run is correct, 1 if it has violations, 2 on bad input.
#include <cstdio>
#include <string>

#include "skiff/testing/simulator.h"

int main(int argc, char** argv) {
  std::string path;
  bool quiet = false;
  for (int k = 1; k < argc; ++k) {
    const std::string arg = argv[k];
    if (arg == "--quiet") {
      quiet = true;
    } else if (path.empty()) {
      path = arg;
    } else {
      std::fprintf(stderr, "usage: skiff-replay [--quiet] TRACE\n");
      return 2;
    }
  }
  if (path.empty()) {
    std::fprintf(stderr, "usage: skiff-replay [--quiet] TRACE\n");
    return 2;
  }
  std::FILE* in = std::fopen(path.c_str(), "rb");
  if (in == nullptr) {
    std::fprintf(stderr, "skiff-replay: cannot open %s\n", path.c_str());
    return 2;
  }
  std::string file;
  char buf[65536];
  for (std::size_t n; (n = std::fread(buf, 1, sizeof(buf), in)) > 0;) {
    file.append(buf, n);
  }
  std::fclose(in);
  auto trace = skiff::testing::decode_trace(file);
  if (!trace.ok()) {
    std::fprintf(stderr, "skiff-replay: %s: %s\n", path.c_str(),
                 trace.status().to_string().c_str());
    return 2;
  }
  const auto& [options, choices] = *trace;
  std::printf("options: %s\n", options.to_string().c_str());
  skiff::testing::KvWorkload workload;
  skiff::testing::ByteChooser chooser(choices);
  auto print = [](std::string_view line) {
    std::printf("%.*s\n", static_cast<int>(line.size()), line.data());
  };
  skiff::testing::SimReport report =
      skiff::testing::simulate_with(options, workload, chooser,
                                    quiet ? std::function<void(std::string_view)>()
                                          : std::function<void(std::string_view)>(print));
  std::printf("summary: %s\n", report.summary().c_str());
  for (const std::string& v : report.violations) {
    std::printf("violation: %s\n", v.c_str());
  }
  return report.ok() ? 0 : 1;
}
