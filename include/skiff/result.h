// Error reporting: `Status` for operations without a value, `Result<T>` for those with one.
//
// skiff never throws its own exceptions and never aborts on input it receives (configuration,
// messages, storage contents). Outcomes a caller must handle are returned as one of these
// `[[nodiscard]]` types; see DESIGN.md §5.3 for the three kinds of error.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

#include "skiff/types.h"

namespace skiff {

/// What went wrong, in a form a program can branch on.
enum class ErrorCode : std::uint8_t {
  kOk = 0,
  kInvalidArgument,     // the caller passed something malformed (config, message, argument)
  kNotLeader,           // only a leader can do this; `Status::leader_hint()` names the leader
  kProposalDropped,     // a proposal was refused (no leader known, limit reached...): retry
  kCompacted,           // the requested log position was discarded by compaction
  kUnavailable,         // the requested log position does not exist (yet)
  kFailedPrecondition,  // the call is not allowed in the current state (e.g. Ready outstanding)
  kStorage,             // a storage adapter failed (I/O error, disk full...)
  kCorruption,          // persisted data is inconsistent (checksum, impossible hard state...)
  kTimedOut,            // no outcome within the deadline; the operation may still take effect
  kStopped,             // the node is stopping or stopped
};

/// Stable name of an error code, e.g. "NotLeader".
std::string_view to_string(ErrorCode code);

/// The outcome of an operation: ok, or an error code with a human-readable message.
/// A `kNotLeader` status also carries the id of the leader this node knows of.
class [[nodiscard]] Status {
 public:
  /// Success.
  Status() = default;
  /// An error. `code` should not be kOk; use `Status()` for success.
  Status(ErrorCode code, std::string message, NodeId leader_hint = kNoNode)
      : code_(code), message_(std::move(message)), leader_hint_(leader_hint) {}

  bool ok() const { return code_ == ErrorCode::kOk; }
  ErrorCode code() const { return code_; }
  const std::string& message() const { return message_; }
  /// For kNotLeader: the leader known to this node; kNoNode for other codes.
  NodeId leader_hint() const { return leader_hint_; }
  /// "NotLeader: node 2 is not the leader (leader hint 3)", or "OK".
  std::string to_string() const;

  friend bool operator==(const Status&, const Status&) = default;

 private:
  ErrorCode code_ = ErrorCode::kOk;
  std::string message_;
  NodeId leader_hint_;
};

/// Either a value of type T or an error `Status`.
template <typename T>
class [[nodiscard]] Result {
 public:
  /// A successful result holding `value`.
  Result(T value) : v_(std::move(value)) {}  // NOLINT(google-explicit-constructor)
  /// A failed result. Precondition: `!status.ok()`.
  Result(Status status) : v_(std::move(status)) {}  // NOLINT(google-explicit-constructor)

  bool ok() const { return std::holds_alternative<T>(v_); }
  /// The error, or an ok Status if this holds a value.
  Status status() const { return ok() ? Status() : std::get<Status>(v_); }
  /// The value. Precondition: `ok()`.
  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace skiff
