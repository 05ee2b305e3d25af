// Each schedule's values at chosen steps, computed by hand (schedule.h states the conventions).
#include "optim/schedule.h"

#include <gtest/gtest.h>

#include <cmath>

#include "core/check.h"

namespace ot {
namespace {

ScheduleConfig Make(ScheduleKind kind, double peak, double min, int64_t warmup, int64_t total,
                    int64_t decay = 0) {
  ScheduleConfig c;
  c.kind = kind;
  c.lr_peak = peak;
  c.lr_min = min;
  c.warmup = warmup;
  c.total = total;
  c.decay = decay;
  return c;
}

TEST(Schedule, WarmupThenCosineToFloor) {
  // peak 1, floor 0.1, warmup 10, total 110: cosine over 100 steps starting at step 10.
  auto c = Make(ScheduleKind::kCosine, 1.0, 0.1, 10, 110);
  EXPECT_DOUBLE_EQ(LearningRate(c, 0), 0.1);               // 1·1/10
  EXPECT_DOUBLE_EQ(LearningRate(c, 4), 0.5);               // 1·5/10
  EXPECT_DOUBLE_EQ(LearningRate(c, 9), 1.0);               // end of warmup
  EXPECT_DOUBLE_EQ(LearningRate(c, 10), 1.0);              // p = 0
  EXPECT_NEAR(LearningRate(c, 35), 0.8681980515, 1e-10);   // p = .25: 0.1 + 0.45(1 + cos(π/4))
  EXPECT_NEAR(LearningRate(c, 60), 0.55, 1e-12);           // p = .5: 0.1 + 0.45
  EXPECT_NEAR(LearningRate(c, 109), 0.1002220478, 1e-10);  // p = .99
  EXPECT_DOUBLE_EQ(LearningRate(c, 110), 0.1);
  EXPECT_DOUBLE_EQ(LearningRate(c, 500), 0.1);
}

TEST(Schedule, CosineToZeroWithoutWarmup) {
  auto c = Make(ScheduleKind::kCosine, 2.0, 0.0, 0, 4);
  EXPECT_DOUBLE_EQ(LearningRate(c, 0), 2.0);
  EXPECT_NEAR(LearningRate(c, 1), 1.0 + std::cos(M_PI / 4), 1e-12);  // 2·0.5(1 + cos(π/4)) = 1.7071
  EXPECT_NEAR(LearningRate(c, 2), 1.0, 1e-12);
  EXPECT_NEAR(LearningRate(c, 3), 1.0 - std::cos(M_PI / 4), 1e-12);  // 0.2929
  EXPECT_DOUBLE_EQ(LearningRate(c, 4), 0.0);
}

TEST(Schedule, Constant) {
  auto c = Make(ScheduleKind::kConstant, 1.0, 0.0, 4, 100);
  EXPECT_DOUBLE_EQ(LearningRate(c, 0), 0.25);
  EXPECT_DOUBLE_EQ(LearningRate(c, 3), 1.0);
  EXPECT_DOUBLE_EQ(LearningRate(c, 99), 1.0);
  EXPECT_DOUBLE_EQ(LearningRate(c, 1000), 1.0);
}

TEST(Schedule, LinearDecay) {
  auto c = Make(ScheduleKind::kLinear, 2.0, 0.0, 0, 100);
  EXPECT_DOUBLE_EQ(LearningRate(c, 0), 2.0);
  EXPECT_DOUBLE_EQ(LearningRate(c, 25), 1.5);
  EXPECT_NEAR(LearningRate(c, 99), 0.02, 1e-12);
  EXPECT_DOUBLE_EQ(LearningRate(c, 100), 0.0);
  auto w = Make(ScheduleKind::kLinear, 1.0, 0.5, 10, 20);  // warmup 10, then 1 → 0.5 over 10 steps
  EXPECT_DOUBLE_EQ(LearningRate(w, 1), 0.2);
  EXPECT_DOUBLE_EQ(LearningRate(w, 15), 0.75);
}

TEST(Schedule, WarmupStableDecay) {
  // warmup 10, total 100, decay fraction 0.2 → 20 steps: stable on [10, 80), linear 1 → 0 on [80,
  // 100).
  const int64_t decay = WsdDecaySteps(100, 0.2);
  EXPECT_EQ(decay, 20);
  auto c = Make(ScheduleKind::kWsd, 1.0, 0.0, 10, 100, decay);
  EXPECT_DOUBLE_EQ(LearningRate(c, 0), 0.1);
  EXPECT_DOUBLE_EQ(LearningRate(c, 50), 1.0);
  EXPECT_DOUBLE_EQ(LearningRate(c, 79), 1.0);
  EXPECT_DOUBLE_EQ(LearningRate(c, 80), 1.0);   // p = 0
  EXPECT_DOUBLE_EQ(LearningRate(c, 90), 0.5);   // p = 0.5
  EXPECT_DOUBLE_EQ(LearningRate(c, 95), 0.25);  // p = 0.75
  EXPECT_DOUBLE_EQ(LearningRate(c, 100), 0.0);
}

TEST(Schedule, WsdBranchSharesTheStablePhase) {
  // A stable-only trunk (decay 0, "total" far away) and a branch decaying over 30 steps from step
  // 60 agree on every step before the branch point.
  auto trunk = Make(ScheduleKind::kWsd, 1.0, 0.0, 10, 1000000, 0);
  auto branch = Make(ScheduleKind::kWsd, 1.0, 0.0, 10, 90, 30);
  for (int64_t s = 0; s < 60; ++s) EXPECT_EQ(LearningRate(trunk, s), LearningRate(branch, s)) << s;
  EXPECT_LT(LearningRate(branch, 61), 1.0);
}

TEST(Schedule, ParseKinds) {
  EXPECT_EQ(ParseScheduleKind("wsd"), ScheduleKind::kWsd);
  EXPECT_STREQ(ScheduleKindName(ScheduleKind::kLinear), "linear");
  EXPECT_THROW(ParseScheduleKind("cosine_typo"), Error);
}

}  // namespace
}  // namespace ot
