// A member of an example service (member.h).
#include "member.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <mutex>

#include "skiff/storage/lmdb_storage.h"
#include "skiff/storage/wal_storage.h"

namespace skiff::examples {
namespace {

// Lines at or above a level to stderr, with a UTC time stamp.
class StderrLogger final : public Logger {
 public:
  explicit StderrLogger(LogLevel min) : min_(min) {}
  bool enabled(LogLevel level) const override { return level >= min_; }
  void log(LogLevel level, std::string_view line) override {
    static constexpr const char* kNames[] = {"DEBUG", "INFO", "WARN", "ERROR"};
    const auto now = std::chrono::system_clock::now();
    const std::time_t t = std::chrono::system_clock::to_time_t(now);
    const auto ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() %
        1000;
    std::tm tm{};
    gmtime_r(&t, &tm);
    char stamp[32];
    std::strftime(stamp, sizeof stamp, "%H:%M:%S", &tm);
    std::lock_guard lock(mu_);
    std::fprintf(stderr, "%s.%03lld %-5s %.*s\n", stamp, static_cast<long long>(ms),
                 kNames[static_cast<int>(level)], static_cast<int>(line.size()), line.data());
  }

 private:
  const LogLevel min_;
  std::mutex mu_;
};

// The adapter --storage names, refusing a directory the other one wrote: opening it would
// start an empty log, a member that lost its data.
Result<std::unique_ptr<Storage>> open_storage(const ServeFlags& flags, const ConfState& bootstrap) {
  std::error_code ec;
  const bool has_lmdb = std::filesystem::exists(flags.data_dir + "/data.mdb", ec);
  bool has_wal = false;
  for (const auto& e : std::filesystem::directory_iterator(flags.data_dir, ec)) {
    has_wal = has_wal || e.path().filename().string().rfind("wal-", 0) == 0;
  }
  if ((flags.storage == "wal" && has_lmdb) || (flags.storage == "lmdb" && has_wal)) {
    return Status(ErrorCode::kFailedPrecondition,
                  flags.data_dir + " holds a log written with --storage " +
                      (has_lmdb ? "lmdb" : "wal") + ", not " + flags.storage);
  }
  if (flags.storage == "wal") {
    WalOptions wo;
    wo.path = flags.data_dir;
    wo.cluster_id = flags.cluster_id;
    wo.node_id = flags.id;
    wo.bootstrap = bootstrap;
    wo.segment_size = flags.wal_segment_mib << 20;
    auto s = WalStorage::open(wo);
    if (!s.ok()) {
      return s.status();
    }
    return std::unique_ptr<Storage>(std::move(*s));
  }
  LmdbOptions lo;
  lo.path = flags.data_dir;
  lo.cluster_id = flags.cluster_id;
  lo.node_id = flags.id;
  lo.bootstrap = bootstrap;
  auto s = LmdbStorage::open(lo);
  if (!s.ok()) {
    return s.status();
  }
  return std::unique_ptr<Storage>(std::move(*s));
}

// The peer secret from --peer-secret-file: the whole file but one trailing newline (what
// `echo ... > file` leaves). The error names the file, never its contents.
Result<std::string> read_secret_file(const std::string& path) {
  auto unreadable = [&path](const std::string& why) {
    return Status(ErrorCode::kInvalidArgument, "--peer-secret-file: \"" + path + "\": " + why);
  };
  std::error_code ec;
  const std::uintmax_t size = std::filesystem::file_size(path, ec);
  if (ec) {
    return unreadable(ec.message());
  }
  if (size > 4096) {
    return unreadable("over 4096 bytes: not a secret file");
  }
  std::string secret(static_cast<std::size_t>(size), '\0');
  std::ifstream in(path, std::ios::binary);
  if (!in.read(secret.data(), static_cast<std::streamsize>(secret.size()))) {
    return unreadable("cannot read it");
  }
  if (!secret.empty() && secret.back() == '\n') {
    secret.pop_back();
    if (!secret.empty() && secret.back() == '\r') {
      secret.pop_back();
    }
  }
  return secret;
}

}  // namespace

std::shared_ptr<Logger> stderr_logger(LogLevel min) {
  return std::make_shared<StderrLogger>(min);
}

Result<std::unique_ptr<Member>> Member::start(const ServeFlags& flags, StateMachine& sm,
                                              std::shared_ptr<Logger> logger) {
  std::unique_ptr<Member> m(new Member());
  if (!logger) {
    logger = stderr_logger(flags.log_level);
  }
  ConfState bootstrap;
  if (!flags.join) {
    for (const auto& [id, address] : flags.peers) {
      bootstrap.voters.push_back(id);
    }
  }
  auto storage = open_storage(flags, bootstrap);
  if (!storage.ok()) {
    return Status(storage.status().code(), "storage: " + storage.status().message());
  }
  m->storage_ = std::move(*storage);

  AsioTransportOptions to;
  to.cluster_id = flags.cluster_id;
  to.self = flags.id;
  to.listen_address = flags.peers.at(flags.id);
  to.logger = logger;
  if (!flags.peer_secret_file.empty()) {
    auto secret = read_secret_file(flags.peer_secret_file);
    if (!secret.ok()) {
      return secret.status();
    }
    to.cluster_secret = std::move(*secret);
  }
  auto transport = AsioTransport::create(to);
  if (!transport.ok()) {
    return Status(transport.status().code(), "transport: " + transport.status().message());
  }
  m->transport_ = std::move(*transport);

  NodeConfig nc;
  nc.raft.id = flags.id;
  nc.raft.election_tick = flags.election_ticks;
  nc.raft.heartbeat_tick = flags.heartbeat_ticks;
  nc.join = flags.join;
  nc.raft.forward_proposals = true;  // any member takes writes (the result comes back to it)
  nc.tick_interval = flags.tick;
  nc.request_timeout = flags.request_timeout;
  nc.snapshot_entries = flags.snapshot_entries;
  nc.compaction_margin = std::min<std::uint64_t>(nc.compaction_margin, flags.snapshot_entries);
  nc.logger = logger;
  for (const auto& [id, address] : flags.peers) {
    if (id != flags.id) {
      nc.peers[id] = address;
    }
  }
  auto node = Node::create(nc, *m->storage_, *m->transport_, sm);
  if (!node.ok()) {
    return Status(node.status().code(), "node: " + node.status().message());
  }
  m->node_ = std::move(*node);
  if (Status s = m->node_->start(); !s.ok()) {
    return Status(s.code(), "node: " + s.message());
  }
  return m;
}

Member::~Member() {
  stop();
}

void Member::stop() {
  if (node_) {
    node_->stop();
  }
}

}  // namespace skiff::examples
