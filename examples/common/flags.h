// Command-line flags shared by the example services (skiff-kv, skiff-lock, skiff-jobs): the
// `serve` subcommand's member flags and the clients' --endpoints, parsed and checked with
// errors that name the flag and the value.
//
//   serve --id N --peers 1=127.0.0.1:7101,2=127.0.0.1:7102,3=127.0.0.1:7103
//         --http 127.0.0.1:8101 --data-dir DIR [--storage lmdb|wal]
//         [--tick-ms 10] [--election-ticks 10] [--heartbeat-ticks 1] [--cluster-id 1] [--join]
//         [--request-timeout-ms 5000] [--snapshot-entries 10000] [--log-level info]
//         [--peer-secret-file PATH]
//         plus the flags a service declares (ServeFlags::extra)
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "skiff/logger.h"
#include "skiff/result.h"
#include "skiff/types.h"

namespace skiff::examples {

/// What `serve` runs with.
struct ServeFlags {
  NodeId id;
  /// Raft addresses of the members, this node's included ("host:port").
  std::map<NodeId, std::string> peers;
  /// Where the HTTP API listens ("host:port").
  std::string http;
  std::string data_dir;
  /// The log's storage adapter under data_dir: "lmdb" (LmdbStorage) or "wal" (WalStorage, one
  /// flush per commit: lower latency; docs/storage.md).
  std::string storage = "lmdb";
  /// With --storage wal: the size of each WAL segment, in MiB (WalOptions::segment_size; a new
  /// log needs free space for two). 1..1024.
  std::uint64_t wal_segment_mib = 64;
  std::chrono::milliseconds tick{10};
  std::uint32_t election_ticks = 10;
  std::uint32_t heartbeat_ticks = 1;
  std::uint64_t cluster_id = 1;
  /// Start with no membership and wait to be added (POST /members on a member), instead of
  /// founding the cluster of --peers.
  bool join = false;
  /// A write or read without an outcome after this long is answered 503 (kTimedOut).
  std::chrono::milliseconds request_timeout{5000};
  /// Snapshot (and compact the log) every this many applied entries; 0: never.
  std::uint64_t snapshot_entries = 10000;
  /// A file holding the cluster's peer secret (AsioTransportOptions::cluster_secret; one
  /// trailing newline is ignored); "" for none. Every member needs the same one.
  std::string peer_secret_file;
  /// Lowest level logged to stderr: debug, info, warning or error.
  LogLevel log_level = LogLevel::kInfo;
  /// The service's own flags (declared to parse_serve_flags), by name with the dashes.
  std::map<std::string, std::string> extra;
};

/// Parses `serve`'s arguments (after the subcommand); `extra_flags` are the service's own
/// flags that take a value (e.g. "--workers"). kInvalidArgument naming the flag.
Result<ServeFlags> parse_serve_flags(const std::vector<std::string>& args,
                                     const std::set<std::string>& extra_flags = {});
/// A decimal number in [lo, hi], the whole text; the error names `what`.
Result<std::uint64_t> parse_number(std::string_view text, std::string_view what, std::uint64_t lo,
                                   std::uint64_t hi);
/// Parses "host:port,host:port,..." (clients' --endpoints). kInvalidArgument otherwise.
Result<std::vector<std::string>> parse_endpoints(std::string_view text);
/// Checks "host:port" with a port in 1..65535; `what` names the flag in the error.
Status check_host_port(std::string_view text, std::string_view what);
/// The `serve` usage lines.
std::string serve_usage(std::string_view program);

}  // namespace skiff::examples
