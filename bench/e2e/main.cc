// skiff-bench: commit latency and throughput of a skiff cluster over loopback TCP, beside the
// machine's physical floor; the generated part of bench/RESULTS.md (scripts/bench runs it all).
//
//   skiff-bench run [--nodes 3] [--storage lmdb|wal|memory] [--concurrency 1,16,64,256]
//                   [--size 100] [--seconds 10] [--warmup 2] [--csv FILE] [--details FILE]
//                   [--cdf-dir DIR] [--rss-out FILE] [--snapshot-entries 10000] [--dir DIR]
//   skiff-bench limits [--dir DIR] [--csv FILE] [--count 300]
//   skiff-bench report --results CSV --details CSV --limits CSV [--core JSON] [--rss CSV]
//   skiff-bench node ...   (one member; started by `run`)
#include <algorithm>
#include <iostream>

#include "bench.h"

namespace skiff::bench {

std::map<std::string, std::string> parse_flags(const std::vector<std::string>& args,
                                               const std::vector<std::string>& known,
                                               std::string* error) {
  std::map<std::string, std::string> out;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (std::find(known.begin(), known.end(), a) == known.end()) {
      error->assign("unknown argument ").append(a);
      return out;
    }
    if (i + 1 < args.size() && args[i + 1].rfind("--", 0) != 0) {
      out[a] = args[++i];
    } else {
      out[a] = "1";
    }
  }
  return out;
}

std::vector<std::uint64_t> parse_list(const std::string& text) {
  std::vector<std::uint64_t> out;
  std::size_t at = 0;
  while (at < text.size()) {
    const std::size_t comma = std::min(text.find(',', at), text.size());
    out.push_back(std::stoull(text.substr(at, comma - at)));
    at = comma + 1;
  }
  return out;
}

}  // namespace skiff::bench

int main(int argc, char** argv) {
  const std::vector<std::string> all(argv + 1, argv + argc);
  if (all.empty()) {
    std::cerr << "usage: skiff-bench run|limits|report [flags] (see bench/e2e/main.cc)\n";
    return 2;
  }
  const std::vector<std::string> args(all.begin() + 1, all.end());
  try {
    if (all[0] == "run") {
      return skiff::bench::run_main(args);
    }
    if (all[0] == "node") {
      return skiff::bench::node_main(args);
    }
    if (all[0] == "limits") {
      return skiff::bench::limits_main(args);
    }
    if (all[0] == "report") {
      return skiff::bench::report_main(args);
    }
  } catch (const std::exception& e) {  // a malformed number in a flag, mostly
    std::cerr << "skiff-bench " << all[0] << ": " << e.what() << "\n";
    return 2;
  }
  std::cerr << "skiff-bench: unknown command " << all[0] << "\n";
  return 2;
}
