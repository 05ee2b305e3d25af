// metrics.jsonl writer (one JSON object per line, slash-named keys such as "train/loss", flushed per row)
// and the progress display (a live line on a terminal, plain periodic lines otherwise).
// Entry points: MetricsWriter, TruncateMetrics, ReadMetrics, Progress.
#pragma once

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace ot {

// Keys whose values depend on the wall clock; everything else in a row is a pure function of config+seed.
bool IsWallClockKey(const std::string& key);  // "perf/..." and "time/..."

class MetricsWriter {
 public:
  MetricsWriter() = default;  // a disabled writer (Write does nothing)
  explicit MetricsWriter(const std::filesystem::path& path);  // appends
  ~MetricsWriter();
  MetricsWriter(const MetricsWriter&) = delete;
  MetricsWriter& operator=(const MetricsWriter&) = delete;
  void Write(const nlohmann::json& row);

 private:
  std::FILE* file_ = nullptr;
};

// Keeps only the rows with "step" <= max_step (a resumed run drops what the interrupted run logged after
// its last checkpoint, so the file ends up as an uninterrupted run's). Also drops a torn last line.
void TruncateMetrics(const std::filesystem::path& path, int64_t max_step);

// All rows of a metrics file (for tests and reports).
std::vector<nlohmann::json> ReadMetrics(const std::filesystem::path& path);

class Progress {
 public:
  // quiet: print nothing. Otherwise a live '\r' line when stderr is a terminal, else one plain line per
  // Update call that passes the `every_s` rate limit.
  Progress(int64_t total_tokens, bool quiet, double every_s = 10.0);
  void Update(int64_t tokens, double loss, double tokens_per_s, double wall_s);
  void Message(const std::string& line);  // a full line (clears the live line first)
  void Finish();

 private:
  int64_t total_;
  bool quiet_, tty_;
  double every_s_, last_print_ = -1e9;
  bool live_ = false;
};

}  // namespace ot
