// The `overtrain pretrain` configuration: one struct, declared once (core/config.h) — TOML loading,
// --set overrides, --print-config and file:line errors all derive from PretrainSchema().
// Entry points: PretrainConfig, PretrainSchema, LoadPretrainConfig, ResumeProblem.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/config.h"
#include "engine/compute_config.h"
#include "model/config.h"
#include "optim/optim_config.h"

namespace ot {

struct PretrainConfig {
  ModelConfig model = ModelConfig::Nano();
  struct Data {
    std::string train;  // token file (docs/formats.md "Token files")
    std::string val;    // optional held-out token file for val/loss
  } data;
  struct Train {
    int batch_size = 16;
    int seq_len = 64;
    Size budget{2000000};  // tokens of this run (the schedule is laid out over it)
    int64_t seed = 1;
    std::vector<Size> ladder;  // token counts to checkpoint at (series) / budgets (runs, wsd)
    std::string ladder_mode = "series";  // series | runs | wsd
    Size checkpoint_every{0};  // tokens between periodic checkpoints; 0 = ladder and end only
    int keep_periodic =
        2;  // newest periodic checkpoints kept (ladder and final ones always); 0 = all
    int64_t log_every = 10;            // steps between metrics rows
    int64_t eval_every = 0;            // steps between val evaluations; 0 = at the end only
    int eval_batches = 4;              // val batches per evaluation
    std::string nan_policy = "abort";  // abort | skip-step
    double spike_sigma = 6.0;          // loss-spike threshold in running std devs; 0 disables
    int threads = 0;                   // OpenMP threads; 0 = OMP_NUM_THREADS / all cores
    bool quiet = false;                // no progress output
  } train;
  OptimConfig optim;  // optim.*: optimizer, schedule, regularisers, numerics (optim/optim_config.h)
  ComputeConfig compute;  // compute.*: which backend and device train (engine/compute_config.h)
};

const ConfigSchema<PretrainConfig>& PretrainSchema();

// defaults ← config file (optional) ← --set overrides; model fields start from model.preset's
// values.
PretrainConfig LoadPretrainConfig(const std::string& path,
                                  const std::vector<std::string>& overrides);

// Keys that may differ between a run directory's saved config and the one it is resumed with
// without changing the trained weights (logging, evaluation, checkpoint cadence, threads, progress
// output, and the backend: a run trained on one backend resumes on another).
const std::vector<std::string>& ResumeMutableKeys();

// "" when `resumed` may continue a run started with `saved`, else one sentence naming the first key
// that differs (a changed model shape is called out as such).
std::string ResumeProblem(const PretrainConfig& saved, const PretrainConfig& resumed);

}  // namespace ot
