// Shared helpers for the libFuzzer targets whose parsers read paths, not bytes (token files, TOML
// configs, checkpoint directories): a per-process scratch directory in /dev/shm (tmpfs, falls back
// to the system temp dir) and a plain overwrite of one file in it. Entry points: ScratchDir,
// PutFile.
#pragma once

#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

namespace ot::fuzz {

namespace fs = std::filesystem;

// The scratch directory of this process (created on first use, removed at exit). Per pid, so that
// libFuzzer's -fork/-jobs workers never share files.
inline const fs::path& ScratchDir() {
  // Leaked on purpose: the atexit cleanup below runs after static destructors would have freed it.
  static const fs::path* dir = [] {
    const fs::path base =
        fs::is_directory("/dev/shm") ? fs::path("/dev/shm") : fs::temp_directory_path();
    auto* d = new fs::path(base / ("overtrain-fuzz-" + std::to_string(::getpid())));
    fs::remove_all(*d);
    fs::create_directories(*d);
    std::atexit([] {
      std::error_code ec;
      fs::remove_all(ScratchDir(), ec);
    });
    return d;
  }();
  return *dir;
}

// Replaces `path` with exactly `size` bytes (no fsync: scratch data). Aborts on an I/O error, which
// is a harness failure, not a parser finding.
inline void PutFile(const fs::path& path, const uint8_t* data, size_t size) {
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr || (size > 0 && std::fwrite(data, 1, size, f) != size) || std::fclose(f) != 0) {
    std::perror(path.c_str());
    std::abort();
  }
}

}  // namespace ot::fuzz
