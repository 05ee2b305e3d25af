// The pretrain stage: a run directory (config.toml, metrics.jsonl, ckpt/tokens-<N>/) trained to its
// token budget with checkpoints at ladder points and periodically, resumed bit-exactly from the
// newest valid checkpoint. Ladder modes (train.ladder_mode): series (one run, checkpoints at each
// ladder point), runs (one run per ladder budget, each with its own schedule, in <out>/budget-<N>),
// wsd (a warmup-stable trunk in <out>/trunk with a cooldown branch per budget in <out>/branch-<N>,
// started from the trunk's checkpoint at the branch point). Entry points: RunPretrain,
// RunPretrainLadder, PretrainHooks, PretrainResult, and the pieces fine-tuning reuses:
// LoaderBatchSource, MeanLoss, SaveTrainingCheckpoint, LoadTrainingCheckpoint.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "data/loader.h"
#include "engine/backend.h"
#include "engine/data_parallel.h"
#include "train/checkpoint.h"
#include "train/pretrain_config.h"
#include "train/trainer.h"

namespace ot {

struct PretrainHooks {
  // Passed to the trainer: fault injection in tests (TrainerHooks::fault), and the data-parallel
  // process group (TrainerHooks::collective).
  std::function<PassFault(int64_t step, int pass)> fault;
  Collective* collective = nullptr;
  // Called after each step, after any checkpoint of that step was written (kill tests, custom
  // stops).
  std::function<void(const StepInfo&, Trainer&)> after_step;
};

struct PretrainResult {
  int64_t steps = 0, tokens = 0;
  int64_t resumed_from_tokens = -1;  // -1: started fresh
  double final_loss = 0, val_loss = 0, wall_s = 0;
  std::vector<fs::path> checkpoints;  // written in this session, in order
};

// Trains one run directory to config.train.budget (series mode: checkpoints at every
// config.train.ladder point, every train.checkpoint_every tokens and at the end; after each
// periodic save, only the newest train.keep_periodic periodic checkpoints are kept besides the
// ladder and final ones). Holds
// `<run_dir>/.lock` (RunDirLock) while it runs. Training continues from the newest checkpoint that
// verifies; each newer one that does not is named with its problems on stderr and in a
// "checkpoint_skipped" metrics row. Once a valid checkpoint exists, the config must agree with the
// saved config.toml (ResumeProblem); before that, a new start replaces config.toml. `init_from`
// (optional): a checkpoint of another run to start from when run_dir has none (WSD branches).
PretrainResult RunPretrain(const PretrainConfig& config, const fs::path& run_dir,
                           const PretrainHooks& hooks = {}, const fs::path& init_from = {});

// Dispatches on train.ladder_mode (series → RunPretrain on out_dir). Returns one result per run.
std::vector<PretrainResult> RunPretrainLadder(const PretrainConfig& config, const fs::path& out_dir,
                                              const PretrainHooks& hooks = {});

// --- Reusable pieces (fine-tuning builds on these). ---

// Steps of a run: ceil(tokens / (B*T)).
int64_t StepsForTokens(int64_t tokens, int batch_size, int seq_len);
// The optimizer-step schedule of `config` laid out over its own budget.
ScheduleConfig ScheduleFor(const PretrainConfig& config);

// A BatchSource over a TokenLoader (its cursor is the saved state).
BatchSource LoaderBatchSource(data::TokenLoader& loader);

// Mean loss (Backend::Loss) over the first `batches` batches of an unshuffled loader (evaluation);
// with a collective, each rank scores its slice of every batch and the means are averaged.
double MeanLoss(Backend& backend, const data::TokenLoader& loader, int batch_size, int seq_len,
                int batches, Collective* collective = nullptr);

// Saves the backend's parameters + optimizer state + trainer state as a checkpoint directory,
// through host copies (refuses non-finite params). `extra_state` is merged into state.json
// (schedule, rng, config text, ...).
void SaveTrainingCheckpoint(const fs::path& dir, Backend& backend, const TrainState& state,
                            const nlohmann::json& extra_state, const std::string& run_config_toml);

// Loads a checkpoint into the backend (and, with_optimizer, the optimizer's state and step count,
// after checking the checkpoint's optimizer kind is the backend's). Before reading any payload,
// checks the tensor headers against the backend's layout (CheckCheckpointLayout: every missing,
// unexpected, wrong-shaped or non-F32 tensor in one error); after, refuses NaN/Inf weights or
// moments, naming the tensors. Returns the TrainState from state.json.
TrainState LoadTrainingCheckpoint(const fs::path& dir, Backend& backend, bool with_optimizer);

// The same checks, the weights alone into a host arena of `layout` (evaluation's loader, which
// has run RequireValidCheckpoint before allocating: `verified`).
TrainState LoadCheckpointParams(const fs::path& dir, const ParamLayout& layout,
                                std::span<float> params, bool verified = false);

}  // namespace ot

namespace ot {
// `overtrain pretrain`: loads the config (file ← the lines of `set_from`, if any ← --set
// overrides), prints it and returns with print_config, else runs the ladder into `out` (default
// runs/pretrain/<config stem>). Returns the exit code; user errors throw Error.
int PretrainMain(const std::string& config_path, const std::vector<std::string>& overrides,
                 const std::string& out, bool print_config, const std::string& set_from = "");
}  // namespace ot
