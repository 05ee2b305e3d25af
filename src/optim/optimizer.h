// The optimizer interface and AdamW over flat float arenas (docs/design.md: params, grads and
// moments share one ParamLayout, so a step is one loop). Entry points: Optimizer, LossAndGrad,
// AdamWConfig, AdamW, CoverSegments, MakeOptimizer. SGD, Lion and Muon (optim/*.h) implement
// Step(params, grads, lr); SAM (optim/sam.h) wraps any of them and overrides StepWithOracle, since
// it needs a second gradient.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace ot {

struct OptimConfig;
class ParamLayout;

// A contiguous range of the arena with its own weight-decay switch (one per tensor, from the
// layout: see optim/param_groups.h). Segments cover the arena; anything not covered gets no decay.
struct DecaySegment {
  int64_t offset = 0, size = 0;
  bool decay = true;
};

// One named state arena of an optimizer (same layout as the parameters), for checkpoints.
struct OptimizerState {
  std::string name;       // "exp_avg", "exp_avg_sq"
  std::span<float> data;  // (total,) same offsets as the parameter arena
};

// The step's gradient oracle: fills `grads` (overwritten) with the gradient of the step's batch
// loss at `params`, after the gradient-reduction hook (data parallel) and clipping, and returns
// that loss. The trainer builds one per step (its batch fixed); multi-pass optimizers call it for
// more gradients.
using LossAndGrad = std::function<float(std::span<const float> params, std::span<float> grads)>;

class Optimizer {
 public:
  virtual ~Optimizer() = default;
  virtual std::string Name() const = 0;
  // One update: params -= f(grads, state) at learning rate `lr` (the schedule's value for this
  // step). `grads` are already clipped. Increments step_count().
  virtual void Step(std::span<float> params, std::span<const float> grads, double lr) = 0;
  // The trainer's entry: `grads` hold the oracle's gradient at `params` (its first pass).
  // Single-pass optimizers ignore `again`; SAM evaluates a second gradient with it. `grads` may be
  // overwritten.
  virtual void StepWithOracle(std::span<float> params, std::span<float> grads, double lr,
                              const LossAndGrad& again) {
    (void)again;
    Step(params, grads, lr);
  }
  // Forward/backward passes per step (1; SAM 2), for cost estimates and the benchmark.
  virtual int PassesPerStep() const { return 1; }
  // Every state arena by name (views into the optimizer's own storage; writing restores state).
  virtual std::vector<OptimizerState> State() = 0;
  // Number of completed steps (AdamW's bias correction depends on it); saved with checkpoints.
  int64_t step_count() const { return step_count_; }
  virtual void set_step_count(int64_t n) { step_count_ = n; }
  // Zeroes all state (fine-tuning from a pre-trained checkpoint starts a fresh optimizer).
  virtual void Reset() = 0;

 protected:
  int64_t step_count_ = 0;
};

struct AdamWConfig {
  double beta1 = 0.9, beta2 = 0.95, eps = 1e-8;
  double weight_decay =
      0.1;  // decoupled (Loshchilov & Hutter): p -= lr * wd * p, on decay segments only
};

// AdamW with PyTorch's arithmetic (torch.optim.AdamW, foreach=False):
//   p  -= lr * wd * p                         (decay segments only)
//   m   = b1 m + (1-b1) g ;  v = b2 v + (1-b2) g^2
//   p  -= (lr / bc1) * m / (sqrt(v) / sqrt(bc2) + eps),  bc_i = 1 - b_i^t,  t = step_count() after
//   ++.
// Elementwise, so bit-identical at any thread count.
class AdamW final : public Optimizer {
 public:
  AdamW(int64_t total, const AdamWConfig& config, std::vector<DecaySegment> segments);
  std::string Name() const override { return "adamw"; }
  void Step(std::span<float> params, std::span<const float> grads, double lr) override;
  std::vector<OptimizerState> State() override;
  void Reset() override;
  const AdamWConfig& config() const { return config_; }
  std::span<const float> m() const { return m_; }
  std::span<const float> v() const { return v_; }

 private:
  AdamWConfig config_;
  std::vector<DecaySegment> segments_;  // sorted, disjoint, covering [0, total)
  std::vector<float> m_, v_;            // (total,)
};

// `segments` sorted, checked disjoint and inside [0, total), with the gaps filled by no-decay
// segments, so a step loop over the result visits every element exactly once. Throws (OT_CHECK) on
// overlap.
std::vector<DecaySegment> CoverSegments(int64_t total, std::vector<DecaySegment> segments);

// The optimizer `c` describes (c.kind, wrapped in SAM when c.sam_rho > 0) over `layout`'s arena,
// with weight decay on c.decay_groups. Throws Error naming `prefix`.kind for an unknown kind.
std::unique_ptr<Optimizer> MakeOptimizer(const OptimConfig& c, const ParamLayout& layout,
                                         const std::string& prefix = "optim");

}  // namespace ot
