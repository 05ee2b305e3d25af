// The optimizer interface and AdamW over flat float arenas (design.md: params, grads and moments share one
// ParamLayout, so a step is one loop). Entry points: Optimizer, AdamWConfig, AdamW, MakeOptimizer.
// SGD / Lion / Muon / SAM fit the same interface: Step(params, grads, lr) plus named state arenas.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace ot {

// A contiguous range of the arena with its own weight-decay switch (one per tensor, from the layout:
// see optim/param_groups.h). Segments cover the arena; anything not covered gets no decay.
struct DecaySegment {
  int64_t offset = 0, size = 0;
  bool decay = true;
};

// One named state arena of an optimizer (same layout as the parameters), for checkpoints.
struct OptimizerState {
  std::string name;        // "exp_avg", "exp_avg_sq"
  std::span<float> data;   // (total,) same offsets as the parameter arena
};

class Optimizer {
 public:
  virtual ~Optimizer() = default;
  virtual std::string Name() const = 0;
  // One update: params -= f(grads, state) at learning rate `lr` (the schedule's value for this step).
  // `grads` are already clipped. Increments step_count().
  virtual void Step(std::span<float> params, std::span<const float> grads, double lr) = 0;
  // Every state arena by name (views into the optimizer's own storage; writing restores state).
  virtual std::vector<OptimizerState> State() = 0;
  // Number of completed steps (AdamW's bias correction depends on it); saved with checkpoints.
  int64_t step_count() const { return step_count_; }
  void set_step_count(int64_t n) { step_count_ = n; }
  // Zeroes all state (fine-tuning from a pre-trained checkpoint starts a fresh optimizer).
  virtual void Reset() = 0;

 protected:
  int64_t step_count_ = 0;
};

struct AdamWConfig {
  double beta1 = 0.9, beta2 = 0.95, eps = 1e-8;
  double weight_decay = 0.1;  // decoupled (Loshchilov & Hutter): p -= lr * wd * p, on decay segments only
};

// AdamW with PyTorch's arithmetic (torch.optim.AdamW, foreach=False):
//   p  -= lr * wd * p                         (decay segments only)
//   m   = b1 m + (1-b1) g ;  v = b2 v + (1-b2) g^2
//   p  -= (lr / bc1) * m / (sqrt(v) / sqrt(bc2) + eps),  bc_i = 1 - b_i^t,  t = step_count() after ++.
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

// Builds `kind` ("adamw"; later "sgd", "lion", "muon") over an arena of `total` floats.
std::unique_ptr<Optimizer> MakeOptimizer(const std::string& kind, int64_t total,
                                         const AdamWConfig& config,
                                         std::vector<DecaySegment> segments);

}  // namespace ot
