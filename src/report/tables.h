// Aggregates of the result rows (mean ± standard error over draws and seeds) and the tidy CSV
// tables. Entry points: Summarize (rows → per-budget aggregates), WriteTables (every CSV under
// report/tables/), Curve helpers used by the figures and the verdict.
#pragma once

#include <cstdint>
#include <filesystem>
#include <limits>
#include <map>
#include <span>
#include <string>
#include <vector>

#include "report/results.h"

namespace ot {

inline constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// Mean and standard error (sample sd / sqrt(n)) of n values; se is NaN when n < 2, mean NaN when n
// = 0.
struct MeanSe {
  double mean = kNaN, se = kNaN;
  int64_t n = 0;
};
MeanSe MeanAndSe(std::span<const double> values);

struct Budget {
  int64_t tokens = 0;
  double epochs = 0;                     // mean of the rows' epochs at this budget
  double tokens_per_param = 0;           // tokens / study params
  double tokens_per_nonembed_param = 0;  // tokens / (params - embedding params); 0 = unknown
};

struct PretrainPoint {
  int64_t tokens = 0;
  MeanSe base_loss, base_ppl, c4_loss;  // over seeds
};
struct PerturbPoint {
  int64_t tokens = 0;
  std::string scale;  // "init" | "relative": points of different scales never share a curve
  std::string group;
  double gamma = 0;
  MeanSe loss, delta, base_loss;  // over draws x seeds
};
struct FinetunePoint {
  int64_t tokens = 0;
  std::string task;
  double lr = 0;
  MeanSe id_loss, ood_loss, c4_loss, accuracy, base_id_loss, base_ood_loss;  // over seeds
  MeanSe chance_accuracy, label_prior_loss;  // present for tasks with choices / shared labels
};
// One benchmark metric of one model at one budget (results/benchmarks.jsonl), over fine-tuning
// seeds (and pre-training seeds). value.se combines the benchmark's binomial standard error (the
// same documents score every model, so it does not shrink with seeds: the mean of the rows') with
// the spread over seeds (sd / sqrt(seeds), from 2 seeds): sqrt(binomial_se² + seed_se²).
struct BenchmarkPoint {
  int64_t tokens = 0;
  std::string benchmark, metric;  // metric: "acc" | "acc_norm" | "bits_per_byte"
  std::string model, task;        // "base" (task "") | "finetuned"
  double lr = 0;                  // 0 for the base model
  MeanSe value;
  double binomial_se = kNaN, seed_se = kNaN;
  double chance = kNaN;  // accuracy of guessing (multiple choice only)
  int64_t samples = 0;   // documents scored
};
std::vector<BenchmarkPoint> SummarizeBenchmarks(std::span<const BenchmarkRow> rows);

// Theory rows averaged per condition and step (duplicates, if any, are averaged; se from the rows).
struct TheoryPoint {
  std::string kind;
  double gamma = 0, lr = 0, lambda = 0;
  int64_t step = 0;
  double loss_a = 0, loss_a_se = 0, loss_a_closed = 0, loss_b = 0, base_loss = 0;
};

struct Summaries {
  std::string unit = "tokens";  // what a budget counts (StudyInfo::unit): tokens | images
  std::vector<Budget> budgets;  // every token budget seen in any file, increasing
  std::vector<PretrainPoint> pretrain;
  std::vector<PerturbPoint> perturb;    // sorted by (scale, group, gamma, tokens)
  std::vector<FinetunePoint> finetune;  // sorted by (task, lr, tokens)
  std::vector<FinetunePoint> tuned;     // per (task, tokens): the lr with the lowest mean id_loss
  std::vector<TheoryPoint> theory;      // sorted by (kind, gamma, lr, lambda, step)
  // sorted by (benchmark, metric, model, task, lr, tokens)
  std::vector<BenchmarkPoint> benchmarks;
  const Budget& At(int64_t tokens) const;
  // The perturbation scales present, the main one first: "init" (the paper's) when present.
  std::vector<std::string> PerturbScales() const;
};
Summaries Summarize(const StudyResults& results);

// One line of a figure / one curve of the verdict: y(x) with optional standard errors.
struct Curve {
  std::string label;             // "γ = 0.1", "lr = 1e-4", "base"
  double param = 0;              // the family parameter (γ, lr, λ), for ordering
  std::vector<double> x, y, se;  // se empty or NaN where unknown
  bool exact = false;  // computed without sampling noise (InflectionOptions::deterministic)
};

// Writes tables/{budgets, pretrain, pretrain_summary, perturb, perturb_summary, finetune,
// finetune_summary, finetune_tuned, finetune_optimal_lr, theory, benchmarks}.csv (those whose rows
// exist). Returns the file names written.
std::vector<std::string> WriteTables(const StudyResults& results, const Summaries& summaries,
                                     const std::filesystem::path& tables_dir);

// A small CSV writer: header first, then rows; doubles with 8 significant digits, NaN as an empty
// cell.
class CsvWriter {
 public:
  CsvWriter(const std::filesystem::path& path, const std::vector<std::string>& header);
  CsvWriter& Cell(const std::string& v);
  CsvWriter& Cell(double v);
  CsvWriter& Cell(int64_t v);
  void EndRow();
  void Close();  // throws Error if the file could not be written

 private:
  std::filesystem::path path_;
  std::string text_, row_;
  size_t columns_ = 0, cells_ = 0;
};

}  // namespace ot
