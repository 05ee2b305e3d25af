// SAM in the training loop: each step runs two forward/backward passes on the same batch, a
// non-finite second pass obeys the NaN policy with the weights unchanged, and a SAM run resumes bit
// for bit.
#include <gtest/gtest.h>

#include <limits>

#include "train/pretrain.h"
#include "train_fixture.h"

namespace ot {
namespace {

using namespace ot::testing;

PretrainConfig SamConfig(const fs::path& root) {
  PretrainConfig c = TinyConfig(root);
  c.optim.sam_rho = 0.05;
  c.train.budget.value = 20 * kTokensPerStep;
  return c;
}

TEST(SamTraining, TwoPassesPerStepAndTheLossFalls) {
  const fs::path root = TempDir("sam_passes");
  PretrainHooks hooks;
  std::vector<int64_t> pass_steps;
  hooks.fault = [&](int64_t step, int) {
    pass_steps.push_back(step);
    return PassFault::kNone;
  };
  const PretrainResult r = RunPretrain(SamConfig(root), root / "run", hooks);
  EXPECT_EQ(r.steps, 20);
  ASSERT_EQ(pass_steps.size(), 40u);  // both passes of step s report step s
  for (size_t i = 0; i < pass_steps.size(); ++i)
    EXPECT_EQ(pass_steps[i], static_cast<int64_t>(i / 2));
  const Weights w = ReadWeights(FinalCheckpoint(root / "run"));
  EXPECT_EQ(w.state["optimizer"]["kind"], "sam+adamw");
  EXPECT_EQ(w.state["optimizer"]["step"], 20);
  std::vector<double> losses;
  for (const auto& row : ReadMetrics(root / "run" / "metrics.jsonl"))
    if (row.contains("train/loss") && !row.contains("event"))
      losses.push_back(row["train/loss"].get<double>());
  ASSERT_EQ(losses.size(), 20u);
  EXPECT_LT(losses.back(), losses.front() - 0.3)
      << "SAM around AdamW should still learn the affine chain";
  fs::remove_all(root);
}

TEST(SamTraining, NonFiniteSecondPassIsSkippedWithWeightsUnchanged) {
  const fs::path root = TempDir("sam_nan");
  PretrainConfig c = SamConfig(root);
  c.train.nan_policy = "skip-step";
  PretrainHooks hooks;
  int passes_at_step_5 = 0;
  hooks.fault = [&](int64_t step, int) {
    return step == 5 && ++passes_at_step_5 == 2 ? PassFault::kGradientNaN : PassFault::kNone;
  };
  std::vector<float> before, after;
  hooks.after_step = [&](const StepInfo& info, Trainer& t) {
    if (info.step == 5) before = HostParams(t.backend());
    if (info.step == 6) after = HostParams(t.backend());
  };
  const PretrainResult r = RunPretrain(c, root / "run", hooks);
  EXPECT_EQ(r.steps, 20);
  ASSERT_FALSE(before.empty());
  EXPECT_TRUE(before == after)
      << "a step whose second pass is not finite must not move the weights";
  EXPECT_EQ(ReadWeights(FinalCheckpoint(root / "run")).state["skipped_steps"], 1);
  fs::remove_all(root);
}

TEST(SamTraining, ResumesBitIdentically) {
  const fs::path root = TempDir("sam_resume");
  PretrainConfig c = SamConfig(root);
  c.train.ladder = {Size{7 * kTokensPerStep}};
  RunPretrain(c, root / "straight");
  PretrainHooks stop;
  stop.after_step = [](const StepInfo& info, Trainer& t) {
    if (info.step == 7) t.Stop();
  };
  RunPretrain(c, root / "split", stop);
  RunPretrain(c, root / "split");
  const Weights a = ReadWeights(FinalCheckpoint(root / "straight")),
                b = ReadWeights(FinalCheckpoint(root / "split"));
  EXPECT_TRUE(a.model == b.model) << "final weights differ";
  EXPECT_TRUE(a.optimizer == b.optimizer) << "optimizer state differs";
  EXPECT_EQ(DeterministicMetrics(root / "straight"), DeterministicMetrics(root / "split"));
  fs::remove_all(root);
}

}  // namespace
}  // namespace ot
