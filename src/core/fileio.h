// Durable file I/O: whole-file reads, atomic writes (temp + fsync + rename + fsync dir), read-only
// mmap, xxh3 checksums, and a test-only fault hook that simulates a full disk or a kill -9
// mid-write. Entry points: WriteFileAtomic, ReadFile, FileWriter, MappedFile, SyncDirectory,
// Xxh3Hex, SetWriteFault.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>

namespace ot {

namespace fs = std::filesystem;

// Views the bytes of a string without copying (strings are our byte buffers for small files).
inline std::span<const std::byte> AsBytes(std::string_view text) {
  return {reinterpret_cast<const std::byte*>(text.data()), text.size()};
}

// Reads a whole file; throws Error naming the path if it is missing or unreadable.
std::string ReadFile(const fs::path& path);

// Writes `bytes` to `path` so that a reader sees either the old file or the complete new one, also
// after a power loss: write `<path>.tmp-<pid>`, fsync it, rename over `path`, fsync the directory.
void WriteFileAtomic(const fs::path& path, std::span<const std::byte> bytes);
inline void WriteFileAtomic(const fs::path& path, std::string_view text) {
  WriteFileAtomic(path, AsBytes(text));
}

// fsyncs a directory so that renames and creations inside it are durable.
void SyncDirectory(const fs::path& dir);

// A file opened for writing (created or truncated). Every write goes through the fault hook below.
// Errors throw Error naming the path. The destructor closes without syncing and never throws.
class FileWriter {
 public:
  explicit FileWriter(const fs::path& path);
  ~FileWriter();
  FileWriter(const FileWriter&) = delete;
  FileWriter& operator=(const FileWriter&) = delete;

  void Write(std::span<const std::byte> bytes);
  void Write(std::string_view text) { Write(AsBytes(text)); }
  void Sync();   // fsync: data and size are durable once it returns
  void Close();  // close, reporting a deferred write error
  uint64_t bytes_written() const { return bytes_written_; }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
  int fd_ = -1;
  uint64_t bytes_written_ = 0;
};

// A read-only memory map of a whole file (an empty file maps to an empty span). Move-only.
class MappedFile {
 public:
  MappedFile() = default;
  explicit MappedFile(const fs::path& path);  // throws Error naming the path
  ~MappedFile();
  MappedFile(MappedFile&& other) noexcept;
  MappedFile& operator=(MappedFile&& other) noexcept;
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  std::span<const std::byte> bytes() const { return {static_cast<const std::byte*>(data_), size_}; }
  size_t size() const { return size_; }
  const fs::path& path() const { return path_; }

 private:
  void Release();
  fs::path path_;
  void* data_ = nullptr;
  size_t size_ = 0;
};

// XXH3-64 of `bytes` as 16 lowercase hex digits (the checksum in manifests).
uint64_t Xxh3(std::span<const std::byte> bytes);
std::string Xxh3Hex(std::span<const std::byte> bytes);
inline std::string Xxh3Hex(std::string_view text) { return Xxh3Hex(AsBytes(text)); }

// --- Test hooks (process-wide). ---
// After `budget` more bytes pass through FileWriter::Write in this process, the write that crosses
// the budget writes only the bytes that fit and then either fails like a full disk (kFailWrite:
// throws Error
// "... No space left on device (simulated)") or kills the process with SIGKILL (kKill), as kill -9
// would. A negative budget disables the hook. Meant for tests only; not thread-safe against
// concurrent setters.
enum class WriteFaultAction { kFailWrite, kKill };
void SetWriteFault(int64_t budget, WriteFaultAction action = WriteFaultAction::kFailWrite);
void ClearWriteFault();
// Total bytes written through FileWriter in this process (to size fault budgets in tests).
uint64_t TotalBytesWritten();

}  // namespace ot
