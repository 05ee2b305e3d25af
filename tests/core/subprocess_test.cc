// The child-process helper: exit codes, signals, timeouts that kill the whole process group, stderr
// quoted in errors, pipes both ways, a pool waiting on several children, and children that die with
// their parent.
#include "core/subprocess.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <sstream>
#include <thread>

#include "core/check.h"

namespace ot {
namespace {
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

ProcessSpec Sh(const std::string& script) { return {.argv = {"sh", "-c", script}}; }

double Seconds(Clock::time_point since) {
  return std::chrono::duration<double>(Clock::now() - since).count();
}

// True once `pid` no longer runs (gone, or a zombie nobody has reaped yet).
bool Dead(pid_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  if (!stat) return true;
  std::string line;
  std::getline(stat, line);
  const size_t paren = line.rfind(')');
  return paren == std::string::npos || line.size() < paren + 3 || line[paren + 2] == 'Z';
}

bool WaitDead(pid_t pid, double seconds) {
  const auto start = Clock::now();
  while (!Dead(pid)) {
    if (Seconds(start) > seconds) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return true;
}

TEST(Subprocess, ReportsExitCodeAndCapturesBothStreamsInOrder) {
  const ProcessResult ok = RunProcess(Sh("echo hello; echo err >&2"));
  EXPECT_TRUE(ok.status.ok());
  EXPECT_EQ(ok.output, "hello\nerr\n");
  const ProcessResult three = RunProcess(Sh("exit 3"));
  EXPECT_EQ(three.status.code, 3);
  EXPECT_EQ(three.status.signal, 0);
  EXPECT_EQ(three.status.Describe(), "exit code 3");
}

TEST(Subprocess, ReportsTheKillingSignal) {
  const ProcessResult r = RunProcess(Sh("kill -SEGV $$"));
  EXPECT_EQ(r.status.code, -1);
  EXPECT_EQ(r.status.signal, SIGSEGV);
  EXPECT_EQ(r.status.ShellCode(), 128 + SIGSEGV);
  EXPECT_NE(r.status.Describe().find("signal 11"), std::string::npos) << r.status.Describe();
}

TEST(Subprocess, TimeoutKillsTheWholeProcessGroup) {
  // The shell starts a grandchild that would outlive it if only the shell were killed.
  const fs::path pid_file =
      fs::temp_directory_path() / ("ot_sub_grandchild_" + std::to_string(getpid()));
  const auto start = Clock::now();
  const ProcessResult r =
      RunProcess(Sh("sleep 30 & echo $! > " + pid_file.string() + "; wait"), 0.5);
  EXPECT_LT(Seconds(start), 10.0);
  EXPECT_TRUE(r.status.timed_out);
  EXPECT_FALSE(r.status.ok());
  EXPECT_NE(r.status.Describe().find("timed out after 0.5 s"), std::string::npos)
      << r.status.Describe();
  std::ifstream in(pid_file);
  pid_t grandchild = 0;
  in >> grandchild;
  ASSERT_GT(grandchild, 0);
  EXPECT_TRUE(WaitDead(grandchild, 5.0)) << "the grandchild survived the timeout";
  fs::remove(pid_file);
}

TEST(Subprocess, FailureMessageQuotesABoundedStderrTail) {
  ProcessSpec spec =
      Sh("i=0; while [ $i -lt 2000 ]; do echo noise $i >&2; i=$((i+1)); done; "
         "echo 'the real reason' >&2; exit 4");
  try {
    RunChecked(spec);
    FAIL() << "no Error";
  } catch (const Error& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("`sh -c "), std::string::npos) << m;
    EXPECT_NE(m.find("(exit code 4)"), std::string::npos) << m;
    EXPECT_NE(m.find("the real reason"), std::string::npos) << m;
    EXPECT_EQ(m.find("noise 0\n"), std::string::npos) << "the tail is not bounded";
    EXPECT_LT(m.size(), 2500u);
  }
}

TEST(Subprocess, CaptureKeepsOnlyTheTail) {
  ProcessSpec spec = Sh("head -c 300000 /dev/zero | tr '\\0' a; echo END");
  spec.capture_bytes = 1000;
  const ProcessResult r = RunProcess(spec);
  EXPECT_TRUE(r.status.ok());
  EXPECT_LE(r.output.size(), 2000u);
  EXPECT_EQ(r.output.substr(r.output.size() - 4), "END\n");
}

TEST(Subprocess, MissingProgramOrDirectoryIsAClearError) {
  try {
    Child::Spawn({.argv = {"no-such-program-ot"}});
    FAIL() << "no Error";
  } catch (const Error& e) {
    EXPECT_NE(
        std::string(e.what()).find("cannot start `no-such-program-ot`: no such program on PATH"),
        std::string::npos)
        << e.what();
  }
  try {
    Child::Spawn({.argv = {"true"}, .cwd = "/no/such/dir-ot"});
    FAIL() << "no Error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("working directory /no/such/dir-ot"), std::string::npos)
        << e.what();
  }
}

TEST(Subprocess, CwdAndEnvironmentReachTheChild) {
  const fs::path dir = fs::canonical(fs::temp_directory_path());
  const ProcessResult r = RunProcess(
      {.argv = {"sh", "-c", "pwd; echo $OT_SUB_TEST"}, .cwd = dir, .env = {"OT_SUB_TEST=42"}});
  EXPECT_EQ(r.output, dir.string() + "\n42\n");
}

TEST(Subprocess, PipesBothWaysAndQuotesStderrOfAChildThatDied) {
  Child child =
      Child::Spawn({.argv = {"sh", "-c",
                             "while read x; do [ \"$x\" = bye ] && { echo dying >&2; exit 5; }; "
                             "echo \"got $x\"; done"},
                    .stdin_pipe = true,
                    .output = ChildOutput::kPipe});
  child.Write("one\n");
  EXPECT_EQ(child.ReadLine(10), "got one");
  child.Write("two\n");
  EXPECT_EQ(child.ReadLine(10), "got two");
  child.Write("bye\n");
  EXPECT_EQ(child.ReadLine(10), std::nullopt);
  EXPECT_EQ(child.Wait(10).code, 5);
  EXPECT_EQ(child.OutputTail(), "dying");
  EXPECT_THROW(child.Write("more\n"), Error);  // EPIPE is an Error, not a SIGPIPE that kills us
}

TEST(Subprocess, ReadLineTimesOut) {
  Child child = Child::Spawn({.argv = {"sleep", "30"}, .output = ChildOutput::kPipe});
  EXPECT_THROW(child.ReadLine(0.2), Error);
  // The destructor kills and reaps it.
}

TEST(Subprocess, WaitAnyReturnsTheFirstToFinishAndLogsToAFile) {
  const fs::path log = fs::temp_directory_path() / ("ot_sub_log_" + std::to_string(getpid()));
  fs::remove(log);
  std::vector<std::unique_ptr<Child>> pool;
  pool.push_back(std::make_unique<Child>(Child::Spawn(Sh("sleep 30"))));
  pool.push_back(
      std::make_unique<Child>(Child::Spawn({.argv = {"sh", "-c", "echo out; echo err >&2; exit 2"},
                                            .output = ChildOutput::kFile,
                                            .log = log})));
  std::vector<Child*> running = {pool[0].get(), pool[1].get()};
  EXPECT_EQ(WaitAny(running), 1u);
  EXPECT_EQ(pool[1]->status().code, 2);
  EXPECT_EQ(pool[1]->OutputTail(), "out\nerr");
  EXPECT_NE(pool[1]->FailureMessage().find("(exit code 2): out\nerr"), std::string::npos);
  EXPECT_FALSE(pool[0]->reaped());
  pool[0]->Kill(SIGTERM);
  EXPECT_EQ(WaitAny(running), 0u);
  EXPECT_EQ(pool[0]->status().signal, SIGTERM);
  fs::remove(log);
}

TEST(Subprocess, ChildDiesWithItsParent) {
  // A parent process spawns a sleeping child, reports its pid, and is killed with SIGKILL: the
  // child must not outlive it. We become the subreaper, so the orphan is reparented to us and we
  // can see how it died.
  ASSERT_EQ(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
  int report[2];
  ASSERT_EQ(pipe(report), 0);
  const pid_t parent = fork();
  ASSERT_GE(parent, 0);
  if (parent == 0) {
    close(report[0]);
    Child child = Child::Spawn({.argv = {"sleep", "60"}});
    const pid_t pid = child.pid();
    if (write(report[1], &pid, sizeof(pid)) != sizeof(pid)) _exit(2);
    pause();
    _exit(0);
  }
  close(report[1]);
  pid_t child = 0;
  ASSERT_EQ(read(report[0], &child, sizeof(child)), static_cast<ssize_t>(sizeof(child)));
  close(report[0]);
  ASSERT_GT(child, 0);
  ASSERT_FALSE(Dead(child));
  kill(parent, SIGKILL);
  int status = 0;
  ASSERT_EQ(waitpid(parent, &status, 0), parent);
  // The orphan is ours now: reap it (with a deadline), and check SIGKILL ended it.
  const auto start = Clock::now();
  pid_t got = 0;
  while ((got = waitpid(child, &status, WNOHANG)) == 0 && Seconds(start) < 5)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  prctl(PR_SET_CHILD_SUBREAPER, 0);
  if (got == 0) kill(child, SIGKILL), waitpid(child, &status, 0);
  ASSERT_EQ(got, child) << "the child outlived its killed parent";
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
}

}  // namespace
}  // namespace ot
