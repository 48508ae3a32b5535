// Rate limiting of the TCP transport's warnings about strangers (internal to
// skiff::transport_asio). A flood of connections must not become a flood of log lines (issue
// 15: 300 idle connections logged 3,656 warnings in 14 s): each kind of warning is logged at
// most kBurst times per interval, and the first line after a quiet interval says how many were
// suppressed.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>

namespace skiff::transport_detail {

/// One kind of warning's budget. Not thread-safe (the I/O thread owns it).
class LogLimiter {
 public:
  using Clock = std::chrono::steady_clock;
  static constexpr std::uint64_t kBurst = 5;

  explicit LogLimiter(Clock::duration interval) : interval_(interval) {}

  /// Whether to log a line at `now`: nullopt to suppress it, else how many lines were
  /// suppressed since the last one logged (for the line to mention).
  std::optional<std::uint64_t> admit(Clock::time_point now) {
    if (!started_ || now - window_start_ >= interval_) {
      started_ = true;
      window_start_ = now;
      in_window_ = 0;
    }
    if (in_window_ >= kBurst) {
      ++suppressed_;
      return std::nullopt;
    }
    ++in_window_;
    const std::uint64_t s = suppressed_;
    suppressed_ = 0;
    return s;
  }

 private:
  Clock::duration interval_;
  Clock::time_point window_start_;
  bool started_ = false;
  std::uint64_t in_window_ = 0;
  std::uint64_t suppressed_ = 0;
};

}  // namespace skiff::transport_detail
