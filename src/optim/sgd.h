// SGD with momentum, with exactly torch.optim.SGD's arithmetic (PyTorch 1.13, torch/optim/sgd.py,
// _single_tensor_sgd, dampening 0, maximize off). Per element, on step t:
//   d   = g + wd·p                  (coupled L2, decay segments only; d = g elsewhere)
//   buf = d                         (t = 1)      buf = μ·buf + d   (t > 1)
//   d   = d + μ·buf  (nesterov)     d = buf      (otherwise)
//   p  -= lr·d
// μ = 0 keeps no buffer (d is used as is). The buffer starts at zero, so μ·0 + d == d bit-for-bit
// and step 1 needs no special case. Elementwise, so bit-identical at any thread count. Entry
// points: SgdConfig, Sgd.
#pragma once

#include "optim/optimizer.h"

namespace ot {

struct SgdConfig {
  double momentum = 0.9;
  bool nesterov = false;
  double weight_decay = 0.0;  // coupled: added to g before the momentum (torch.optim.SGD)
};

class Sgd final : public Optimizer {
 public:
  Sgd(int64_t total, const SgdConfig& config, std::vector<DecaySegment> segments);
  std::string Name() const override { return "sgd"; }
  void Step(std::span<float> params, std::span<const float> grads, double lr) override;
  // {"momentum_buffer"} (torch's state key), or nothing when momentum is 0.
  std::vector<OptimizerState> State() override;
  void Reset() override;
  std::span<const float> momentum_buffer() const { return buf_; }

 private:
  SgdConfig config_;
  std::vector<DecaySegment> segments_;  // sorted, disjoint, covering [0, total)
  int64_t total_;
  std::vector<float> buf_;  // (total,); empty when momentum is 0
};

}  // namespace ot
