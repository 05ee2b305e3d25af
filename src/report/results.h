// The result files `overtrain report` reads (docs/formats.md): results/study.json and the
// JSON-lines files pretrain / perturb / finetune / theory / benchmarks / lr_sweep. Entry point:
// LoadStudyResults. A malformed row is an ot::Error naming the file, line and key; a missing (or
// empty) .jsonl file leaves its std::optional empty.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "core/result_rows.h"

namespace ot {

struct StudyInfo {
  std::string name, preset;
  int64_t params = 0;                  // non-embedding + embedding
  int64_t embedding_params = 0;        // token embedding (+ untied head); 0 = not recorded
  int64_t vocab_size = 0;              // 0 = not recorded
  int64_t train_tokens_per_epoch = 0;  // size of the general training set in tokens (or images)
  std::string unit = "tokens";         // what a budget counts: "tokens", or "images" (vision)
  int64_t seeds = 0;
  std::vector<std::string> tasks;
  std::vector<double> gammas, lrs;
};

// One row of the linear-network lab; which fields are meaningful depends on `kind`.
struct TheoryRow {
  std::string kind;  // "base" | "perturb" | "finetune" | "l2sp" (the C8 sweep: finetune's fields)
  int64_t seed = 0;  // the replicate's seed; 0 when absent (files written before seeds)
  int64_t step = 0;
  double loss_a = 0;
  std::vector<double> singular_values;                 // base
  double gamma = 0, loss_a_se = 0, loss_a_closed = 0;  // perturb
  double lr = 0, lambda = 0, loss_b = 0;               // finetune, l2sp
  int64_t ft_steps = 0;                                // finetune, l2sp; 0 when absent
  double base_loss = 0;                                // perturb, finetune, l2sp
};

struct StudyResults {
  std::filesystem::path results_dir;
  StudyInfo study;
  std::optional<std::vector<PretrainRow>> pretrain;
  std::optional<std::vector<PerturbRow>> perturb;
  std::optional<std::vector<FinetuneRow>> finetune;
  std::optional<std::vector<TheoryRow>> theory;
  std::optional<std::vector<BenchmarkRow>> benchmarks;
  std::optional<std::vector<LrSweepRow>> lr_sweep;  // study.tune_lr
};

// Reads <results_dir>/study.json (required) and every *.jsonl present. Blank lines are skipped;
// unknown keys (and theory rows of a kind newer than this reader) are ignored; a missing key, a
// wrong type or an out-of-range value throws Error "<file>:<line>: key '<key>' ...".
StudyResults LoadStudyResults(const std::filesystem::path& results_dir);

}  // namespace ot
