// Sharpness-aware minimisation around any base optimizer (Foret et al., "Sharpness-Aware
// Minimization for Efficiently Improving Generalization", ICLR 2021, Algorithm 1; adaptive variant:
// Kwon et al., "ASAM", ICML 2021). One step, given g = ∇L(θ) from the trainer's pass:
//   e  = ρ · g / ‖g‖                        (adaptive: e = ρ · θ²⊙g / ‖|θ|⊙g‖)
//   g' = ∇L(θ + e)                          (the second forward/backward, through the step's
//   oracle) θ  ← base.Step(θ, g') at the same lr    (θ restored bit-exactly from a copy, not by
//   subtracting e)
// The norms are fixed-order double reductions (optim/clip.h), so a step is bit-identical at any
// thread count. A step costs 2 passes and one extra arena. Entry points: SamConfig, Sam.
#pragma once

#include <memory>

#include "optim/optimizer.h"

namespace ot {

struct SamConfig {
  double rho = 0.05;
  bool adaptive = false;
};

class Sam final : public Optimizer {
 public:
  Sam(std::unique_ptr<Optimizer> base, const SamConfig& config);
  // "sam+<base>": a checkpoint of a SAM run resumes only under SAM with the same base.
  std::string Name() const override { return "sam+" + base_->Name(); }
  // SAM cannot step without a second gradient: throws (the trainer calls StepWithOracle).
  void Step(std::span<float> params, std::span<const float> grads, double lr) override;
  void StepWithOracle(std::span<float> params, std::span<float> grads, double lr,
                      const LossAndGrad& again) override;
  int PassesPerStep() const override { return 2; }
  std::vector<OptimizerState> State() override { return base_->State(); }
  void Reset() override;
  void set_step_count(int64_t n) override {
    step_count_ = n;
    base_->set_step_count(n);
  }
  const Optimizer& base() const { return *base_; }
  // ‖e‖ of the last step (ρ for plain SAM unless the gradient was 0), for tests and logs.
  double last_perturbation_norm() const { return last_norm_; }

 private:
  std::unique_ptr<Optimizer> base_;
  SamConfig config_;
  std::vector<float> origin_;  // θ before the ascent step
  double last_norm_ = 0;
};

}  // namespace ot
