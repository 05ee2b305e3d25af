// eval.task_files / eval.rolling_files in a study (the paper's Figure 1): every base evaluation and
// every fine-tuning run scores the same benchmark files (absolute paths, eval.task_limit), the
// perturbation probe does not, a missing file stops the planning, and the cost is counted;
// eval.log_samples follows the files.
#include <gtest/gtest.h>

#include <filesystem>

#include "common/test_util.h"
#include "core/fileio.h"
#include "study/planner.h"
#include "study/study_config.h"

namespace ot {
namespace {

namespace fs = std::filesystem;

TEST(BenchmarkPlan, BaseAndFineTunedModelsScoreTheSameFilesAndTheCostIsCounted) {
  const fs::path root = ot::testing::TempDir("bench_plan");
  std::string docs;
  for (int i = 0; i < 5; ++i)  // choices: 2, 3, 2, 3, 2
    docs += "{\"context\": \"q" + std::to_string(i) + "\", \"choices\": [\"a\", \"b\"" +
            (i % 2 ? ", \"c\"" : "") + "], \"gold\": 0}\n";
  WriteFileAtomic(root / "mini_arc.jsonl", docs);
  WriteFileAtomic(root / "wiki.txt", "twelve bytes");
  StudyConfig c;
  c.theory.config = "";
  c.pretrain.ladder = {Size{100000}, Size{200000}};
  c.pretrain.seq_len = 32;
  c.finetune.tasks = {"sentiment"};
  c.finetune.lrs = {1e-3, 1e-2};
  c.finetune.seeds = {1, 2};
  c.eval.task_files = {(root / "mini_arc.jsonl").string()};
  c.eval.rolling_files = {(root / "wiki.txt").string()};
  c.eval.task_limit = 3;
  const StudyPlan sp = BuildStudyPlan(c, root / "study");
  EXPECT_EQ(sp.benchmarks.files, 2);
  EXPECT_EQ(sp.benchmarks.documents, 3 + 1);
  // 2 + 3 + 2 requests of one window each, and the rolling document's 12 bytes plus a window.
  EXPECT_DOUBLE_EQ(sp.benchmarks.tokens_per_eval, 7.0 * 32 + 12 + 32);
  EXPECT_EQ(sp.benchmarks.evaluations, 2 * (1 + 2 * 2));  // per checkpoint: base + lrs x seeds
  int evals = 0, finetunes = 0;
  const std::string file = fs::absolute(root / "mini_arc.jsonl").string();
  for (const ot::Run& run : sp.plan.runs()) {
    const bool scores = run.config_toml.find(file) != std::string::npos;
    if (run.stage == "eval" || run.stage == "finetune") {
      EXPECT_TRUE(scores) << run.name << "\n" << run.config_toml;
      EXPECT_NE(run.config_toml.find("task_limit = 3"), std::string::npos) << run.name;
      (run.stage == "eval" ? evals : finetunes) += 1;
    } else {
      EXPECT_FALSE(scores) << run.name << " should not score the benchmarks";
    }
  }
  EXPECT_EQ(evals, 2);
  EXPECT_EQ(finetunes, 8);

  // eval.log_samples reaches the runs that score the files, and only those.
  c.eval.log_samples = true;
  for (const ot::Run& run : BuildStudyPlan(c, root / "study").plan.runs()) {
    const bool logs = run.config_toml.find("log_samples = true") != std::string::npos;
    EXPECT_EQ(logs, run.stage == "eval" || run.stage == "finetune") << run.name;
  }
  StudyConfig none = c;
  none.eval.task_files.clear();
  none.eval.rolling_files.clear();
  EXPECT_EQ(ot::testing::ErrorOf([&] { ValidateConfig(StudySchema(), none, {}); }),
            "default: keys 'eval.log_samples', 'eval.task_files', 'eval.rolling_files': "
            "eval.log_samples = true expects task or rolling files to log the samples of");
  c.eval.log_samples = false;

  c.eval.task_files.push_back((root / "missing.jsonl").string());
  const std::string m = ot::testing::ErrorOf([&] { BuildStudyPlan(c, root / "study"); });
  EXPECT_NE(m.find((root / "missing.jsonl").string()), std::string::npos) << m;
  fs::remove_all(root);
}

}  // namespace
}  // namespace ot
