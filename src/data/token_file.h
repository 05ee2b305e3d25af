// Token files (docs/formats.md "Token files"): a 64-byte header (magic, version, dtype, vocab, eod
// id, token count, document count, xxh3 of the payload) then little-endian uint16/uint32 token ids;
// documents end with the end-of-document token. Read through a memory map, validated on open
// (docs/reliability.md cases 20-21). Entry points: WriteTokenFile, TokenFile::Open,
// ImportRawTokens.
#pragma once

#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <vector>

#include "core/fileio.h"

namespace ot::data {

inline constexpr char kTokenMagic[8] = {'O', 'T', 'T', 'O', 'K', 'E', 'N', 'S'};
inline constexpr uint32_t kTokenVersion = 1;
inline constexpr size_t kTokenHeaderBytes = 64;

struct TokenFileInfo {
  uint32_t version = kTokenVersion;
  uint32_t dtype_bytes = 2;  // 2: uint16, 4: uint32
  uint32_t vocab_size = 0;
  int32_t eod_id = -1;  // -1: no document structure
  uint64_t tokens = 0;
  uint64_t documents = 0;
  uint64_t xxh3 = 0;
};

// The width the format uses for a vocabulary: 2 bytes when vocab <= 65535, else 4.
inline uint32_t DtypeBytesFor(uint32_t vocab_size) { return vocab_size <= 65535 ? 2 : 4; }

// Writes `tokens` atomically (temp file, fsync, rename). Checks every id < vocab_size; counts
// documents as the number of eod tokens. Returns the header that was written.
TokenFileInfo WriteTokenFile(const std::filesystem::path& path, std::span<const int32_t> tokens,
                             uint32_t vocab_size, int32_t eod_id);

// A validated, memory-mapped token file. Open() rejects, each with its own message naming the file:
// a file shorter than the header ("truncated header"), bad magic, unknown version, unknown dtype,
// zero tokens, a payload shorter than the header's count ("truncated"), a payload longer than it
// ("count does not match the file size"), a checksum mismatch, and any token >= vocab. `min_tokens`
// (e.g. B*T+1 for one batch) rejects a file too short to be useful ("shorter than one batch").
class TokenFile {
 public:
  static TokenFile Open(const std::filesystem::path& path, uint64_t min_tokens = 1);

  const TokenFileInfo& info() const { return info_; }
  uint64_t size() const { return info_.tokens; }
  int32_t operator[](uint64_t i) const {
    return info_.dtype_bytes == 2 ? static_cast<int32_t>(u16_[i]) : static_cast<int32_t>(u32_[i]);
  }
  // Copies tokens [begin, begin + out.size()) into `out`.
  void Read(uint64_t begin, std::span<int32_t> out) const;
  std::vector<int32_t> ReadAll() const;
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
  ot::MappedFile map_;
  TokenFileInfo info_;
  const uint16_t* u16_ = nullptr;
  const uint32_t* u32_ = nullptr;
};

// Reads only the header (validated like Open but without scanning the payload).
TokenFileInfo ReadTokenHeader(const std::filesystem::path& path);

// Imports a raw little-endian uint16 or uint32 token dump (dtype_bytes 2 or 4) into a token file;
// the stream is identical and its xxh3 is recorded in the header (and returned). Ids >= vocab are
// rejected.
TokenFileInfo ImportRawTokens(const std::filesystem::path& raw_path, uint32_t dtype_bytes,
                              uint32_t vocab_size, int32_t eod_id,
                              const std::filesystem::path& out_path);

}  // namespace ot::data
