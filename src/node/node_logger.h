// The node's log lines (internal to skiff::node): every line prefixed with the node id and its
// current term, and the default sink when the application gives none.
#pragma once

#include <fmt/format.h>

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string_view>

#include "skiff/logger.h"
#include "skiff/types.h"

namespace skiff::node_detail {

// Warnings and errors to stderr: what a node says when the application gave no logger.
class StderrLogger final : public Logger {
 public:
  bool enabled(LogLevel level) const override { return level >= LogLevel::kWarning; }
  void log(LogLevel level, std::string_view line) override {
    static constexpr const char* kNames[] = {"debug", "info", "warning", "error"};
    fmt::print(stderr, "skiff {}: {}\n", kNames[static_cast<int>(level)], line);
  }
};

// Prefixes every line with the node id and its current term.
class NodeLogger final : public Logger {
 public:
  NodeLogger(std::shared_ptr<Logger> sink, NodeId id, const std::atomic<std::uint64_t>& term)
      : sink_(std::move(sink)), id_(id), term_(term) {}
  bool enabled(LogLevel level) const override { return sink_->enabled(level); }
  void log(LogLevel level, std::string_view line) override {
    sink_->log(level, fmt::format("node={} term={} {}", id_.value, term_.load(), line));
  }

 private:
  std::shared_ptr<Logger> sink_;
  NodeId id_;
  const std::atomic<std::uint64_t>& term_;
};

}  // namespace skiff::node_detail
