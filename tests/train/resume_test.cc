// Exact resume and determinism (docs/reliability.md cases 7–10): stop at step k (mid-epoch / at the
// epoch boundary), resume, and match an uninterrupted run bit for bit (weights, moments, losses);
// changed intervals on resume; same seed twice; changed model shape refused.
#include <gtest/gtest.h>

#include "train/pretrain.h"
#include "train_fixture.h"

namespace ot {
namespace {

using namespace ot::testing;

// Runs `c` in `dir`, stopping right after step k (which is a ladder point, so it is checkpointed).
void RunUntil(const PretrainConfig& c, const fs::path& dir, int64_t k) {
  PretrainHooks hooks;
  hooks.after_step = [k](const StepInfo& info, Trainer& t) {
    if (info.step == k) t.Stop();
  };
  PretrainConfig stop = c;
  stop.train.ladder.push_back(Size{k * kTokensPerStep});
  RunPretrain(stop, dir, hooks);
}

void ExpectSameRun(const fs::path& a, const fs::path& b) {
  const Weights wa = ReadWeights(FinalCheckpoint(a)), wb = ReadWeights(FinalCheckpoint(b));
  ASSERT_EQ(wa.model.size(), wb.model.size());
  EXPECT_TRUE(wa.model == wb.model) << "final weights differ";
  EXPECT_TRUE(wa.optimizer == wb.optimizer) << "optimizer moments differ";
  EXPECT_EQ(wa.state["step"], wb.state["step"]);
  EXPECT_EQ(wa.state["optimizer"], wb.state["optimizer"]);
  EXPECT_EQ(wa.state["data"], wb.state["data"]);
}

std::vector<double> Losses(const fs::path& run) {
  std::vector<double> out;
  for (const auto& row : ReadMetrics(run / "metrics.jsonl"))
    if (row.contains("train/loss") && !row.contains("event"))
      out.push_back(row["train/loss"].get<double>());
  return out;
}

class Resume : public ::testing::TestWithParam<int64_t> {};

TEST_P(Resume, BitIdenticalToUninterrupted) {
  const int64_t k = GetParam();
  const fs::path root = TempDir("resume");
  PretrainConfig c = TinyConfig(root);
  c.train.ladder = {Size{k * kTokensPerStep}};  // both runs carry the same ladder
  RunPretrain(c, root / "straight");
  RunUntil(c, root / "split", k);
  ASSERT_EQ(ReadWeights(FinalCheckpoint(root / "split")).state["step"], k);
  const PretrainResult r = RunPretrain(c, root / "split");
  EXPECT_EQ(r.resumed_from_tokens, k * kTokensPerStep);
  ExpectSameRun(root / "straight", root / "split");
  const auto la = Losses(root / "straight"), lb = Losses(root / "split");
  ASSERT_EQ(la.size(), 40u);
  EXPECT_EQ(la, lb);
  EXPECT_EQ(DeterministicMetrics(root / "straight"), DeterministicMetrics(root / "split"));
  EXPECT_LT(la.back(), la.front() - 0.5) << "the tiny model should learn the affine chain";
  fs::remove_all(root);
}

// k = 13: mid-epoch; k = 31: exactly at the epoch boundary (31 batches per epoch).
INSTANTIATE_TEST_SUITE_P(AtStep, Resume, ::testing::Values(int64_t{13}, kBatchesPerEpoch));

TEST(ResumeIntervals, ChangingLogAndEvalIntervalsKeepsBits) {
  const fs::path root = TempDir("intervals");
  PretrainConfig c = TinyConfig(root);
  RunPretrain(c, root / "straight");
  RunUntil(c, root / "split", 17);
  PretrainConfig changed = c;
  changed.train.log_every = 7;
  changed.train.eval_every = 3;
  changed.train.eval_batches = 1;
  RunPretrain(changed, root / "split");
  ExpectSameRun(root / "straight", root / "split");
  fs::remove_all(root);
}

TEST(Determinism, SameConfigAndSeedGiveIdenticalMetrics) {
  const fs::path root = TempDir("determinism");
  PretrainConfig c = TinyConfig(root);
  RunPretrain(c, root / "a");
  RunPretrain(c, root / "b");
  const auto ma = DeterministicMetrics(root / "a"), mb = DeterministicMetrics(root / "b");
  ASSERT_GE(ma.size(), 40u);
  EXPECT_EQ(ma, mb);
  // And at 2 threads (fewer steps: OpenMP hand-offs dominate at these shapes on a busy machine).
  PretrainConfig two = c;
  two.train.threads = 2;
  two.train.budget.value = 4 * kTokensPerStep;
  RunPretrain(two, root / "a2");
  RunPretrain(two, root / "b2");
  EXPECT_EQ(DeterministicMetrics(root / "a2"), DeterministicMetrics(root / "b2"));
  EXPECT_TRUE(ReadWeights(FinalCheckpoint(root / "a2")).model ==
              ReadWeights(FinalCheckpoint(root / "b2")).model);
  EXPECT_TRUE(ma.back().contains("val/loss"));
  EXPECT_TRUE(ma.back().contains("train/param_norm/attn"));
  // The comparison can fail: another seed gives other metrics.
  c.train.seed = 4;
  RunPretrain(c, root / "c");
  EXPECT_NE(ma, DeterministicMetrics(root / "c"));
  fs::remove_all(root);
}

TEST(ResumeGuard, ChangedModelShapeRefused) {
  const fs::path root = TempDir("shape");
  PretrainConfig c = TinyConfig(root);
  RunUntil(c, root / "run", 5);
  PretrainConfig wider = c;
  wider.model.d_model = 48;
  const std::string e = ErrorOf([&] { RunPretrain(wider, root / "run"); });
  EXPECT_NE(e.find("model shape changed"), std::string::npos) << e;
  EXPECT_NE(e.find("model.d_model"), std::string::npos) << e;
  // Without the saved config.toml the checkpoint's tensors still refuse the new shape.
  fs::remove(root / "run" / "config.toml");
  const std::string e2 = ErrorOf([&] { RunPretrain(wider, root / "run"); });
  EXPECT_NE(e2.find("model shape changed"), std::string::npos) << e2;
  EXPECT_NE(e2.find("model.embed_tokens.weight"), std::string::npos) << e2;
  // Other training changes are refused too (they would silently break exactness).
  PretrainConfig other_lr = c;
  other_lr.optim.lr = 2e-2;
  RunUntil(c, root / "run2", 3);
  const std::string e3 = ErrorOf([&] { RunPretrain(other_lr, root / "run2"); });
  EXPECT_NE(e3.find("optim.lr"), std::string::npos) << e3;
  fs::remove_all(root);
}

}  // namespace
}  // namespace ot
