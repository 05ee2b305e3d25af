// SAM's two-pass step (see sam.h for the update written out).
#include "optim/sam.h"

#include <cmath>

#include "core/check.h"
#include "optim/clip.h"

namespace ot {

Sam::Sam(std::unique_ptr<Optimizer> base, const SamConfig& config)
    : base_(std::move(base)), config_(config) {
  OT_CHECK(base_ != nullptr) << "SAM needs a base optimizer";
  OT_CHECK(config.rho > 0 && std::isfinite(config.rho)) << "SAM rho = " << config.rho;
}

void Sam::Step(std::span<float>, std::span<const float>, double) {
  throw Error("SAM needs a second gradient per step; call StepWithOracle (the trainer does)");
}

void Sam::StepWithOracle(std::span<float> params, std::span<float> grads, double lr,
                         const LossAndGrad& again) {
  OT_CHECK(params.size() == grads.size())
      << "arena sizes: params " << params.size() << ", grads " << grads.size();
  OT_CHECK(again != nullptr) << "SAM needs the step's gradient oracle";
  const int64_t n = static_cast<int64_t>(params.size());
  origin_.assign(params.begin(), params.end());
  // The ascent direction's norm: ‖g‖, or ‖|θ|⊙g‖ for ASAM. Reusing the grads arena for |θ|⊙g would
  // lose g, so the adaptive norm is taken in blocks through a small scratch.
  double norm = 0;
  if (config_.adaptive) {
    std::vector<float> scaled(grads.size());
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < n; ++i) scaled[i] = std::fabs(params[i]) * grads[i];
    norm = GlobalNorm(scaled);
  } else {
    norm = GlobalNorm(grads);
  }
  const float scale = static_cast<float>(config_.rho / (norm + 1e-12));
  double e_sq = 0;
#pragma omp parallel for schedule(static) reduction(+ : e_sq)
  for (int64_t i = 0; i < n; ++i) {
    const float w = config_.adaptive ? params[i] * params[i] : 1.0f;
    const float e = scale * w * grads[i];
    params[i] += e;
    e_sq += static_cast<double>(e) * e;
  }
  last_norm_ = std::sqrt(e_sq);
  try {
    again(params, grads);  // g' = ∇L(θ + e), reduced and clipped like the first pass
  } catch (...) {  // a non-finite second pass: θ as it was, the caller's NaN policy decides
    std::copy(origin_.begin(), origin_.end(), params.begin());
    throw;
  }
  std::copy(origin_.begin(), origin_.end(), params.begin());
  base_->Step(params, grads, lr);
  step_count_ = base_->step_count();
}

void Sam::Reset() {
  base_->Reset();
  step_count_ = 0;
}

}  // namespace ot
