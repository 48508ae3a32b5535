// Running a job's command (examples/jobs/process.h): exit codes, the output tail, the
// environment, timeouts and cancellation that kill the whole process group, and commands
// that cannot run.
#include "process.h"

#include <gtest/gtest.h>

#include <thread>

namespace skiff::examples::jobs {
namespace {

using std::chrono::milliseconds;

ProcessResult run(std::vector<std::string> argv, milliseconds timeout = milliseconds(0),
                  std::size_t tail = 4096) {
  std::atomic<bool> cancel{false};
  ProcessSpec spec;
  spec.argv = std::move(argv);
  spec.env = {{"SKIFF_JOB_ID", "7"}, {"SKIFF_FENCING_TERM", "3"}};
  spec.timeout = timeout;
  spec.tail_bytes = tail;
  return run_process(spec, cancel);
}

TEST(JobsProcess, CapturesStdoutAndStderrAndTheExitCode) {
  ProcessResult ok = run({"sh", "-c", "echo out; echo err >&2"});
  EXPECT_EQ(ok.exit_code, 0);
  EXPECT_EQ(ok.output, "out\nerr\n");
  EXPECT_EQ(ok.reason, "");
  ProcessResult failed = run({"sh", "-c", "exit 3"});
  EXPECT_EQ(failed.exit_code, 3);
}

TEST(JobsProcess, PassesArgumentsWithoutAShellAndTheJobsEnvironment) {
  ProcessResult r = run({"printf", "%s|%s|%s", "a b", "$HOME", "*"});
  EXPECT_EQ(r.output, "a b|$HOME|*");
  ProcessResult env =
      run({"sh", "-c", "echo $SKIFF_JOB_ID $SKIFF_FENCING_TERM; test -n \"$PATH\""});
  EXPECT_EQ(env.output, "7 3\n");
  EXPECT_EQ(env.exit_code, 0) << "the member's environment is inherited";
}

TEST(JobsProcess, KeepsTheLastBytesOfALongOutput) {
  ProcessResult r = run({"sh", "-c", "seq 1 20000"}, milliseconds(0), 100);
  ASSERT_EQ(r.output.size(), 100u);
  EXPECT_EQ(r.output.substr(r.output.size() - 12), "19999\n20000\n");
}

TEST(JobsProcess, ATimeoutKillsTheWholeProcessGroup) {
  const auto started = std::chrono::steady_clock::now();
  // The shell's child holds the pipe too: the group is killed, not only the shell.
  ProcessResult r = run({"sh", "-c", "echo begun; sleep 30; echo never"}, milliseconds(300));
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(5));
  EXPECT_EQ(r.exit_code, 128 + 9);
  EXPECT_EQ(r.reason, "timed out after 300 ms");
  EXPECT_EQ(r.output, "begun\n");
}

TEST(JobsProcess, CancelKillsARunningCommand) {
  std::atomic<bool> cancel{false};
  ProcessSpec spec;
  spec.argv = {"sleep", "30"};
  std::thread canceller([&] {
    std::this_thread::sleep_for(milliseconds(200));
    cancel = true;
  });
  const auto started = std::chrono::steady_clock::now();
  ProcessResult r = run_process(spec, cancel);
  canceller.join();
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(5));
  EXPECT_EQ(r.reason, "cancelled");
}

TEST(JobsProcess, ACommandThatCannotRunFailsWith127) {
  ProcessResult missing = run({"skiff-no-such-command-here"});
  EXPECT_EQ(missing.exit_code, 127);
  EXPECT_NE(missing.reason.find("not found"), std::string::npos) << missing.reason;
  ProcessResult not_executable = run({"/dev/null"});
  EXPECT_EQ(not_executable.exit_code, 127);
}

}  // namespace
}  // namespace skiff::examples::jobs
