// Tests for core/run_lock (docs/reliability.md case 32): a second locker is refused with the holder
// named (pid@host), in the same process and from another process; a holder killed with SIGKILL
// leaves a lock file that the next process takes over.
#include "core/run_lock.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>

#include "common/test_util.h"
#include "core/check.h"
#include "core/fileio.h"

namespace ot {
namespace {

class RunLockTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char dir_template[] = "/tmp/ot_lock_XXXXXX";
    ASSERT_NE(mkdtemp(dir_template), nullptr);
    dir_ = fs::path(dir_template) / "run";
  }
  void TearDown() override { fs::remove_all(dir_.parent_path()); }
  std::string AcquireError() {
    return testing::ErrorOf([&] { RunDirLock lock = RunDirLock::Acquire(dir_, "pretrain run"); });
  }
  fs::path dir_;
};

std::string Host() {
  const std::string id = LockHolderId();
  return id.substr(id.find('@') + 1);
}

TEST_F(RunLockTest, SecondLockerInThisProcessIsRefusedUntilRelease) {
  {
    RunDirLock first = RunDirLock::Acquire(dir_, "pretrain run");  // creates the directory
    EXPECT_TRUE(first.held());
    EXPECT_EQ(ReadFile(dir_ / ".lock"), LockHolderId() + "\n");
    const std::string e = AcquireError();
    EXPECT_NE(e.find((dir_ / ".lock").string()), std::string::npos) << e;
    EXPECT_NE(e.find("pretrain run directory is in use by pid " + std::to_string(::getpid()) +
                     " on host " + Host()),
              std::string::npos)
        << e;
    RunDirLock moved = std::move(first);  // moving keeps the lock
    EXPECT_FALSE(first.held());
    EXPECT_NE(AcquireError(), "");
  }
  EXPECT_EQ(AcquireError(), "") << "released when the holder goes out of scope";
}

TEST_F(RunLockTest, OtherProcessIsNamedAndItsDeathReleasesTheLock) {
  int ready[2];
  ASSERT_EQ(::pipe(ready), 0);
  std::fflush(nullptr);
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    try {
      RunDirLock lock = RunDirLock::Acquire(dir_, "pretrain run");
      const char byte = 1;
      if (::write(ready[1], &byte, 1) != 1) ::_exit(2);
      for (;;) ::pause();  // hold until killed
    } catch (...) {
      ::_exit(3);
    }
  }
  ::close(ready[1]);
  char byte = 0;
  ASSERT_EQ(::read(ready[0], &byte, 1), 1) << "the child failed to lock";
  ::close(ready[0]);

  const std::string e = AcquireError();
  EXPECT_NE(e.find("in use by pid " + std::to_string(child) + " on host " + Host()),
            std::string::npos)
      << e;

  // kill -9 leaves the lock file (with the dead pid in it) behind; the kernel has dropped the
  // flock.
  ASSERT_EQ(::kill(child, SIGKILL), 0);
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFSIGNALED(status));
  EXPECT_EQ(ReadFile(dir_ / ".lock"), std::to_string(child) + "@" + Host() + "\n");
  RunDirLock taken = RunDirLock::Acquire(dir_, "pretrain run");
  EXPECT_EQ(ReadFile(dir_ / ".lock"), LockHolderId() + "\n") << "the new holder records itself";
}

}  // namespace
}  // namespace ot
