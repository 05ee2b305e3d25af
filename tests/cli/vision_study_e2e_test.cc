// `overtrain vision-study` end to end through the real binary, on synthetic band images written as
// the fetched mnist and fashion-mnist idx files of a hand-made cache: both objectives, two seeds,
// a two-budget ladder. The study writes the text study's result files with budgets in images and
// the report's answer sentence; its results are the same bits at one job or two (every unit runs
// on one thread from keyed seeds); a second run finds every unit done, and
// another fine-tuning grid reuses the checkpoints; a bad ladder is refused in
// one sentence naming the key.
#include <gtest/gtest.h>

#include <tuple>

#include "common/run_binary.h"
#include "common/test_util.h"
#include "common/vision_synth.h"
#include "core/fileio.h"
#include "data/fetch.h"

namespace ot {
namespace {

namespace fs = std::filesystem;
using namespace ot::testing;

// The two vision sources as a fetch would leave them: the kept idx folder and a DONE.json.
void PutSyntheticSources(const fs::path& cache) {
  for (const std::string source : {"fashion-mnist", "mnist"}) {
    const fs::path dir = cache / "data" / source;
    fs::create_directories(dir);
    WriteFileAtomic(dir / "DONE.json", R"({"files": {}})");
    const fs::path idx = dir / data::FindSource(source).keep.at(0);
    const bool columns = source == "mnist";
    PutIdxSplit(idx, "train", SynthBands(source + " train", 320, 28, 10, columns, 1));
    PutIdxSplit(idx, "t10k", SynthBands(source + " test", 128, 28, 10, columns, 2));
  }
}

constexpr const char* kVisionToml = R"([study]
name = "e2e"
seeds = [1, 2]
[data]
eval_images = 128
probe_images = 160
[pretrain]
objectives = ["supervised", "siglip"]
budgets = [320, 640]
batch = 32
[perturb]
gammas = [0.5, 2.0]
draws = 2
[finetune]
lrs = [1e-3, 3e-3]
seeds = [1]
images = 320
batch = 32
)";

std::string ResultsOf(const fs::path& root) {
  std::string all;
  for (const char* arm : {"arm-supervised", "arm-siglip"})
    for (const char* f : {"pretrain.jsonl", "perturb.jsonl", "finetune.jsonl", "study.json"})
      all += ReadFile(root / arm / "results" / f);
  return all;
}

TEST(VisionStudyE2E, WritesImageBudgetsAndTheAnswerTheSameAtAnyJobCountAndResumes) {
  ASSERT_FALSE(EnvVar("OVERTRAIN_BIN").empty()) << "run through ctest (OVERTRAIN_BIN is set there)";
  const fs::path root = TempDir("vision_study_e2e");
  PutSyntheticSources(root / "cache");
  const fs::path config = root / "vision.toml";
  WriteFileAtomic(config, kVisionToml);
  auto run = [&](const std::string& out, const std::string& jobs) {
    return RunOvertrain(
        {"vision-study", "--config", config.string(), "--out", (root / out).string(), "--jobs",
         jobs, "--set", "data.cache=" + (root / "cache").string()},
        root / (out + ".log"));
  };
  auto [rc, log] = run("one", "1");
  ASSERT_EQ(rc, 0) << log;
  const std::string study = ReadFile(root / "one" / "arm-siglip" / "results" / "study.json");
  EXPECT_NE(study.find("\"unit\": \"images\""), std::string::npos) << study;
  auto lines = [&](const char* arm, const char* file) {
    const std::string text = ReadFile(root / "one" / arm / "results" / file);
    return std::count(text.begin(), text.end(), '\n');
  };
  for (const char* arm : {"arm-supervised", "arm-siglip"}) {
    EXPECT_EQ(lines(arm, "pretrain.jsonl"), 2 * 2);          // seeds × budgets
    EXPECT_EQ(lines(arm, "perturb.jsonl"), 2 * 2 * 2 * 2);   // × γ × draws
    EXPECT_EQ(lines(arm, "finetune.jsonl"), 2 * 2 * 2 * 1);  // × lrs × fine-tuning seeds
    const std::string report = ReadFile(root / "one" / arm / "report" / "report.md");
    EXPECT_NE(report.find("Does longer pre-training make this ViT harder to fine-tune? **"),
              std::string::npos);
    EXPECT_NE(report.find("320–640 images, 1–2 epochs"), std::string::npos);
    EXPECT_NE(report.find("data repeated: 640 images is 2 epochs"), std::string::npos);
    EXPECT_EQ(report.find("| C7 |"), std::string::npos);  // text-only claims are not listed
  }
  EXPECT_TRUE(fs::exists(root / "one" / "report" / "report.md"));  // the arms' comparison

  std::tie(rc, log) = run("two", "2");
  ASSERT_EQ(rc, 0) << log;
  EXPECT_EQ(ResultsOf(root / "one"), ResultsOf(root / "two"));

  std::tie(rc, log) = run("two", "2");  // everything is done: nothing reruns
  ASSERT_EQ(rc, 0) << log;
  EXPECT_NE(log.find("pre-training: 0 runs (8 already done)"), std::string::npos) << log;
  EXPECT_NE(log.find("measuring: 0 checkpoints"), std::string::npos) << log;
  EXPECT_EQ(ResultsOf(root / "one"), ResultsOf(root / "two"));

  // Another fine-tuning grid reuses every checkpoint and measures each again; the results hold
  // only the new grid's rows.
  std::tie(rc, log) = RunOvertrain(
      {"vision-study", "--config", config.string(), "--out", (root / "two").string(), "--set",
       "data.cache=" + (root / "cache").string(), "--set", "finetune.lrs=[2e-3]"},
      root / "lr.log");
  ASSERT_EQ(rc, 0) << log;
  EXPECT_NE(log.find("pre-training: 0 runs (8 already done)"), std::string::npos) << log;
  EXPECT_NE(log.find("measuring: 8 checkpoints"), std::string::npos) << log;
  const std::string ft = ReadFile(root / "two" / "arm-siglip" / "results" / "finetune.jsonl");
  EXPECT_EQ(std::count(ft.begin(), ft.end(), '\n'), 2 * 2);
  EXPECT_EQ(ft.find("\"lr\":0.001"), std::string::npos) << ft;

  std::tie(rc, log) =
      RunOvertrain({"vision-study", "--config", config.string(), "--out", (root / "bad").string(),
                    "--set", "pretrain.budgets=[320, 650]"},
                   root / "bad.log");
  EXPECT_EQ(rc, 1);
  EXPECT_NE(log.find("pretrain.budgets: 650 images is not a whole number of batches of 32"),
            std::string::npos)
      << log;
  EXPECT_FALSE(fs::exists(root / "bad"));
  // Sources not fetched: the fix, in one sentence, before anything is written.
  std::tie(rc, log) =
      RunOvertrain({"vision-study", "--config", config.string(), "--out",
                    (root / "nodata").string(), "--set", "data.cache=" + (root / "empty").string()},
                   root / "nodata.log");
  EXPECT_EQ(rc, 1);
  EXPECT_NE(log.find("source 'fashion-mnist' is not in the cache (or incomplete); run `overtrain "
                     "data fetch --source fashion-mnist"),
            std::string::npos)
      << log;
  EXPECT_FALSE(fs::exists(root / "nodata"));
  fs::remove_all(root);
}

}  // namespace
}  // namespace ot
