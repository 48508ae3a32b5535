// skiff-kv's replicated state machine: an etcd-like key-value store with revisions, leases, a
// bounded change history for watches, and deduplication of retried writes. Deterministic: the
// same commands in the same order give the same state and results on every member; nothing
// here reads a clock (lease expiry is a command the leader proposes).
//
// Commands and results are JSON objects (CBOR-encoded in the log). Every command may carry
// "client" and "seq": a retried write (same client, same seq) gets the first result again
// instead of being applied twice.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <shared_mutex>
#include <string>
#include <vector>

#include "skiff/node/state_machine.h"

namespace skiff::examples::kv {

using json = nlohmann::json;

/// A key's current value and metadata (etcd's mvccpb.KeyValue).
struct KeyValue {
  std::string value;
  std::uint64_t create_revision = 0;
  std::uint64_t mod_revision = 0;
  std::uint64_t version = 0;  ///< puts since the key was (re)created
  std::uint64_t lease = 0;    ///< 0: none
};

/// One change, as watches see it.
struct Event {
  std::uint64_t revision = 0;
  bool deleted = false;
  std::string key;
  KeyValue kv;  ///< after the change (for a delete: the last value)
};

/// A lease: keys attached to it are deleted when it is revoked or expires.
struct Lease {
  std::uint64_t ttl_seconds = 0;
  std::uint64_t refreshes = 0;  ///< keepalives applied; an expiry decided before one is void
  std::set<std::string> keys;
};

/// A key as the API shows it: {"key","value","create_revision","mod_revision","version"
/// [,"lease"]}.
json kv_to_json(const std::string& key, const KeyValue& kv);

/// Limits of the store (the same on every member: they shape the replicated state).
struct KvLimits {
  std::size_t max_history = 10000;           ///< events kept for watches
  std::size_t max_history_bytes = 64 << 20;  ///< and their keys' and values' bytes at most
  std::size_t max_watch_bytes = 4 << 20;     ///< keys' and values' bytes per watch answer
  std::size_t max_clients = 10000;           ///< clients remembered for deduplication
};

/// Lease lifecycle hooks for the member's local expiry clock (called from apply and restore,
/// under the store's lock: keep them short).
struct LeaseHooks {
  std::function<void(std::uint64_t id, std::uint64_t ttl_seconds)> touched;
  std::function<void(std::uint64_t id)> gone;
  std::function<void()> cleared;  ///< before a restore
};

class KvStore final : public StateMachine {
 public:
  explicit KvStore(KvLimits limits = {}, LeaseHooks hooks = {});

  // Command builders (the JSON a proposer puts in the log).
  static json put_command(const std::string& key, const std::string& value, std::uint64_t lease);
  static json delete_command(const std::string& key);
  /// Compare-and-set: sets `value` if the key's value is `expect_value`, or its mod_revision is
  /// `expect_mod_revision` (0: the key must not exist).
  static json txn_command(const std::string& key, std::optional<std::string> expect_value,
                          std::optional<std::uint64_t> expect_mod_revision,
                          const std::string& value);
  static json grant_command(std::uint64_t ttl_seconds);
  static json keepalive_command(std::uint64_t lease);
  static json revoke_command(std::uint64_t lease);
  /// The leader's decision that `lease` expired, made when it had `refreshes` keepalives.
  static json expire_command(std::uint64_t lease, std::uint64_t refreshes);
  /// Adds a retry identity to a command.
  static void identify(json& command, const std::string& client, std::uint64_t seq);

  // StateMachine.
  Bytes apply(Index index, std::string_view command) override;
  Status snapshot(SnapshotWriter& out) override;
  Status restore(SnapshotReader& in) override;

  // Reads (any thread).
  std::optional<KeyValue> get(const std::string& key) const;
  /// Keys starting with `prefix` in order, at most `limit`; `more` says whether some were left.
  std::vector<std::pair<std::string, KeyValue>> list(const std::string& prefix, std::size_t limit,
                                                     bool* more) const;
  std::uint64_t revision() const;
  std::optional<Lease> lease(std::uint64_t id) const;
  /// Changes to keys under `prefix` at revisions >= `from`, at most `max`, waiting up to
  /// `wait` for the first one. `next` is where to continue; kCompacted when events from
  /// `from` on were dropped from the history (`compacted` is the oldest revision one can
  /// still watch from).
  Status watch(const std::string& prefix, std::uint64_t from, std::size_t max,
               std::chrono::milliseconds wait, std::vector<Event>* events, std::uint64_t* next,
               std::uint64_t* compacted) const;
  /// Wakes every watcher and makes watches answer at once from now on (at shutdown).
  void close_watches();

  /// The whole state as JSON (for snapshots and tests).
  json to_json() const;

 private:
  json apply_command(const json& cmd);
  json put_locked(const std::string& key, const std::string& value, std::uint64_t lease);
  void delete_locked(const std::string& key, std::uint64_t revision);
  void drop_lease_locked(std::uint64_t id);
  void record_locked(Event e);
  void notify_watchers();
  void from_json_locked(const json& j);

  const KvLimits limits_;
  const LeaseHooks hooks_;
  mutable std::shared_mutex mu_;
  mutable std::mutex watch_mu_;  // with changed_: watchers wait for a new revision
  mutable std::condition_variable changed_;
  std::map<std::string, KeyValue> data_;
  std::uint64_t revision_ = 0;
  std::map<std::uint64_t, Lease> leases_;
  std::uint64_t next_lease_ = 1;
  std::deque<Event> history_;
  std::uint64_t compacted_ = 0;  ///< history holds every event after this revision
  struct Client {
    std::uint64_t seq = 0;
    json result;
    std::uint64_t used = 0;  ///< index of its last write (LRU eviction, deterministic)
  };
  std::map<std::string, Client> clients_;
  std::uint64_t applied_ = 0;
  std::atomic<std::uint64_t> generation_{0};  ///< bumped on every change and at close
  std::atomic<bool> closed_{false};
  std::size_t history_bytes_ = 0;
};

}  // namespace skiff::examples::kv
