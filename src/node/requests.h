// The node's requests waiting for an outcome (internal to skiff::node): proposals, reads and
// membership changes, each completed exactly once — with its result, an error, a timeout, or
// at stop. Thread-safe. Numbers increase and every request has the same timeout, so number
// order is deadline order and timing out walks from the front.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <vector>

#include "metrics.h"
#include "skiff/entry.h"
#include "skiff/node/node.h"

namespace skiff::node_detail {

class RequestTable {
 public:
  using Clock = std::chrono::steady_clock;

  struct Request {
    Node::ProposeCallback on_result;  // proposals
    Node::StatusCallback on_status;   // reads and membership changes
    Clock::time_point started;
    Clock::time_point deadline;
    EntryId entry;  // where it was appended on this leader (0 while unknown)
  };

  RequestTable(std::size_t max_pending, std::chrono::milliseconds timeout, Metrics& metrics)
      : max_pending_(max_pending), timeout_(timeout), metrics_(metrics) {}

  /// Adds `r` and returns its number; if `refuse` is an error or the table is full, completes
  /// `r` with the reason instead and returns nullopt.
  std::optional<std::uint64_t> add(Request r, const Status& refuse);
  /// Records where request `id` was appended (a proposal or change on this leader).
  void appended(std::uint64_t id, EntryId entry);
  /// Completes request `id` if it still waits.
  void complete(std::uint64_t id, Result<Bytes> outcome);
  /// Completes every waiting request with `status`.
  void complete_all(const Status& status);
  /// Completes with kTimedOut the requests whose deadline is past.
  void expire(Clock::time_point now);
  /// The waiting request appended at `index`.
  std::optional<std::uint64_t> at(Index index) const;
  /// The waiting request appended at e.index in another term than e's: its entry was
  /// replaced by a later leader's.
  std::optional<std::uint64_t> replaced_by(const Entry& e) const;
  /// The waiting requests appended at or below `index`.
  std::vector<std::uint64_t> up_to(Index index) const;

 private:
  void finish(Request r, Result<Bytes> outcome);

  const std::size_t max_pending_;
  const std::chrono::milliseconds timeout_;
  Metrics& metrics_;
  mutable std::mutex mu_;
  std::uint64_t next_ = 1;
  std::map<std::uint64_t, Request> requests_;  // by number = by deadline
  std::map<Index, std::uint64_t> by_index_;    // appended on this leader: index -> number
};

}  // namespace skiff::node_detail
