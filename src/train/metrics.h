// metrics.jsonl writer (one JSON object per line, slash-named keys such as "train/loss", flushed
// per row, every write checked: docs/reliability.md case 33) and the progress display (a live line
// on a terminal, plain periodic lines otherwise). Entry points: MetricsWriter, TruncateMetrics,
// ReadMetrics, Progress.
#pragma once

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace ot {

// Keys whose values depend on the wall clock; everything else in a row is a pure function of
// config+seed.
bool IsWallClockKey(const std::string& key);  // "perf/..." and "time/..."

class MetricsWriter {
 public:
  MetricsWriter() = default;  // a disabled writer (Write does nothing)
  explicit MetricsWriter(const std::filesystem::path& path);  // appends
  ~MetricsWriter();
  MetricsWriter(const MetricsWriter&) = delete;
  MetricsWriter& operator=(const MetricsWriter&) = delete;
  // Appends one row and flushes it to the kernel. A failed write or flush (disk full, I/O error)
  // throws Error naming the file: a run must stop rather than lose rows silently. After a failure
  // the writer is disabled (a half-written row may be in the file; it can only be its last line).
  void Write(const nlohmann::json& row);
  // fsync: every row written so far survives a power loss. Called before each checkpoint, so the
  // rows a resume keeps are as durable as the checkpoint it resumes from. Throws Error naming the
  // file.
  void Sync();

 private:
  std::filesystem::path path_;
  std::FILE* file_ = nullptr;
};

// Keeps only the rows with "step" <= max_step (a resumed run drops what the interrupted run logged
// after its last checkpoint, so the file ends up as an uninterrupted run's). Also drops a torn last
// line.
void TruncateMetrics(const std::filesystem::path& path, int64_t max_step);

// All rows of a metrics file (for tests and reports). A line that is not a JSON object throws Error
// naming the file and line, unless it is the last line and lacks its newline: the torn tail of a
// crashed write. A missing file has no rows.
std::vector<nlohmann::json> ReadMetrics(const std::filesystem::path& path);

class Progress {
 public:
  // quiet: print nothing. Otherwise a live '\r' line when stderr is a terminal, else one plain line
  // per Update call that passes the `every_s` rate limit.
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
