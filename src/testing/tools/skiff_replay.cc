// skiff-replay TRACE: replays a recorded simulator run event by event and prints what
// happened, ending with the violations found (if any). The trace holds the options and every
// choice of the run, so the replay is the run, bit for bit.
//   --quiet   print only the summary and violations
// skiff-replay --node RECORD: replays a node's flight record (NodeConfig::
// flight_recorder_path) through the same core and prints the committed log it produces.
// Exit status: 0 if the replayed run is correct, 1 if it has violations, 2 on bad input.
#include <cstdio>
#include <string>

#include "skiff/testing/simulator.h"
#ifdef SKIFF_REPLAY_NODE
#include "skiff/node/flight_recorder.h"
#endif

namespace {

int replay_node(const std::string& path, bool quiet) {
#ifdef SKIFF_REPLAY_NODE
  auto replay = skiff::replay_flight_record(path);
  if (!replay.ok()) {
    std::fprintf(stderr, "skiff-replay: %s\n", replay.status().to_string().c_str());
    return replay.status().code() == skiff::ErrorCode::kFailedPrecondition ? 1 : 2;
  }
  if (!quiet) {
    for (const skiff::Entry& e : replay->committed) {
      auto cmd = skiff::node_command(e);
      std::printf("%s%s\n", skiff::describe(e).c_str(),
                  cmd.ok() ? (" command " + std::to_string(cmd->size()) + "B").c_str() : "");
    }
  }
  std::printf("%llu inputs, %zu committed entries%s; %s\n",
              static_cast<unsigned long long>(replay->events), replay->committed.size(),
              replay->truncated ? " (the record ends inside an input)" : "",
              skiff::describe(replay->status.config).c_str());
  return 0;
#else
  (void)quiet;
  std::fprintf(stderr, "skiff-replay: built without the node runtime; cannot read %s\n",
               path.c_str());
  return 2;
#endif
}

}  // namespace

int main(int argc, char** argv) {
  std::string path;
  bool quiet = false;
  bool node = false;
  for (int k = 1; k < argc; ++k) {
    const std::string arg = argv[k];
    if (arg == "--quiet") {
      quiet = true;
    } else if (arg == "--node") {
      node = true;
    } else if (path.empty()) {
      path = arg;
    } else {
      std::fprintf(stderr, "usage: skiff-replay [--quiet] TRACE | [--quiet] --node RECORD\n");
      return 2;
    }
  }
  if (path.empty()) {
    std::fprintf(stderr, "usage: skiff-replay [--quiet] TRACE | [--quiet] --node RECORD\n");
    return 2;
  }
  if (node) {
    return replay_node(path, quiet);
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
