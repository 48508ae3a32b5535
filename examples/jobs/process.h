// Running one job's command as a child process (internal to skiff-jobs): no shell (unless the
// command is one), stdin from /dev/null, stdout and stderr into one pipe of which the last
// bytes are kept, its own process group (killed whole on timeout or cancel), and SIGKILL when
// the thread that started it dies, so a killed member leaves no job behind.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace skiff::examples::jobs {

struct ProcessSpec {
  std::vector<std::string> argv;  ///< argv[0] is looked up in PATH unless it has a '/'
  /// Added to (or replacing in) this process's environment.
  std::map<std::string, std::string> env;
  std::chrono::milliseconds timeout{0};  ///< 0: none
  std::size_t tail_bytes = 4096;         ///< output kept: the last this many bytes
};

struct ProcessResult {
  /// The exit status; 128 + N when killed by signal N; 127 when it could not run.
  std::int64_t exit_code = 0;
  std::string output;  ///< the tail of stdout and stderr
  /// Empty after a normal exit; otherwise why the command failed beyond its exit code
  /// ("timed out after 500 ms", "killed by signal 9", "cannot run: ...", "cancelled").
  std::string reason;
};

/// Runs `spec` to completion, or until its timeout or until `cancel` becomes true (checked
/// every 50 ms): then the whole process group is killed.
ProcessResult run_process(const ProcessSpec& spec, const std::atomic<bool>& cancel);

}  // namespace skiff::examples::jobs
