// skiff-bench (bench/e2e): commit latency and throughput of a real cluster, the machine's
// physical floor, and the report that puts them beside the peers' figures. Internal to the
// benchmark; see bench/e2e/main.cc for the commands.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace skiff::bench {

using json = nlohmann::json;

/// The CSV every system's runs share (skiff's, etcd's, canonical/raft's), one line per point.
inline constexpr const char* kResultHeader =
    "system,config,nodes,concurrency,size,ops,seconds,ops_per_s,p50_us,p90_us,p99_us,p999_us,"
    "max_us";
/// skiff's own columns for the same points.
inline constexpr const char* kDetailHeader =
    "config,nodes,concurrency,size,cpu_s_per_1000,fsyncs_per_commit_per_node,rss_mb_max,"
    "errors";

/// Latency summary of one point, in µs.
struct Latency {
  double p50 = 0, p90 = 0, p99 = 0, p999 = 0, max = 0;
  /// 1001 quantiles (0, 0.1 %, ..., 100 %): the CDF.
  std::vector<double> quantiles;
};

/// Sorts `us` and summarises it.
Latency summarise(std::vector<std::uint32_t>& us);

/// Latencies in constant memory (a long run must not grow the process it measures): exact
/// up to 100 µs, then buckets 1 % wide; quantiles are the buckets' lower bounds.
class Histogram {
 public:
  void add(std::uint64_t us);
  std::uint64_t count() const { return count_; }
  Latency summarise() const;

 private:
  static std::size_t bucket(std::uint64_t us);
  static double lower_bound(std::size_t bucket);
  std::vector<std::uint64_t> counts_ = std::vector<std::uint64_t>(3000, 0);
  std::uint64_t count_ = 0;
  std::uint64_t max_ = 0;
};

/// `skiff-bench node ...`: one member, commanded over stdin/stdout (member.cc).
int node_main(const std::vector<std::string>& args);
/// `skiff-bench run ...`: a cluster of node processes and the load points (run.cc).
int run_main(const std::vector<std::string>& args);
/// `skiff-bench limits ...`: fdatasync, LMDB commit and loopback round-trip latency (limits.cc).
int limits_main(const std::vector<std::string>& args);
/// `skiff-bench report ...`: bench/RESULTS.md's generated section from the CSVs (report.cc).
int report_main(const std::vector<std::string>& args);

/// "--name value" flags into a map (flags without a value map to "1"); positional arguments
/// are refused. `known`: the flags allowed; an unknown one is an error message.
std::map<std::string, std::string> parse_flags(const std::vector<std::string>& args,
                                               const std::vector<std::string>& known,
                                               std::string* error);
/// "1,16,256" into numbers.
std::vector<std::uint64_t> parse_list(const std::string& text);

}  // namespace skiff::bench
