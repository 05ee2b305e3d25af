// The pretrain config (docs/reliability.md case 29): presets, overrides, printing, and rejections
// naming file:line and key; plus the resume guard's view of which keys may change.
#include "train/pretrain_config.h"

#include <gtest/gtest.h>

#include <fstream>

#include "train_fixture.h"

namespace ot {
namespace {

using namespace ot::testing;

std::string WriteToml(const fs::path& dir, const std::string& text) {
  static int n = 0;
  const fs::path p = dir / ("run" + std::to_string(n++) + ".toml");
  std::ofstream(p) << text;
  return p.string();
}

// The error loading `path` with `sets` gives ("" when it loads).
std::string PretrainConfigError(const std::string& path, std::vector<std::string> sets = {}) {
  return ErrorOf([&] { LoadPretrainConfig(path, sets); });
}

class PretrainConfigTest : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = TempDir("config"); }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_;
};

TEST_F(PretrainConfigTest, LoadsPresetFileAndOverrides) {
  const auto path = WriteToml(dir_,
                              "[model]\npreset = \"nano\"\nn_layers = 3\n[train]\nbudget = \"2M\"\n"
                              "ladder = [\"500K\", \"1M\", \"2M\"]\n[optim]\nschedule = \"wsd\"\n");
  const PretrainConfig c = LoadPretrainConfig(path, {"optim.lr=1e-3", "train.seq_len=32"});
  const ModelConfig nano = ModelConfig::Nano();
  EXPECT_EQ(c.model.d_model, nano.d_model);
  EXPECT_EQ(c.model.vocab_size, nano.vocab_size);
  EXPECT_EQ(c.model.n_layers, 3);
  EXPECT_EQ(c.train.budget.value, 2000000);
  ASSERT_EQ(c.train.ladder.size(), 3u);
  EXPECT_EQ(c.train.ladder[0].value, 500000);
  EXPECT_DOUBLE_EQ(c.optim.lr, 1e-3);
  EXPECT_EQ(c.train.seq_len, 32);
  EXPECT_EQ(c.optim.schedule, "wsd");
  // The printed config loads back to the same values (run directories store it).
  const auto printed = WriteToml(dir_, PrintConfig(PretrainSchema(), c));
  const PretrainConfig again = LoadPretrainConfig(printed, {});
  EXPECT_EQ(PrintConfig(PretrainSchema(), again), PrintConfig(PretrainSchema(), c));
  EXPECT_EQ(ResumeProblem(c, again), "");
}

TEST_F(PretrainConfigTest, RejectionsNameFileLineAndKey) {
  const auto unknown = WriteToml(dir_, "[train]\nbatch_size = 4\nbatch_sise = 8\n");
  std::string e = PretrainConfigError(unknown);
  EXPECT_NE(e.find(unknown + ":3"), std::string::npos) << e;
  EXPECT_NE(e.find("train.batch_sise"), std::string::npos) << e;

  const auto wrong_type = WriteToml(dir_, "[optim]\nlr = \"fast\"\n");
  e = PretrainConfigError(wrong_type);
  EXPECT_NE(e.find(wrong_type + ":2"), std::string::npos) << e;
  EXPECT_NE(e.find("optim.lr"), std::string::npos) << e;

  const auto negative_lr = WriteToml(dir_, "[optim]\n\nlr = -0.1\n");
  e = PretrainConfigError(negative_lr);
  EXPECT_NE(e.find(negative_lr + ":3"), std::string::npos) << e;
  EXPECT_NE(e.find("expected > 0"), std::string::npos) << e;

  const auto long_seq = WriteToml(dir_, "[model]\nmax_seq_len = 32\n[train]\nseq_len = 64\n");
  e = PretrainConfigError(long_seq);
  EXPECT_NE(e.find(long_seq + ":4"), std::string::npos) << e;
  EXPECT_NE(e.find("must be <= model.max_seq_len"), std::string::npos) << e;

  const auto heads = WriteToml(dir_, "[model]\nd_model = 64\nn_heads = 3\n");
  e = PretrainConfigError(heads);
  EXPECT_NE(e.find(heads + ":3"), std::string::npos) << e;
  EXPECT_NE(e.find("n_heads"), std::string::npos) << e;

  const auto schedule = WriteToml(dir_, "[optim]\nschedule = \"cosin\"\n");
  e = PretrainConfigError(schedule);
  EXPECT_NE(e.find(schedule + ":2"), std::string::npos) << e;
  EXPECT_NE(e.find("cosine"), std::string::npos) << e;

  const auto ladder = WriteToml(dir_, "[train]\nbudget = \"1M\"\nladder = [\"500K\", \"2M\"]\n");
  e = PretrainConfigError(ladder);
  EXPECT_NE(e.find("exceeds train.budget"), std::string::npos) << e;

  e = PretrainConfigError("", {"train.nan_policy=ignore"});
  EXPECT_NE(e.find("--set"), std::string::npos) << e;
  EXPECT_NE(e.find("train.nan_policy"), std::string::npos) << e;
}

TEST_F(PretrainConfigTest, NonFiniteOptimizerValuesAndOversizedBatchesAreRefused) {
  // eps = inf once trained 500 steps to loss 8.32 and exited 0.
  for (std::string key :
       {"optim.lr", "optim.eps", "optim.weight_decay", "optim.clip", "train.spike_sigma"}) {
    const size_t dot = key.find('.');
    const auto path =
        WriteToml(dir_, "[" + key.substr(0, dot) + "]\n" + key.substr(dot + 1) + " = inf\n");
    const std::string e = PretrainConfigError(path);
    EXPECT_NE(e.find(path + ":2: key '" + key + "' = inf is invalid: expected a finite number"),
              std::string::npos)
        << e;
  }
  std::string e = PretrainConfigError("", {"train.batch_size=1000000"});
  EXPECT_NE(e.find("key 'train.batch_size' = 1000000 is invalid: expected a value in [1, 65536]"),
            std::string::npos)
      << e;
  e = PretrainConfigError("", {"train.seq_len=2000000"});
  EXPECT_NE(e.find("key 'train.seq_len' = 2000000 is invalid"), std::string::npos) << e;
}

TEST_F(PretrainConfigTest, ADirectoryOrEmptyFileIsNotAConfig) {
  EXPECT_EQ(PretrainConfigError(dir_.string()),
            dir_.string() + ": is a directory, expected a TOML file");
  const auto empty = WriteToml(dir_, "");
  EXPECT_EQ(PretrainConfigError(empty), empty + ": is empty, expected a TOML file");
}

TEST_F(PretrainConfigTest, ResumeProblemAllowsOnlyLoggingChanges) {
  PretrainConfig a;
  PretrainConfig b = a;
  b.train.log_every = 99;
  b.train.eval_every = 5;
  b.train.checkpoint_every.value = 1000;
  EXPECT_EQ(ResumeProblem(a, b), "");
  b.model.n_layers = 4;
  EXPECT_NE(ResumeProblem(a, b).find("model shape changed"), std::string::npos);
  b = a;
  b.train.budget.value = 3000000;
  EXPECT_NE(ResumeProblem(a, b).find("train.budget"), std::string::npos);
}

}  // namespace
}  // namespace ot
