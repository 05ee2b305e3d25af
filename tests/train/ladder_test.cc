// Ladder modes: series (checkpoints at each ladder point of one run), runs (one run per budget with
// its own schedule), wsd (a stable trunk plus cooldown branches that share its stable phase
// exactly).
#include <gtest/gtest.h>

#include "train_fixture.h"

namespace ot {
namespace {

using namespace ot::testing;

std::map<int64_t, double> LrByStep(const fs::path& run) {
  std::map<int64_t, double> lr;
  for (const auto& row : ReadMetrics(run / "metrics.jsonl"))
    if (row.contains("train/lr")) lr[row["step"].get<int64_t>()] = row["train/lr"].get<double>();
  return lr;
}

TEST(Ladder, SeriesSavesEveryPointAndVerifies) {
  const fs::path root = TempDir("series");
  PretrainConfig c = TinyConfig(root);
  c.train.ladder = {Size{640}, Size{1000}, Size{1920}, Size{2560}};  // 1000 is not a step multiple
  const auto results = RunPretrainLadder(c, root / "run");
  ASSERT_EQ(results.size(), 1u);
  std::vector<int64_t> tokens;
  for (const auto& ck : ListCheckpoints(root / "run" / "ckpt")) {
    tokens.push_back(ck.tokens);
    EXPECT_TRUE(VerifyCheckpoint(ck.dir).empty()) << ck.dir;
  }
  // 1000 tokens rounds up to the first step that reaches it: 16 steps = 1024 tokens.
  EXPECT_EQ(tokens, (std::vector<int64_t>{640, 1024, 1920, 2560}));
  fs::remove_all(root);
}

TEST(Ladder, RunsLayTheScheduleOverEachBudget) {
  const fs::path root = TempDir("runs");
  PretrainConfig c = TinyConfig(root);
  c.train.ladder = {Size{1280}, Size{2560}};
  c.train.ladder_mode = "runs";
  c.optim.lr_min = 0;
  const auto results = RunPretrainLadder(c, root / "out");
  ASSERT_EQ(results.size(), 2u);
  EXPECT_EQ(results[0].steps, 20);
  EXPECT_EQ(results[1].steps, 40);
  // Each run anneals to ~0 at its own end: the last lr of the short run is small, while the long
  // run is still near the peak at the same step.
  const auto short_lr = LrByStep(root / "out" / "budget-1.28K");
  const auto long_lr = LrByStep(root / "out" / "budget-2.56K");
  EXPECT_LT(short_lr.at(20), 0.01 * c.optim.lr);
  EXPECT_GT(long_lr.at(20), 0.4 * c.optim.lr);
  EXPECT_TRUE(NewestValidCheckpoint(root / "out" / "budget-1.28K" / "ckpt").has_value());
  fs::remove_all(root);
}

TEST(Ladder, WsdBranchesShareTheTrunkStablePhase) {
  const fs::path root = TempDir("wsd");
  PretrainConfig c = TinyConfig(root);
  c.train.ladder = {Size{1280}, Size{2560}};  // 20 and 40 steps
  c.train.ladder_mode = "wsd";
  c.optim.schedule = "wsd";
  c.optim.wsd_decay_fraction = 0.25;  // branch points: steps 15 and 30
  const auto results = RunPretrainLadder(c, root / "out");
  ASSERT_EQ(results.size(), 3u);  // trunk + 2 branches
  EXPECT_EQ(results[0].steps, 30);
  EXPECT_EQ(results[1].steps, 20);
  EXPECT_EQ(results[1].resumed_from_tokens, 15 * kTokensPerStep);
  EXPECT_EQ(results[2].resumed_from_tokens, 30 * kTokensPerStep);
  const auto trunk = LrByStep(root / "out" / "trunk");
  const auto b40 = LrByStep(root / "out" / "branch-2.56K");
  EXPECT_DOUBLE_EQ(trunk.at(30), c.optim.lr);  // the trunk never decays
  EXPECT_EQ(b40.begin()->first, 31);           // the branch starts after the branch point
  EXPECT_DOUBLE_EQ(b40.at(31), c.optim.lr);    // decay progress 0 at its first step
  EXPECT_LT(b40.at(40), 0.15 * c.optim.lr);    // ... and linear towards lr_min = 0
  // A branch is the trunk up to the branch point: the straight WSD run to 40 steps ends
  // identically.
  PretrainConfig straight = c;
  straight.train.ladder.clear();
  straight.train.ladder_mode = "series";
  straight.train.budget.value = 2560;
  straight.optim.warmup.value = ScheduleFor(c).warmup * kTokensPerStep;
  RunPretrain(straight, root / "straight");
  EXPECT_TRUE(ReadWeights(FinalCheckpoint(root / "straight")).model ==
              ReadWeights(FinalCheckpoint(root / "out" / "branch-2.56K")).model);
  fs::remove_all(root);
}

}  // namespace
}  // namespace ot
