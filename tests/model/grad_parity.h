// The fast float model's gradients against the double reference's, tensor by tensor, as the
// decoder and ViT parity tests check them. Entry point: ExpectGradParity.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <span>

#include "model/layout.h"

namespace ot {

// For every tensor of `layout`: its reference gradient is not all zero, and max |g − gd| ≤ tol ·
// max |gd| over the tensor. Returns the worst ratio (for the test's log line).
inline double ExpectGradParity(const ParamLayout& layout, std::span<const float> g,
                               std::span<const double> gd, double tol) {
  double worst = 0;
  for (const auto& t : layout.tensors()) {
    double scale = 0, err = 0;
    for (int64_t i = 0; i < t.size; ++i) {
      scale = std::max(scale, std::abs(gd[t.offset + i]));
      err = std::max(err, std::abs(g[t.offset + i] - gd[t.offset + i]));
    }
    EXPECT_GT(scale, 0) << t.name;
    if (scale == 0) continue;
    EXPECT_LT(err / scale, tol) << t.name;
    worst = std::max(worst, err / scale);
  }
  return worst;
}

}  // namespace ot
