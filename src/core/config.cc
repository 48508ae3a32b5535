#include "skiff/config.h"

#include "core/str.h"

namespace skiff {

using detail::str_cat;

Status Config::validate() const {
  auto bad = [](const std::string& what) {
    return Status(ErrorCode::kInvalidArgument, str_cat("invalid config: ", what));
  };
  if (id == kNoNode) {
    return bad("id (0) must not be kNoNode");
  }
  if (heartbeat_tick == 0) {
    return bad(str_cat("heartbeat_tick (", heartbeat_tick, ") must be at least 1"));
  }
  if (election_tick <= heartbeat_tick) {
    return bad(str_cat("election_tick (", election_tick, ") must be greater than heartbeat_tick (",
                       heartbeat_tick, ")"));
  }
  if (election_tick > (1U << 30)) {
    return bad(str_cat("election_tick (", election_tick, ") is too large"));
  }
  if (max_size_per_msg == 0) {
    return bad(str_cat("max_size_per_msg (", max_size_per_msg, ") must be at least 1 byte"));
  }
  if (max_inflight_msgs == 0) {
    return bad(str_cat("max_inflight_msgs (", max_inflight_msgs,
                       ") must be at least 1: a zero window never sends"));
  }
  if (max_committed_size_per_ready == 0) {
    return bad(str_cat("max_committed_size_per_ready (", max_committed_size_per_ready,
                       ") must be at least 1 byte"));
  }
  if (read_mode != ReadMode::kReadIndex && read_mode != ReadMode::kLease) {
    return bad(str_cat("read_mode (", static_cast<int>(read_mode), ") is not a ReadMode"));
  }
  if (read_mode == ReadMode::kLease) {
    if (!check_quorum) {
      return bad(
          "read_mode (kLease) requires check_quorum: without it followers vote for a new leader "
          "while the old one still holds its lease");
    }
    if (max_clock_drift_percent > 1000) {
      return bad(str_cat("max_clock_drift_percent (", max_clock_drift_percent,
                         ") is above 1000: use kReadIndex"));
    }
    if (lease_ticks() == 0) {
      return bad(str_cat("read_mode (kLease) with election_tick (", election_tick,
                         ") and max_clock_drift_percent (", max_clock_drift_percent,
                         ") leaves a lease of 0 ticks"));
    }
  }
  return Status();
}

std::uint32_t Config::lease_ticks() const {
  const std::uint64_t scaled =
      std::uint64_t{election_tick} * 100 / (100 + std::uint64_t{max_clock_drift_percent});
  return scaled == 0 ? 0 : static_cast<std::uint32_t>(scaled - 1);
}

}  // namespace skiff
