// Internal to the report layer: the state shared by the report's sections and the helpers that turn
// summaries into curves, findings, figures and tables. Entry points: the *Section functions, each
// of which appends its part of report.md to Ctx::body and its sentences to Ctx::verdict.
#pragma once

#include <cmath>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "report/document.h"
#include "report/gnuplot.h"
#include "report/report.h"
#include "report/results.h"
#include "report/tables.h"
#include "report/verdict.h"

namespace ot::report_detail {

// Explicit x tics at the study's budgets: "<tokens>\n<epochs> ep", at most ~8 labelled.
std::vector<std::pair<double, std::string>> TokenTics(const Summaries& s);

struct Ctx {
  Ctx(const StudyResults& r, const Summaries& summaries, const ReportOptions& o,
      std::filesystem::path dir)
      : results(r), s(summaries), options(o), figure_dir(std::move(dir)) {}
  const StudyResults& results;
  const Summaries& s;
  ReportOptions options;
  std::filesystem::path figure_dir;
  XAxis tokens{nullptr}, steps{nullptr};
  std::deque<Finding> findings;  // deque: Finding pointers handed out stay valid
  Document body;
  std::vector<std::string> verdict, omitted, figures;
  // Curve families by role, for the claims table: "perturb.delta", "perturb.loss" (one curve per
  // γ); "ft.<task>.ood", "ft.<task>.deg", "ft.<task>.id" (per LR); "tuned.<task>.ood",
  // "tuned.<task>.id".
  std::map<std::string, std::vector<const Finding*>> families;
  uint64_t bootstrap_seed = 0;      // the T* bootstrap's (BootstrapSeed of the study directory)
  std::vector<std::string> tables;  // CSV files a section wrote under tables/
};

template <typename Points, typename Keep, typename Get>
Curve MakeCurve(std::string label, double param, const Points& points, Keep keep, Get get) {
  Curve c{std::move(label), param, {}, {}, {}};
  for (const auto& p : points) {
    if (!keep(p)) continue;
    const MeanSe m = get(p);
    if (!std::isfinite(m.mean)) continue;
    c.x.push_back(double(p.tokens));
    c.y.push_back(m.mean);
    c.se.push_back(m.se);
  }
  return c;
}

// Theory points of one kind and condition, against step.
template <typename Keep, typename Get>
Curve TheoryCurve(const Ctx& ctx, std::string label, double param, const std::string& kind,
                  Keep keep, Get get_y, bool with_se) {
  Curve c{std::move(label), param, {}, {}, {}};
  for (const auto& p : ctx.s.theory) {
    if (p.kind != kind || !keep(p)) continue;
    c.x.push_back(double(p.step));
    c.y.push_back(get_y(p));
    if (with_se) c.se.push_back(p.loss_a_se);
  }
  c.exact = !with_se;  // gradient descent from a fixed init: no sampling noise
  return c;
}

// Analyses a curve and keeps the finding (for the tables and tables/inflections.csv).
const Finding& Record(Ctx& ctx, std::string figure, std::string panel, Curve curve,
                      const XAxis& axis);
// A curve for a figure, with its minimum marked (labelled when it is inside the range).
PlotSeries Series(const Curve& c, int color, bool dashed, const Finding* f);
PlotPanel TokenPanel(const Ctx& ctx, std::string title, std::string ylabel);
Figure NewFigure(std::string name, std::string title, int panel_width = 620, int height = 520);
void Draw(Ctx& ctx, Figure fig, const std::string& alt);  // renders and embeds it in the body
// One panel per curve of `family` (each on its own y scale, the reference curve dashed in each), so
// a curve that diverges cannot squash the others: "<what>, <curve label>" per panel.
void SmallMultiples(Ctx& ctx, const std::string& name, const std::string& title,
                    const std::string& what, const std::vector<const Finding*>& family,
                    const Curve& reference);
void FindingsTable(Ctx& ctx, const std::vector<const Finding*>& findings);
std::string Lower(std::string s);
std::string RangeText(const Ctx& ctx);                       // "1M–32M tokens, 0.125–4 epochs"
std::vector<double> Distinct(const std::vector<double>& v);  // sorted, duplicates removed

void LrSweepSection(Ctx& ctx);    // study.tune_lr: the sweep's table and chosen LR (lr_sweep.cc)
void BaseSection(Ctx& ctx);       // figure 1: base vs modified loss against tokens
void PerturbSection(Ctx& ctx);    // figure 2: Δ and perturbed loss per γ
void FinetuneSection(Ctx& ctx);   // figure 3: OOD, OOD degradation and ID per LR, per task
void TunedSection(Ctx& ctx);      // figure 4: optimal LR, OOD and ID at the tuned LR
void TheorySection(Ctx& ctx);     // figure 5: linear-network lab panels
void BenchmarkSection(Ctx& ctx);  // the paper's figure 1: benchmark accuracy, base vs fine-tuned
// T* with intervals for every curve that can have one; writes tables_dir/tstar.csv.
void TStarSection(Ctx& ctx, const std::filesystem::path& tables_dir);

// The paper's claims C1-C8 (docs/science.md §6), each with a verdict, its evidence and the
// tokens/param range it rests on; and the flags on results that cannot carry the science. Run after
// every section.
struct ClaimRow {
  std::string id, claim, verdict, evidence, range;
};
std::vector<ClaimRow> Claims(const Ctx& ctx);
std::vector<std::string> Flags(const Ctx& ctx);

// A vision study (budgets in images, vision_section.cc): the budgets' meaning, linear probe and
// retention per budget; and the sentence answering "does longer pre-training make this ViT harder
// to fine-tune?" (yes / no / not at this scale, and why) from the claims.
void VisionSection(Ctx& ctx);
std::string VisionAnswer(const Ctx& ctx, const std::vector<ClaimRow>& claims);

// Benchmarks (results/benchmarks.jsonl, benchmark_section.cc). The benchmarks with `metric`, and
// the fine-tuning tasks, in order of appearance.
std::vector<std::string> BenchmarkNames(const Ctx& ctx, const std::string& metric);
std::vector<std::string> BenchmarkTasks(const Ctx& ctx);
// One metric of one benchmark against tokens: the base model (task ""), a fine-tuning task at one
// LR (lr > 0), or at the LR tuned per budget for the best ID loss (lr = 0; Summaries::tuned).
Curve BenchmarkCurve(const Ctx& ctx, const std::string& benchmark, const std::string& metric,
                     const std::string& task, double lr);
double BenchmarkChance(const Ctx& ctx, const std::string& benchmark);  // NaN when unknown
// Every point within z standard errors of chance (a point without a standard error is not).
bool AtChance(const Curve& c, double chance, double z);
// C9: after fine-tuning, benchmark accuracy falls past some budget while the base model's keeps
// rising (claims.cc).
ClaimRow BenchmarkClaim(const Ctx& ctx);

}  // namespace ot::report_detail
