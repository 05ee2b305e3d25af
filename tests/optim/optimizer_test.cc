// AdamW checked against a step computed by hand, the decay mask, state exposure and thread
// invariance.
#include "optim/optimizer.h"

#include <gtest/gtest.h>
#include <omp.h>

#include <cmath>
#include <vector>

#include "core/check.h"
#include "model/layout.h"
#include "optim/optim_config.h"
#include "thread_invariance.h"

namespace ot {
namespace {

// Two AdamW steps on 4 parameters, lr 0.1, β1 0.9, β2 0.99, ε 1e-8, wd 0.5; decay on [0,2) only.
//
// Step 1 (t=1, bc1 = 0.1, bc2 = 0.01), g = [0.1, -0.2, 0, 1]:
//   m = 0.1 g = [0.01, -0.02, 0, 0.1];  v = 0.01 g² = [1e-4, 4e-4, 0, 0.01]
//   m/bc1 = [0.1, -0.2, 0, 1];  sqrt(v)/sqrt(bc2) = [0.1, 0.2, 0, 1]  → ratio ≈ [1, -1, 0, 1]
//   p = [1·0.95 − 0.1, −2·0.95 + 0.1, 0.5 − 0, 3 − 0.1] = [0.85, −1.8, 0.5, 2.9]
// Step 2 (t=2, bc1 = 0.19, bc2 = 0.0199), g = [0.2, 0.2, -0.4, 1]:
//   m = 0.9 m + 0.1 g = [0.029, 0.002, -0.04, 0.19]
//   v = 0.99 v + 0.01 g² = [0.000499, 0.000796, 0.0016, 0.0199]
//   m̂ = m/0.19 = [0.1526316, 0.0105263, -0.2105263, 1]
//   sqrt(v̂) = sqrt(v/0.0199) = [0.1583521, 0.2, 0.2835525, 1]
//   p0 = 0.85·0.95 − 0.1·0.1526316/0.1583521 = 0.8075 − 0.0963875 = 0.7111125
//   p1 = −1.8·0.95 − 0.1·0.0105263/0.2 = −1.71 − 0.0052632 = −1.7152632
//   p2 = 0.5 − 0.1·(−0.2105263)/0.2835525 = 0.5 + 0.0742460 = 0.5742460
//   p3 = 2.9 − 0.1·1/1 = 2.8
TEST(AdamW, TwoStepsMatchHandComputation) {
  AdamWConfig c;
  c.beta1 = 0.9;
  c.beta2 = 0.99;
  c.eps = 1e-8;
  c.weight_decay = 0.5;
  AdamW opt(4, c, {{0, 2, true}, {2, 2, false}});
  std::vector<float> p = {1.0f, -2.0f, 0.5f, 3.0f};
  opt.Step(p, std::vector<float>{0.1f, -0.2f, 0.0f, 1.0f}, 0.1);
  const float step1[] = {0.85f, -1.8f, 0.5f, 2.9f};
  for (int i = 0; i < 4; ++i) EXPECT_NEAR(p[i], step1[i], 2e-6) << i;
  EXPECT_NEAR(opt.m()[1], -0.02f, 1e-8);
  EXPECT_NEAR(opt.v()[3], 0.01f, 1e-9);
  opt.Step(p, std::vector<float>{0.2f, 0.2f, -0.4f, 1.0f}, 0.1);
  const float step2[] = {0.7111125f, -1.7152632f, 0.5742460f, 2.8f};
  for (int i = 0; i < 4; ++i) EXPECT_NEAR(p[i], step2[i], 2e-6) << i;
  const float m2[] = {0.029f, 0.002f, -0.04f, 0.19f},
              v2[] = {0.000499f, 0.000796f, 0.0016f, 0.0199f};
  for (int i = 0; i < 4; ++i) {
    EXPECT_NEAR(opt.m()[i], m2[i], 1e-7) << i;
    EXPECT_NEAR(opt.v()[i], v2[i], 1e-8) << i;
  }
  EXPECT_EQ(opt.step_count(), 2);
}

TEST(AdamW, DecayMaskRespected) {
  // Zero gradients: the only change is decay, p · (1 − lr·wd) = p · (1 − 0.01·0.1) = 0.999 p on
  // decay segments; segments without decay (and the gap [6,8) the layout did not cover) stay
  // bit-identical.
  AdamWConfig c;
  c.weight_decay = 0.1;
  AdamW opt(8, c, {{0, 3, true}, {3, 2, false}, {5, 1, true}});
  std::vector<float> p(8), grads(8, 0.0f);
  for (int i = 0; i < 8; ++i) p[i] = 1.0f + i;
  const std::vector<float> before = p;
  opt.Step(p, grads, 0.01);
  for (int i = 0; i < 8; ++i) {
    const bool decay = i < 3 || i == 5;
    if (decay)
      EXPECT_FLOAT_EQ(p[i], before[i] * 0.999f) << i;
    else
      EXPECT_EQ(p[i], before[i]) << i;
  }
}

TEST(AdamW, StateExposedByNameAndReset) {
  AdamW opt(3, AdamWConfig{}, {{0, 3, true}});
  std::vector<float> p(3, 1.0f);
  opt.Step(p, std::vector<float>{1, 2, 3}, 1e-3);
  auto state = opt.State();
  ASSERT_EQ(state.size(), 2u);
  EXPECT_EQ(state[0].name, "exp_avg");
  EXPECT_EQ(state[1].name, "exp_avg_sq");
  EXPECT_NEAR(state[0].data[2], 0.3f, 1e-7);  // (1 − 0.9)·3
  state[1].data[0] = 42.0f;                   // writable: a checkpoint load restores state in place
  EXPECT_EQ(opt.v()[0], 42.0f);
  opt.Reset();
  EXPECT_EQ(opt.m()[2], 0.0f);
  EXPECT_EQ(opt.step_count(), 0);
}

TEST(AdamW, SameBitsAtOneAndTwoThreads) {
  ot::testing::ExpectSameBitsAtOneAndTwoThreads(
      [](int64_t n, std::vector<DecaySegment> s) {
        return std::make_unique<AdamW>(n, AdamWConfig{}, std::move(s));
      },
      1e-3);
}

TEST(MakeOptimizer, UnknownKindRejectedNamingTheKey) {
  const ParamLayout layout = ParamLayout::ForModel(ModelConfig::FromPreset("pico-16"));
  OptimConfig c;
  c.kind = "adam_typo";
  try {
    MakeOptimizer(c, layout, "finetune");
    ADD_FAILURE() << "an unknown kind was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("finetune.kind: 'adam_typo'"), std::string::npos)
        << e.what();
  }
  c.kind = "adamw";
  EXPECT_EQ(MakeOptimizer(c, layout)->Name(), "adamw");
  c.sam_rho = 0.05;
  const auto sam = MakeOptimizer(c, layout);
  EXPECT_EQ(sam->Name(), "sam+adamw");
  EXPECT_EQ(sam->PassesPerStep(), 2);
}

}  // namespace
}  // namespace ot
