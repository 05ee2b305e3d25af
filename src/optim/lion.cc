// Lion's step (see lion.h for the update written out and its source).
#include "optim/lion.h"

#include <algorithm>

#include "core/check.h"

namespace ot {

Lion::Lion(int64_t total, const LionConfig& config, std::vector<DecaySegment> segments)
    : config_(config), segments_(CoverSegments(total, std::move(segments))), m_(total, 0.0f) {}

void Lion::Step(std::span<float> params, std::span<const float> grads, double lr) {
  const int64_t n = static_cast<int64_t>(m_.size());
  OT_CHECK(static_cast<int64_t>(params.size()) == n && static_cast<int64_t>(grads.size()) == n)
      << "arena sizes: params " << params.size() << ", grads " << grads.size() << ", state " << n;
  ++step_count_;
  const float b1 = static_cast<float>(config_.beta1),
              one_minus_b1 = static_cast<float>(1.0 - config_.beta1);
  const float b2 = static_cast<float>(config_.beta2),
              one_minus_b2 = static_cast<float>(1.0 - config_.beta2);
  const float lr_f = static_cast<float>(lr);
  const float decay_factor = static_cast<float>(1.0 - lr * config_.weight_decay);
  float* p = params.data();
  const float* g = grads.data();
  float* m = m_.data();
  for (const auto& seg : segments_) {
    const float keep = seg.decay ? decay_factor : 1.0f;
    const int64_t end = seg.offset + seg.size;
#pragma omp parallel for schedule(static)
    for (int64_t i = seg.offset; i < end; ++i) {
      const float c = b1 * m[i] + one_minus_b1 * g[i];
      const float sign = static_cast<float>((c > 0.0f) - (c < 0.0f));  // sign(0) = 0
      p[i] = p[i] * keep - lr_f * sign;
      m[i] = b2 * m[i] + one_minus_b2 * g[i];
    }
  }
}

std::vector<OptimizerState> Lion::State() { return {{"exp_avg", std::span<float>(m_)}}; }

void Lion::Reset() {
  std::fill(m_.begin(), m_.end(), 0.0f);
  step_count_ = 0;
}

}  // namespace ot
