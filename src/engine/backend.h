// The compute seam: a Backend owns a model's parameter, gradient, optimizer-state, snapshot and
// activation memory, wherever it lives (host arrays for the native CPU engine, LibTorch tensors on
// a CPU or CUDA device for the torch backend), and offers every operation the trainer and the
// stages need as calls that return scalars. Nothing above this layer indexes parameter memory:
// host transfer (ReadParams, ReadOptimizerState, ...) is for checkpoints, metrics and tests only.
// A vision transformer (model.input = patches) trains and evaluates through the image entry points
// (TrainStepImages, TrainStepPairs, EvalImages, FeaturesImages); the token ones refuse it, and the
// image ones refuse a token model, each in one sentence.
// Entry points: Backend, BackendPlan, StepControl, StepResult, ImageEval, PassFault, Collective,
// MakeBackend.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "engine/compute_config.h"
#include "model/config.h"
#include "model/layout.h"
#include "model/noise.h"
#include "optim/optim_config.h"

namespace ot {

// What a backend allocates, once, at construction (style: scratch is never allocated lazily).
struct BackendPlan {
  // The batched path: TrainStep, Gradient, Loss and LogitStats run (B, T) with B <= train_batch and
  // T <= train_seq. 0 = none.
  int train_batch = 0, train_seq = 0;
  // The optimizer of TrainStep (with its numerics: z-loss and bf16); absent = no training (a
  // Gradient-only plan, e.g. curvature diagnostics, allocates gradients but no optimizer state).
  std::optional<OptimConfig> optim = std::nullopt;
  // The per-row forward path of LogProbs: B <= eval_batch, T <= eval_seq. 0 = none.
  int eval_batch = 0, eval_seq = 0;
  // Parameter-sized snapshot slots (SaveSnapshot / RestoreSnapshot / Interpolate / PullToward).
  int snapshots = 0;
  // A ViT's image path (TrainStepImages, EvalImages, FeaturesImages: B <= image_batch images;
  // TrainStepPairs: B <= image_batch pairs, run as one batch of 2B). Replaces train_batch /
  // train_seq and eval_batch / eval_seq, which a ViT plan leaves 0. 0 = none.
  int image_batch = 0;
};

// Sums across the ranks of a data-parallel run (engine_torch/torch_collective.cc builds one on
// c10d). The native engine hands it host spans; the torch backend reduces its own tensors through
// the same process group. nullptr everywhere means one process.
class Collective {
 public:
  virtual ~Collective() = default;
  virtual int rank() const = 0;
  virtual int world_size() const = 0;
  // In place: data ← Σ over ranks of data (every rank gets the sum, in the same order: identical).
  virtual void AllReduceSum(std::span<float> data) = 0;
  virtual void AllReduceSum(std::span<double> data) = 0;
  // data ← rank `root`'s data.
  virtual void Broadcast(std::span<float> data, int root) = 0;
  virtual void Barrier() = 0;
};

// Test hook of TrainStep: what to poison in one pass (NaN-policy and spike-monitor tests), after
// the pass's backward and gradient reduction and before clipping. kLossSpike adds 10 nats to the
// reported loss and leaves the gradients alone.
enum class PassFault { kNone, kLossInf, kLossNaN, kGradientNaN, kLossSpike };

struct StepControl {
  int64_t step = 0;                  // completed steps before this one (for `fault`)
  double clip = 1.0;                 // max global gradient norm; <= 0 disables
  Collective* collective = nullptr;  // data parallel: gradients and loss summed across ranks
  std::function<PassFault(int64_t step, int pass)> fault = {};  // tests only; pass 0 or 1 (SAM)
};

struct StepResult {
  // The first pass: the objective (cross-entropy + z-loss term), its two parts, the head's mean
  // log Z, and the global gradient norm before clipping (global across ranks when data parallel).
  double loss = 0, cross_entropy = 0, z_loss = 0, mean_log_z = 0, grad_norm = 0;
  int64_t counted_tokens = 0;  // targets >= 0 in the batch; images or pairs on the image path
                               // (summed across ranks)
  // 0: the update was applied. 1 or 2: that pass had a non-finite loss or gradient norm and the
  // weights and optimizer state are as before the step; bad_loss and bad_norm are that pass's.
  int bad_pass = 0;
  double bad_loss = 0, bad_norm = 0;
};

// EvalImages' result over one batch: the mean cross-entropy (double, from the float logits) and the
// images whose largest logit is their label (ties go to the lowest class).
struct ImageEval {
  double loss = 0;
  int64_t correct = 0;
};

class Backend {
 public:
  virtual ~Backend() = default;
  // "native (CPU, 2 threads)", "torch 2.3.1 (cuda:0, bf16 autocast)": for logs and results files.
  virtual std::string Describe() const = 0;
  const ModelConfig& config() const { return config_; }
  const ParamLayout& layout() const { return layout_; }

  // --- Host transfer: checkpoints, metrics and tests only. Spans are layout().total() floats. ---
  virtual void ReadParams(std::span<float> host) = 0;
  virtual void WriteParams(std::span<const float> host) = 0;
  // The optimizer's state arenas by name ("exp_avg", "exp_avg_sq", "momentum_buffer", ...), each of
  // the parameter layout; empty without an optimizer.
  virtual std::vector<std::string> OptimizerStateNames() = 0;
  virtual void ReadOptimizerState(const std::string& name, std::span<float> host) = 0;
  virtual void WriteOptimizerState(const std::string& name, std::span<const float> host) = 0;
  virtual std::string OptimizerName() const = 0;  // "adamw", "sam+adamw", ...; "" without one
  virtual int64_t optimizer_steps() const = 0;    // AdamW's bias correction reads it
  virtual void set_optimizer_steps(int64_t steps) = 0;
  virtual void ResetOptimizer() = 0;      // zero state and step count (fine-tuning starts fresh)
  virtual int PassesPerStep() const = 0;  // forward/backward passes per TrainStep (SAM: 2)

  // --- Training. ---
  // One optimizer step on a (B,T) batch (int32 row-major; target < 0 = ignored) at learning rate
  // lr: for each pass (1; SAM 2, the second at the ascended weights) zero the gradients, forward,
  // backward, sum gradients and loss across ranks (control.collective, weighted by target counts),
  // apply control.fault, clip to control.clip; then the optimizer's update. A pass with a
  // non-finite loss or gradient norm stops the step with the weights and optimizer state unchanged
  // (StepResult::bad_pass).
  virtual StepResult TrainStep(const int32_t* inputs, const int32_t* targets, int B, int T,
                               double lr, const StepControl& control) = 0;
  // The gradient of the mean cross-entropy (plain fp32 numerics, no z-loss) on a (B,T) batch at the
  // current weights, into host (layout().total()); returns the loss. For curvature diagnostics.
  virtual double Gradient(const int32_t* inputs, const int32_t* targets, int B, int T,
                          std::span<float> host) = 0;
  // The image path (model.input = patches): pixels (B, config().pixels()) floats, each image
  // row-major (H, W, channels); labels (B) int32 in [0, n_classes). What TrainStep does (passes,
  // cross-rank sum weighted by image count, fault hook, clipping, optimizer, bad_pass) on the mean
  // cross-entropy of head = classes. Plain fp32: a z-loss or bf16 optimizer is refused.
  virtual StepResult TrainStepImages(const float* pixels, const int32_t* labels, int B, double lr,
                                     const StepControl& control) = 0;
  // The same step on SigLIP's pairwise sigmoid loss between B pairs of views (pixels_a, pixels_b:
  // (B, pixels()) each; head = projection).
  virtual StepResult TrainStepPairs(const float* pixels_a, const float* pixels_b, int B, double lr,
                                    const StepControl& control) = 0;
  // L2 norm of the weights per ParamGroup name ("embed", "attn", ...), fixed-order reductions.
  virtual std::map<std::string, double> GroupNorms() = 0;

  // --- Forward only (evaluation). ---
  // log p(target_t | inputs_<=t) into logprobs (B,T), 0 where target < 0. Each row is computed
  // alone: a row's values do not depend on B, its position or the thread count.
  virtual void LogProbs(const int32_t* inputs, const int32_t* targets, int B, int T,
                        float* logprobs) = 0;
  // The batched mean NLL over targets >= 0 (plain fp32, never z-regularised).
  virtual double Loss(const int32_t* inputs, const int32_t* targets, int B, int T) = 0;
  // Per position the largest logit and log Z of the next-token distribution, each (B,T).
  virtual void LogitStats(const int32_t* inputs, int B, int T, double* max_logit,
                          double* log_z) = 0;

  // Forward only, head = classes: the mean cross-entropy and correct count over B images.
  virtual ImageEval EvalImages(const float* pixels, const int32_t* labels, int B) = 0;
  // Forward only, head = projection: SigLIP's pairwise sigmoid loss over B pairs of views (what
  // TrainStepPairs' first pass reports), the pre-training objective of a contrastive ViT.
  virtual double EvalPairs(const float* pixels_a, const float* pixels_b, int B) = 0;
  // Forward only: the pooled features (B, d_model) after the final norm, what a linear probe reads.
  virtual void FeaturesImages(const float* pixels, int B, float* features) = 0;

  // --- Parameter-space operations, on the backend's own memory. ---
  virtual void SaveSnapshot(int slot) = 0;     // slot ← θ
  virtual void RestoreSnapshot(int slot) = 0;  // θ ← slot (bit-exact)
  // θ += the keyed Gaussian noise of `spec` (model/noise.h): the same numbers on every backend.
  virtual void AddNoise(const NoiseSpec& spec) = 0;
  // θ ← α·θ + (1−α)·slot, exact at α = 0 and 1 (WiSE-FT's blend toward the pre-trained weights).
  virtual void InterpolateToward(int slot, double alpha) = 0;
  // θ ← slot + (θ − slot) / (1 + lr·λ): the L2-SP proximal pull toward the snapshot.
  virtual void PullToward(int slot, double lr, double lambda) = 0;

 protected:
  Backend(const ModelConfig& config) : config_(config), layout_(ParamLayout::ForModel(config)) {}
  ModelConfig config_;
  ParamLayout layout_;
};

// The backend's parameters as a host vector (ReadParams into a new arena).
std::vector<float> HostParams(Backend& backend);

// "" when the torch backend can run `config`, else the sentence saying why not (MakeBackend and
// the plugin both refuse with it).
std::string TorchModelProblem(const ModelConfig& config);
// The backend `compute` names, holding `params` (layout order; moved in, so the native engine keeps
// the caller's arena without a copy). Throws Error naming compute.backend / compute.device when
// the backend or device is unavailable (a build without LibTorch, no CUDA, an unknown device), or
// model.input when the torch backend cannot run the model (TorchModelProblem).
std::unique_ptr<Backend> MakeBackend(const ModelConfig& config, const ComputeConfig& compute,
                                     const BackendPlan& plan, std::vector<float> params);

}  // namespace ot
