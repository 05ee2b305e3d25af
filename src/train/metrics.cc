// metrics.jsonl and progress output (see metrics.h).
#include "train/metrics.h"

#include <fmt/format.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "core/check.h"
#include "core/config.h"
#include "core/fileio.h"

namespace ot {

bool IsWallClockKey(const std::string& key) {
  return key.rfind("perf/", 0) == 0 || key.rfind("time/", 0) == 0;
}

MetricsWriter::MetricsWriter(const std::filesystem::path& path) : path_(path) {
  file_ = std::fopen(path.c_str(), "ab");
  if (!file_)
    throw Error(path.string() +
                ": cannot open the metrics file for appending: " + std::strerror(errno));
}

MetricsWriter::~MetricsWriter() {
  if (file_) std::fclose(file_);
}

void MetricsWriter::Write(const nlohmann::json& row) {
  if (!file_) return;
  const std::string line = row.dump() + "\n";
  errno = 0;
  const bool ok =
      std::fwrite(line.data(), 1, line.size(), file_) == line.size() && std::fflush(file_) == 0;
  if (ok) return;
  const int err = errno;
  std::fclose(file_);  // drop what is still buffered: the row must not land later, after newer ones
  file_ = nullptr;
  throw Error(path_.string() +
              ": cannot append a metrics row: " + (err != 0 ? std::strerror(err) : "write failed") +
              "; stopping so that no row is lost silently");
}

void MetricsWriter::Sync() {
  if (!file_) return;
  if (std::fflush(file_) != 0 || ::fsync(fileno(file_)) != 0)
    throw Error(path_.string() + ": cannot sync the metrics file: " + std::strerror(errno));
}

std::vector<nlohmann::json> ReadMetrics(const std::filesystem::path& path) {
  std::vector<nlohmann::json> rows;
  if (!std::filesystem::exists(path)) return rows;  // a run that has not logged yet
  const std::string text = ReadFile(path);
  size_t begin = 0;
  for (int64_t line_no = 1; begin < text.size(); ++line_no) {
    const size_t newline = text.find('\n', begin);
    const bool terminated = newline != std::string::npos;
    const std::string_view line(text.data() + begin, (terminated ? newline : text.size()) - begin);
    begin = terminated ? newline + 1 : text.size();
    if (line.empty()) continue;
    auto j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (j.is_object()) {
      rows.push_back(std::move(j));
      continue;
    }
    // A write cut short by a crash leaves the last line without its newline; nothing else is
    // tolerated.
    if (!terminated) break;
    throw Error(path.string() + ":" + std::to_string(line_no) +
                ": not a JSON object; the metrics file is damaged (only a crash-torn last line is "
                "tolerated)");
  }
  return rows;
}

void TruncateMetrics(const std::filesystem::path& path, int64_t max_step) {
  if (!std::filesystem::exists(path)) return;
  std::string kept;
  for (const auto& row : ReadMetrics(path))
    if (row.value("step", int64_t{0}) <= max_step) kept += row.dump() + "\n";
  WriteFileAtomic(path, kept);
}

Progress::Progress(int64_t total_tokens, bool quiet, double every_s)
    : total_(total_tokens), quiet_(quiet), tty_(isatty(STDERR_FILENO) == 1), every_s_(every_s) {}

void Progress::Update(int64_t tokens, double loss, double tokens_per_s, double wall_s) {
  if (quiet_) return;
  const double min_gap = tty_ ? 0.2 : every_s_;
  if (wall_s - last_print_ < min_gap && tokens < total_) return;
  last_print_ = wall_s;
  const double eta = tokens_per_s > 0 ? static_cast<double>(total_ - tokens) / tokens_per_s : 0;
  const std::string line = fmt::format(
      "tokens {}/{} ({:.1f}%) | loss {:.4f} | {:.0f} tok/s | ETA {}:{:02d}", FormatSize(tokens),
      FormatSize(total_), 100.0 * tokens / std::max<int64_t>(1, total_), loss, tokens_per_s,
      static_cast<int>(eta) / 60, static_cast<int>(eta) % 60);
  if (tty_) {
    std::fprintf(stderr, "\r\033[K%s", line.c_str());
    live_ = true;
  } else {
    std::fprintf(stderr, "%s\n", line.c_str());
  }
  std::fflush(stderr);
}

void Progress::Message(const std::string& line) {
  if (quiet_) return;
  if (live_) std::fprintf(stderr, "\r\033[K");
  std::fprintf(stderr, "%s\n", line.c_str());
  live_ = false;
  std::fflush(stderr);
}

void Progress::Finish() {
  if (live_) std::fprintf(stderr, "\n");
  live_ = false;
}

}  // namespace ot
