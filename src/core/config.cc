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
  return Status();
}

}  // namespace skiff
