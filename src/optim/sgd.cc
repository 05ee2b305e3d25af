// SGD's step (see sgd.h for the update written out and its source).
#include "optim/sgd.h"

#include <algorithm>

#include "core/check.h"

namespace ot {

Sgd::Sgd(int64_t total, const SgdConfig& config, std::vector<DecaySegment> segments)
    : config_(config), segments_(CoverSegments(total, std::move(segments))), total_(total) {
  OT_CHECK(config.momentum >= 0 && config.momentum < 1) << "sgd momentum = " << config.momentum;
  OT_CHECK(!config.nesterov || config.momentum > 0) << "Nesterov SGD needs momentum > 0";
  if (config.momentum > 0) buf_.assign(total, 0.0f);
}

void Sgd::Step(std::span<float> params, std::span<const float> grads, double lr) {
  OT_CHECK(static_cast<int64_t>(params.size()) == total_ &&
           static_cast<int64_t>(grads.size()) == total_)
      << "arena sizes: params " << params.size() << ", grads " << grads.size() << ", state "
      << total_;
  ++step_count_;
  // torch casts its Python-float scalars to the tensor's dtype: one rounding each, as here.
  const float mu = static_cast<float>(config_.momentum),
              wd = static_cast<float>(config_.weight_decay);
  const float neg_lr = static_cast<float>(-lr);
  const bool momentum = !buf_.empty(), nesterov = config_.nesterov;
  float* p = params.data();
  const float* g = grads.data();
  float* buf = buf_.data();
  for (const auto& seg : segments_) {
    const bool decay = seg.decay && config_.weight_decay != 0;
    const int64_t end = seg.offset + seg.size;
#pragma omp parallel for schedule(static)
    for (int64_t i = seg.offset; i < end; ++i) {
      float d = decay ? g[i] + wd * p[i] : g[i];
      if (momentum) {
        buf[i] = mu * buf[i] + d;
        d = nesterov ? d + mu * buf[i] : buf[i];
      }
      p[i] = p[i] + neg_lr * d;
    }
  }
}

std::vector<OptimizerState> Sgd::State() {
  if (buf_.empty()) return {};
  return {{"momentum_buffer", std::span<float>(buf_)}};
}

void Sgd::Reset() {
  std::fill(buf_.begin(), buf_.end(), 0.0f);
  step_count_ = 0;
}

}  // namespace ot
