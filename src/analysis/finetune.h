// `overtrain finetune`: from a pre-trained checkpoint, train on one task for a fixed token budget
// at one learning rate (the study fans out over the LR grid), with a fresh optimizer, loss on
// target tokens only; evaluate ID (task validation loss, accuracy) and OOD (general validation, C4
// sample) at the end and general loss at a few points during. Mitigation options: L2-SP toward the
// pre-trained weights, replay of pre-training batches, WiSE-FT interpolations. Entry points:
// FinetuneConfig, FinetuneSchema, RunFinetuneStage (the arena operations behind L2-SP and WiSE-FT
// are the backend's: engine/backend.h PullToward, InterpolateToward).
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "analysis/suite.h"
#include "optim/optim_config.h"

namespace ot {

struct FinetuneConfig {
  CheckpointRef checkpoint;  // the directory and the pre-training it stands for
  EvalSuiteConfig suite;
  ComputeConfig compute;  // compute.*: the backend that fine-tunes and scores
  struct Ft {
    std::string task;
    // finetune.*: optimizer, schedule, regularisers (optim/optim_config.h), fine-tuning's own
    // defaults.
    OptimConfig optim{.lr = 1e-4, .warmup_fraction = 0.1};
    Size tokens{200000};  // fine-tuning budget (B*T per step, padding included)
    int batch_size = 16;
    int seq_len = 0;  // 0 = the model's max_seq_len
    int64_t seed = 0;
    double l2sp = 0.0;  // λ of λ/2‖θ − θ_pre‖², applied as a proximal step after each update
    double replay = 0.0;  // fraction of steps that train on pre-training batches instead
    std::vector<double> wise_alphas;  // WiSE-FT: also evaluate α·θ_ft + (1−α)·θ_pre
    int evals_during = 2;             // general-loss evaluations during training (besides the end)
  } ft;
};

const ConfigSchema<FinetuneConfig>& FinetuneSchema();

// Writes <out>/{metrics.jsonl, eval.json}; returns 0.
int RunFinetuneStage(const FinetuneConfig& config, const std::filesystem::path& out);

}  // namespace ot
