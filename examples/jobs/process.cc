// Running a job's command (process.h).
#include "process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

extern char** environ;

namespace skiff::examples::jobs {
namespace {

// Where `name` is found in PATH, as execvp would look; empty when nowhere.
std::string find_in_path(const std::string& name) {
  if (name.find('/') != std::string::npos) {
    return name;
  }
  const char* path = std::getenv("PATH");
  std::string dirs = path != nullptr ? path : "/usr/local/bin:/usr/bin:/bin";
  std::size_t at = 0;
  while (at <= dirs.size()) {
    std::size_t end = dirs.find(':', at);
    if (end == std::string::npos) {
      end = dirs.size();
    }
    std::string dir = dirs.substr(at, end - at);
    const std::string candidate = (dir.empty() ? "." : dir) + "/" + name;
    struct stat st {};
    if (::stat(candidate.c_str(), &st) == 0 && S_ISREG(st.st_mode) &&
        ::access(candidate.c_str(), X_OK) == 0) {
      return candidate;
    }
    at = end + 1;
  }
  return "";
}

// This process's environment with `extra` added or replaced, as "NAME=value" strings.
std::vector<std::string> environment(const std::map<std::string, std::string>& extra) {
  std::vector<std::string> out;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    std::string_view entry(*e);
    const std::string name(entry.substr(0, entry.find('=')));
    if (!extra.contains(name)) {
      out.emplace_back(entry);
    }
  }
  for (const auto& [name, value] : extra) {
    out.push_back(name + "=" + value);
  }
  return out;
}

std::vector<char*> pointers(std::vector<std::string>& strings) {
  std::vector<char*> out;
  for (auto& s : strings) {
    out.push_back(s.data());
  }
  out.push_back(nullptr);
  return out;
}

// The child between fork and exec: only async-signal-safe calls.
[[noreturn]] void exec_child(pid_t parent, int devnull, int out, const char* path, char** argv,
                             char** envp) {
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (::getppid() != parent) {
    ::_exit(127);  // the parent died before prctl
  }
  ::setpgid(0, 0);
  // The member blocks SIGINT/SIGTERM in every thread and ignores SIGPIPE; a job must not
  // inherit that.
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  ::signal(SIGPIPE, SIG_DFL);
  ::dup2(devnull, 0);
  ::dup2(out, 1);
  ::dup2(out, 2);
  if (::close_range(3, ~0U, 0) != 0) {
    for (int fd = 3; fd < 4096; ++fd) {
      ::close(fd);  // a kernel without close_range: the usual range
    }
  }
  ::execve(path, argv, envp);
  static const char kMessage[] = "skiff-jobs: exec failed\n";
  [[maybe_unused]] auto n = ::write(2, kMessage, sizeof kMessage - 1);
  ::_exit(127);
}

// Keeps the last `max` bytes of what is appended.
class Tail {
 public:
  explicit Tail(std::size_t max) : max_(max) {}
  void append(const char* data, std::size_t n) {
    text_.append(data, n);
    if (text_.size() > 2 * max_ + 4096) {
      text_.erase(0, text_.size() - max_);
    }
  }
  std::string take() {
    if (text_.size() > max_) {
      text_.erase(0, text_.size() - max_);
      // Start at a UTF-8 character, not inside one.
      std::size_t skip = 0;
      while (skip < 3 && skip < text_.size() &&
             (static_cast<unsigned char>(text_[skip]) & 0xC0) == 0x80) {
        ++skip;
      }
      text_.erase(0, skip);
    }
    return std::move(text_);
  }

 private:
  std::size_t max_;
  std::string text_;
};

// Reads what `fd` has now; false at the end (or an error).
bool drain(int fd, Tail& tail) {
  char buf[4096];
  while (true) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n > 0) {
      tail.append(buf, static_cast<std::size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) {
      continue;
    }
    return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
  }
}

}  // namespace

ProcessResult run_process(const ProcessSpec& spec, const std::atomic<bool>& cancel) {
  ProcessResult result;
  if (spec.argv.empty() || spec.argv[0].empty()) {
    return ProcessResult{127, "", "cannot run: empty command"};
  }
  const std::string path = find_in_path(spec.argv[0]);
  if (path.empty()) {
    return ProcessResult{127, "", "cannot run: " + spec.argv[0] + " not found in PATH"};
  }
  std::vector<std::string> args = spec.argv;
  std::vector<std::string> env = environment(spec.env);
  std::vector<char*> argv = pointers(args);
  std::vector<char*> envp = pointers(env);

  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) {
    return ProcessResult{127, "", std::string("cannot run: pipe: ") + std::strerror(errno)};
  }
  const int devnull = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid == 0) {
    exec_child(parent, devnull, fds[1], path.c_str(), argv.data(), envp.data());
  }
  const int fork_errno = errno;
  ::close(fds[1]);
  if (devnull >= 0) {
    ::close(devnull);
  }
  if (pid < 0) {
    ::close(fds[0]);
    return ProcessResult{127, "", std::string("cannot run: fork: ") + std::strerror(fork_errno)};
  }
  ::setpgid(pid, pid);  // also in the child: whichever runs first
  ::fcntl(fds[0], F_SETFL, ::fcntl(fds[0], F_GETFL) | O_NONBLOCK);

  const auto started = std::chrono::steady_clock::now();
  Tail tail(spec.tail_bytes);
  bool open = true;
  bool killed = false;
  int status = 0;
  while (true) {
    pollfd p{fds[0], POLLIN, 0};
    ::poll(&p, open ? 1 : 0, open ? 50 : 5);
    if (open) {
      open = drain(fds[0], tail);
    }
    const pid_t waited = ::waitpid(pid, &status, WNOHANG);
    if (waited == pid || (waited < 0 && errno != EINTR)) {
      if (open) {
        drain(fds[0], tail);  // what it wrote before exiting
      }
      break;
    }
    if (!killed) {
      std::string why;
      if (cancel.load()) {
        why = "cancelled";
      } else if (spec.timeout.count() > 0 &&
                 std::chrono::steady_clock::now() - started >= spec.timeout) {
        why = "timed out after " + std::to_string(spec.timeout.count()) + " ms";
      }
      if (!why.empty()) {
        ::kill(-pid, SIGKILL);
        killed = true;
        result.reason = std::move(why);
      }
    }
  }
  ::close(fds[0]);
  if (WIFEXITED(status)) {
    result.exit_code = WEXITSTATUS(status);
  } else if (WIFSIGNALED(status)) {
    result.exit_code = 128 + WTERMSIG(status);
    if (result.reason.empty()) {
      result.reason = "killed by signal " + std::to_string(WTERMSIG(status));
    }
  }
  result.output = tail.take();
  return result;
}

}  // namespace skiff::examples::jobs
