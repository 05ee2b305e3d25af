// An exclusive, process-wide lock on a run directory (docs/reliability.md case 32): flock(2) on
// `<dir>/.lock`, which records "pid@host" of the holder for the error message a second process
// gets. Entry point: RunDirLock::Acquire.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

namespace ot {

// Holds the lock while it lives (RAII, move-only). The kernel drops a flock when its holder dies
// (even by kill -9), so a lock file left behind by a dead process is simply taken over: no
// stale-pid heuristics. flock conflicts between open file descriptions, so a second Acquire of the
// same directory also fails inside one process. The lock file itself is never deleted (deleting it
// would let two processes lock two different inodes under the same name).
class RunDirLock {
 public:
  // Creates `dir` if needed and locks it without waiting. `what` names the directory's role in the
  // error ("pretrain run", "study", ...). Throws Error naming the lock file and the holder ("pid
  // 123 on host x") when another process (or another lock in this process) holds it. `file`: the
  // lock file's name in `dir` (a second name lets a parent lock a directory its child locks too).
  static RunDirLock Acquire(const std::filesystem::path& dir, std::string_view what,
                            std::string_view file = ".lock");

  RunDirLock() = default;  // holds nothing
  ~RunDirLock();
  RunDirLock(RunDirLock&& other) noexcept;
  RunDirLock& operator=(RunDirLock&& other) noexcept;
  RunDirLock(const RunDirLock&) = delete;
  RunDirLock& operator=(const RunDirLock&) = delete;

  bool held() const { return fd_ >= 0; }
  const std::filesystem::path& path() const { return path_; }  // the lock file

 private:
  void Release();
  int fd_ = -1;
  std::filesystem::path path_;
};

// "pid@host" as written into lock files by this process.
std::string LockHolderId();

}  // namespace ot
