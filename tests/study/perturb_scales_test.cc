// perturb.scales in the plan: each checkpoint is perturbed once per noise scale, each run with its
// scale; one scale keeps the run names of a study without scales.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "analysis/perturb_stage.h"
#include "common/test_util.h"
#include "study/planner.h"

namespace ot {
namespace {
namespace fs = std::filesystem;

const char* kScales = R"(
[study]
arms = ["adamw", "sgd"]
seeds = [1, 2]
[pretrain]
ladder = ["200K", "100K"]
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

TEST(PerturbScales, EachCheckpointIsPerturbedOncePerScale) {
  const fs::path study = fs::temp_directory_path() / "ot_perturb_scales_plan";
  const StudyPlan two =
      BuildStudyPlan(LoadStudyConfig(testing::WriteTempToml("scales", kScales).string(),
                                     {"perturb.scales=[\"init\", \"relative\"]"}),
                     study);
  ASSERT_FALSE(two.checkpoints.empty());
  for (const auto& ck : two.checkpoints) {
    ASSERT_EQ(ck.perturb_runs.size(), 2u);
    for (const std::string scale : {"init", "relative"}) {
      const std::string name = "perturb/" + ck.eval_run.substr(5) + "/scale-" + scale;
      EXPECT_TRUE(std::ranges::count(ck.perturb_runs, name)) << name;
      const ot::Run* run = two.plan.Find(name);
      ASSERT_NE(run, nullptr) << name;
      EXPECT_EQ(LoadConfig(PerturbSchema(),
                           testing::WriteTempToml("scales", run->config_toml).string(), {})
                    .scale,
                scale);
    }
  }
  // One scale keeps the run names of a study without scales.
  const StudyPlan one = BuildStudyPlan(
      LoadStudyConfig(testing::WriteTempToml("scales", kScales).string(), {}), study);
  for (const auto& ck : one.checkpoints)
    EXPECT_EQ(ck.perturb_runs, (std::vector<std::string>{"perturb/" + ck.eval_run.substr(5)}));
  const std::string e = testing::ErrorOf([&] {
    LoadStudyConfig(testing::WriteTempToml("scales", kScales).string(),
                    {"perturb.scales=[\"init\", \"init-std\"]"});
  });
  EXPECT_NE(e.find("'init-std': expected one of: init, relative"), std::string::npos) << e;
}

}  // namespace
}  // namespace ot
