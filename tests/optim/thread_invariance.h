// Shared check of the elementwise optimizers: three steps on a 50,000-element arena (decay on the
// first half) give the same bits at 1 and 2 OpenMP threads. Entry point:
// ExpectSameBitsAtOneAndTwoThreads.
#pragma once

#include <gtest/gtest.h>
#include <omp.h>

#include <cmath>
#include <functional>
#include <memory>
#include <vector>

#include "optim/optimizer.h"

namespace ot::testing {

inline constexpr int kInvarianceArena = 50000;

// `make(total, segments)` builds a fresh optimizer over `total` floats with those decay segments.
inline void ExpectSameBitsAtOneAndTwoThreads(
    const std::function<std::unique_ptr<Optimizer>(int64_t, std::vector<DecaySegment>)>& make,
    double lr) {
  const int n = kInvarianceArena;
  std::vector<float> g(n), p0(n);
  for (int i = 0; i < n; ++i) {
    g[i] = std::sin(0.37f * i);
    p0[i] = std::cos(0.11f * i);
  }
  std::vector<float> results[2];
  for (int threads = 1; threads <= 2; ++threads) {
    omp_set_num_threads(threads);
    const auto opt = make(n, {{0, n / 2, true}});
    std::vector<float> p = p0;
    for (int s = 0; s < 3; ++s) opt->Step(p, g, lr);
    results[threads - 1] = p;
  }
  omp_set_num_threads(2);
  EXPECT_EQ(results[0], results[1]);
}

}  // namespace ot::testing
