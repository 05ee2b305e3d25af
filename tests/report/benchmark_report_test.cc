// The paper's Figure 1 in the report (results/benchmarks.jsonl): on the synthetic study
// (synthetic_study.h) with benchmark rows of known shapes, C9 is reproduced where the fine-tuned
// accuracy peaks and falls while the base model's rises, flagged "at chance" where every curve sits
// within 2 s.e. of chance, and not tested without standard errors; the panels, the table and the
// combined error bars (binomial ⊕ seeds) are written.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "common/test_util.h"
#include "core/result_rows.h"
#include "report/report.h"
#include "report/synthetic_study.h"

namespace ot {
namespace {

namespace fs = std::filesystem;

std::string ReadText(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string ClaimLine(const ReportOutput& out, const std::string& id) {
  for (const auto& line : out.claims)
    if (line.rfind(id + " ", 0) == 0) return line;
  return "";
}

// Benchmark rows for budgets 1M..32M (u = 0..5): base accuracy base(u), fine-tuned ft(u) at both
// LRs of the synthetic study and ft_seeds seeds (±0.005 between seeds), binomial stderr `se` (none
// when se <= 0), chance 0.25.
template <typename Base, typename Ft>
void WriteBenchmarks(const fs::path& study, Base base, Ft ft, double se, int ft_seeds = 2) {
  std::ofstream f(study / "results" / "benchmarks.jsonl");
  auto row = [&](int u, const char* model, double lr, int64_t ft_seed, double acc) {
    const int64_t tokens = int64_t(1000000) << u;
    const std::optional<double> s = se > 0 ? std::optional<double>(se) : std::nullopt;
    f << ToJson(BenchmarkRow{.tokens = tokens,
                             .epochs = double(tokens) / 8e6,
                             .seed = 1,
                             .model = model,
                             .task = lr > 0 ? "sst" : "",
                             .lr = lr,
                             .ft_seed = ft_seed,
                             .benchmark = "arc_easy",
                             .samples = 2000,
                             .acc = acc,
                             .acc_stderr = s,
                             .acc_norm = acc,
                             .acc_norm_stderr = s,
                             .chance_acc = 0.25})
             .dump()
      << "\n";
  };
  for (int u = 0; u < 6; ++u) {
    row(u, "base", 0, 0, base(u));
    for (double lr : {1e-4, 1e-3})
      for (int s = 0; s < ft_seeds; ++s)
        row(u, "finetuned", lr, s, ft(u) + (s % 2 ? 0.005 : -0.005));
  }
}

fs::path BenchStudy(const std::string& name) {
  const fs::path study = ot::testing::TempDir("bench_report_" + name);
  ot::testing::WriteSyntheticStudy(study, {.perturb = false, .theory = false});
  return study;
}

TEST(BenchmarkReport, FallAfterFineTuningWhileTheBaseRisesIsReproduced) {
  const fs::path study = BenchStudy("fall");
  WriteBenchmarks(
      study, [](int u) { return 0.40 + 0.05 * u; },
      [](int u) { return 0.60 - 0.03 * (u - 2) * (u - 2); }, 0.01);
  const ReportOutput out = WriteReport(study);
  const std::string c9 = ClaimLine(out, "C9");
  EXPECT_EQ(c9.rfind("C9 reproduced: After fine-tuning, benchmark accuracy falls", 0), 0u) << c9;
  const std::string md = ReadText(study / "report" / "report.md");
  EXPECT_NE(md.find("arc_easy acc (sst, tuned LR): fine-tuned peaks at 4M, then falls, base rises"),
            std::string::npos)
      << md;
  EXPECT_EQ(md.find("at chance: not informative"), std::string::npos) << md;
  EXPECT_NE(std::find(out.figures.begin(), out.figures.end(), "fig1_benchmark_arc_easy"),
            out.figures.end());
  // The error bar of a fine-tuned point: binomial 0.01 combined with the seeds' s.e. 0.005.
  const std::string csv = ReadText(study / "report" / "tables" / "benchmarks.csv");
  EXPECT_NE(csv.find("arc_easy,acc,finetuned,sst,0.001,4000000,0.5,4,2,0.6,0.01118034"),
            std::string::npos)
      << csv;
  fs::remove_all(study);
}

TEST(BenchmarkReport, CurvesWithinTwoStandardErrorsOfChanceAreFlaggedNotRead) {
  const fs::path study = BenchStudy("chance");
  WriteBenchmarks(
      study, [](int u) { return 0.25 + (u % 2 ? 0.01 : -0.01); },
      [](int u) { return u == 3 ? 0.27 : 0.24; }, 0.02);
  const ReportOutput out = WriteReport(study);
  const std::string c9 = ClaimLine(out, "C9");
  EXPECT_EQ(c9.rfind("C9 not at this scale:", 0), 0u) << c9;
  const std::string md = ReadText(study / "report" / "report.md");
  EXPECT_NE(md.find("**not at this scale** | at chance: not informative at this scale (every curve "
                    "within 2 s.e. of chance)"),
            std::string::npos)
      << md;
  EXPECT_NE(md.find("arc_easy acc: at chance: not informative at this scale (within 2 s.e. of "
                    "chance 0.250 at every budget) for base, sst lr 0.0001, sst lr 0.001"),
            std::string::npos)
      << md;
  fs::remove_all(study);
}

TEST(BenchmarkReport, WithoutStandardErrorsC9IsNotTestedAndWithoutRowsNotMeasured) {
  const fs::path study = BenchStudy("untested");
  WriteBenchmarks(
      study, [](int u) { return 0.40 + 0.05 * u; }, [](int u) { return 0.6 - 0.01 * u; }, 0, 1);
  EXPECT_EQ(ClaimLine(WriteReport(study), "C9").rfind("C9 not tested:", 0), 0u);
  fs::remove(study / "results" / "benchmarks.jsonl");
  const ReportOutput out = WriteReport(study);
  EXPECT_EQ(ClaimLine(out, "C9").rfind("C9 not measured:", 0), 0u);
  EXPECT_EQ(out.omitted, (std::vector<std::string>{"perturb.jsonl", "theory.jsonl"}))
      << "benchmarks are optional";
  fs::remove_all(study);
}

TEST(BenchmarkReport, ARowNamesAModelThatIsNeitherBaseNorFineTuned) {
  nlohmann::json j = ToJson(BenchmarkRow{.tokens = 1, .model = "base", .benchmark = "b"});
  EXPECT_EQ(BenchmarkRowFromJson(j, "b.jsonl:1").model, "base");
  j["model"] = "tuned";
  EXPECT_EQ(ot::testing::ErrorOf([&] { BenchmarkRowFromJson(j, "b.jsonl:1"); }),
            "b.jsonl:1: key 'model' expected \"base\" or \"finetuned\", got \"tuned\"");
}

}  // namespace
}  // namespace ot
