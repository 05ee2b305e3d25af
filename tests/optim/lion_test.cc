// Lion checked against two steps computed by hand (sign of the interpolation, not of g; sign(0) =
// 0; decoupled decay on one segment only), its state and thread invariance. Against the float64
// rule in reference/reference.py: tests/bench/optim_parity_test.cc.
#include "optim/lion.h"

#include <gtest/gtest.h>
#include <omp.h>

#include <cmath>
#include <vector>

#include "thread_invariance.h"

namespace ot {
namespace {

// 4 parameters p = [1, -2, 0.5, 3], lr 0.1, β1 0.9, β2 0.99, wd 0.5 on [0,2) (keep = 1 − 0.05 =
// 0.95). Step 1, g = [0.1, -0.2, 0, 1], m = 0:
//   c = 0.1·g = [0.01, -0.02, 0, 0.1] → sign [1, -1, 0, 1]
//   p = [0.95 − 0.1, −1.9 + 0.1, 0.5 − 0, 3 − 0.1] = [0.85, −1.8, 0.5, 2.9]
//   m = 0.01·g = [0.001, −0.002, 0, 0.01]
// Step 2, g = [−0.005, 0.2, −0.4, 0]:
//   c = 0.9·m + 0.1·g = [0.0009 − 0.0005, −0.0018 + 0.02, −0.04, 0.009] = [0.0004, 0.0182, −0.04,
//   0.009]
//     → sign [1, 1, −1, 1] (element 0 moves against its gradient: the momentum wins)
//   p = [0.85·0.95 − 0.1, −1.8·0.95 − 0.1, 0.5 + 0.1, 2.9 − 0.1] = [0.7075, −1.81, 0.6, 2.8]
//   m = 0.99·m + 0.01·g = [0.00094, 0.00002, −0.004, 0.0099]
// Tolerances: a few float32 roundings of values below 3 (2^-24·3 ≈ 1.8e-7 each) → 1e-6 on p; m is
// below 0.01, so 1e-9.
TEST(Lion, TwoStepsMatchHandComputation) {
  Lion opt(4, LionConfig{.beta1 = 0.9, .beta2 = 0.99, .weight_decay = 0.5},
           {{0, 2, true}, {2, 2, false}});
  std::vector<float> p = {1.0f, -2.0f, 0.5f, 3.0f};
  opt.Step(p, std::vector<float>{0.1f, -0.2f, 0.0f, 1.0f}, 0.1);
  const float p1[] = {0.85f, -1.8f, 0.5f, 2.9f}, m1[] = {0.001f, -0.002f, 0.0f, 0.01f};
  for (int i = 0; i < 4; ++i) {
    EXPECT_NEAR(p[i], p1[i], 1e-6) << i;
    EXPECT_NEAR(opt.m()[i], m1[i], 1e-9) << i;
  }
  EXPECT_EQ(p[2], 0.5f);  // sign(0) = 0 and no decay: untouched
  opt.Step(p, std::vector<float>{-0.005f, 0.2f, -0.4f, 0.0f}, 0.1);
  const float p2[] = {0.7075f, -1.81f, 0.6f, 2.8f}, m2[] = {0.00094f, 0.00002f, -0.004f, 0.0099f};
  for (int i = 0; i < 4; ++i) {
    EXPECT_NEAR(p[i], p2[i], 1e-6) << i;
    EXPECT_NEAR(opt.m()[i], m2[i], 1e-9) << i;
  }
  EXPECT_EQ(opt.step_count(), 2);
}

TEST(Lion, StateExposedByNameAndReset) {
  Lion opt(3, LionConfig{}, {{0, 3, true}});
  std::vector<float> p(3, 1.0f);
  opt.Step(p, std::vector<float>{1, 2, 3}, 1e-3);
  auto state = opt.State();
  ASSERT_EQ(state.size(), 1u);
  EXPECT_EQ(state[0].name, "exp_avg");
  EXPECT_NEAR(state[0].data[2], 0.03f, 1e-9);  // (1 − 0.99)·3
  state[0].data[0] = 42.0f;
  EXPECT_EQ(opt.m()[0], 42.0f);
  opt.Reset();
  EXPECT_EQ(opt.m()[0], 0.0f);
  EXPECT_EQ(opt.step_count(), 0);
}

TEST(Lion, SameBitsAtOneAndTwoThreads) {
  ot::testing::ExpectSameBitsAtOneAndTwoThreads(
      [](int64_t n, std::vector<DecaySegment> s) {
        return std::make_unique<Lion>(
            n, LionConfig{.beta1 = 0.9, .beta2 = 0.99, .weight_decay = 0.1}, std::move(s));
      },
      1e-3);
}

}  // namespace
}  // namespace ot
