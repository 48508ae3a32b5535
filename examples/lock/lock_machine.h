// skiff-lock's StateMachine (examples/lock): the replicated LockState behind a mutex, plus what
// each member keeps beside it from the commands it applies: the local lease deadlines (the
// leader turns the passed ones into `expire` and `cancel` commands) and the requests on this
// member waiting for a queued acquisition to be granted.
#pragma once

#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "leader_loop.h"
#include "lock_state.h"
#include "skiff/node/state_machine.h"

namespace skiff::examples::lock {

/// Thread-safe: the node's apply thread applies, HTTP threads read and wait, the leader loop
/// asks for due commands.
class LockMachine final : public StateMachine {
 public:
  LockMachine() : deadlines_(std::make_unique<Deadlines>()) {}

  /// Applies a command and answers the proposer with the result's JSON text.
  Bytes apply(Index index, std::string_view command) override;
  Status snapshot(SnapshotWriter& out) override;
  Status restore(SnapshotReader& in) override;

  /// Reads of the applied state (see LockState).
  json lock_json(const std::string& name) const;
  json resource_json(const std::string& name) const;
  /// The whole state, as a snapshot holds it.
  json state_json() const;

  /// A request on this member waiting until `owner` is granted `name`: register before
  /// proposing the acquire, so a grant applied before the wait starts is not missed.
  class Watch {
   public:
    Watch(LockMachine& machine, std::string name, std::string owner);
    ~Watch();
    Watch(const Watch&) = delete;
    Watch& operator=(const Watch&) = delete;
    /// The granted token, or nothing when `until` passed first or the machine is stopping.
    std::optional<std::uint64_t> wait(std::chrono::steady_clock::time_point until);

   private:
    LockMachine& machine_;
    std::pair<std::string, std::string> key_;
  };

  /// Ends every wait now and later (the member is stopping: its requests must finish).
  void stop_waits();
  bool stopping() const;

  /// Leader side: the commands due now, an `expire` for each holder whose lease ran out and a
  /// `cancel` for each waiter past its wait (its request is gone). They name the exact holding
  /// or place in line, so one that raced a keepalive or a grant is ignored when applied.
  std::vector<std::string> due_commands();
  /// On becoming leader: every lease gets a full TTL from now (late expiry, never early).
  void extend_deadlines() { deadlines_->extend_all(); }

 private:
  // Deadline keys: "h" name (a holder), "w" name \x1f owner (a waiter); names have no control
  // characters (valid_name).
  static std::string holder_key(const std::string& name) { return "h" + name; }
  static std::string waiter_key(const std::string& name, const std::string& owner) {
    return "w" + name + '\x1f' + owner;
  }
  void track(const Effect& e);  // mu_ held

  mutable std::mutex mu_;
  std::condition_variable granted_;
  LockState state_;
  // Replaced on restore (Deadlines has no clear); leases restart from the restore.
  std::unique_ptr<Deadlines> deadlines_;
  struct Waiting {
    int requests = 0;
    std::optional<std::uint64_t> token;
  };
  std::map<std::pair<std::string, std::string>, Waiting> waiting_;
  bool stopping_ = false;
};

}  // namespace skiff::examples::lock
