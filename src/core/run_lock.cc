// Run-directory lock (see run_lock.h): open-or-create `<dir>/.lock`, flock(LOCK_EX | LOCK_NB), then
// record "pid@host" in it for whoever is refused next.
#include "core/run_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <system_error>

#include "core/check.h"

namespace ot {
namespace {

// The holder recorded in an open lock file ("pid@host"), or a phrase saying it is unknown (a holder
// that has locked but not yet written its id).
std::string ReadHolder(int fd) {
  char buffer[512];
  const ssize_t n = ::pread(fd, buffer, sizeof(buffer) - 1, 0);
  std::string text = n > 0 ? std::string(buffer, static_cast<size_t>(n)) : std::string();
  while (!text.empty() && (text.back() == '\n' || text.back() == '\0')) text.pop_back();
  const size_t at = text.find('@');
  if (at == std::string::npos || at == 0) return "an unidentified process";
  return "pid " + text.substr(0, at) + " on host " + text.substr(at + 1);
}

}  // namespace

std::string LockHolderId() {
  char host[256] = {};
  if (::gethostname(host, sizeof(host) - 1) != 0) std::strcpy(host, "unknown-host");
  return std::to_string(::getpid()) + "@" + host;
}

RunDirLock RunDirLock::Acquire(const std::filesystem::path& dir, std::string_view what,
                               std::string_view file) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec)
    throw Error(dir.string() + ": cannot create the " + std::string(what) +
                " directory: " + ec.message());
  RunDirLock lock;
  lock.path_ = dir / file;
  lock.fd_ = ::open(lock.path_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (lock.fd_ < 0)
    throw Error(lock.path_.string() + ": cannot open the lock file: " + std::strerror(errno));
  while (::flock(lock.fd_, LOCK_EX | LOCK_NB) != 0) {
    if (errno == EINTR) continue;
    const int err = errno;
    if (err == EWOULDBLOCK)
      throw Error(lock.path_.string() + ": this " + std::string(what) + " directory is in use by " +
                  ReadHolder(lock.fd_) +
                  "; wait for it to finish or stop it (a dead holder's lock is "
                  "released automatically)");
    throw Error(lock.path_.string() + ": cannot lock: " + std::strerror(err));
  }
  // Ours now: replace whatever a previous (dead or finished) holder wrote.
  const std::string id = LockHolderId() + "\n";
  if (::ftruncate(lock.fd_, 0) != 0 ||
      ::pwrite(lock.fd_, id.data(), id.size(), 0) != static_cast<ssize_t>(id.size()))
    throw Error(lock.path_.string() + ": cannot record the lock holder: " + std::strerror(errno));
  return lock;
}

RunDirLock::~RunDirLock() { Release(); }

RunDirLock::RunDirLock(RunDirLock&& other) noexcept
    : fd_(other.fd_), path_(std::move(other.path_)) {
  other.fd_ = -1;
}

RunDirLock& RunDirLock::operator=(RunDirLock&& other) noexcept {
  if (this != &other) {
    Release();
    fd_ = other.fd_;
    path_ = std::move(other.path_);
    other.fd_ = -1;
  }
  return *this;
}

void RunDirLock::Release() {
  // Closing the last descriptor of the open file description drops the flock. The recorded id
  // stays; it is overwritten by the next holder and is only read while someone holds the lock.
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

}  // namespace ot
