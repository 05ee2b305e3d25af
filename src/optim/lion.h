// Lion (EvoLved Sign Momentum): Chen et al., "Symbolic Discovery of Optimization Algorithms",
// NeurIPS 2023 (arXiv:2302.06675), Algorithm 2 (with decoupled weight decay). Per element:
//   c = β1·m + (1−β1)·g
//   p ← p·(1 − lr·wd) − lr·sign(c)          (the decay factor on decay segments only; sign(0) = 0)
//   m ← β2·m + (1−β2)·g
// Every coordinate moves by exactly lr (or 0), so Lion's lr is typically 3-10x below AdamW's.
// Elementwise, so bit-identical at any thread count. Entry points: LionConfig, Lion.
#pragma once

#include "optim/optimizer.h"

namespace ot {

struct LionConfig {
  double beta1 = 0.9, beta2 = 0.99;  // the paper's defaults
  double weight_decay = 0.0;         // decoupled, as AdamW's
};

class Lion final : public Optimizer {
 public:
  Lion(int64_t total, const LionConfig& config, std::vector<DecaySegment> segments);
  std::string Name() const override { return "lion"; }
  void Step(std::span<float> params, std::span<const float> grads, double lr) override;
  std::vector<OptimizerState> State() override;  // {"exp_avg"}
  void Reset() override;
  std::span<const float> m() const { return m_; }

 private:
  LionConfig config_;
  std::vector<DecaySegment> segments_;  // sorted, disjoint, covering [0, total)
  std::vector<float> m_;                // (total,)
};

}  // namespace ot
