// study.tune_lr (fair arms) in the plan: each ladder's LR sweep is runs of the plan that its
// pre-training runs depend on and read at run time (also across Slurm waves); the tune-lr stage
// picks the lowest validation loss and writes the override the ladder reads.
#include "study/tune_lr.h"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>

#include "common/test_util.h"
#include "core/fileio.h"
#include "study/execute.h"
#include "study/planner.h"
#include "train/pretrain_config.h"

namespace ot {
namespace {
namespace fs = std::filesystem;

const char* kTuned = R"(
[study]
arms = ["adamw", "sgd"]
seeds = [1, 2]
tune_lr = true
tune_lr_factors = [0.5, 1, 2]
[pretrain]
ladder = ["200K", "100K"]
lr = 3e-3
[finetune]
tasks = ["code"]
lrs = [1e-3]
seeds = [1]
[theory]
config = ""
[arms.sgd]
pretrain.kind = "sgd"
pretrain.lr = 0.1
)";

TEST(TuneLr, EachLadderWaitsForItsSweepAndReadsItsChoice) {
  const fs::path study = fs::temp_directory_path() / "ot_tune_lr_plan";
  const StudyConfig c = LoadStudyConfig(testing::WriteTempToml("tune_lr", kTuned).string(), {});
  const StudyPlan sp = BuildStudyPlan(c, study);
  ASSERT_EQ(sp.lr_sweep_runs.size(), 2u);
  for (const auto& [arm, base_lr] : {std::pair{"adamw", 3e-3}, {"sgd", 0.1}}) {
    const std::string tag = std::string("arm-") + arm + "/";
    SCOPED_TRACE(tag);
    const ot::Run* pick = sp.plan.Find("tune/" + tag + "select");
    ASSERT_NE(pick, nullptr);
    EXPECT_EQ(sp.lr_sweep_runs.at(tag), pick->name);
    EXPECT_EQ(pick->stage, "tune-lr");
    const TuneLrConfig tc = LoadConfig(
        TuneLrSchema(), testing::WriteTempToml("tune_lr", pick->config_toml).string(), {});
    ASSERT_EQ(tc.lrs.size(), 3u);
    EXPECT_EQ(tc.arm, arm);
    EXPECT_EQ(tc.seed, 1);  // the study's first seed
    ASSERT_EQ(pick->deps.size(), 3u);
    for (size_t i = 0; i < 3; ++i) {
      EXPECT_DOUBLE_EQ(tc.lrs[i], base_lr * tc.factors[i]);
      // The grid point: a pre-training run at the reference budget (the smallest) and its eval.
      const ot::Run* eval = sp.plan.Find(pick->deps[i]);
      ASSERT_NE(eval, nullptr);
      EXPECT_EQ(eval->stage, "eval");
      EXPECT_EQ(tc.evals[i], sp.plan.DirOf(study, *eval).string());
      const ot::Run* train = sp.plan.Find(eval->deps.at(0));
      ASSERT_NE(train, nullptr);
      EXPECT_EQ(train->name.rfind("tune/" + tag + "lr-", 0), 0u) << train->name;
      const PretrainConfig p =
          LoadPretrainConfig(testing::WriteTempToml("tune_lr", train->config_toml).string(), {});
      EXPECT_DOUBLE_EQ(p.optim.lr, tc.lrs[i]);
      EXPECT_EQ(p.train.budget.value, 100000);
      EXPECT_EQ(p.train.seed, 1);
      EXPECT_EQ(p.train.nan_policy, "skip-step");  // a diverging LR is a result, not a failure
      EXPECT_GT(train->cost_tokens, 0);
    }
    // Every pre-training run of the arm's ladder, at every seed, waits for the sweep and reads
    // the chosen LR from its run directory when it starts.
    const std::string chosen = (sp.plan.DirOf(study, *pick) / kChosenLrFile).string();
    int ladder_runs = 0;
    for (const auto& run : sp.plan.runs()) {
      if (run.stage != "pretrain" || run.name.rfind("pretrain/" + tag, 0) != 0) continue;
      ++ladder_runs;
      EXPECT_TRUE(std::ranges::count(run.deps, pick->name)) << run.name;
      const auto at = std::find(run.argv.begin(), run.argv.end(), "--set-from");
      ASSERT_NE(at, run.argv.end()) << run.name;
      EXPECT_EQ(*(at + 1), chosen);
      EXPECT_EQ(run.argv.front(), "pretrain");
    }
    EXPECT_EQ(ladder_runs, 4);  // 2 seeds x 2 budgets
  }
  EXPECT_EQ(PlanForVariant(sp, "arm-sgd/").lr_sweep_runs.size(), 1u);

  // Without study.tune_lr: no sweep, and the ladder trains at its own LR.
  const StudyPlan plain = BuildStudyPlan(
      LoadStudyConfig(testing::WriteTempToml("tune_lr", kTuned).string(), {"study.tune_lr=false"}),
      study);
  EXPECT_TRUE(plain.lr_sweep_runs.empty());
  for (const auto& run : plain.plan.runs()) {
    EXPECT_NE(run.name.rfind("tune/", 0), 0u) << run.name;
    EXPECT_TRUE(run.argv.empty() || run.stage != "pretrain") << run.name;
  }
}

// Slurm: the waves follow the dependencies, so each arm's sweep trains, is evaluated and chosen in
// waves before any run of its ladder (whose `study --only` then reads the choice).
TEST(TuneLr, SlurmWavesRunTheSweepBeforeTheLadder) {
  const fs::path dir = testing::TempDir("tune_lr_slurm");
  const StudyConfig c = LoadStudyConfig(testing::WriteTempToml("tune_lr", kTuned).string(), {});
  const StudyPlan sp = BuildStudyPlan(c, dir / "s");
  EmitSlurm(sp.plan, dir / "s", "/bin/true", testing::WriteTempToml("tune_lr", kTuned).string(), {},
            1);
  std::map<std::string, int> wave;
  for (int w = 0; fs::exists(dir / "s" / "slurm" / fmt::format("wave-{}.txt", w)); ++w) {
    std::ifstream in(dir / "s" / "slurm" / fmt::format("wave-{}.txt", w));
    for (std::string name; std::getline(in, name);) wave[name] = w;
  }
  for (const char* arm : {"adamw", "sgd"}) {
    const std::string tag = std::string("arm-") + arm + "/";
    ASSERT_TRUE(wave.count("tune/" + tag + "select")) << tag;
    const int select = wave.at("tune/" + tag + "select");
    for (const auto& [name, w] : wave) {
      if (name.rfind("tune/" + tag + "lr-", 0) == 0) EXPECT_LT(w, select) << name;
      if (name.rfind("pretrain/" + tag, 0) == 0) EXPECT_GT(w, select) << name;
    }
  }
  fs::remove_all(dir);
}

TEST(TuneLr, TheReferenceBudgetIsAKey) {
  const StudyConfig c = LoadStudyConfig(testing::WriteTempToml("tune_lr", kTuned).string(),
                                        {"study.tune_lr_budget=\"200K\""});
  EXPECT_EQ(TuneLrBudget(c), 200000);
  const StudyPlan sp = BuildStudyPlan(c, fs::temp_directory_path() / "ot_tune_lr_budget");
  const ot::Run* train = sp.plan.Find("tune/arm-adamw/lr-0.003");
  ASSERT_NE(train, nullptr);
  EXPECT_EQ(LoadPretrainConfig(testing::WriteTempToml("tune_lr", train->config_toml).string(), {})
                .train.budget.value,
            200000);
}

TEST(TuneLr, BadSweepsAreRefusedNamingTheKey) {
  auto error = [](const std::vector<std::string>& sets) {
    return testing::ErrorOf(
        [&] { LoadStudyConfig(testing::WriteTempToml("tune_lr", kTuned).string(), sets); });
  };
  EXPECT_NE(error({"study.tune_lr_factors=[1]"}).find("at least 2 factors"), std::string::npos);
  EXPECT_NE(error({"study.tune_lr_factors=[1, 2, 1]"}).find("factor 1 is listed twice"),
            std::string::npos);
  EXPECT_NE(error({"study.tune_lr_factors=[0, 1]"}).find("study.tune_lr_factors"),
            std::string::npos);
  EXPECT_NE(error({"arms.sgd.study.tune_lr=false"}).find("cannot vary per arm"), std::string::npos);
}

TEST(TuneLr, ChoosesTheLowestFiniteLossTiesToTheSmallerLr) {
  std::vector<LrSweepRow> rows = {{.lr = 1e-3, .val_loss = 3.0},
                                  {.lr = 3e-3, .val_loss = 2.5},
                                  {.lr = 1e-2, .val_loss = std::nullopt},  // diverged
                                  {.lr = 2e-3, .val_loss = 2.5}};
  rows = ChooseLr(rows);
  EXPECT_FALSE(rows[0].chosen);
  EXPECT_FALSE(rows[1].chosen);
  EXPECT_FALSE(rows[2].chosen);
  EXPECT_TRUE(rows[3].chosen);  // ties with 3e-3: the smaller lr
  const std::string e = testing::ErrorOf([] {
    ChooseLr({{.lr = 1e-3, .val_loss = std::nullopt}, {.lr = 2e-3}});
  });
  EXPECT_NE(e.find("no learning rate of the sweep (0.001, 0.002) reached a finite validation"),
            std::string::npos)
      << e;
}

// The stage on hand-written eval.json files: the rows, and the override a ladder run applies.
TEST(TuneLr, StageWritesTheRowsAndTheOverrideTheLadderApplies) {
  const fs::path dir = testing::TempDir("tune_lr_stage");
  TuneLrConfig tc{.arm = "sgd", .seed = 7, .lrs = {0.05, 0.1, 0.2}, .factors = {0.5, 1, 2}};
  const double losses[] = {3.1, 2.9, NAN};
  for (int i = 0; i < 3; ++i) {
    const fs::path e = dir / ("eval" + std::to_string(i));
    fs::create_directories(e);
    nlohmann::json j = {{"checkpoint", {{"tokens", 102400}, {"epochs", 0.01}}},
                        {"results", {{"general", {{"loss_stderr", 0.02}}}}}};
    j["results"]["general"]["loss"] =
        std::isnan(losses[i]) ? nlohmann::json(nullptr) : nlohmann::json(losses[i]);
    std::ofstream(e / "eval.json") << j.dump();
    tc.evals.push_back(e.string());
  }
  ASSERT_EQ(RunTuneLrStage(tc, dir / "out"), 0);
  std::ifstream in(dir / "out" / kLrSweepFile);
  std::vector<LrSweepRow> rows;
  for (std::string line; std::getline(in, line);)
    rows.push_back(LrSweepRowFromJson(nlohmann::json::parse(line), "lr_sweep.jsonl"));
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[1].arm, "sgd");
  EXPECT_EQ(rows[1].seed, 7);
  EXPECT_EQ(rows[1].tokens, 102400);
  EXPECT_DOUBLE_EQ(*rows[1].val_loss, 2.9);
  EXPECT_DOUBLE_EQ(*rows[1].val_loss_stderr, 0.02);
  EXPECT_TRUE(rows[1].chosen);
  EXPECT_FALSE(rows[2].val_loss.has_value());
  const std::vector<std::string> sets = ReadOverrideFile((dir / "out" / kChosenLrFile).string());
  ASSERT_EQ(sets.size(), 1u);
  EXPECT_EQ(sets[0], "optim.lr=0.1");
  EXPECT_DOUBLE_EQ(LoadPretrainConfig("", sets).optim.lr, 0.1);

  fs::remove(dir / "eval1" / "eval.json");
  const std::string e = testing::ErrorOf([&] { RunTuneLrStage(tc, dir / "out2"); });
  EXPECT_NE(e.find((dir / "eval1" / "eval.json").string()), std::string::npos) << e;
}

}  // namespace
}  // namespace ot
