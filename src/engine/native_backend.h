// The native backend: overtrain's own CPU engine behind the compute seam. Parameters, gradients,
// snapshots and optimizer state are host float arenas of the ParamLayout; the model is the fast
// Decoder (model/decoder.h), the optimizers are optim/'s. Every call does exactly what the stages
// and the trainer did before the seam existed, in the same order, so results are bit-identical.
// A ViT runs on the same arenas through the Decoder's image entry points
// (native_backend_images.cc). Entry point: NativeBackend.
#pragma once

#include <functional>
#include <memory>
#include <vector>

#include "engine/backend.h"
#include "model/decoder.h"
#include "optim/optimizer.h"

namespace ot {

class NativeBackend final : public Backend {
 public:
  NativeBackend(const ModelConfig& config, const BackendPlan& plan, std::vector<float> params);

  std::string Describe() const override;
  void ReadParams(std::span<float> host) override;
  void WriteParams(std::span<const float> host) override;
  std::vector<std::string> OptimizerStateNames() override;
  void ReadOptimizerState(const std::string& name, std::span<float> host) override;
  void WriteOptimizerState(const std::string& name, std::span<const float> host) override;
  std::string OptimizerName() const override;
  int64_t optimizer_steps() const override;
  void set_optimizer_steps(int64_t steps) override;
  void ResetOptimizer() override;
  int PassesPerStep() const override;

  StepResult TrainStep(const int32_t* inputs, const int32_t* targets, int B, int T, double lr,
                       const StepControl& control) override;
  double Gradient(const int32_t* inputs, const int32_t* targets, int B, int T,
                  std::span<float> host) override;
  StepResult TrainStepImages(const float* pixels, const int32_t* labels, int B, double lr,
                             const StepControl& control) override;
  StepResult TrainStepPairs(const float* pixels_a, const float* pixels_b, int B, double lr,
                            const StepControl& control) override;
  std::map<std::string, double> GroupNorms() override;

  void LogProbs(const int32_t* inputs, const int32_t* targets, int B, int T,
                float* logprobs) override;
  double Loss(const int32_t* inputs, const int32_t* targets, int B, int T) override;
  void LogitStats(const int32_t* inputs, int B, int T, double* max_logit, double* log_z) override;
  ImageEval EvalImages(const float* pixels, const int32_t* labels, int B) override;
  double EvalPairs(const float* pixels_a, const float* pixels_b, int B) override;
  void FeaturesImages(const float* pixels, int B, float* features) override;

  void SaveSnapshot(int slot) override;
  void RestoreSnapshot(int slot) override;
  void AddNoise(const NoiseSpec& spec) override;
  void InterpolateToward(int slot, double alpha) override;
  void PullToward(int slot, double lr, double lambda) override;

  // The host arena itself (native only: the parity and benchmark harnesses read it in place).
  std::span<const float> params() const { return params_; }

 private:
  // One forward and backward at `at`: returns the objective and leaves its gradient accumulated
  // into grads (zeroed by Pass); the token or image batch is bound in the function.
  using ForwardBackward = std::function<float(std::span<const float> at, std::span<float> grads)>;
  // One forward/backward of the step's batch at `at` into grads (zeroed first), the cross-rank sum,
  // the fault hook, and clipping. Returns the gradient norm before clipping; `loss` gets the
  // objective.
  double Pass(std::span<const float> at, std::span<float> grads, const ForwardBackward& run,
              const StepControl& control, int pass, float& loss);
  // TrainStep's body over any batch: the passes, bad_pass and the optimizer's update.
  StepResult Step(const ForwardBackward& run, double lr, const StepControl& control);
  // The one-sentence refusals of a ViT on the token path and of a token model on the image path;
  // Images also checks that B items of `capacity_per_item` images each (pairs: 2) fit the plan.
  void RequireTokens(const char* what) const;
  Decoder& Images(const char* what, int B, int capacity_per_item);
  Decoder& Batched(const char* what);  // the (train_batch, train_seq) decoder, or a clear check
  const std::vector<float>& Slot(int slot) const;

  BackendPlan plan_;
  std::vector<float> params_, grads_;
  std::vector<std::vector<float>> snapshots_;
  std::unique_ptr<Decoder> train_, eval_;
  std::unique_ptr<Optimizer> optimizer_;
  // (image_batch, n_classes): EvalImages' class logits [head = classes]
  std::vector<float> logits_;
  int64_t counted_ = 0;  // targets >= 0 of the last pass, summed across ranks
};

// Elementwise arena operations the native backend and its tests share.
// out = alpha·a + (1−alpha)·b, exact at alpha = 0 and 1 (WiSE-FT).
void Interpolate(std::span<const float> a, std::span<const float> b, double alpha,
                 std::span<float> out);
// params ← anchor + (params − anchor)/(1 + lr·λ): the closed-form proximal step of (λ/2)‖θ−θ_pre‖²
// after each optimizer update (L2-SP, Li et al. 2018), unconditionally stable at any lr·λ.
void ApplyL2SpProximal(std::span<float> params, std::span<const float> anchor, double lr,
                       double lambda);

}  // namespace ot
