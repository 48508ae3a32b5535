// skiff-node-replay RECORD: replays a node's flight record (NodeConfig::flight_recorder_path)
// through the same deterministic core, offline, and prints the committed log it produces.
//   --quiet   print only the summary
// Exit status: 0 if the record replays, 1 if the replay departs from it, 2 on bad input.
#include <cstdio>
#include <string>

#include "skiff/node/flight_recorder.h"

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
      path.clear();
      break;
    }
  }
  if (path.empty()) {
    std::fprintf(stderr, "usage: skiff-node-replay [--quiet] RECORD\n");
    return 2;
  }
  auto replay = skiff::replay_flight_record(path);
  if (!replay.ok()) {
    std::fprintf(stderr, "skiff-node-replay: %s\n", replay.status().to_string().c_str());
    return replay.status().code() == skiff::ErrorCode::kFailedPrecondition ? 1 : 2;
  }
  if (!quiet) {
    for (const skiff::Entry& e : replay->committed) {
      auto command = skiff::node_command(e);
      std::printf("%s%s\n", skiff::describe(e).c_str(),
                  command.ok()
                      ? (" (command of " + std::to_string(command->size()) + " bytes)").c_str()
                      : "");
    }
  }
  std::printf("%llu inputs replayed, %zu committed entries%s; membership %s\n",
              static_cast<unsigned long long>(replay->events), replay->committed.size(),
              replay->truncated ? " (the record ends inside an input)" : "",
              skiff::describe(replay->status.config).c_str());
  return 0;
}
