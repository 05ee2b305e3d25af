// Small helpers of the data layer: SHA-1/SHA-256 (registry pins), running external commands (npm,
// apt-get, dpkg-deb) with checked exit codes, gzip-aware file reads, text encoding fixes, seeded
// shuffles. Entry points: Sha1Hex, Sha256Hex, RunCommand, ReadMaybeGzip, Latin1ToUtf8, IsValidUtf8,
// SeededShuffle.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ot::data {

namespace fs = std::filesystem;

std::string Sha1Hex(std::string_view bytes);
std::string Sha256Hex(std::string_view bytes);

// Runs argv[0] (searched in PATH) with the given arguments in `cwd` (core/subprocess.h);
// stdout+stderr are captured into `output` (if not null; on failure it ends with how the command
// ended). Returns the exit status (128+signal when killed or timed out, 127 when it could not
// start). `timeout_s` 0 = none.
int RunCommand(const std::vector<std::string>& argv, const fs::path& cwd,
               std::string* output = nullptr, double timeout_s = 0);

// Bounds on hostile input (a gzip bomb, one endless line) so that a bad file is refused before it
// costs gigabytes. Real data is far inside them: the files in shared/data expand at most 10.5x and
// their longest parsed line is 57 KB (c4; tokenizer.json files are parsed whole, not by line).
inline constexpr size_t kMaxGzipRatio = 100;                  // decompressed / compressed bytes ...
inline constexpr size_t kMinGzipCapBytes = size_t{64} << 20;  // ... once past 64 MiB
inline constexpr size_t kMaxLineBytes = size_t{1} << 20;      // one line of a line-parsed file

// Reads a whole file; if it starts with the gzip magic (1f 8b), decompresses it (zlib). Throws
// Error naming the path on a missing file, corrupt gzip data, or a decompressed size past
// max(kMinGzipCapBytes, kMaxGzipRatio x the compressed size).
std::string ReadMaybeGzip(const fs::path& path);

// Calls fn(number, line) for each line of `text` (1-based numbers; a trailing CR dropped), without
// copying. Throws Error "<where>:<number>: ..." for a line longer than kMaxLineBytes.
void ForEachLine(std::string_view text, const std::string& where,
                 const std::function<void(size_t, std::string_view)>& fn);
// The non-blank lines of `text` with their 1-based numbers (ForEachLine's rules and bound).
std::vector<std::pair<size_t, std::string_view>> NonBlankLines(std::string_view text,
                                                               const std::string& where);

// Latin-1 (ISO-8859-1) bytes to UTF-8.
std::string Latin1ToUtf8(std::string_view bytes);
bool IsValidUtf8(std::string_view bytes);
// Windows-1252 (the superset of Latin-1 that MR uses: 0x97 is an em dash) to UTF-8.
std::string Cp1252ToUtf8(std::string_view bytes);
// Valid UTF-8 is returned unchanged; otherwise the text is taken as Windows-1252 / Latin-1 (MR,
// TREC, caesar).
std::string ToUtf8(std::string_view bytes);
// CRLF and lone CR to LF.
std::string NormalizeNewlines(std::string_view text);
// Trims ASCII whitespace at both ends.
std::string_view Trim(std::string_view s);
// Splits on a single character (keeps empty fields).
std::vector<std::string_view> Split(std::string_view s, char sep);

// Fisher–Yates shuffle of the indices 0..n-1, a pure function of (seed, stream tag, n).
std::vector<size_t> SeededPermutation(size_t n, uint64_t seed, const char* stream);
template <typename T>
void SeededShuffle(std::vector<T>& items, uint64_t seed, const char* stream) {
  const auto perm = SeededPermutation(items.size(), seed, stream);
  std::vector<T> out;
  out.reserve(items.size());
  for (size_t i : perm) out.push_back(std::move(items[i]));
  items = std::move(out);
}

}  // namespace ot::data
