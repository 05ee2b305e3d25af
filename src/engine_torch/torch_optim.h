// AdamW, SGD, Lion and Muon as updates of flat device tensors, with the native optimizers'
// arithmetic (optim/*.h write each rule out; the same float scalars, the same order of operations,
// weight decay on the same tensors). SAM is the backend's, since it needs a second pass of the
// model. Part of the LibTorch plugin. Entry points: TorchOptimizer, MakeTorchOptimizer.
#pragma once

#include <ATen/ATen.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "model/layout.h"
#include "optim/optim_config.h"

namespace ot::torch_engine {

class TorchOptimizer {
 public:
  virtual ~TorchOptimizer() = default;
  virtual std::string Name() const = 0;  // "adamw", "sgd", "lion", "muon" (checkpoint state.json)
  // theta -= update(grad) at learning rate lr; theta, grad flat (P) fp32; call under NoGradGuard.
  virtual void Step(const at::Tensor& theta, const at::Tensor& grad, double lr) = 0;
  // The state arenas by the native optimizers' names, each flat (P) fp32 on the device.
  virtual std::vector<std::pair<std::string, at::Tensor>> State() = 0;
  void Reset() {
    for (auto& [name, t] : State()) t.zero_();
    steps = 0;
  }
  int64_t steps = 0;  // completed steps (AdamW's bias correction)
};

// The optimizer `c` names (c.kind; SAM is handled by the caller) over `layout`'s flat tensor on
// `device`, weight decay on c.decay_groups.
std::unique_ptr<TorchOptimizer> MakeTorchOptimizer(const OptimConfig& c, const ParamLayout& layout,
                                                   at::Device device);

}  // namespace ot::torch_engine
