// AdamW's elementwise update (see adamw_update.h and, for the rule, optimizer.h).
#include "optim/adamw_update.h"

#include <cmath>

namespace ot {

AdamWScalars AdamWScalars::For(const AdamWConfig& c, double lr, int64_t t) {
  const double bc1 = 1.0 - std::pow(c.beta1, static_cast<double>(t));
  const double bc2 = 1.0 - std::pow(c.beta2, static_cast<double>(t));
  return {.b1 = static_cast<float>(c.beta1),
          .b2 = static_cast<float>(c.beta2),
          .one_minus_b1 = static_cast<float>(1.0 - c.beta1),
          .one_minus_b2 = static_cast<float>(1.0 - c.beta2),
          .step_size = static_cast<float>(lr / bc1),
          .inv_sqrt_bc2 = static_cast<float>(1.0 / std::sqrt(bc2)),
          .eps = static_cast<float>(c.eps),
          .decay_factor = static_cast<float>(1.0 - lr * c.weight_decay)};
}

void AdamWUpdateRange(const AdamWScalars& s, bool decay, int64_t begin, int64_t end, float* p,
                      const float* g, float* m, float* v) {
  const float keep = decay ? s.decay_factor : 1.0f;
#pragma omp parallel for schedule(static)
  for (int64_t i = begin; i < end; ++i) {
    const float gi = g[i];
    m[i] = s.b1 * m[i] + s.one_minus_b1 * gi;
    v[i] = s.b2 * v[i] + s.one_minus_b2 * gi * gi;
    const float denom = std::sqrt(v[i]) * s.inv_sqrt_bc2 + s.eps;
    p[i] = p[i] * keep - s.step_size * (m[i] / denom);
  }
}

}  // namespace ot
