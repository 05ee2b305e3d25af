// WriteReport end to end on synthetic result files with known shapes (synthetic_study.h): figures
// exist and are real PNG/SVG, CSV tables have their schema, the verdict says what the data say,
// absent kinds are omitted with a line, malformed rows and a missing gnuplot are errors naming the
// culprit.
#include "report/report.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "core/check.h"
#include "report/results.h"
#include "report/sizes.h"
#include "report/synthetic_study.h"
#include "report/tables.h"

namespace ot {
namespace {

namespace fs = std::filesystem;

fs::path TempStudy(const std::string& name) {
  const fs::path dir =
      fs::temp_directory_path() / ("ot_report_test_" + std::to_string(getpid())) / name;
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

std::string Read(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string FirstLine(const fs::path& p) {
  std::ifstream in(p);
  std::string line;
  std::getline(in, line);
  return line;
}

size_t DataRows(const fs::path& p) {
  std::ifstream in(p);
  std::string line;
  size_t n = 0;
  while (std::getline(in, line)) ++n;
  return n - 1;
}

std::string Joined(const ReportOutput& out) {
  std::string all;
  for (const auto& v : out.verdict) all += v + "\n";
  return all;
}

void ExpectImage(const fs::path& figures, const std::string& stem) {
  const std::string png = Read(figures / (stem + ".png"));
  const std::string svg = Read(figures / (stem + ".svg"));
  ASSERT_GT(png.size(), 1000u) << stem;
  EXPECT_EQ(png.substr(0, 4), "\x89PNG") << stem;
  ASSERT_GT(svg.size(), 1000u) << stem;
  EXPECT_NE(svg.find("<svg"), std::string::npos) << stem;
  EXPECT_TRUE(fs::exists(figures / (stem + ".gp"))) << stem;
  EXPECT_TRUE(fs::exists(figures / (stem + ".dat"))) << stem;
  EXPECT_FALSE(fs::exists(figures / (stem + ".log"))) << stem;
}

class FullReport : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    study_ = new fs::path(TempStudy("full"));
    testing::WriteSyntheticStudy(*study_);
    try {
      out_ = new ReportOutput(WriteReport(*study_));
    } catch (const Error& e) {
      error_ = new std::string(e.what());
    }
  }
  void SetUp() override { ASSERT_NE(out_, nullptr) << "WriteReport failed: " << *error_; }
  static void TearDownTestSuite() {
    fs::remove_all(*study_);
    delete out_;
    delete study_;
    delete error_;
  }
  static fs::path* study_;
  static ReportOutput* out_;
  static std::string* error_;
};
fs::path* FullReport::study_ = nullptr;
ReportOutput* FullReport::out_ = nullptr;
std::string* FullReport::error_ = nullptr;

TEST_F(FullReport, FiguresAreProduced) {
  const fs::path figures = *study_ / "report" / "figures";
  // Each family also gets small multiples (one panel per curve, own y scale) so no curve squashes
  // another.
  const std::vector<std::string> expected = {"fig1_base_vs_modified",
                                             "fig2_perturb",
                                             "fig2b_perturb_per_gamma",
                                             "fig3_finetune_sst",
                                             "fig3b_finetune_ood_sst",
                                             "fig4_tuned_lr",
                                             "fig5_theory"};
  EXPECT_EQ(out_->figures, expected);
  for (const auto& stem : expected) ExpectImage(figures, stem);
  // Token panels carry tokens per parameter on a secondary axis.
  EXPECT_NE(Read(figures / "fig2_perturb.gp").find("set x2label \"tokens per parameter\""),
            std::string::npos);
  // The minimum of γ = 0.1 (8M tokens) is marked with a label in the figure's data.
  EXPECT_NE(Read(figures / "fig2_perturb.dat").find("8000000 3.607"), std::string::npos);
  EXPECT_NE(Read(figures / "fig2_perturb.dat").find("\"min 8M\""), std::string::npos);
}

// index.html as a person reads it: verdicts are badges (no literal Markdown stars), long evidence
// shows its first sentence with the rest folded, and the verdict bullets are folded under one line.
TEST_F(FullReport, ThePageShowsBadgesAndFoldsDetails) {
  const std::string html = Read(*study_ / "report" / "index.html");
  EXPECT_EQ(html.find("**"), std::string::npos);
  EXPECT_NE(html.find("<span class=\"badge ok\">reproduced</span>"), std::string::npos);
  EXPECT_NE(html.find("<td><details><summary>"), std::string::npos);
  const size_t verdict = html.find("<h2>Verdict</h2>");
  ASSERT_NE(verdict, std::string::npos);
  const std::string folded =
      "<h2>Verdict</h2>\n<details><summary>" + std::to_string(out_->verdict.size()) + " findings";
  EXPECT_TRUE(html.substr(verdict).starts_with(folded)) << html.substr(verdict, 80);
  // The Markdown keeps its own bold (it renders there).
  EXPECT_NE(Read(*study_ / "report" / "report.md").find("**reproduced**"), std::string::npos);
}

TEST_F(FullReport, TablesHaveTheirSchema) {
  const fs::path t = *study_ / "report" / "tables";
  EXPECT_EQ(FirstLine(t / "budgets.csv"), "tokens,epochs,tokens_per_param");
  EXPECT_EQ(FirstLine(t / "pretrain.csv"),
            "tokens,epochs,tokens_per_param,seed,base_loss,base_ppl,c4_loss");
  EXPECT_EQ(
      FirstLine(t / "pretrain_summary.csv"),
      "tokens,epochs,tokens_per_param,n,base_loss_mean,base_loss_se,base_ppl_mean,base_ppl_se,"
      "c4_loss_mean,c4_loss_se");
  EXPECT_EQ(FirstLine(t / "perturb.csv"),
            "tokens,epochs,tokens_per_param,seed,scale,gamma,draw,group,loss,base_loss,delta");
  EXPECT_EQ(
      FirstLine(t / "perturb_summary.csv"),
      "tokens,epochs,tokens_per_param,scale,group,gamma,n,loss_mean,loss_se,delta_mean,delta_se,"
      "base_loss_mean");
  EXPECT_EQ(
      FirstLine(t / "finetune.csv"),
      "tokens,epochs,tokens_per_param,seed,task,lr,id_loss,ood_loss,c4_loss,accuracy,base_id_loss,"
      "base_ood_loss");
  const std::string ft_summary =
      "tokens,epochs,tokens_per_param,task,lr,n,id_loss_mean,id_loss_se,ood_loss_mean,ood_loss_se,"
      "c4_loss_mean,c4_loss_se,accuracy_mean,accuracy_se,base_id_loss_mean,base_ood_loss_mean";
  EXPECT_EQ(FirstLine(t / "finetune_summary.csv"), ft_summary);
  std::string tuned = ft_summary;
  tuned.replace(tuned.find(",lr,"), 4, ",best_lr,");
  EXPECT_EQ(FirstLine(t / "finetune_tuned.csv"), tuned);
  EXPECT_EQ(FirstLine(t / "finetune_optimal_lr.csv"),
            "task,tokens,epochs,tokens_per_param,optimal_lr");
  EXPECT_EQ(FirstLine(t / "theory.csv"),
            "kind,step,gamma,lr,lambda,loss_a,loss_a_se,loss_a_closed,loss_b,base_loss");
  EXPECT_EQ(
      FirstLine(t / "inflections.csv"),
      "figure,panel,curve,param,x_unit,x_min,epochs,tokens_per_param,y_min,interior,u_shaped,shape,"
      "monotone_increasing,monotone_decreasing,distinguishable,plausible_x_lo,plausible_x_hi,fall,"
      "rise");
  EXPECT_EQ(DataRows(t / "budgets.csv"), 6u);
  EXPECT_EQ(DataRows(t / "pretrain.csv"), 12u);            // 6 budgets x 2 seeds
  EXPECT_EQ(DataRows(t / "perturb.csv"), 6u * 3 * 2 * 4);  // budgets x γ x seeds x draws
  EXPECT_EQ(DataRows(t / "perturb_summary.csv"), 18u);     // budgets x γ
  EXPECT_EQ(DataRows(t / "finetune_summary.csv"), 12u);    // budgets x lr
  EXPECT_EQ(DataRows(t / "finetune_tuned.csv"), 6u);
  EXPECT_EQ(DataRows(t / "theory.csv"), 6u * 5);  // steps x (base + 2 γ + 2 λ)

  // Aggregates: mean over 8 draws x seeds of Δ = 0.05 * 2^3 at 8M for γ = 0.1, with its s.e.
  const std::string summary = Read(t / "perturb_summary.csv");
  EXPECT_NE(summary.find("8000000,1,8,init,all,0.1,8,3.6071068,"), std::string::npos) << summary;
  // Budget table: epochs and tokens/param of every budget.
  EXPECT_NE(Read(t / "budgets.csv").find("\n32000000,4,32\n"), std::string::npos);
  // Optimal LR: 1e-3 up to 4M, then 1e-4.
  const std::string opt = Read(t / "finetune_optimal_lr.csv");
  EXPECT_NE(opt.find("sst,4000000,0.5,4,0.001\n"), std::string::npos) << opt;
  EXPECT_NE(opt.find("sst,8000000,1,8,0.0001\n"), std::string::npos) << opt;
  // The inflection table records the known minima.
  const std::string infl = Read(t / "inflections.csv");
  EXPECT_NE(infl.find("fig2_perturb,perturbed loss,γ = 0.1,0.1,tokens,8000000,1,8,"),
            std::string::npos)
      << infl;
  EXPECT_NE(infl.find("fig2_perturb,perturbed loss,γ = 0.05,0.05,tokens,16000000,2,16,"),
            std::string::npos);
  EXPECT_NE(infl.find("fig5_theory,perturbed L_A,γ = 0.1,0.1,steps,400,"), std::string::npos);
}

TEST_F(FullReport, VerdictSaysWhatTheDataSay) {
  const std::string v = Joined(*out_);
  EXPECT_NE(v.find("Δ grows monotonically with tokens for all γ (0.01, 0.05 and 0.1)"),
            std::string::npos)
      << v;
  EXPECT_NE(
      v.find("The perturbed loss turns upward after 16M tokens (2 epochs, 16 tokens/param) for "
             "γ = 0.05 and 8M tokens (1 epoch, 8 tokens/param) for γ = 0.1, i.e. for γ ≥ 0.05."),
      std::string::npos)
      << v;
  EXPECT_NE(v.find("Larger γ moves the minimum to fewer tokens"), std::string::npos) << v;
  EXPECT_NE(
      v.find("No inflection inside the range for γ = 0.01: still decreasing at the largest budget"),
      std::string::npos)
      << v;
  EXPECT_NE(v.find("The base model keeps improving"), std::string::npos) << v;
  EXPECT_NE(v.find("each point averages n = 8 draws × seeds"), std::string::npos) << v;
  EXPECT_NE(
      v.find("After fine-tuning on sst at a fixed LR, the OOD loss turns upward after 8M tokens"),
      std::string::npos)
      << v;
  EXPECT_NE(v.find("lr = 0.0001: still decreasing at the largest budget"), std::string::npos) << v;
  EXPECT_NE(
      v.find("With the LR tuned per checkpoint for the best ID loss: on sst the OOD loss has no "
             "inflection inside the range (still decreasing at the largest budget)"),
      std::string::npos)
      << v;
  EXPECT_NE(v.find("for sst it decreases from 0.001 to 0.0001 (1 grid step(s))"), std::string::npos)
      << v;
  EXPECT_NE(v.find("the perturbed L_A turns upward after step 400 for γ = 0.1"), std::string::npos)
      << v;
  // One seed: L2-SP's effect on the minimum is reported, not judged.
  EXPECT_NE(v.find("L2-SP (C8, not tested): L2-SP at η_ft = 0.05 over 1 seed(s)"),
            std::string::npos)
      << v;
  EXPECT_NE(v.find("Robustness across seeds is not tested (1 seed(s); 5 needed)"),
            std::string::npos)
      << v;
  EXPECT_TRUE(out_->omitted.empty());
}

TEST_F(FullReport, MarkdownAndHtmlEmbedTheFigures) {
  const std::string md = Read(*study_ / "report" / "report.md");
  const std::string html = Read(*study_ / "report" / "index.html");
  EXPECT_NE(md.find("# overtrain report: synthetic"), std::string::npos);
  EXPECT_NE(
      md.find("![perturbation: delta and perturbed loss per gamma](figures/fig2_perturb.svg)"),
      std::string::npos);
  EXPECT_NE(md.find("| budget | tokens | epochs | tokens/param |"), std::string::npos);
  EXPECT_NE(md.find("| 8M | 8000000 | 1 | 8 |"), std::string::npos);
  EXPECT_NE(md.find(out_->verdict.front()), std::string::npos);
  for (const auto& stem : out_->figures) {
    EXPECT_NE(html.find("<img src=\"figures/" + stem + ".svg\""), std::string::npos) << stem;
    EXPECT_NE(html.find("<a href=\"figures/" + stem + ".png\">"), std::string::npos) << stem;
  }
  EXPECT_NE(html.find("<h2>Verdict</h2>"), std::string::npos);
}

TEST(Report, AbsentKindsAreOmittedWithALine) {
  const fs::path study = TempStudy("partial");
  testing::WriteSyntheticStudy(
      study, {.pretrain = true, .perturb = true, .finetune = false, .theory = false});
  // A stale figure from an earlier report must not survive.
  fs::create_directories(study / "report" / "figures");
  std::ofstream(study / "report" / "figures" / "fig5_theory.png") << "stale";
  const ReportOutput out = WriteReport(study);
  EXPECT_EQ(out.figures, (std::vector<std::string>{"fig1_base_vs_modified", "fig2_perturb",
                                                   "fig2b_perturb_per_gamma"}));
  EXPECT_EQ(out.omitted, (std::vector<std::string>{"finetune.jsonl", "theory.jsonl"}));
  EXPECT_FALSE(fs::exists(study / "report" / "figures" / "fig5_theory.png"));
  EXPECT_FALSE(fs::exists(study / "report" / "tables" / "finetune.csv"));
  const std::string md = Read(study / "report" / "report.md");
  EXPECT_NE(md.find("`results/finetune.jsonl` is absent or empty: no fine-tuning sections"),
            std::string::npos);
  EXPECT_NE(md.find("`results/theory.jsonl` is absent or empty: no theory section."),
            std::string::npos);
  EXPECT_NE(Joined(out).find("Δ grows monotonically with tokens for all γ"), std::string::npos);
  fs::remove_all(study);
}

// `overtrain report <root>` of a study of arms: the root has no results/ of its own, so the error
// says where the per-arm reports are instead of "results/study.json: missing".
TEST(Report, ArmsStudyRootSaysTheReportsArePerArm) {
  const fs::path study = TempStudy("arms_root");
  for (const char* arm : {"arm-sgd", "arm-adamw"})
    testing::WriteSyntheticStudy(
        study / arm, {.pretrain = true, .perturb = true, .finetune = false, .theory = false});
  std::string error;
  try {
    WriteReport(study);
  } catch (const Error& e) {
    error = e.what();
  }
  const std::string root = study.string();
  EXPECT_EQ(error, root +
                       ": a study of arms or sizes has no results/ of its own; its reports are "
                       "per variant under " +
                       root +
                       "/<variant>/report (variants: arm-adamw, arm-sgd): run overtrain "
                       "report " +
                       root +
                       "/arm-adamw, and likewise for the others (overtrain study writes "
                       "their side-by-side comparison to " +
                       root + "/report)");
  // Each arm's own report works.
  EXPECT_NO_THROW(WriteReport(study / "arm-sgd"));
  fs::remove_all(study);
}

TEST(Report, NoUShapeIsSaidPlainly) {
  // Only the smallest perturbation: every perturbed-loss curve keeps decreasing.
  const fs::path study = TempStudy("no_u");
  testing::WriteSyntheticStudy(
      study, {.pretrain = true, .perturb = false, .finetune = false, .theory = false});
  std::ofstream f(study / "results" / "perturb.jsonl");
  for (int u = 0; u < 6; ++u)
    for (int draw = 0; draw < 3; ++draw) {
      const double delta = 0.001 * (u + 1) + 0.0001 * draw;
      f << "{\"tokens\": " << (int64_t(1000000) << u) << ", \"epochs\": " << ((1 << u) / 8.0)
        << ", \"seed\": 0, \"gamma\": 0.01, \"draw\": " << draw
        << ", \"group\": \"all\", \"loss\": " << testing::SynthBase(u) + delta
        << ", \"base_loss\": " << testing::SynthBase(u) << ", \"delta\": " << delta << "}\n";
    }
  f.close();
  const std::string v = Joined(WriteReport(study));
  EXPECT_NE(
      v.find("The perturbed loss is not U-shaped within the range for any γ: no inflection inside "
             "the range (γ = 0.01: still decreasing at the largest budget)."),
      std::string::npos)
      << v;
  EXPECT_EQ(v.find("turns upward"), std::string::npos) << v;
  fs::remove_all(study);
}

TEST(Report, SingleDrawAndSeedIsSaidToBeUntested) {
  const fs::path study = TempStudy("one_seed");
  testing::WriteSyntheticStudy(study, {.pretrain = true,
                                       .perturb = true,
                                       .finetune = true,
                                       .theory = false,
                                       .draws = 1,
                                       .seeds = 1});
  const ReportOutput out = WriteReport(study);
  const std::string v = Joined(out);
  EXPECT_NE(v.find("each point is a single draw of a single seed, so there are no standard errors"),
            std::string::npos)
      << v;
  EXPECT_NE(v.find("Fine-tuning results come from a single seed"), std::string::npos) << v;
  // One row per point (draw 0 of seed 0 has noise -0.01): the s.e. cells are empty, not zero.
  const std::string summary = Read(study / "report" / "tables" / "perturb_summary.csv");
  EXPECT_NE(summary.find("\n1000000,0.125,1,init,all,0.01,1,4.4905,,-0.0095,,4.5\n"),
            std::string::npos)
      << summary;
  fs::remove_all(study);
}

// The claims table on the synthetic study, whose shapes are known by construction
// (synthetic_study.h).
TEST_F(FullReport, ClaimsTableGivesEachClaimItsVerdict) {
  std::map<std::string, std::string> verdict;
  for (const auto& line : out_->claims) verdict[line.substr(0, 2)] = line;
  auto is = [&](const std::string& id, const std::string& v) {
    EXPECT_EQ(verdict[id].rfind(id + " " + v + ":", 0), 0u) << verdict[id];
  };
  is("C1", "reproduced");  // Δ = scale · 2^u for every γ
  is("C2", "reproduced");  // minima at 8M (γ 0.1) and 16M (γ 0.05), still falling for γ 0.01
  is("C3", "reproduced");  // OOD degradation grows for both LRs
  is("C4", "reproduced");  // lr 1e-3 minimum at 8M, lr 1e-4 still falling
  // C7 and C8 come from theory_claims (tested in theory_claims_test.cc); here only that the rows
  // exist.
  EXPECT_FALSE(verdict["C7"].empty());
  EXPECT_FALSE(verdict["C8"].empty());
  const std::string md = Read(*study_ / "report" / "report.md");
  EXPECT_NE(md.find("The paper's claims at this scale"), std::string::npos);
  EXPECT_LT(md.find("The paper's claims at this scale"),
            md.find("## Verdict"));  // the report leads with it
  EXPECT_NE(md.find("tokens/non-embedding param"), std::string::npos);
  // Two LRs: every tuned LR is at an edge of the grid, and the report says so.
  EXPECT_NE(md.find("sst: the tuned LR sits at the edge of the grid [0.0001, 0.001]"),
            std::string::npos)
      << md;
}

// One draw and one seed: no claim rests on curves without standard errors.
TEST(Report, ClaimsWithoutUncertaintyAreNotTested) {
  const fs::path study = TempStudy("claims_one_seed");
  testing::WriteSyntheticStudy(study, {.theory = false, .draws = 1, .seeds = 1});
  const ReportOutput out = WriteReport(study);
  for (const auto& line : out.claims)
    if (line.rfind("C1", 0) == 0 || line.rfind("C2", 0) == 0 || line.rfind("C3", 0) == 0 ||
        line.rfind("C4", 0) == 0)
      EXPECT_NE(line.find(" not tested:"), std::string::npos) << line;
  fs::remove_all(study);
}

// Two noise scales: each has its own figures, and the claims rest on the init scale's curves alone
// (the relative rows, whose Δ falls, would flatten C1 if they were averaged in).
TEST(Report, NoiseScalesAreReportedSeparately) {
  const fs::path study = TempStudy("two_scales");
  testing::WriteSyntheticStudy(study, {.theory = false, .relative_scale = true});
  const ReportOutput out = WriteReport(study);
  EXPECT_TRUE(fs::exists(study / "report" / "figures" / "fig2_perturb.svg"));
  EXPECT_TRUE(fs::exists(study / "report" / "figures" / "fig2_perturb_relative.svg"));
  for (const auto& line : out.claims)
    if (line.rfind("C1", 0) == 0) EXPECT_EQ(line.rfind("C1 reproduced:", 0), 0u) << line;
  const Summaries s = Summarize(LoadStudyResults(study / "results"));
  EXPECT_EQ(s.PerturbScales(), (std::vector<std::string>{"init", "relative"}));
  for (const auto& p : s.perturb) EXPECT_EQ(p.loss.n, 8) << p.scale;  // 4 draws x 2 seeds, unmixed
  const std::string md = Read(study / "report" / "report.md");
  EXPECT_NE(md.find("Noise scale 'relative'"), std::string::npos) << md;
  EXPECT_NE(md.find("Under the relative noise scale"), std::string::npos) << md;
  const std::string csv = FirstLine(study / "report" / "tables" / "perturb_summary.csv");
  EXPECT_NE(csv.find("scale"), std::string::npos) << csv;
  fs::remove_all(study);
}

// study.tune_lr: the sweep's table with the chosen LR, and an optimum at the grid's edge flagged in
// the ladder's report and in the comparison of ladders; an interior optimum is not flagged.
TEST(Report, LrSweepIsTabledAndAnOptimumAtTheGridsEdgeIsFlagged) {
  const fs::path root = TempStudy("lr_sweep");
  const fs::path study = root / "arm-sgd";
  testing::WriteSyntheticStudy(study, {.theory = false});
  auto write_sweep = [&](int chosen) {
    std::ofstream f(study / "results" / "lr_sweep.jsonl");
    const double lrs[] = {0.05, 0.1, 0.2}, losses[] = {3.0, 2.8, 2.7};
    for (int i = 0; i < 3; ++i)
      f << ToJson(LrSweepRow{.arm = "sgd",
                             .seed = 1,
                             .tokens = 1000000,
                             .epochs = 0.125,
                             .lr = lrs[i],
                             .factor = 0.5 * (1 << i),
                             .val_loss = chosen == 1 && i == 1 ? 2.6 : losses[i],
                             .val_loss_stderr = 0.01,
                             .chosen = i == chosen})
               .dump()
        << "\n";
  };
  const std::string edge =
      "arm sgd: the best pre-training LR (0.2, × 2 of pretrain.lr) is at the grid's edge (its "
      "largest LR): widen the grid";
  write_sweep(2);
  const ReportOutput out = WriteReport(study);
  std::string md = Read(study / "report" / "report.md");
  EXPECT_NE(md.find("Pre-training learning rate (study.tune_lr)"), std::string::npos) << md;
  EXPECT_NE(md.find("| 0.2 | × 2 | 2.7000 ± 0.01 | **chosen** |"), std::string::npos) << md;
  EXPECT_NE(md.find("the ladder trains at lr 0.2"), std::string::npos) << md;
  const size_t flags = md.find("Flags: results that cannot carry the science");
  ASSERT_NE(flags, std::string::npos) << md;
  EXPECT_NE(md.find(edge, flags), std::string::npos) << md;
  const std::string cmp =
      Read(WriteSizeComparison(root, {{.size = "arm-sgd", .study_dir = study, .report = out}}));
  EXPECT_NE(cmp.find("Pre-training LR per ladder"), std::string::npos) << cmp;
  EXPECT_NE(cmp.find("| arm-sgd | 1M | 0.05, 0.1, 0.2 | 0.2 (× 2) | 2.7000 | **at the grid's "
                     "edge: widen the grid** |"),
            std::string::npos)
      << cmp;

  write_sweep(1);  // an interior optimum
  WriteReport(study);
  md = Read(study / "report" / "report.md");
  EXPECT_NE(md.find("the ladder trains at lr 0.1"), std::string::npos) << md;
  EXPECT_EQ(md.find("at the grid's edge"), std::string::npos) << md;
  fs::remove_all(root);
}

// Flags: accuracy at chance and data repeated beyond one epoch are named.
TEST(Report, FlagsNameResultsThatCannotCarryTheScience) {
  const fs::path study = TempStudy("flags");
  testing::WriteSyntheticStudy(study, {.theory = false, .accuracy = 0.5});
  WriteReport(study);
  const std::string md = Read(study / "report" / "report.md");
  EXPECT_NE(md.find("sst: accuracy at chance"), std::string::npos) << md;
  EXPECT_NE(md.find("data repeated: 16M tokens is 2 epochs"), std::string::npos) << md;
  fs::remove_all(study);
}

// A vision study's results (budgets in images): the report speaks of images, lists C1–C6 only, and
// answers the question in one sentence read off the claims, with what the tuned LR rests on.
TEST(Report, VisionStudyCountsImagesAndAnswersTheQuestion) {
  const fs::path dir = testing::TempDir("report_vision");
  testing::WriteSyntheticStudy(dir, {.theory = false, .unit = "images"});
  const ReportOutput out = WriteReport(dir);
  const std::string md = Read(out.dir / "report.md");
  EXPECT_NE(md.find("Does longer pre-training make this ViT harder to fine-tune? **yes** at 1M–32M "
                    "images, 0.125–4 epochs (nano): at a fixed fine-tuning LR the retention (OOD) "
                    "loss turns upward past a budget (C4: "),
            std::string::npos)
      << md;
  EXPECT_NE(md.find("retention accuracy stays within 0.850–0.900 across budgets (chance 0.500)"),
            std::string::npos);
  EXPECT_NE(md.find("The tuned LR sits at the edge of its grid at 6 of 6 budgets"),
            std::string::npos);
  EXPECT_NE(md.find("## Budgets (images seen)"), std::string::npos);
  EXPECT_NE(md.find("images/param"), std::string::npos);
  EXPECT_EQ(md.find("| C7 |"), std::string::npos);
  EXPECT_NE(md.find("| C6 |"), std::string::npos);
  EXPECT_EQ(out.verdict.front().rfind("Does longer pre-training make this ViT", 0), 0u);
  fs::remove_all(dir);
}

TEST(Report, MalformedRowNamesFileLineAndKey) {
  const fs::path study = TempStudy("malformed");
  testing::WriteSyntheticStudy(
      study, {.pretrain = true, .perturb = false, .finetune = false, .theory = false});
  std::ofstream f(study / "results" / "perturb.jsonl");
  f << R"({"tokens": 1000000, "epochs": 0.125, "seed": 0, "gamma": 0.1, "draw": 0, "group": "all", )"
    << R"("loss": 4.5, "base_loss": 4.4, "delta": 0.1})"
    << "\n\n"
    << R"({"tokens": 2000000, "epochs": 0.25, "seed": 0, "gamma": 0.1, "draw": 0, "group": "all", )"
    << R"("loss": 4.5, "base_loss": 4.4})"
    << "\n";
  f.close();
  try {
    WriteReport(study);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("perturb.jsonl:3: key 'delta' is missing"), std::string::npos) << what;
  }
  fs::remove_all(study);
}

TEST(Report, MissingGnuplotIsAnError) {
  const fs::path study = TempStudy("no_gnuplot");
  testing::WriteSyntheticStudy(
      study, {.pretrain = true, .perturb = false, .finetune = false, .theory = false});
  setenv("OVERTRAIN_GNUPLOT", "/nonexistent/gnuplot", 1);
  try {
    WriteReport(study);
    unsetenv("OVERTRAIN_GNUPLOT");
    FAIL() << "expected an error";
  } catch (const Error& e) {
    unsetenv("OVERTRAIN_GNUPLOT");
    const std::string what = e.what();
    EXPECT_NE(what.find("fig1_base_vs_modified.gp: could not run '/nonexistent/gnuplot'"),
              std::string::npos)
        << what;
  }
  // The tables were written before the figures failed.
  EXPECT_TRUE(fs::exists(study / "report" / "tables" / "pretrain.csv"));
  fs::remove_all(study);
}

TEST(Report, GnuplotFailureIsAnError) {
  const fs::path study = TempStudy("bad_gnuplot");
  testing::WriteSyntheticStudy(
      study, {.pretrain = true, .perturb = false, .finetune = false, .theory = false});
  setenv("OVERTRAIN_GNUPLOT", "false", 1);  // runs, exits 1
  EXPECT_THROW(
      {
        try {
          WriteReport(study);
        } catch (const Error& e) {
          EXPECT_NE(std::string(e.what()).find("gnuplot failed (exit code 1)"), std::string::npos)
              << e.what();
          throw;
        }
      },
      Error);
  unsetenv("OVERTRAIN_GNUPLOT");
  fs::remove_all(study);
}

TEST(Report, GnuplotKilledBySignalIsQuotedWithItsStderr) {
  const fs::path study = TempStudy("crashing_gnuplot");
  testing::WriteSyntheticStudy(
      study, {.pretrain = true, .perturb = false, .finetune = false, .theory = false});
  const fs::path fake = study / "fake-gnuplot.sh";
  std::ofstream(fake) << "#!/bin/sh\necho 'line 7: undefined variable: foo' >&2\nkill -ABRT $$\n";
  fs::permissions(fake, fs::perms::owner_all);
  setenv("OVERTRAIN_GNUPLOT", fake.c_str(), 1);
  try {
    WriteReport(study);
    ADD_FAILURE() << "expected an error";
  } catch (const Error& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("gnuplot failed (killed by signal 6"), std::string::npos) << what;
    EXPECT_NE(what.find("line 7: undefined variable: foo"), std::string::npos) << what;
  }
  unsetenv("OVERTRAIN_GNUPLOT");
  fs::remove_all(study);
}

}  // namespace
}  // namespace ot
