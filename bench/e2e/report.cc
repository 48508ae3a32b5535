// `skiff-bench report`: the generated section of bench/RESULTS.md, in Markdown on stdout,
// from one run's files: the floor (limits CSV), every system's points (results CSV: skiff's
// and the peers'), skiff's own columns (details CSV), the core micro-benchmark (Google
// Benchmark JSON), the memory soak (RSS CSV), and the plots' file names. Every figure comes
// from those files; the targets of issue 9 are checked against them.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <functional>
#include <iostream>
#include <optional>
#include <sstream>

#include "bench.h"

namespace skiff::bench {
namespace {

using Row = std::map<std::string, std::string>;

// A CSV with a header line into rows by column name (no quoting: our files have none).
std::vector<Row> read_csv(const std::string& path) {
  std::vector<Row> rows;
  std::ifstream in(path);
  std::string line;
  std::vector<std::string> header;
  auto split = [](const std::string& l) {
    std::vector<std::string> out;
    std::stringstream ss(l);
    std::string cell;
    while (std::getline(ss, cell, ',')) {
      out.push_back(cell);
    }
    return out;
  };
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') {
      continue;
    }
    std::vector<std::string> cells = split(line);
    if (header.empty() || cells == header) {
      header = cells;  // the first line, or a repeated header from an appended file
      continue;
    }
    Row r;
    for (std::size_t i = 0; i < header.size() && i < cells.size(); ++i) {
      r[header[i]] = cells[i];
    }
    rows.push_back(std::move(r));
  }
  return rows;
}

double num(const Row& r, const std::string& key) {
  const auto it = r.find(key);
  if (it == r.end() || it->second.empty()) {
    return 0;
  }
  try {
    return std::stod(it->second);
  } catch (const std::exception&) {
    return 0;
  }
}

std::string str(const Row& r, const std::string& key) {
  const auto it = r.find(key);
  return it == r.end() ? std::string() : it->second;
}

std::string fmt(double v, int decimals = 0) {
  char buf[64];
  if (decimals == 0 && std::fabs(v) >= 1000) {
    // Thousands separators for big counts: 95,246.
    std::string digits = std::to_string(static_cast<long long>(std::llround(v)));
    std::string out;
    const int n = static_cast<int>(digits.size());
    for (int i = 0; i < n; ++i) {
      out.push_back(digits[static_cast<std::size_t>(i)]);
      if ((n - i - 1) % 3 == 0 && i != n - 1 && digits[static_cast<std::size_t>(i)] != '-') {
        out.push_back(',');
      }
    }
    return out;
  }
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

std::string ratio(double a, double b) {
  return b > 0 ? fmt(a / b, 2) + "x" : "n/a";
}

// A point's key: same nodes, concurrency and size.
std::string key(const Row& r) {
  return str(r, "nodes") + "/" + str(r, "concurrency") + "/" + str(r, "size");
}

}  // namespace

int report_main(const std::vector<std::string>& args) {
  std::string error;
  auto f = parse_flags(args,
                       {"--results", "--details", "--limits", "--core", "--rss", "--machine",
                        "--command", "--plots"},
                       &error);
  if (!error.empty()) {
    std::cerr << "skiff-bench report: " << error << "\n";
    return 2;
  }
  std::ostream& out = std::cout;
  if (f.contains("--machine")) {
    out << "Machine: " << f["--machine"] << "\n\n";
  }
  if (f.contains("--command")) {
    out << "Command: `" << f["--command"] << "`\n\n";
  }

  // The floor.
  // The floor of one durable replicated commit, per skiff storage configuration: one durable
  // write of that kind plus one loopback round trip.
  std::map<std::string, double> floor_us;  // configuration -> µs
  std::map<std::string, double> limit_p50;
  if (f.contains("--limits")) {
    out << "### The floor (same run)\n\n| limit | p50 µs | p99 µs |\n| --- | ---: | ---: |\n";
    for (const Row& r : read_csv(f["--limits"])) {
      out << "| " << str(r, "limit") << " | " << fmt(num(r, "p50_us")) << " | "
          << fmt(num(r, "p99_us")) << " |\n";
      limit_p50[str(r, "limit")] = num(r, "p50_us");
    }
    const double rtt = limit_p50["loopback-rtt-64b"];
    floor_us["LMDB durable"] = limit_p50["lmdb-commit-100b"] + rtt;
    floor_us["WAL durable"] = limit_p50["overwrite-4k-fdatasync"] + rtt;
    out << "\nFloor of one durable replicated commit = one durable write + one loopback round "
           "trip: **"
        << fmt(floor_us["LMDB durable"]) << " µs** with LMDB (one LMDB durable commit), **"
        << fmt(floor_us["WAL durable"])
        << " µs** with the WAL (one overwrite + fdatasync, what a WAL save is).\n\n";
  }

  // The core alone.
  std::map<std::string, double> core_us;  // benchmark name -> median µs per entry
  if (f.contains("--core")) {
    std::ifstream in(f["--core"]);
    const json j = json::parse(in, nullptr, false);
    out << "### The core alone (three cores in one thread, MemoryStorage, no I/O)\n\n"
           "| benchmark | median time per op | per entry |\n| --- | ---: | ---: |\n";
    if (j.is_object() && j.contains("benchmarks")) {
      for (const json& b : j["benchmarks"]) {
        if (b.value("aggregate_name", "") != "median") {
          continue;
        }
        const std::string name = b.value("run_name", b.value("name", std::string()));
        const double per_entry = b.contains("us_per_entry") ? b["us_per_entry"].get<double>() : 0;
        core_us[name] = per_entry;
        out << "| `" << name << "` | " << fmt(b.value("real_time", 0.0), 2) << " "
            << b.value("time_unit", "") << " | "
            << (per_entry > 0 ? fmt(per_entry, 3) + " µs" : std::string("")) << " |\n";
      }
    }
    out << "\n";
  }

  // Every system's points.
  const std::vector<Row> results =
      f.contains("--results") ? read_csv(f["--results"]) : std::vector<Row>();
  std::map<std::string, Row> details;  // config/nodes/C/size -> skiff's own columns
  if (f.contains("--details")) {
    for (const Row& d : read_csv(f["--details"])) {
      details[str(d, "config") + "|" + key(d)] = d;
    }
  }
  out << "### End to end: every system, same run, 100 B unless noted\n\n"
         "| system | configuration | nodes | C | size | ops/s | p50 µs | p90 µs | p99 µs | "
         "p99.9 µs | p50 / floor | CPU s per 1000 | fsyncs per commit per node | peak RSS "
         "MiB |\n| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | "
         "---: | ---: | ---: |\n";
  for (const Row& r : results) {
    const bool skiff = str(r, "system") == "skiff";
    const auto d = details.find(str(r, "config") + "|" + key(r));
    const bool has_d = skiff && d != details.end();
    out << "| " << str(r, "system") << " | " << str(r, "config") << " | " << str(r, "nodes")
        << " | " << str(r, "concurrency") << " | " << str(r, "size") << " | "
        << fmt(num(r, "ops_per_s")) << " | " << fmt(num(r, "p50_us")) << " | "
        << fmt(num(r, "p90_us")) << " | " << fmt(num(r, "p99_us")) << " | "
        << fmt(num(r, "p999_us")) << " | "
        << (skiff && floor_us.contains(str(r, "config")) && floor_us[str(r, "config")] > 0
                ? fmt(num(r, "p50_us") / floor_us[str(r, "config")], 1) + "x"
                : std::string())
        << " | " << (has_d ? fmt(num(d->second, "cpu_s_per_1000"), 3) : "") << " | "
        << (has_d ? fmt(num(d->second, "fsyncs_per_commit_per_node"), 3) : "") << " | "
        << (has_d ? fmt(num(d->second, "rss_mb_max"), 1) : "") << " |\n";
  }
  out << "\n";

  // skiff against each peer at the same point, for each durable storage configuration.
  const std::vector<std::pair<std::string, std::string>> durable = {{"LMDB durable", "LMDB"},
                                                                    {"WAL durable", "WAL"}};
  std::map<std::string, std::map<std::string, Row>> skiff_durable;  // config -> key -> row
  for (const Row& r : results) {
    const bool is_durable = std::any_of(durable.begin(), durable.end(),
                                        [&](const auto& c) { return c.first == str(r, "config"); });
    if (str(r, "system") == "skiff" && is_durable) {
      skiff_durable[str(r, "config")][key(r)] = r;
    }
  }
  std::map<std::string, std::map<std::string, Row>> peers;  // system -> key -> row
  for (const Row& r : results) {
    if (str(r, "system") != "skiff") {
      peers[str(r, "system") + " (" + str(r, "config") + ")"][key(r)] = r;
    }
  }
  if (!peers.empty()) {
    out << "### skiff (durable) against the peers at the same point\n\n"
           "| skiff storage | peer | nodes | C | peer ops/s | skiff ops/s | throughput skiff/peer "
           "| "
           "peer p50 µs | skiff p50 µs | p50 skiff/peer | peer p99 µs | skiff p99 µs | p99 "
           "skiff/peer |\n"
           "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | "
           "---: |\n";
    for (const auto& [config, label] : durable) {
      for (const auto& [system, rows] : peers) {
        for (const auto& [k, p] : rows) {
          const auto s = skiff_durable[config].find(k);
          if (s == skiff_durable[config].end()) {
            continue;
          }
          out << "| " << label << " | " << system << " | " << str(p, "nodes") << " | "
              << str(p, "concurrency") << " | " << fmt(num(p, "ops_per_s")) << " | "
              << fmt(num(s->second, "ops_per_s")) << " | "
              << ratio(num(s->second, "ops_per_s"), num(p, "ops_per_s")) << " | "
              << fmt(num(p, "p50_us")) << " | " << fmt(num(s->second, "p50_us")) << " | "
              << ratio(num(s->second, "p50_us"), num(p, "p50_us")) << " | " << fmt(num(p, "p99_us"))
              << " | " << fmt(num(s->second, "p99_us")) << " | "
              << ratio(num(s->second, "p99_us"), num(p, "p99_us")) << " |\n";
        }
      }
    }
    out << "\n";
  }

  // Memory over the soak.
  std::optional<double> worst_spread;
  if (f.contains("--rss")) {
    // One file per soak, comma-separated; a node's row is named after its file
    // ("results/rss-wal.csv" gives "wal node1_rss_mib").
    std::map<std::string, std::pair<double, double>> range;  // after the first 30 s
    double last_t = 0;
    const std::string files = f["--rss"];
    for (std::size_t at = 0; at < files.size();) {
      const std::size_t comma = std::min(files.find(',', at), files.size());
      const std::string file = files.substr(at, comma - at);
      at = comma + 1;
      std::string label = file.substr(file.find_last_of('/') + 1);
      label = label.substr(0, label.find('.'));
      if (label.rfind("rss-", 0) == 0) {
        label = label.substr(4);
      }
      for (const Row& r : read_csv(file)) {
        last_t = std::max(last_t, num(r, "seconds"));
        if (num(r, "seconds") < 30) {
          continue;
        }
        for (const auto& [col, v] : r) {
          if (col == "seconds") {
            continue;
          }
          const double x = num(r, col);
          auto [it, fresh] = range.emplace(label + " " + col, std::make_pair(x, x));
          if (!fresh) {
            it->second.first = std::min(it->second.first, x);
            it->second.second = std::max(it->second.second, x);
          }
        }
      }
    }
    out << "### Memory under full load with snapshots and compaction (" << fmt(last_t)
        << " s)\n\n| node | min RSS MiB | max RSS MiB | spread |\n| --- | ---: | ---: | ---: "
           "|\n";
    for (const auto& [col, mm] : range) {
      const double spread = mm.first > 0 ? (mm.second - mm.first) / mm.first : 0;
      worst_spread = std::max(worst_spread.value_or(0), spread);
      out << "| " << col << " | " << fmt(mm.first, 1) << " | " << fmt(mm.second, 1) << " | "
          << fmt(spread * 100, 1) << " % |\n";
    }
    out << "\n(samples once a second from 30 s on; the spread is (max - min) / min)\n\n";
  }

  // The targets.
  out << "### Targets of issue 9\n\nEach peer figure is the peer's best over its "
         "configurations at that point.\n\n| target | measured | |\n| --- | --- | --- |\n";
  auto verdict = [&out](const std::string& target, const std::string& measured, bool met) {
    out << "| " << target << " | " << measured << " | " << (met ? "met" : "**missed**") << " |\n";
  };
  // A benchmark by name and argument ("BM_X/entries:1" matches it and
  // "BM_X/entries:1/min_time:0.500", not "BM_X/entries:16").
  auto find_core = [&core_us](const std::string& name_arg) -> std::optional<double> {
    for (const auto& [name, us] : core_us) {
      if ((name == name_arg || name.rfind(name_arg + "/", 0) == 0) && us > 0) {
        return us;
      }
    }
    return std::nullopt;
  };
  if (auto one = find_core("BM_CoreProposeBackToBack/entries:1")) {
    verdict("core, one entry at a time ≤ 3.8 µs per entry", fmt(*one, 2) + " µs", *one <= 3.8);
  }
  if (auto batched = find_core("BM_CoreProposeOneMessage/entries:256")) {
    verdict("core, 256 entries in one proposal ≤ 0.37 µs per entry", fmt(*batched, 3) + " µs",
            *batched <= 0.37);
  }
  // A peer's best at a point over its configurations (the comparison is against the strongest
  // figure a peer showed): `better` picks it.
  auto peer_point = [&](const std::string& system, const std::string& k,
                        const std::function<bool(const Row&, const Row&)>& better) -> const Row* {
    const Row* best = nullptr;
    for (const auto& [name, rows] : peers) {
      if (name.rfind(system + " (", 0) != 0) {
        continue;
      }
      const auto it = rows.find(k);
      if (it != rows.end() && (best == nullptr || better(it->second, *best))) {
        best = &it->second;
      }
    }
    return best;
  };
  const auto faster = [](const Row& a, const Row& b) {
    return num(a, "ops_per_s") > num(b, "ops_per_s");
  };
  const auto quicker = [](const Row& a, const Row& b) {
    return num(a, "p50_us") < num(b, "p50_us");
  };
  const auto steadier = [](const Row& a, const Row& b) {
    return num(a, "p99_us") < num(b, "p99_us");
  };
  const Row* c1 = peer_point("canonical-raft", "3/1/100", quicker);
  const Row* c256 = peer_point("canonical-raft", "3/256/100", faster);
  const Row* c256_p99 = peer_point("canonical-raft", "3/256/100", steadier);
  const Row* e256 = peer_point("etcd", "3/256/100", faster);
  for (const auto& [config, label] : durable) {
    const auto& points = skiff_durable[config];
    const auto s1 = points.find("3/1/100");
    const auto s256 = points.find("3/256/100");
    const std::string with = " (skiff on " + label + ")";
    if (s1 != points.end() && c1 != nullptr) {
      verdict("durable 3 nodes, 1 proposer: p50 ≤ canonical/raft's" + with,
              fmt(num(s1->second, "p50_us")) + " µs vs " + fmt(num(*c1, "p50_us")) + " µs",
              num(s1->second, "p50_us") <= num(*c1, "p50_us"));
    }
    if (s256 == points.end()) {
      continue;
    }
    const Row& r256 = s256->second;
    if (c256 != nullptr) {
      verdict("256 proposers: throughput ≥ 1.5x canonical/raft's" + with,
              ratio(num(r256, "ops_per_s"), num(*c256, "ops_per_s")),
              num(r256, "ops_per_s") >= 1.5 * num(*c256, "ops_per_s"));
      verdict("256 proposers: p99 below canonical/raft's" + with,
              fmt(num(r256, "p99_us")) + " µs vs " + fmt(num(*c256_p99, "p99_us")) + " µs",
              num(r256, "p99_us") < num(*c256_p99, "p99_us"));
    }
    if (e256 != nullptr) {
      verdict("256 proposers: throughput ≥ 5x etcd's" + with,
              ratio(num(r256, "ops_per_s"), num(*e256, "ops_per_s")),
              num(r256, "ops_per_s") >= 5 * num(*e256, "ops_per_s"));
    }
    const auto d = details.find(config + "|3/256/100");
    if (d != details.end()) {
      const double fs = num(d->second, "fsyncs_per_commit_per_node");
      verdict("256 proposers: fsyncs per commit far below one" + with, fmt(fs, 3), fs < 0.1);
    }
  }
  if (worst_spread) {
    verdict("resident memory per node flat within 20 % under load",
            "largest spread " + fmt(*worst_spread * 100, 1) + " %", *worst_spread <= 0.20);
  }
  out << "\n";
  if (f.contains("--plots")) {
    out << "![commit latency CDF](" << f["--plots"] << "/latency_cdf.png)\n\n"
        << "![throughput against concurrency](" << f["--plots"] << "/throughput.png)\n\n";
  }
  return 0;
}

}  // namespace skiff::bench
