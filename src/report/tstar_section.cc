// The report's T* section: every curve's inflection between budgets with its bootstrap interval,
// and tables/tstar.csv (docs/science.md §8).
#include <fmt/format.h>

#include "report/law_section.h"
#include "report/sections.h"
#include "report/tstar_curves.h"

namespace ot::report_detail {

namespace {

std::string CurveName(const TStarCurve& c) {
  if (c.family.starts_with("perturbed loss") || c.family == "lab: perturbed loss A")
    return fmt::format("{}, γ = {:g}", c.family, c.param);
  if (c.family == "OOD at the tuned LR") return fmt::format("{}, {}", c.family, c.task);
  if (c.task.empty()) return fmt::format("{}, η = {:g}", c.family, c.param);
  return fmt::format("{}, {} lr = {:g}", c.family, c.task, c.param);
}

}  // namespace

void TStarSection(Ctx& ctx, const std::filesystem::path& tables_dir) {
  TStarOptions options{.inflection = ctx.options.inflection, .seed = ctx.bootstrap_seed};
  const std::vector<TStarCurve> curves = StudyTStars(ctx.results, options);
  if (curves.empty()) return;
  const StudyInfo& st = ctx.results.study;
  std::vector<std::vector<std::string>> rows;
  CsvWriter csv(tables_dir / "tstar.csv",
                {"family", "task", "param", "x_unit", "has_tstar", "tstar", "lo", "hi", "level",
                 "replicates", "censored", "tokens_per_param", "epochs", "rests_on"});
  for (const TStarCurve& c : curves) {
    auto text = [&](double x) { return TStarX(x, c.steps); };
    std::string tpp = "–", epochs = "–";
    double tpp_value = kNaN, epochs_value = kNaN;
    if (c.t.has && !c.steps) {
      if (st.params > 0) tpp_value = c.t.t_star / double(st.params);
      if (st.train_tokens_per_epoch > 0)
        epochs_value = c.t.t_star / double(st.train_tokens_per_epoch);
      if (std::isfinite(tpp_value)) tpp = fmt::format("{:.3g}", tpp_value);
      if (std::isfinite(epochs_value)) epochs = fmt::format("{:.3g}", epochs_value);
    }
    rows.push_back({CurveName(c),
                    c.t.has ? TStarText(c.t, text)
                            : "no T*: no significant interior minimum (see the findings above)",
                    tpp, epochs, c.rests_on});
    csv.Cell(c.family).Cell(c.task).Cell(c.param).Cell(c.steps ? "steps" : "tokens");
    csv.Cell(int64_t{c.t.has}).Cell(c.t.has ? c.t.t_star : kNaN).Cell(c.t.has ? c.t.lo : kNaN);
    csv.Cell(c.t.has ? c.t.hi : kNaN).Cell(c.t.level).Cell(int64_t{c.t.replicates});
    csv.Cell(int64_t{c.t.censored}).Cell(tpp_value).Cell(epochs_value).Cell(c.rests_on);
    csv.EndRow();
  }
  csv.Close();
  ctx.tables.push_back("tstar.csv");
  ctx.body.Heading(2, "Where the inflection falls: T* between budgets");
  ctx.body.Paragraph(fmt::format(
      "For every curve with a significant interior minimum (the U-shape above), T* is the vertex "
      "of the parabola in log tokens through the lowest point and its two neighbours: it refines "
      "the grid within half a step of the lowest budget. The interval is the {:g}% percentile "
      "interval over {} bootstrap replicates that resample pre-training seeds and, within each, "
      "the noise draws or fine-tuning seeds (each unit kept whole across budgets; at the tuned "
      "LR the LR is re-chosen on ID loss in every replicate). A replicate whose minimum falls at "
      "an end of the ladder counts at that end, and the row says how many did. With one "
      "pre-training seed the interval leaves out seed-to-seed variation.",
      100 * options.level, options.replicates));
  ctx.body.Table({"curve", "T* [interval]", "tokens/param at T*", "epochs at T*", "rests on"},
                 std::move(rows));
  // Within one ladder the law has no size term: how T* moves with γ and η here, and in the lab.
  LadderTStars ladder{st.preset, double(st.params), {}};
  std::vector<TStarCurve> lab;
  for (const TStarCurve& c : curves) (c.steps ? lab : ladder.curves).push_back(c);
  std::vector<std::string> exponents;
  for (const LawRow& row : FitLaws({ladder}, lab))
    if (const std::string e = ExponentSentence(row); !e.empty()) exponents.push_back(e);
  if (!exponents.empty()) {
    ctx.body.Paragraph(
        "How T* moves with the modification's size within this ladder (least squares of log T* on "
        "log γ or log η over the curves with a T*, 95% bootstrap intervals; c < 0 is the paper's "
        "\"earlier for larger modifications\"):");
    ctx.body.Bullets(std::move(exponents));
  }
}

}  // namespace ot::report_detail
