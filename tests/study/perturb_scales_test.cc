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

fs::path ScalesToml(const std::string& text) {
  static int n = 0;
  const fs::path p = fs::temp_directory_path() / ("ot_scales_" + std::to_string(getpid()) + "_" +
                                                  std::to_string(n++) + ".toml");
  std::ofstream(p) << text;
  return p;
}

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

bool Lists(const std::vector<std::string>& v, const std::string& x) {
  return std::find(v.begin(), v.end(), x) != v.end();
}

TEST(PerturbScales, EachCheckpointIsPerturbedOncePerScale) {
  const fs::path study = fs::temp_directory_path() / "ot_perturb_scales_plan";
  const StudyPlan two = BuildStudyPlan(
      LoadStudyConfig(ScalesToml(kScales).string(), {"perturb.scales=[\"init\", \"relative\"]"}),
      study);
  ASSERT_FALSE(two.checkpoints.empty());
  for (const auto& ck : two.checkpoints) {
    ASSERT_EQ(ck.perturb_runs.size(), 2u);
    for (const std::string scale : {"init", "relative"}) {
      const std::string name = "perturb/" + ck.eval_run.substr(5) + "/scale-" + scale;
      EXPECT_TRUE(Lists(ck.perturb_runs, name)) << name;
      const ot::Run* run = two.plan.Find(name);
      ASSERT_NE(run, nullptr) << name;
      EXPECT_EQ(LoadConfig(PerturbSchema(), ScalesToml(run->config_toml).string(), {}).scale,
                scale);
    }
  }
  // One scale keeps the run names of a study without scales.
  const StudyPlan one = BuildStudyPlan(LoadStudyConfig(ScalesToml(kScales).string(), {}), study);
  for (const auto& ck : one.checkpoints)
    EXPECT_EQ(ck.perturb_runs, (std::vector<std::string>{"perturb/" + ck.eval_run.substr(5)}));
  const std::string e = testing::ErrorOf([&] {
    LoadStudyConfig(ScalesToml(kScales).string(), {"perturb.scales=[\"init\", \"init-std\"]"});
  });
  EXPECT_NE(e.find("'init-std': expected one of: init, relative"), std::string::npos) << e;
}

}  // namespace
}  // namespace ot
