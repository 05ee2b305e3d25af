// Global grad-norm clipping: values, no-op below the threshold, NaN passthrough, thread invariance.
#include "optim/clip.h"

#include <gtest/gtest.h>
#include <omp.h>

#include <cmath>
#include <limits>
#include <vector>

namespace ot {
namespace {

TEST(Clip, ScalesToMaxNorm) {
  // ‖(3, 4)‖ = 5 > 1 → scale 1/(5 + 1e-6): (0.6, 0.8) up to 1e-6 relative.
  std::vector<float> g = {3.0f, 4.0f};
  EXPECT_DOUBLE_EQ(ClipGradNorm(g, 1.0), 5.0);
  EXPECT_NEAR(g[0], 0.6f, 1e-6);
  EXPECT_NEAR(g[1], 0.8f, 1e-6);
  EXPECT_NEAR(GlobalNorm(g), 1.0, 1e-6);
}

TEST(Clip, BelowThresholdOrDisabledUnchanged) {
  std::vector<float> g = {3.0f, 4.0f};
  EXPECT_DOUBLE_EQ(ClipGradNorm(g, 10.0), 5.0);
  EXPECT_EQ(g[0], 3.0f);
  EXPECT_DOUBLE_EQ(ClipGradNorm(g, 0.0), 5.0);  // 0 disables clipping
  EXPECT_EQ(g[1], 4.0f);
}

TEST(Clip, NonFiniteNormLeavesGradsForThePolicy) {
  std::vector<float> g = {1.0f, std::numeric_limits<float>::quiet_NaN(), 2.0f};
  EXPECT_TRUE(std::isnan(ClipGradNorm(g, 1.0)));
  EXPECT_EQ(g[0], 1.0f);
  EXPECT_FALSE(AllFinite(g));
  g[1] = std::numeric_limits<float>::infinity();
  EXPECT_TRUE(std::isinf(GlobalNorm(g)));
  g[1] = 0.0f;
  EXPECT_TRUE(AllFinite(g));
}

TEST(Clip, NormBitIdenticalAtOneAndTwoThreads) {
  std::vector<float> g(300007);
  for (size_t i = 0; i < g.size(); ++i) g[i] = std::sin(0.001f * i) * (1.0f + (i % 7));
  omp_set_num_threads(1);
  const double n1 = GlobalNorm(g);
  omp_set_num_threads(2);
  const double n2 = GlobalNorm(g);
  EXPECT_EQ(n1, n2);
  double naive = 0;
  for (float x : g) naive += static_cast<double>(x) * x;
  EXPECT_NEAR(n1, std::sqrt(naive), 1e-9 * n1);
}

}  // namespace
}  // namespace ot
