// Study arms: [arms.<name>] override tables load, print and reload; bad arms are refused naming the
// arm and key; each arm gets its own ladder of runs with the arm's stage configs; every optimizer
// knob of the stage reaches its runs (declared once, assigned whole).
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "analysis/finetune.h"
#include "common/test_util.h"
#include "study/planner.h"
#include "study/study_config.h"
#include "train/pretrain_config.h"

namespace ot {
namespace {
namespace fs = std::filesystem;

const char* kArms = R"(
[study]
arms = ["adamw", "sgd", "sam"]
[pretrain]
ladder = ["100K", "200K"]
[arms.sgd]
pretrain.kind = "sgd"
pretrain.lr = 0.1
pretrain.momentum = 0.9
[arms.sam]
pretrain.sam_rho = 0.05
finetune.eps = 1e-6
)";

std::string LoadError(const std::string& text, const std::vector<std::string>& sets = {}) {
  return testing::ErrorOf(
      [&] { LoadStudyConfig(testing::WriteTempToml("arms", text).string(), sets); });
}

TEST(StudyArms, LoadPrintAndReloadToTheSameConfig) {
  const StudyConfig c = LoadStudyConfig(testing::WriteTempToml("arms", kArms).string(), {});
  ASSERT_EQ(c.study.arms.size(), 3u);
  ASSERT_EQ(c.arm_sets.at("sgd").size(), 3u);
  // Typed values, printed by the TOML printer (a literal string: no escaping can go wrong).
  EXPECT_EQ(c.arm_sets.at("sgd")[0],
            (std::pair<std::string, std::string>{"pretrain.kind", "'sgd'"}));
  const std::string printed = PrintConfig(StudySchema(), c);
  EXPECT_NE(printed.find("[arms.sgd]\npretrain.kind = 'sgd'\npretrain.lr = 0.1\n"),
            std::string::npos)
      << printed;
  const StudyConfig again = LoadStudyConfig(testing::WriteTempToml("arms", printed).string(), {});
  EXPECT_EQ(PrintConfig(StudySchema(), again), printed);
  // --set reaches arm tables too, typed like any value.
  const StudyConfig set =
      LoadStudyConfig(testing::WriteTempToml("arms", kArms).string(), {"arms.sgd.pretrain.lr=0.2"});
  EXPECT_EQ(ConfigForArm(set, "sgd").pretrain.optim.lr, 0.2);
}

TEST(StudyArms, EachArmAppliesItsOverridesToTheStudy) {
  const StudyConfig c = LoadStudyConfig(testing::WriteTempToml("arms", kArms).string(), {});
  const auto variants = StudyVariants(c);
  ASSERT_EQ(variants.size(), 3u);
  EXPECT_EQ(variants[0].tag, "arm-adamw/");
  EXPECT_EQ(variants[0].config.pretrain.optim.kind, "adamw");
  EXPECT_EQ(variants[1].config.pretrain.optim.kind, "sgd");
  EXPECT_EQ(variants[1].config.pretrain.optim.lr, 0.1);
  EXPECT_EQ(variants[2].config.pretrain.optim.sam_rho, 0.05);
  EXPECT_EQ(variants[2].config.finetune.optim.eps, 1e-6);
  EXPECT_TRUE(variants[2].config.study.arms.empty());
}

TEST(StudyArms, PlanHasOneLadderPerArmWithTheArmsStageConfigs) {
  StudyConfig c = LoadStudyConfig(testing::WriteTempToml("arms", kArms).string(),
                                  {"theory.config=\"\"", "finetune.seeds=[1]",
                                   "finetune.lrs=[0.001]", "finetune.tasks=[\"code\"]"});
  const StudyPlan sp = BuildStudyPlan(c, fs::temp_directory_path() / "ot_arms_plan");
  ASSERT_EQ(sp.checkpoints.size(), 6u);  // 3 arms x 2 budgets
  int sgd_runs = 0, sam_ft = 0;
  for (const auto& run : sp.plan.runs()) {
    if (run.stage == "pretrain" && run.name.rfind("pretrain/arm-sgd/", 0) == 0) {
      const PretrainConfig p =
          LoadPretrainConfig(testing::WriteTempToml("arms", run.config_toml).string(), {});
      EXPECT_EQ(p.optim.kind, "sgd");
      EXPECT_EQ(p.optim.lr, 0.1);
      ++sgd_runs;
    }
    if (run.stage == "finetune" && run.name.find("arm-sam/") != std::string::npos) {
      const FinetuneConfig f = LoadConfig(
          FinetuneSchema(), testing::WriteTempToml("arms", run.config_toml).string(), {});
      EXPECT_EQ(f.ft.optim.eps, 1e-6);  // a knob no study could reach before one declaration
      EXPECT_EQ(f.ft.optim.lr, 0.001);  // the grid's
      ++sam_ft;
    }
  }
  EXPECT_EQ(sgd_runs, 2);
  EXPECT_EQ(sam_ft, 2);
  EXPECT_EQ(PlanForVariant(sp, "arm-sam/").checkpoints.size(), 2u);
}

TEST(StudyArms, BadArmsAreRefusedNamingTheArmAndKey) {
  const std::string base = "[study]\narms = [\"a\", \"b\"]\n[pretrain]\nladder = [\"100K\"]\n";
  EXPECT_NE(LoadError(base + "[arms.a]\npretrain.lr = 0.1\n[arms.b]\npretrain.lr = 0.1\n")
                .find("arms 'a' and 'b' have identical overrides"),
            std::string::npos);
  EXPECT_NE(LoadError(base).find("identical overrides"), std::string::npos);  // two baselines
  EXPECT_NE(LoadError("[study]\narms = [\"a\", \"a\"]\n").find("arm 'a' is listed twice"),
            std::string::npos);
  EXPECT_NE(LoadError(base + "[arms.c]\npretrain.lr = 0.1\n").find("'c' is not in study.arms"),
            std::string::npos);
  // Errors in an arm's own keys name the arm's own line (line 6 is its first key), not `arms =`.
  const std::string unknown = LoadError(base + "[arms.a]\npretrain.lrr = 0.1\n");
  EXPECT_NE(unknown.find(".toml:6: [arms.a]: unknown key 'pretrain.lrr'"), std::string::npos)
      << unknown;
  const std::string invalid =
      LoadError(base + "[arms.a]\npretrain.lr = 0.1\npretrain.batch_size = 0\n");
  EXPECT_NE(invalid.find(".toml:7: [arms.a]: key 'pretrain.batch_size' = 0 is invalid"),
            std::string::npos)
      << invalid;
  EXPECT_EQ(invalid.find("--set"), std::string::npos) << invalid;
  EXPECT_EQ(invalid.find("default:"), std::string::npos) << invalid;
  const std::string typed = LoadError(base + "[arms.a]\npretrain.lr = \"fast\"\n");
  EXPECT_NE(typed.find(".toml:6: [arms.a]: key 'pretrain.lr'"), std::string::npos) << typed;
  // An arm set from the command line says so.
  const std::string from_set =
      LoadError(base + "[arms.a]\npretrain.lr = 0.1\n", {"arms.b.pretrain.batch_size=0"});
  EXPECT_NE(from_set.find("--set: [arms.b]: key 'pretrain.batch_size' = 0 is invalid"),
            std::string::npos)
      << from_set;
  EXPECT_NE(LoadError(base + "[arms.a]\ndata.config = \"x\"\n").find("cannot vary per arm"),
            std::string::npos);
  // Issue 19 defect 6: a series in an arm passed --dry-run, then every run of the arm failed.
  const std::string series =
      LoadError(base + "[arms.a]\ncheckpoints.series = [{dir = \"ck\", tokens = \"1M\"}]\n");
  EXPECT_NE(series.find("arm 'a': key 'checkpoints.series' cannot vary per arm"), std::string::npos)
      << series;
  EXPECT_NE(LoadError(base + "[arms.a]\npretrain.rho = 0.1\n").find("unknown key 'pretrain.rho'"),
            std::string::npos);
}

TEST(OptimKnobs, AKnobOfAnotherOptimizerIsRefusedNamingTheKey) {
  const std::string e = LoadError("[pretrain]\nmomentum = 0.5\n");
  EXPECT_NE(e.find("pretrain.momentum is set but applies to pretrain.kind = sgd only, and "
                   "pretrain.kind is 'adamw'"),
            std::string::npos)
      << e;
  EXPECT_NE(LoadError("[pretrain]\nsam_adaptive = true\n").find("SAM is off"), std::string::npos);
  EXPECT_NE(
      LoadError("[pretrain]\nkind = \"adam\"\n").find("expected one of: adamw, sgd, lion, muon"),
      std::string::npos);
  EXPECT_EQ(LoadError("[pretrain]\nkind = \"sgd\"\nmomentum = 0.5\nnesterov = true\n"), "");
}

}  // namespace
}  // namespace ot
