// A pretrain run directory's housekeeping (docs/reliability.md cases 6, 32, 35, 36): the directory
// lock, a failed start that must not block the corrected retry, pruning of periodic checkpoints,
// and resume falling back past a damaged newest checkpoint while saying which one it skipped and
// why.
#include <gtest/gtest.h>

#include <algorithm>
#include <limits>

#include "core/run_lock.h"
#include "train_fixture.h"

namespace ot {
namespace {

using namespace ot::testing;

std::vector<int64_t> CheckpointSteps(const fs::path& run) {
  std::vector<int64_t> steps;
  for (const auto& e : ListCheckpoints(run / "ckpt")) steps.push_back(e.tokens / kTokensPerStep);
  return steps;
}

TEST(RunDir, LockedRunIsRefusedWithTheHolderNamed) {
  const fs::path root = TempDir("locked");
  PretrainConfig c = TinyConfig(root);
  c.train.budget.value = 2 * kTokensPerStep;
  {
    const RunDirLock holder =
        RunDirLock::Acquire(root / "run", "pretrain run");  // as another process would
    const std::string e = ErrorOf([&] { RunPretrain(c, root / "run"); });
    EXPECT_NE(e.find((root / "run" / ".lock").string()), std::string::npos) << e;
    EXPECT_NE(e.find("in use by pid " + std::to_string(::getpid())), std::string::npos) << e;
    EXPECT_FALSE(fs::exists(root / "run" / "config.toml"))
        << "the refused process must touch nothing";
  }
  EXPECT_EQ(RunPretrain(c, root / "run").steps, 2);
  fs::remove_all(root);
}

// Case 35: neither a data error nor a start that diverged before its first checkpoint locks the
// setup in.
TEST(RunDir, FailedStartDoesNotBlockTheCorrectedRetry) {
  const fs::path root = TempDir("failed_start");
  PretrainConfig c = TinyConfig(root);
  c.train.budget.value = 4 * kTokensPerStep;
  const fs::path run = root / "run";

  fs::copy_file(root / "train.tok", root / "cut.tok");
  fs::resize_file(root / "cut.tok", fs::file_size(root / "cut.tok") - 10);
  PretrainConfig truncated = c;
  truncated.data.train = (root / "cut.tok").string();
  EXPECT_NE(ErrorOf([&] { RunPretrain(truncated, run); }).find("cut.tok"), std::string::npos);

  PretrainConfig diverging = c;  // fixed the data, but an lr that blows up at step 2
  diverging.optim.lr = 1e3;
  PretrainHooks hooks;
  hooks.fault = [](int64_t step, int) {
    return step == 1 ? PassFault::kLossNaN : PassFault::kNone;
  };
  const std::string e = ErrorOf([&] { RunPretrain(diverging, run, hooks); });
  EXPECT_NE(e.find("non-finite"), std::string::npos) << e;

  const PretrainResult r = RunPretrain(c, run);
  EXPECT_EQ(r.resumed_from_tokens, -1);
  EXPECT_EQ(r.steps, 4);
  EXPECT_EQ(LoadPretrainConfig((run / "config.toml").string(), {}).optim.lr, c.optim.lr);
  // Once a checkpoint exists, the setup is locked in.
  PretrainConfig other = c;
  other.optim.lr = 2e-2;
  const std::string e2 = ErrorOf([&] { RunPretrain(other, run); });
  EXPECT_NE(e2.find("the training setup changed: key 'optim.lr'"), std::string::npos) << e2;
  fs::remove_all(root);
}

// Case 6 / issue 10 defect 11: ladder and final checkpoints stay, periodic ones only the newest k.
TEST(RunDir, PeriodicCheckpointsArePrunedToTheNewestK) {
  const fs::path root = TempDir("prune");
  PretrainConfig c = TinyConfig(root);
  c.train.checkpoint_every.value = 5 * kTokensPerStep;
  c.train.ladder = {Size{12 * kTokensPerStep}};
  RunPretrain(c, root / "default");  // keep_periodic = 2
  EXPECT_EQ(CheckpointSteps(root / "default"), (std::vector<int64_t>{12, 30, 35, 40}));
  c.train.keep_periodic = 3;
  RunPretrain(c, root / "three");
  EXPECT_EQ(CheckpointSteps(root / "three"), (std::vector<int64_t>{12, 25, 30, 35, 40}));
  fs::remove_all(root);
}

// Case 36 / defects 8 and 12: the newest checkpoint hashes fine but its embedding has the wrong
// shape for the model its config.json describes. Resume falls back to the older one, says so on
// stderr and in metrics.jsonl, and still ends bit-identical to an uninterrupted run.
TEST(RunDir, ResumeSkipsADamagedNewestCheckpointAndSaysWhy) {
  const fs::path root = TempDir("skip_damaged");
  PretrainConfig c = TinyConfig(root);
  c.train.checkpoint_every.value = 5 * kTokensPerStep;
  RunPretrain(c, root / "straight");
  PretrainHooks stop;
  stop.after_step = [](const StepInfo& info, Trainer& t) {
    if (info.step == 10) t.Stop();
  };
  const fs::path run = root / "split";
  RunPretrain(c, run, stop);
  const fs::path newest = run / "ckpt" / CheckpointDirName(10 * kTokensPerStep);
  const fs::path older = run / "ckpt" / CheckpointDirName(5 * kTokensPerStep);
  ASSERT_EQ(NewestValidCheckpoint(run / "ckpt"), newest);
  RewriteSafetensorsHeader(newest / kModelFile, [](nlohmann::json& h) {
    h["model.embed_tokens.weight"]["shape"] = {32, 64};
  });
  ResealManifest(newest);
  const auto problems = VerifyCheckpoint(newest);
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_NE(problems[0].find(
                "tensor 'model.embed_tokens.weight' has shape [32, 64], the model of config.json "
                "needs [64, 32]"),
            std::string::npos)
      << problems[0];

  ::testing::internal::CaptureStderr();
  const PretrainResult r = RunPretrain(c, run);
  const std::string err = ::testing::internal::GetCapturedStderr();
  EXPECT_EQ(r.resumed_from_tokens, 5 * kTokensPerStep);
  EXPECT_NE(err.find("skipping checkpoint " + newest.string() + ", which fails verification: " +
                     problems[0] + "; resuming from " + older.string() + " instead"),
            std::string::npos)
      << err;
  int events = 0;
  for (const auto& row : ReadMetrics(run / "metrics.jsonl"))
    if (row.value("event", "") == "checkpoint_skipped") {
      ++events;
      EXPECT_EQ(row["checkpoint"], newest.string());
      EXPECT_EQ(row["problems"], nlohmann::json(problems));
    }
  EXPECT_EQ(events, 1);
  EXPECT_TRUE(ReadWeights(FinalCheckpoint(root / "straight")).model ==
              ReadWeights(FinalCheckpoint(run)).model);
  fs::remove_all(root);
}

}  // namespace
}  // namespace ot
