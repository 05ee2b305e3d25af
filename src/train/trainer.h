// The training loop shared by pre-training and fine-tuning: batch → Decoder forward/backward →
// gradient reduction → global-norm clip → NaN policy → schedule → optimizer step (a multi-pass
// optimizer such as SAM calls the step's gradient oracle for more passes on the same batch) → spike
// monitor → metrics / eval / progress → the stage's after-step hook (checkpoints). Generic over the
// batch source, so fine-tuning passes task batches with target = -1 on prompt tokens. Entry points:
// BatchSource, TrainerOptions, TrainState, TrainerHooks, Trainer.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <span>
#include <string>
#include <vector>

#include "engine/backend.h"
#include "model/decoder.h"
#include "optim/optim_config.h"
#include "optim/schedule.h"
#include "train/metrics.h"
#include "train/monitor.h"

namespace ot {

// The OpenMP thread count for a run of `model`: `requested` when > 0; else OMP_NUM_THREADS when set
// (a study sets it per job); else 1 for models of d_model <= 64 (measured: pico-32 trains 190K
// tokens/s on one thread and 100K on two, since its GEMMs are too small to split), else all cores.
// Applies it and returns it.
int ApplyThreadPolicy(int requested, const ModelConfig& model);

// The decoder numerics a stage's optimizer config asks for: z-loss weight, bf16 matmul emulation.
DecoderNumerics NumericsFor(const OptimConfig& c);

// Where the batches come from: next() fills (B,T) inputs and targets (int32, row-major; target < 0
// = ignored). save/load serialise its position so a resumed run sees the same batches; epoch() is
// the fractional number of passes over the data so far (logged as train/epoch).
struct BatchSource {
  std::function<void(std::span<int32_t> inputs, std::span<int32_t> targets)> next;
  std::function<nlohmann::json()> save;
  std::function<void(const nlohmann::json&)> load;
  std::function<double()> epoch;
};

struct TrainerOptions {
  int batch_size = 16,
      seq_len = 64;    // this process's rows per step (the global batch / world_size)
  int world_size = 1;  // data-parallel processes: each step consumes batch_size·seq_len·world_size
  int64_t total_steps = 1;  // the loop ends after this many steps (the budget / tokens per step)
  double clip = 1.0;        // max global grad norm; <= 0 disables
  ScheduleConfig schedule;  // over steps
  NanPolicy nan_policy = NanPolicy::kAbort;
  double spike_sigma = 6.0;  // <= 0 disables the spike monitor
  int64_t log_every = 10;    // steps between metrics rows (the last step is always logged)
  int64_t eval_every =
      0;  // steps between val evaluations; 0 = only at the end (if an evaluator exists)
  bool quiet = false;                     // no progress output
  int64_t total_tokens_for_progress = 0;  // the ETA's target (default: total_steps * B * T)
};

// The rows `rank` of `world` takes from each global batch of `source` (global_batch rows of
// seq_len): a disjoint, deterministic slice of the batch a one-process run would train on, so the
// ranks together see exactly its data. The cursor is the global source's (every rank advances it
// alike). Throws Error naming `batch_key` when world does not divide global_batch.
BatchSource RankSlice(BatchSource global, int global_batch, int seq_len, int rank, int world,
                      const std::string& batch_key);

// Everything besides the arenas that a checkpoint must hold for an exact resume.
struct TrainState {
  int64_t step = 0;           // completed steps (== the schedule position of the next update)
  int64_t tokens = 0;         // training tokens consumed (B*T per step, ignored targets included)
  int64_t skipped_steps = 0;  // steps dropped by nan_policy = skip-step
  double wall_s = 0;          // wall time of all sessions so far (not part of the exact state)
  nlohmann::json data;        // the batch source's cursor
  nlohmann::json spike;       // the spike monitor's state
  nlohmann::json ToJson() const;
  static TrainState FromJson(const nlohmann::json& j);  // throws Error on missing fields
};

// Per-step information passed to hooks.
struct StepInfo {
  int64_t step = 0;  // completed steps after this one
  int64_t tokens = 0;
  double loss = 0, lr = 0,
         grad_norm = 0;  // loss: the cross-entropy (the objective minus any z-loss)
  double z_loss = 0;     // the z-loss term of the objective (0 when off)
  double log_z = 0;      // mean log-partition of the step's batch (first pass)
  bool skipped = false, spike = false;
};

struct TrainerHooks {
  // Data parallel: sums gradients and loss across ranks inside every pass (engine/backend.h).
  Collective* collective = nullptr;
  // Test hook: what to poison in a pass (NaN-policy tests); called for every pass of a multi-pass
  // step (SAM), with the step index before the update.
  std::function<PassFault(int64_t step, int pass)> fault;
  // Returns the validation loss (e.g. mean cross-entropy on fixed val batches); optional.
  std::function<double()> evaluate;
  // Called after every completed step (the stage saves checkpoints here); may call Trainer::Stop().
  std::function<void(const StepInfo&)> after_step;
};

class Trainer {
 public:
  // `backend` holds the model (initialised or loaded by the caller) and the optimizer; `metrics`
  // may be a disabled writer.
  Trainer(Backend& backend, BatchSource source, const TrainerOptions& options,
          MetricsWriter& metrics, TrainerHooks hooks = {});

  // Runs until state().step == options.total_steps or Stop() is called. Throws Error on a NaN/Inf
  // loss or gradient under nan_policy = abort (the parameters are then those of the last good
  // step).
  void Run();
  // One step; returns its info. Run() is a loop over it.
  StepInfo Step();
  void Stop() { stop_ = true; }

  // State to checkpoint (syncs the source cursor and the spike monitor into it) and to restore.
  TrainState CaptureState();
  void RestoreState(const TrainState& state);

  const TrainState& state() const { return state_; }
  Backend& backend() { return backend_; }
  const TrainerOptions& options() const { return options_; }
  double last_val_loss() const { return last_val_loss_; }

 private:
  void LogRow(const StepInfo& info, bool eval_now);

  Backend& backend_;
  BatchSource source_;
  TrainerOptions options_;
  MetricsWriter& metrics_;
  TrainerHooks hooks_;
  SpikeMonitor spike_;
  Progress progress_;
  TrainState state_;
  std::vector<int32_t> inputs_, targets_;
  bool stop_ = false;
  double last_val_loss_ = 0;
  double session_start_ = 0, last_log_wall_ = 0;
  int64_t last_log_tokens_ = 0;
};

}  // namespace ot
