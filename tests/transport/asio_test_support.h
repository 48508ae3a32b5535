// Helpers for the asio transport's loopback tests: a handler that records, a logger that
// captures, bounded waiting, and hand-made frames.
#pragma once

#include <xxhash.h>

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "skiff/codec/codec.h"
#include "skiff/logger.h"
#include "skiff/testing/recording_handler.h"
#include "skiff/transport.h"

namespace skiff::test {

/// Records what a transport hands to its node (the public testing helper).
using Inbox = testing::RecordingHandler;

/// Keeps every line; thread-safe.
class CapturingLogger final : public Logger {
 public:
  bool enabled(LogLevel) const override { return true; }
  void log(LogLevel, std::string_view line) override {
    std::lock_guard lock(mu_);
    lines_.emplace_back(line);
  }
  bool contains(const std::string& part) const {
    std::lock_guard lock(mu_);
    for (const std::string& l : lines_) {
      if (l.find(part) != std::string::npos) {
        return true;
      }
    }
    return false;
  }
  std::string text() const {
    std::lock_guard lock(mu_);
    std::string out;
    for (const std::string& l : lines_) {
      out += l + "\n";
    }
    return out;
  }

 private:
  mutable std::mutex mu_;
  std::vector<std::string> lines_;
};

/// Polls `pred` every 10 ms for at most 10 s.
inline bool eventually(const std::function<bool()>& pred) {
  for (int k = 0; k < 1000; ++k) {
    if (pred()) {
      return true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return pred();
}

/// A frame around any body, with a correct header and checksum (for bodies the codec would
/// never write).
inline std::string reframe(codec::FrameKind kind, const std::string& body) {
  std::string out = "SKF1";
  out.push_back(static_cast<char>(codec::kFormatVersion));
  out.push_back(static_cast<char>(kind));
  out.append(2, '\0');
  auto put = [&out](std::uint64_t v, int bytes) {
    for (int k = 0; k < bytes; ++k) {
      out.push_back(static_cast<char>((v >> (8 * k)) & 0xff));
    }
  };
  put(body.size(), 4);
  put(XXH3_64bits(body.data(), body.size()), 8);
  return out + body;
}

}  // namespace skiff::test
