// The pre-training LR sweep of study.tune_lr (docs/science.md §8, "fair arms"): before a ladder,
// the ladder's own pretrain.lr times each study.tune_lr_factors entry is trained to one reference
// budget and evaluated; `overtrain tune-lr` then picks the LR with the lowest validation loss and
// writes it as an override that the ladder's pre-training runs read when they start
// (`overtrain pretrain --set-from <tune-lr run>/chosen_lr.txt`). The plan holds every run; the
// ladder's runs depend on the tune-lr run, so resume, --only and Slurm waves need nothing new.
// Entry points: TuneLrConfig, TuneLrSchema, RunTuneLrStage, ChooseLr, TuneLrBudget.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "core/config.h"
#include "core/result_rows.h"
#include "study/study_config.h"

namespace ot {

inline constexpr const char* kChosenLrFile = "chosen_lr.txt";  // `optim.lr=<value>`, one line
inline constexpr const char* kLrSweepFile = "lr_sweep.jsonl";  // LrSweepRow per grid point

struct TuneLrConfig {
  std::string arm;                   // the ladder's arm ("" when the study has none), for the rows
  int64_t seed = 0;                  // the sweep's pre-training seed, for the rows
  std::vector<double> lrs, factors;  // the grid: lrs[i] = factors[i] × the ladder's pretrain.lr
  std::vector<std::string> evals;    // per grid point, the eval run directory (its eval.json)
};

const ConfigSchema<TuneLrConfig>& TuneLrSchema();

// Reads every eval.json, writes <out>/lr_sweep.jsonl and <out>/chosen_lr.txt; returns 0. Throws
// Error naming the file when an eval.json is unreadable, and when no LR gave a finite loss.
int RunTuneLrStage(const TuneLrConfig& config, const std::filesystem::path& out);

// The rows with `chosen` set on the lowest val_loss (ties: the smaller lr); rows without a finite
// val_loss cannot be chosen. Throws Error when none has one.
std::vector<LrSweepRow> ChooseLr(std::vector<LrSweepRow> rows);

// The sweep's reference budget: study.tune_lr_budget, or the smallest ladder budget when it is 0.
int64_t TuneLrBudget(const StudyConfig& c);

}  // namespace ot
