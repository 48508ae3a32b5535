// The logging port: skiff writes diagnostics through a Logger the application injects.
#pragma once

#include <cstdint>
#include <string_view>

namespace skiff {

/// Severity of a log line.
enum class LogLevel : std::uint8_t { kDebug, kInfo, kWarning, kError };

/// Receives skiff's diagnostic lines. The core calls it synchronously from whichever thread
/// drives the core; implementations used by several nodes must be thread-safe themselves.
class Logger {
 public:
  virtual ~Logger() = default;
  /// Whether lines at `level` are wanted; lets the core skip building them.
  virtual bool enabled(LogLevel level) const = 0;
  /// One line, without a trailing newline. `line` is only valid during the call.
  virtual void log(LogLevel level, std::string_view line) = 0;
};

}  // namespace skiff
