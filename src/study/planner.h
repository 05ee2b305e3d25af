// Turns a StudyConfig into the run graph: data fetch → data prepare → [study.tune_lr: per ladder,
// the LR sweep (tune/<variant>lr-<lr>, its eval, tune/<variant>select)] → pretrain (one run per
// budget, one series, or WSD branches; or, for checkpoints.series, the published checkpoints) → per
// checkpoint: eval (base), perturb, finetune per (task, lr); and theory. Each run's config is the
// stage's own declared schema printed in full, so a run id changes exactly when something that run
// reads changes. Entry points: StudyCheckpoint, BuildStudyPlan.
#pragma once

#include <filesystem>
#include <map>
#include <vector>

#include "analysis/model_io.h"
#include "study/plan.h"
#include "study/study_config.h"

namespace ot {

// One pre-trained checkpoint of the ladder and the runs measured on it.
struct StudyCheckpoint {
  int64_t seed = 0;
  int64_t budget = 0;         // nominal ladder entry
  std::string pretrain_run;   // producing run
  std::filesystem::path dir;  // the checkpoint directory
  CheckpointRef ref;          // what the stages read: dir, and the series' tokens and epochs
  std::string size;           // model preset of this ladder when the study compares sizes, else ""
  std::string arm;            // the arm of this ladder when the study compares arms, else ""
  std::string
      variant;  // StudyVariant::tag: "", "arm-sgd/", "size-pico-32/", "arm-sgd/size-pico-32/"
  std::string eval_run, diagnose_run;     // diagnose_run "" when the study does not diagnose
  std::vector<std::string> perturb_runs;  // one per perturb.scales entry
  std::vector<std::string> finetune_runs;
};

// What scoring eval.task_files and eval.rolling_files costs (shown by --dry-run).
struct BenchmarkCost {
  int files = 0;
  int64_t documents = 0;       // per evaluation (task_limit applied)
  double tokens_per_eval = 0;  // estimated tokens forwarded per evaluation
  int64_t evaluations = 0;     // models scored: every base checkpoint and every fine-tuned model
};

struct StudyPlan {
  Plan plan;
  BenchmarkCost benchmarks;
  std::string data_run, theory_run;
  std::vector<StudyCheckpoint> checkpoints;
  // study.tune_lr: per variant tag (StudyVariant::tag), its LR sweep's tune-lr run.
  std::map<std::string, std::string> lr_sweep_runs;
};

// Throws Error naming the key on a checkpoints.series that cannot be read or mixes models.
StudyPlan BuildStudyPlan(const StudyConfig& config, const std::filesystem::path& study_dir);

// A study over checkpoints.series with [model] set to the checkpoints' model (read from the first;
// every entry must have the same one) and the data prepared with their tokenizer.json; c unchanged
// without a series. Throws Error naming the entry.
StudyConfig ResolveSeries(const StudyConfig& c);

// The study restricted to one variant (its checkpoints and the shared data and theory runs), by
// tag.
StudyPlan PlanForVariant(const StudyPlan& plan, const std::string& tag);

}  // namespace ot
