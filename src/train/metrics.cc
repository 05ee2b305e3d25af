// metrics.jsonl and progress output (see metrics.h).
#include "train/metrics.h"

#include <fmt/format.h>
#include <unistd.h>

#include <fstream>

#include "core/check.h"
#include "core/config.h"
#include "core/fileio.h"

namespace ot {

bool IsWallClockKey(const std::string& key) {
  return key.rfind("perf/", 0) == 0 || key.rfind("time/", 0) == 0;
}

MetricsWriter::MetricsWriter(const std::filesystem::path& path) {
  file_ = std::fopen(path.c_str(), "ab");
  if (!file_) throw Error(path.string() + ": cannot open the metrics file for appending");
}

MetricsWriter::~MetricsWriter() {
  if (file_) std::fclose(file_);
}

void MetricsWriter::Write(const nlohmann::json& row) {
  if (!file_) return;
  const std::string line = row.dump() + "\n";
  std::fwrite(line.data(), 1, line.size(), file_);
  std::fflush(file_);
}

std::vector<nlohmann::json> ReadMetrics(const std::filesystem::path& path) {
  std::vector<nlohmann::json> rows;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    auto j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded()) continue;  // a torn last line of a killed run
    rows.push_back(std::move(j));
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
  const std::string line =
      fmt::format("tokens {}/{} ({:.1f}%) | loss {:.4f} | {:.0f} tok/s | ETA {}:{:02d}", FormatSize(tokens),
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
