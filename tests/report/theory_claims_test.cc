// Claims C7 and C8 from theory rows (report/theory_claims.h): curve labels (flat, convergence edge,
// U), the per-λ medians over seeds and the verdicts, and the seed / l2sp keys of theory.jsonl.
#include "report/theory_claims.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "report/synthetic_study.h"

namespace ot {
namespace {

const std::vector<int64_t> kSteps{100, 200, 400, 800, 1600, 3200};

// A nearly flat curve: its argmin (step 400) is decided by a 0.5% dip, the whole curve spans 2.5%.
TEST(TheoryClaims, FlatCurveArgminIsNotMeaningful) {
  const std::vector<double> flat{1.000, 0.990, 0.985, 0.988, 0.995, 1.010};
  const TheoryCurveShape c = AnalyzeTheoryCurve(kSteps, flat);
  EXPECT_EQ(c.argmin_step, 400);
  EXPECT_NEAR(c.spread, 0.025 / 0.985, 1e-12);
  EXPECT_TRUE(c.flat);
  EXPECT_FALSE(c.IsU());
  EXPECT_EQ(c.Label(), "flat: argmin not meaningful");
  // The same shape with a 20% spread is a U.
  const std::vector<double> u{1.2, 1.1, 1.0, 1.05, 1.1, 1.2};
  EXPECT_EQ(AnalyzeTheoryCurve(kSteps, u).Label(), "U");
  EXPECT_DOUBLE_EQ(AnalyzeTheoryCurve(kSteps, u).depth, 0.2);
}

TEST(TheoryClaims, MinimumWhereTheBaseHasConvergedIsFlagged) {
  const std::vector<double> down{2.0, 1.5, 1.2, 1.0, 0.9, 0.85};
  EXPECT_EQ(AnalyzeTheoryCurve(kSteps, down, {}, 1600).Label(),
            "minimum at the pre-training convergence edge");
  EXPECT_EQ(AnalyzeTheoryCurve(kSteps, down).Label(), "still falling at the last checkpoint");
  // Interior minimum inside the converged tail (from step 1600) with a 2% rise after it: the curve
  // stopped there, still the edge; with a 20% rise it turned, a U.
  const std::vector<double> late{2.0, 1.5, 1.2, 1.0, 0.9, 0.92},
      turn{2.0, 1.5, 1.2, 1.0, 0.9, 1.08};
  EXPECT_TRUE(AnalyzeTheoryCurve(kSteps, late, {}, 1600).at_edge);
  EXPECT_FALSE(AnalyzeTheoryCurve(kSteps, late, {}, 3200).at_edge);
  EXPECT_EQ(AnalyzeTheoryCurve(kSteps, turn, {}, 1600).Label(), "U");
  // Not converged, but the curve only levels off after its minimum (2% rise): no inflection.
  const TheoryCurveShape level = AnalyzeTheoryCurve(kSteps, late);
  EXPECT_EQ(level.Label(), "plateau after the minimum (rise < 5%)");
  EXPECT_FALSE(level.IsU());
  // Standard errors: a rise within 2 combined s.e. is not significant.
  const std::vector<double> u{1.2, 1.1, 1.0, 1.05, 1.1, 1.2}, se(6, 0.08), small(6, 0.01);
  EXPECT_FALSE(AnalyzeTheoryCurve(kSteps, u, se).significant);
  EXPECT_EQ(AnalyzeTheoryCurve(kSteps, u, se).Label(),
            "plateau after the minimum (rise within 2 s.e.)");
  EXPECT_TRUE(AnalyzeTheoryCurve(kSteps, u, small).significant);
}

// Rows for `seeds` seeds: a base whose second singular value is learned by step 1600 (converged
// from there), and per λ an L_A curve with its minimum at `argmin[λ][seed % 2]` and a 30% U, or
// the flat curve above when `flat` holds; L_B = 0.1 + λ.
std::vector<TheoryRow> Rows(const std::vector<double>& lambdas,
                            const std::vector<std::array<int64_t, 2>>& argmin, int seeds,
                            bool flat_at_zero = false) {
  std::vector<TheoryRow> rows;
  for (int seed = 0; seed < seeds; ++seed)
    for (int64_t step : kSteps) {
      TheoryRow b;
      b.kind = "base", b.seed = seed, b.step = step, b.loss_a = 1.0 / step;
      b.singular_values = {1.0, 0.5 * std::min(1.0, step / 1600.0)};
      rows.push_back(b);
      for (size_t l = 0; l < lambdas.size(); ++l) {
        TheoryRow r;
        r.kind = "l2sp", r.seed = seed, r.step = step, r.lr = 0.05, r.ft_steps = 200;
        r.lambda = lambdas[l];
        const double octaves = std::abs(std::log2(double(step) / argmin[l][seed % 2]));
        r.loss_a = flat_at_zero && l == 0 ? 1.0 + 0.005 * octaves : 1.0 + 0.3 * octaves;
        r.loss_b = 0.1 + lambdas[l];
        rows.push_back(r);
      }
    }
  return rows;
}

TEST(TheoryClaims, DelayedMinimaAcrossSeedsReproduceC8) {
  const TheoryClaims t =
      SummarizeTheory(Rows({0.0, 0.1, 1.0}, {{400, 400}, {400, 800}, {800, 800}}, 5));
  EXPECT_EQ(t.seeds, 5);
  EXPECT_EQ(t.l2sp_source, "l2sp");
  ASSERT_EQ(t.l2sp.size(), 3u);
  EXPECT_DOUBLE_EQ(t.l2sp[0].argmin_median, 400);
  EXPECT_NEAR(t.l2sp[1].argmin_median, 400, 1e-9);  // seeds 0, 2, 4 at 400; 1, 3 at 800
  EXPECT_NEAR(t.l2sp[1].argmin_q3, 800, 1e-9);
  EXPECT_NEAR(t.l2sp[2].argmin_median, 800, 1e-9);
  EXPECT_EQ(t.l2sp[0].u_shaped, 5);
  EXPECT_NEAR(t.l2sp[2].loss_b_median, 1.1, 1e-12);
  EXPECT_EQ(t.c8.verdict, "reproduced") << t.c8.evidence;
  EXPECT_NE(t.c8.evidence.find("λ = 1: argmin T = 800 [800–800]"), std::string::npos)
      << t.c8.evidence;
  EXPECT_NE(t.c8.evidence.find("moves the minimum later in 5 and earlier in 0 of 5"),
            std::string::npos)
      << t.c8.evidence;
  EXPECT_EQ(t.c7.verdict, "not measured");  // no perturbation rows
}

TEST(TheoryClaims, FlatCurvesAtLambdaZeroCannotShowADelay) {
  const TheoryClaims t =
      SummarizeTheory(Rows({0.0, 0.1, 1.0}, {{400, 400}, {400, 800}, {800, 800}}, 5, true));
  EXPECT_EQ(t.l2sp[0].flat, 5);
  EXPECT_EQ(t.l2sp[0].shapes[0].Label(), "flat: argmin not meaningful");
  EXPECT_EQ(t.c8.verdict, "not at this scale") << t.c8.evidence;
  EXPECT_NE(t.c8.evidence.find("5 flat"), std::string::npos) << t.c8.evidence;
}

TEST(TheoryClaims, EarlierMinimaWithLambdaContradictC8) {
  const TheoryClaims t =
      SummarizeTheory(Rows({0.0, 0.1, 1.0}, {{800, 800}, {400, 800}, {200, 200}}, 6));
  EXPECT_EQ(t.c8.verdict, "contradicted") << t.c8.evidence;
  // The same from 4 seeds: too few to judge where a minimum moves.
  const TheoryClaims few =
      SummarizeTheory(Rows({0.0, 0.1, 1.0}, {{800, 800}, {400, 800}, {200, 200}}, 4));
  EXPECT_EQ(few.c8.verdict, "not tested") << few.c8.evidence;
  // One λ only: nothing to compare.
  EXPECT_EQ(SummarizeTheory(Rows({0.0}, {{400, 400}}, 2)).c8.verdict, "not measured");
}

TEST(TheoryClaims, C7FromPerturbationAndFineTuningAcrossSeeds) {
  std::vector<TheoryRow> rows;
  for (int seed = 0; seed < 3; ++seed)
    for (int64_t step : kSteps) {
      TheoryRow b;
      b.kind = "base", b.seed = seed, b.step = step;
      b.singular_values = {1.0, 0.5 * std::min(1.0, step / 1600.0),
                           0.25 * std::min(1.0, step / 3200.0)};
      rows.push_back(b);
      // Larger γ / larger η_ft: minimum one octave earlier.
      for (auto [param, at] : {std::pair{0.1, 400.0}, std::pair{0.05, 800.0}}) {
        TheoryRow p;
        p.kind = "perturb", p.seed = seed, p.step = step, p.gamma = param, p.loss_a_se = 0.01;
        p.loss_a = 1 + 0.3 * std::abs(std::log2(step / at));
        rows.push_back(p);
        TheoryRow f;
        f.kind = "finetune", f.seed = seed, f.step = step, f.lr = param, f.ft_steps = 200;
        f.loss_a = 1 + 0.3 * std::abs(std::log2(step / at));
        rows.push_back(f);
      }
    }
  TheoryClaims t = SummarizeTheory(rows);
  EXPECT_TRUE(t.incremental);
  EXPECT_EQ(t.c7.verdict, "reproduced") << t.c7.evidence;
  EXPECT_NE(t.c7.evidence.find("γ = 0.1: T = 400 [400–400] (3/3 U-shaped)"), std::string::npos)
      << t.c7.evidence;
  // The opposite order (larger γ later) contradicts it.
  for (auto& r : rows)
    if (r.kind == "perturb") r.gamma = r.gamma == 0.1 ? 0.05 : 0.1;
  EXPECT_EQ(SummarizeTheory(rows).c7.verdict, "contradicted");
}

// theory.jsonl: `seed` is read when present and 0 when absent (older files); `l2sp` rows load.
TEST(TheoryClaims, RowsCarrySeedsAndL2spKind) {
  namespace fs = std::filesystem;
  const fs::path study =
      fs::temp_directory_path() / ("ot_theory_claims_" + std::to_string(getpid()));
  fs::remove_all(study);
  testing::WriteSyntheticStudy(
      study, {.pretrain = true, .perturb = false, .finetune = false, .theory = false});
  std::ofstream(study / "results" / "theory.jsonl")
      << R"({"kind": "base", "step": 10, "loss_a": 1, "singular_values": [1]})"
         "\n"
      << R"({"kind": "l2sp", "seed": 3, "step": 10, "lr": 0.05, "lambda": 0.1, "ft_steps": 200, )"
         R"("loss_a": 1, "loss_b": 2, "base_loss": 0.5})"
         "\n";
  const StudyResults r = LoadStudyResults(study / "results");
  ASSERT_TRUE(r.theory && r.theory->size() == 2u);
  EXPECT_EQ((*r.theory)[0].seed, 0);
  EXPECT_EQ((*r.theory)[1].kind, "l2sp");
  EXPECT_EQ((*r.theory)[1].seed, 3);
  EXPECT_EQ((*r.theory)[1].ft_steps, 200);
  EXPECT_DOUBLE_EQ((*r.theory)[1].loss_b, 2);
  fs::remove_all(study);
}

}  // namespace
}  // namespace ot
