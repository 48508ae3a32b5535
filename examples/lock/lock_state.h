// The replicated state of skiff-lock (examples/lock): named locks with fencing tokens, FIFO
// wait queues and reentrancy, and the demo's guarded resources. Pure and deterministic: no
// clocks, no randomness, no threads; every member applies the same commands in log order and
// reaches the same state. Time enters only through commands (a leader decides that a lease
// ran out and proposes `expire`), so expiry is agreed on like any other write.
//
// Commands are JSON objects (command::* builds them), e.g.
//   {"op":"acquire","name":"db","owner":"a","ttl_ms":10000,"wait_ms":0,"rid":"r1"}
//   {"op":"keepalive","name":"db","owner":"a"}      {"op":"release","name":"db","owner":"a"}
//   {"op":"cancel","name":"db","owner":"b","seq":7} (leave the wait queue; seq 0: any entry)
//   {"op":"expire","name":"db","owner":"a","token":3,"refreshed":12}
//   {"op":"write","name":"file","token":3,"data":"..."}
// Results are JSON objects; a refused command's has "error", "code" and "http" (the HTTP
// status the service answers) and changes nothing.
//
// Tokens: one counter for the whole state (snapshotted), so a token is never issued twice and
// each lock's tokens strictly increase across acquisitions, expiries, leader changes and
// restarts. A lock that is free with nobody waiting is forgotten; the counter is not.
//
// Reentrancy: an acquire by the holder increments its count (and refreshes its lease); it is
// free again once released as many times. Retries: a command carrying a request id ("rid") that
// was already applied for the same lock and owner is not applied again; an acquire answers the
// owner's current standing instead (holder, still queued, or the first answer).
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "skiff/result.h"

namespace skiff::examples::lock {

using json = nlohmann::json;

/// Limits checked by the service before proposing (and again by apply, for names).
inline constexpr std::size_t kMaxNameBytes = 128;  ///< lock, resource and owner names
inline constexpr std::size_t kMaxRequestIdBytes = 64;
inline constexpr std::uint64_t kMaxTtlMs = 3600 * 1000;
inline constexpr std::uint64_t kMaxWaitMs = 120 * 1000;
/// Request ids remembered for retries, oldest forgotten first.
inline constexpr std::size_t kRecentRequests = 4096;

/// Whether `name` may name a lock, resource or owner: 1 to kMaxNameBytes bytes without control
/// characters (they separate keys). UTF-8 validity is the service's check.
bool valid_name(std::string_view name);

/// One queued acquirer.
struct Waiter {
  std::string owner;
  std::uint64_t ttl_ms = 0;   ///< its lease once granted
  std::uint64_t wait_ms = 0;  ///< how long it said it would wait (the leader drops it later)
  std::uint64_t seq = 0;      ///< the log index that queued it: names this place in line
};

/// A lock that is held (a free lock with no waiters is not stored).
struct Lock {
  std::string owner;
  std::uint64_t count = 0;      ///< reentrant acquisitions not yet released; >= 1
  std::uint64_t token = 0;      ///< the fencing token of the current holding
  std::uint64_t ttl_ms = 0;     ///< lease length, refreshed by keepalive and re-acquire
  std::uint64_t refreshed = 0;  ///< log index of the last grant or refresh (expire checks it)
  std::deque<Waiter> waiters;   ///< FIFO
};

/// A guarded resource: refuses writes with a token older than the newest it has seen, and
/// tokens no grant issued (0, or not below LockState::next_token()) without moving its fence.
struct Resource {
  std::uint64_t token = 0;  ///< newest token seen
  std::string data;
  std::uint64_t writes = 0;
  std::uint64_t rejected = 0;
};

/// A change of who holds or waits, for what runs beside the state (deadlines, waiting
/// requests).
struct Effect {
  enum class Kind {
    kHeld,      ///< `owner` holds `name` with `token`, lease `ms` from now (grant or refresh)
    kFreed,     ///< `name`'s holder is gone
    kQueued,    ///< `owner` waits for `name` at most `ms`
    kDequeued,  ///< `owner` no longer waits for `name`
  };
  Kind kind;
  std::string name;
  std::string owner;
  std::uint64_t ms = 0;
  std::uint64_t token = 0;
};

/// What applying a command gave: the proposer's answer and the effects.
struct Outcome {
  json result;
  std::vector<Effect> effects;
};

/// Builders of the commands (JSON text).
namespace command {
std::string acquire(std::string_view name, std::string_view owner, std::uint64_t ttl_ms,
                    std::uint64_t wait_ms, std::string_view rid = {});
std::string keepalive(std::string_view name, std::string_view owner);
std::string release(std::string_view name, std::string_view owner, std::string_view rid = {});
std::string cancel(std::string_view name, std::string_view owner, std::uint64_t seq = 0);
std::string expire(std::string_view name, std::string_view owner, std::uint64_t token,
                   std::uint64_t refreshed);
std::string write(std::string_view name, std::uint64_t token, std::string_view data);
}  // namespace command

/// The locks and resources. Not thread-safe (LockMachine guards it).
class LockState {
 public:
  /// Applies the command at log index `index` (indexes only increase).
  Outcome apply(std::uint64_t index, std::string_view command);

  /// A lock's state as JSON ({"held": false} when free); a resource's (null when unknown).
  json lock_json(const std::string& name) const;
  json resource_json(const std::string& name) const;
  const std::map<std::string, Lock>& locks() const { return locks_; }
  /// The token the next grant gets.
  std::uint64_t next_token() const { return next_token_; }

  /// The whole state (snapshots), and back; kCorruption when `j` is not one.
  json to_json() const;
  static Result<LockState> from_json(const json& j);

 private:
  json acquire(std::uint64_t index, const json& c, std::vector<Effect>& fx);
  json keepalive(std::uint64_t index, const json& c, std::vector<Effect>& fx);
  json release(std::uint64_t index, const json& c, std::vector<Effect>& fx);
  json cancel(const json& c, std::vector<Effect>& fx);
  json expire(std::uint64_t index, const json& c, std::vector<Effect>& fx);
  json write(const json& c);
  // Grants the free `lock` to its first waiter, or forgets it when nobody waits.
  json hand_over(std::uint64_t index, const std::string& name, std::vector<Effect>& fx);
  json grant(std::uint64_t index, const std::string& name, Lock& lock, const std::string& owner,
             std::uint64_t ttl_ms, std::vector<Effect>& fx);
  void remember(const std::string& key, const json& result);

  std::uint64_t next_token_ = 1;
  std::map<std::string, Lock> locks_;
  std::map<std::string, Resource> resources_;
  // Answers of commands with a request id, by "name \x1f owner \x1f op \x1f rid"; oldest first.
  std::map<std::string, json> recent_;
  std::deque<std::string> recent_order_;
};

}  // namespace skiff::examples::lock
