// Flags of the example services (flags.h).
#include "flags.h"

#include <charconv>

namespace skiff::examples {
namespace {

Status invalid(const std::string& why) {
  return Status(ErrorCode::kInvalidArgument, why);
}

std::vector<std::string_view> split(std::string_view text, char sep) {
  std::vector<std::string_view> out;
  while (true) {
    const std::size_t at = text.find(sep);
    out.push_back(text.substr(0, at));
    if (at == std::string_view::npos) {
      return out;
    }
    text.remove_prefix(at + 1);
  }
}

}  // namespace

Result<std::uint64_t> parse_number(std::string_view text, std::string_view what, std::uint64_t lo,
                                   std::uint64_t hi) {
  std::uint64_t v = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size() || v < lo || v > hi) {
    return invalid(std::string(what) + ": \"" + std::string(text) + "\" is not a number in " +
                   std::to_string(lo) + ".." + std::to_string(hi));
  }
  return v;
}

Status check_host_port(std::string_view text, std::string_view what) {
  const std::size_t colon = text.rfind(':');
  if (colon == std::string_view::npos || colon == 0) {
    return invalid(std::string(what) + ": \"" + std::string(text) + "\" is not host:port");
  }
  auto port = parse_number(text.substr(colon + 1), what, 1, 65535);
  return port.ok() ? Status() : port.status();
}

Result<std::vector<std::string>> parse_endpoints(std::string_view text) {
  std::vector<std::string> out;
  for (std::string_view e : split(text, ',')) {
    if (Status s = check_host_port(e, "--endpoints"); !s.ok()) {
      return s;
    }
    out.emplace_back(e);
  }
  return out;
}

Result<ServeFlags> parse_serve_flags(const std::vector<std::string>& args,
                                     const std::set<std::string>& extra_flags) {
  ServeFlags f;
  bool have_id = false;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& flag = args[i];
    if (flag == "--join") {
      f.join = true;
      continue;
    }
    if (flag.rfind("--", 0) != 0) {
      return invalid("unexpected argument \"" + flag + "\"");
    }
    if (i + 1 >= args.size()) {
      return invalid(flag + " needs a value");
    }
    const std::string& value = args[++i];
    if (flag == "--id") {
      auto v = parse_number(value, flag, 1, UINT64_MAX);
      if (!v.ok()) {
        return v.status();
      }
      f.id = NodeId{*v};
      have_id = true;
    } else if (flag == "--peers") {
      f.peers.clear();  // a repeated flag replaces the earlier one
      for (std::string_view p : split(value, ',')) {
        const std::size_t eq = p.find('=');
        if (eq == std::string_view::npos) {
          return invalid("--peers: \"" + std::string(p) + "\" is not ID=host:port");
        }
        auto id = parse_number(p.substr(0, eq), "--peers", 1, UINT64_MAX);
        if (!id.ok()) {
          return id.status();
        }
        if (Status s = check_host_port(p.substr(eq + 1), "--peers"); !s.ok()) {
          return s;
        }
        if (!f.peers.emplace(NodeId{*id}, std::string(p.substr(eq + 1))).second) {
          return invalid("--peers: node " + std::to_string(*id) + " is listed twice");
        }
      }
    } else if (flag == "--http") {
      if (Status s = check_host_port(value, flag); !s.ok()) {
        return s;
      }
      f.http = value;
    } else if (flag == "--peer-secret-file") {
      if (value.empty()) {
        return invalid("--peer-secret-file must not be empty");
      }
      f.peer_secret_file = value;
    } else if (flag == "--data-dir") {
      if (value.empty()) {
        return invalid("--data-dir must not be empty");
      }
      f.data_dir = value;
    } else if (flag == "--storage") {
      if (value != "lmdb" && value != "wal") {
        return invalid("--storage: \"" + value + "\" is not lmdb or wal");
      }
      f.storage = value;
    } else if (flag == "--wal-segment-mib") {
      auto v = parse_number(value, flag, 1, 1024);
      if (!v.ok()) {
        return v.status();
      }
      f.wal_segment_mib = *v;
    } else if (flag == "--tick-ms") {
      auto v = parse_number(value, flag, 1, 10000);
      if (!v.ok()) {
        return v.status();
      }
      f.tick = std::chrono::milliseconds(*v);
    } else if (flag == "--election-ticks") {
      auto v = parse_number(value, flag, 2, 1000000);
      if (!v.ok()) {
        return v.status();
      }
      f.election_ticks = static_cast<std::uint32_t>(*v);
    } else if (flag == "--heartbeat-ticks") {
      auto v = parse_number(value, flag, 1, 1000000);
      if (!v.ok()) {
        return v.status();
      }
      f.heartbeat_ticks = static_cast<std::uint32_t>(*v);
    } else if (flag == "--cluster-id") {
      auto v = parse_number(value, flag, 1, UINT64_MAX);
      if (!v.ok()) {
        return v.status();
      }
      f.cluster_id = *v;
    } else if (flag == "--request-timeout-ms") {
      auto v = parse_number(value, flag, 10, 3600000);
      if (!v.ok()) {
        return v.status();
      }
      f.request_timeout = std::chrono::milliseconds(*v);
    } else if (flag == "--snapshot-entries") {
      auto v = parse_number(value, flag, 0, UINT64_MAX);
      if (!v.ok()) {
        return v.status();
      }
      f.snapshot_entries = *v;
    } else if (flag == "--log-level") {
      static const std::map<std::string, LogLevel> levels = {{"debug", LogLevel::kDebug},
                                                             {"info", LogLevel::kInfo},
                                                             {"warning", LogLevel::kWarning},
                                                             {"error", LogLevel::kError}};
      const auto it = levels.find(value);
      if (it == levels.end()) {
        return invalid("--log-level: \"" + value + "\" is not debug, info, warning or error");
      }
      f.log_level = it->second;
    } else if (extra_flags.contains(flag)) {
      f.extra[flag] = value;
    } else {
      return invalid("unknown flag " + flag);
    }
  }
  if (!have_id) {
    return invalid("--id is required");
  }
  if (f.peers.empty()) {
    return invalid("--peers is required");
  }
  if (!f.peers.contains(f.id)) {
    return invalid("--peers must list this node (--id " + std::to_string(f.id.value) +
                   ") with its own address");
  }
  if (f.http.empty()) {
    return invalid("--http is required");
  }
  if (f.data_dir.empty()) {
    return invalid("--data-dir is required");
  }
  if (f.election_ticks <= f.heartbeat_ticks) {
    return invalid("--election-ticks (" + std::to_string(f.election_ticks) +
                   ") must be greater than --heartbeat-ticks (" +
                   std::to_string(f.heartbeat_ticks) + ")");
  }
  return f;
}

std::string serve_usage(std::string_view program) {
  const std::string p(program);
  return "usage: " + p +
         " serve --id N --peers 1=HOST:PORT,2=HOST:PORT,... --http HOST:PORT --data-dir DIR\n"
         "       [--storage lmdb|wal] [--wal-segment-mib 64]\n"
         "       [--tick-ms 10] [--election-ticks 10] [--heartbeat-ticks 1] [--cluster-id 1]"
         " [--join]\n"
         "       [--request-timeout-ms 5000] [--snapshot-entries 10000]"
         " [--log-level debug|info|warning|error]\n"
         "       [--peer-secret-file PATH]\n";
}

}  // namespace skiff::examples
