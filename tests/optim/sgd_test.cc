// SGD checked against two steps computed by hand (plain and Nesterov momentum, decay on one segment
// only, momentum 0), its state and thread invariance. Parity with torch.optim.SGD:
// tests/bench/optim_parity_test.cc.
#include "optim/sgd.h"

#include <gtest/gtest.h>
#include <omp.h>

#include <cmath>
#include <vector>

#include "thread_invariance.h"

namespace ot {
namespace {

// 4 parameters p = [1, -2, 0.5, 3], lr 0.1, μ 0.9, wd 0.5 on [0,2) only (coupled: d = g + wd·p).
// g1 = [0.1, -0.2, 0, 1], g2 = [0.2, 0.2, -0.4, 1].
// Step 1: d = [0.1 + 0.5, -0.2 - 1, 0, 1] = [0.6, -1.2, 0, 1]; buf = d.
//   plain:    p -= 0.1·buf          → [0.94, -1.88, 0.5, 2.9]
//   nesterov: p -= 0.1·(d + 0.9·buf) = 0.1·1.9·d → [0.886, -1.772, 0.5, 2.81]
// Step 2, plain: d = [0.2 + 0.47, 0.2 - 0.94, -0.4, 1] = [0.67, -0.74, -0.4, 1]
//   buf = 0.9·[0.6, -1.2, 0, 1] + d = [1.21, -1.82, -0.4, 1.9]
//   p = [0.94 - 0.121, -1.88 + 0.182, 0.5 + 0.04, 2.9 - 0.19] = [0.819, -1.698, 0.54, 2.71]
// Step 2, nesterov: d = [0.2 + 0.443, 0.2 - 0.886, -0.4, 1] = [0.643, -0.686, -0.4, 1]
//   buf = 0.9·[0.6, -1.2, 0, 1] + d = [1.183, -1.766, -0.4, 1.9]
//   d + 0.9·buf = [1.7077, -2.2754, -0.76, 2.71]
//   p = [0.886 - 0.17077, -1.772 + 0.22754, 0.5 + 0.076, 2.81 - 0.271] = [0.71523, -1.54446,
//   0.576, 2.539]
// Tolerance: float32 arithmetic on values below 4 is off by a few units of 2^-24·4 ≈ 2.4e-7; 2e-6
// is far below the smallest hand-computed difference between the variants (0.054).
struct Case {
  bool nesterov;
  float step1[4], buf1[4], step2[4], buf2[4];
};

TEST(Sgd, TwoStepsMatchHandComputation) {
  const Case cases[] = {
      {false,
       {0.94f, -1.88f, 0.5f, 2.9f},
       {0.6f, -1.2f, 0.0f, 1.0f},
       {0.819f, -1.698f, 0.54f, 2.71f},
       {1.21f, -1.82f, -0.4f, 1.9f}},
      {true,
       {0.886f, -1.772f, 0.5f, 2.81f},
       {0.6f, -1.2f, 0.0f, 1.0f},
       {0.71523f, -1.54446f, 0.576f, 2.539f},
       {1.183f, -1.766f, -0.4f, 1.9f}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.nesterov ? "nesterov" : "plain");
    Sgd opt(4, SgdConfig{.momentum = 0.9, .nesterov = c.nesterov, .weight_decay = 0.5},
            {{0, 2, true}});
    std::vector<float> p = {1.0f, -2.0f, 0.5f, 3.0f};
    opt.Step(p, std::vector<float>{0.1f, -0.2f, 0.0f, 1.0f}, 0.1);
    for (int i = 0; i < 4; ++i) {
      EXPECT_NEAR(p[i], c.step1[i], 2e-6) << i;
      EXPECT_NEAR(opt.momentum_buffer()[i], c.buf1[i], 2e-6) << i;
    }
    opt.Step(p, std::vector<float>{0.2f, 0.2f, -0.4f, 1.0f}, 0.1);
    for (int i = 0; i < 4; ++i) {
      EXPECT_NEAR(p[i], c.step2[i], 2e-6) << i;
      EXPECT_NEAR(opt.momentum_buffer()[i], c.buf2[i], 2e-6) << i;
    }
    EXPECT_EQ(opt.step_count(), 2);
  }
}

// Momentum 0: p -= lr·(g + wd·p), no state. Step 2 from [0.94, -1.88, 0.5, 2.9] with g2:
//   d = [0.67, -0.74, -0.4, 1] → p = [0.873, -1.806, 0.54, 2.8].
TEST(Sgd, NoMomentumKeepsNoBuffer) {
  Sgd opt(4, SgdConfig{.momentum = 0, .nesterov = false, .weight_decay = 0.5}, {{0, 2, true}});
  std::vector<float> p = {1.0f, -2.0f, 0.5f, 3.0f};
  opt.Step(p, std::vector<float>{0.1f, -0.2f, 0.0f, 1.0f}, 0.1);
  opt.Step(p, std::vector<float>{0.2f, 0.2f, -0.4f, 1.0f}, 0.1);
  const float want[] = {0.873f, -1.806f, 0.54f, 2.8f};
  for (int i = 0; i < 4; ++i) EXPECT_NEAR(p[i], want[i], 2e-6) << i;
  EXPECT_TRUE(opt.State().empty());
}

TEST(Sgd, StateExposedByNameAndReset) {
  Sgd opt(3, SgdConfig{}, {{0, 3, true}});
  std::vector<float> p(3, 1.0f);
  opt.Step(p, std::vector<float>{1, 2, 3}, 1e-3);
  auto state = opt.State();
  ASSERT_EQ(state.size(), 1u);
  EXPECT_EQ(state[0].name, "momentum_buffer");
  EXPECT_EQ(state[0].data[2], 3.0f);  // wd 0: buf = g on step 1
  state[0].data[0] = 42.0f;
  EXPECT_EQ(opt.momentum_buffer()[0], 42.0f);
  opt.Reset();
  EXPECT_EQ(opt.momentum_buffer()[0], 0.0f);
  EXPECT_EQ(opt.step_count(), 0);
}

TEST(Sgd, SameBitsAtOneAndTwoThreads) {
  ot::testing::ExpectSameBitsAtOneAndTwoThreads(
      [](int64_t n, std::vector<DecaySegment> s) {
        return std::make_unique<Sgd>(
            n, SgdConfig{.momentum = 0.9, .nesterov = true, .weight_decay = 0.1}, std::move(s));
      },
      1e-2);
}

}  // namespace
}  // namespace ot
