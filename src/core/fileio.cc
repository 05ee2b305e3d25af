// Durable file I/O (see fileio.h): POSIX open/write/fsync/rename/mmap with errors that name the
// path.
#include "core/fileio.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include <atomic>
#include <cerrno>
#include <cstring>

#include "core/check.h"

namespace ot {
namespace {

// The fault hook: remaining byte budget (< 0: disabled) and what to do when it runs out.
std::atomic<int64_t> g_fault_budget{-1};
std::atomic<WriteFaultAction> g_fault_action{WriteFaultAction::kFailWrite};
std::atomic<uint64_t> g_total_written{0};

// Writes all of [data, data+size) to fd, retrying short writes and EINTR. Returns 0 or errno.
int WriteAll(int fd, const std::byte* data, size_t size) {
  while (size > 0) {
    ssize_t n = ::write(fd, data, size);
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    data += n;
    size -= static_cast<size_t>(n);
    g_total_written.fetch_add(static_cast<uint64_t>(n));
  }
  return 0;
}

}  // namespace

std::string ReadFile(const fs::path& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw Error(path.string() + ": cannot open for reading: " + ErrnoText(errno));
  std::string out;
  struct stat st {};
  if (::fstat(fd, &st) == 0 && st.st_size > 0) out.reserve(static_cast<size_t>(st.st_size));
  char buffer[1 << 16];
  while (true) {
    ssize_t n = ::read(fd, buffer, sizeof(buffer));
    if (n < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      ::close(fd);
      throw Error(path.string() + ": read failed: " + ErrnoText(err));
    }
    if (n == 0) break;
    out.append(buffer, static_cast<size_t>(n));
  }
  ::close(fd);
  return out;
}

void SyncDirectory(const fs::path& dir) {
  const fs::path target = dir.empty() ? fs::path(".") : dir;
  int fd = ::open(target.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0)
    throw Error(target.string() + ": cannot open directory to fsync: " + ErrnoText(errno));
  int rc = ::fsync(fd);
  int err = errno;
  ::close(fd);
  // Some file systems refuse fsync on directories (EINVAL); the rename is then as durable as it
  // gets.
  if (rc != 0 && err != EINVAL)
    throw Error(target.string() + ": fsync of directory failed: " + ErrnoText(err));
}

FileWriter::FileWriter(const fs::path& path) : path_(path) {
  fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd_ < 0) throw Error(path.string() + ": cannot open for writing: " + ErrnoText(errno));
}

FileWriter::~FileWriter() {
  if (fd_ >= 0) ::close(fd_);
}

void FileWriter::Write(std::span<const std::byte> bytes) {
  OT_CHECK(fd_ >= 0) << path_ << ": write after close";
  size_t allowed = bytes.size();
  bool fault = false;
  int64_t budget = g_fault_budget.load();
  if (budget >= 0) {
    if (static_cast<uint64_t>(budget) < bytes.size()) {
      allowed = static_cast<size_t>(budget);
      fault = true;
      g_fault_budget.store(0);
    } else {
      g_fault_budget.store(budget - static_cast<int64_t>(bytes.size()));
    }
  }
  if (int err = WriteAll(fd_, bytes.data(), allowed); err != 0)
    throw Error(path_.string() + ": write failed: " + ErrnoText(err));
  bytes_written_ += allowed;
  if (fault) {
    if (g_fault_action.load() == WriteFaultAction::kKill) ::raise(SIGKILL);
    throw Error(path_.string() + ": write failed after " + std::to_string(bytes_written_) +
                " bytes: No space left on device (simulated)");
  }
}

void FileWriter::Sync() {
  OT_CHECK(fd_ >= 0) << path_ << ": sync after close";
  if (::fsync(fd_) != 0) throw Error(path_.string() + ": fsync failed: " + ErrnoText(errno));
}

void FileWriter::Close() {
  if (fd_ < 0) return;
  int rc = ::close(fd_);
  fd_ = -1;
  if (rc != 0) throw Error(path_.string() + ": close failed: " + ErrnoText(errno));
}

void WriteFileAtomic(const fs::path& path, std::span<const std::byte> bytes) {
  const fs::path tmp = path.string() + ".tmp-" + std::to_string(::getpid());
  try {
    FileWriter writer(tmp);
    writer.Write(bytes);
    writer.Sync();
    writer.Close();
    if (::rename(tmp.c_str(), path.c_str()) != 0)
      throw Error(path.string() + ": rename from " + tmp.filename().string() +
                  " failed: " + ErrnoText(errno));
  } catch (...) {
    std::error_code ignored;
    fs::remove(tmp, ignored);
    throw;
  }
  SyncDirectory(path.parent_path());
}

MappedFile::MappedFile(const fs::path& path) : path_(path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw Error(path.string() + ": cannot open for reading: " + ErrnoText(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    int err = errno;
    ::close(fd);
    throw Error(path.string() + ": stat failed: " + ErrnoText(err));
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    throw Error(path.string() + ": expected a regular file");
  }
  size_ = static_cast<size_t>(st.st_size);
  if (size_ > 0) {
    void* p = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED) {
      int err = errno;
      ::close(fd);
      size_ = 0;
      throw Error(path.string() + ": mmap failed: " + ErrnoText(err));
    }
    data_ = p;
  }
  ::close(fd);  // the mapping stays valid after close
}

MappedFile::~MappedFile() { Release(); }

MappedFile::MappedFile(MappedFile&& other) noexcept
    : path_(std::move(other.path_)), data_(other.data_), size_(other.size_) {
  other.data_ = nullptr;
  other.size_ = 0;
}

MappedFile& MappedFile::operator=(MappedFile&& other) noexcept {
  if (this != &other) {
    Release();
    path_ = std::move(other.path_);
    data_ = other.data_;
    size_ = other.size_;
    other.data_ = nullptr;
    other.size_ = 0;
  }
  return *this;
}

void MappedFile::Release() {
  if (data_ != nullptr) ::munmap(data_, size_);
  data_ = nullptr;
  size_ = 0;
}

uint64_t Xxh3(std::span<const std::byte> bytes) { return XXH3_64bits(bytes.data(), bytes.size()); }

std::string Xxh3Hex(std::span<const std::byte> bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  uint64_t h = Xxh3(bytes);
  std::string out(16, '0');
  for (int i = 15; i >= 0; --i, h >>= 4) out[static_cast<size_t>(i)] = kHex[h & 0xf];
  return out;
}

void SetWriteFault(int64_t budget, WriteFaultAction action) {
  g_fault_action.store(action);
  g_fault_budget.store(budget);
}

void ClearWriteFault() { g_fault_budget.store(-1); }

uint64_t TotalBytesWritten() { return g_total_written.load(); }

}  // namespace ot
