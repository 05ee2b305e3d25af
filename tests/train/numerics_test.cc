// NaN/Inf policies and the loss-spike monitor (docs/reliability.md cases 27–28).
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "optim/clip.h"
#include "train/monitor.h"
#include "train_fixture.h"

namespace ot {
namespace {

using namespace ot::testing;

TEST(NanPolicy, AbortStopsWithAClearMessageAndSavesNoNan) {
  const fs::path root = TempDir("nan_abort");
  PretrainConfig c = TinyConfig(root);
  c.train.checkpoint_every.value = kTokensPerStep;  // a checkpoint after every good step
  c.train.keep_periodic = 0;                        // all of them kept, to check each
  PretrainHooks hooks;
  hooks.fault = [](int64_t step, int) {
    return step == 6 ? PassFault::kGradientNaN : PassFault::kNone;  // the 7th step
  };
  std::string message;
  try {
    RunPretrain(c, root / "run", hooks);
  } catch (const Error& e) {
    message = e.what();
  }
  EXPECT_NE(message.find("non-finite gradient at step 7"), std::string::npos) << message;
  EXPECT_NE(message.find("abort"), std::string::npos) << message;
  const auto checkpoints = ListCheckpoints(root / "run" / "ckpt");
  ASSERT_EQ(checkpoints.size(), 6u);  // steps 1..6, none for the poisoned step
  EXPECT_EQ(checkpoints.back().tokens, 6 * kTokensPerStep);
  for (const auto& ck : checkpoints) {
    EXPECT_TRUE(VerifyCheckpoint(ck.dir).empty()) << ck.dir;
    const Weights w = ReadWeights(ck.dir);
    EXPECT_TRUE(AllFinite(w.model)) << ck.dir;
    EXPECT_TRUE(AllFinite(w.optimizer)) << ck.dir;
  }
  bool logged = false;
  for (const auto& row : ReadMetrics(root / "run" / "metrics.jsonl"))
    logged |= row.value("event", "") == "nan_abort" && row["step"] == 7;
  EXPECT_TRUE(logged);
  fs::remove_all(root);
}

TEST(NanPolicy, SkipStepLeavesWeightsUnchangedAndIsLogged) {
  const fs::path root = TempDir("nan_skip");
  PretrainConfig c = TinyConfig(root);
  c.train.nan_policy = "skip-step";
  PretrainHooks hooks;
  hooks.fault = [](int64_t step, int) {
    return step == 9 ? PassFault::kLossInf : PassFault::kNone;  // the 10th step
  };
  std::vector<float> before, after, later;
  hooks.after_step = [&](const StepInfo& info, Trainer& t) {
    if (info.step == 9) before = HostParams(t.backend());
    if (info.step == 10) after = HostParams(t.backend());
    if (info.step == 11) later = HostParams(t.backend());
  };
  const PretrainResult r = RunPretrain(c, root / "run", hooks);
  EXPECT_EQ(r.steps, 40);
  ASSERT_FALSE(before.empty());
  EXPECT_TRUE(before == after) << "a skipped step must not move the weights";
  EXPECT_FALSE(after == later) << "the next step trains again";
  int skips = 0;
  for (const auto& row : ReadMetrics(root / "run" / "metrics.jsonl"))
    skips += row.value("event", "") == "nan_skip" && row["step"] == 10;
  EXPECT_EQ(skips, 1);
  EXPECT_EQ(ReadWeights(FinalCheckpoint(root / "run")).state["skipped_steps"], 1);
  EXPECT_EQ(ReadWeights(FinalCheckpoint(root / "run")).state["optimizer"]["step"], 39);
  fs::remove_all(root);
}

// A noisy, slowly falling loss like a training curve: 3 + exp(-s/50) + 0.02·N(0,1).
double CleanLoss(int64_t s) {
  return 3.0 + std::exp(-s / 50.0) + 0.02 * NormalAt(RngKey(11, StreamId("spike")), s);
}

TEST(SpikeMonitor, FlagsA10SigmaOutlierAndStaysQuietOnACleanCurve) {
  SpikeMonitor clean(6.0);
  for (int64_t s = 0; s < 2000; ++s) EXPECT_FALSE(clean.Observe(CleanLoss(s))) << s;
  EXPECT_EQ(clean.spikes(), 0);

  SpikeMonitor m(6.0);
  for (int64_t s = 0; s < 300; ++s) m.Observe(CleanLoss(s));
  const double outlier = m.mean() + 10 * m.std();
  EXPECT_TRUE(m.Observe(outlier));
  EXPECT_NEAR(m.Sigmas(outlier), 10.0, 1e-9);
  EXPECT_EQ(m.spikes(), 1);
  // The outlier did not enter the statistics: the curve continues unflagged.
  for (int64_t s = 300; s < 400; ++s) EXPECT_FALSE(m.Observe(CleanLoss(s))) << s;
  // State round trip (checkpoints) is exact.
  SpikeMonitor restored(6.0);
  restored.FromJson(m.ToJson());
  EXPECT_EQ(restored.mean(), m.mean());
  EXPECT_EQ(restored.std(), m.std());
}

TEST(SpikeMonitor, TrainingRunLogsAnInjectedSpikeOnly) {
  const fs::path root = TempDir("spike");
  PretrainConfig c = TinyConfig(root);
  c.train.budget.value = 80 * kTokensPerStep;
  auto spike_rows = [](const fs::path& run) {
    std::vector<int64_t> steps;
    for (const auto& row : ReadMetrics(run / "metrics.jsonl"))
      if (row.value("event", "") == "loss_spike") steps.push_back(row["step"].get<int64_t>());
    return steps;
  };
  RunPretrain(c, root / "clean");
  EXPECT_TRUE(spike_rows(root / "clean").empty());
  // Inject a reported loss 10 running-σ above the mean at step 60 (the 61st), using the monitor's
  // own view of the clean run: the metrics give mean/σ estimates; 10 nats is far beyond them.
  PretrainHooks hooks;
  hooks.fault = [](int64_t step, int) {
    return step == 60 ? PassFault::kLossSpike : PassFault::kNone;
  };
  RunPretrain(c, root / "spiky", hooks);
  EXPECT_EQ(spike_rows(root / "spiky"), std::vector<int64_t>{61});
  fs::remove_all(root);
}

}  // namespace
}  // namespace ot
