// T* per ladder and the fitted inflection laws (see law_section.h).
#include "report/law_section.h"

#include <fmt/format.h>

#include <map>
#include <set>

#include "core/config.h"
#include "report/law.h"
#include "report/tables.h"

namespace ot {

namespace {

std::string Interval(const Coefficient& c) {
  return fmt::format("{:.3g} [{:.3g}, {:.3g}]", c.value, c.lo, c.hi);
}

// One law: which curves enter it and how its coefficients read.
struct LawSpec {
  std::string label;     // "perturbation (γ)"
  std::string family;    // TStarCurve::family
  std::string task;      // fine-tuning task, or empty
  std::string variable;  // "γ", "η" or "" (the tuned curve: size only)
};

std::vector<LawPoint> PointsOf(const std::vector<LadderTStars>& ladders, const LawSpec& spec) {
  std::vector<LawPoint> points;
  for (const LadderTStars& l : ladders)
    for (const TStarCurve& c : l.curves)
      if (c.family == spec.family && c.task == spec.task && c.t.has)
        points.push_back({l.params, spec.variable.empty() ? 1.0 : c.param, c.t});
  return points;
}

// "b = 0.8 [0.6, 1.1]; b − 1 = … (the interval holds 0: consistent with constant tokens per
// parameter)"
std::string SizeSentence(const Coefficient& b) {
  const double lo = b.lo - 1, hi = b.hi - 1;
  const std::string reading =
      lo <= 0 && 0 <= hi ? "the interval holds 0: consistent with a T* at constant tokens per "
                           "parameter"
      : hi < 0           ? "below 0: larger models turn upward at fewer tokens per parameter"
                         : "above 0: larger models turn upward at more tokens per parameter";
  return fmt::format("b − 1 = {:.3g} [{:.3g}, {:.3g}] ({})", b.value - 1, lo, hi, reading);
}

}  // namespace

std::vector<LawRow> FitLaws(const std::vector<LadderTStars>& ladders,
                            const std::vector<TStarCurve>& lab) {
  std::set<std::string> tasks;
  for (const LadderTStars& l : ladders)
    for (const TStarCurve& c : l.curves)
      if (!c.task.empty()) tasks.insert(c.task);
  std::vector<LawSpec> specs{{"perturbation", "perturbed loss", "", "γ"}};
  bool relative = false;  // perturb.scales with "relative": its own law, never pooled with init's
  for (const LadderTStars& l : ladders)
    for (const TStarCurve& c : l.curves)
      relative = relative || c.family == PerturbFamily("relative");
  if (relative)
    specs.push_back({"perturbation, relative noise", PerturbFamily("relative"), "", "γ"});
  for (const std::string& task : tasks) {
    specs.push_back({"fine-tuning, " + task, "fine-tuned OOD", task, "η"});
    specs.push_back({"tuned LR, " + task, "OOD at the tuned LR", task, ""});
  }
  std::vector<LawRow> out;
  for (const LawSpec& spec : specs)
    out.push_back({spec.label, spec.variable, FitLaw(PointsOf(ladders, spec))});
  for (const auto& [family, variable] :
       {std::pair{"lab: perturbed loss A", "γ"}, {"lab: fine-tuned loss A", "η"}}) {
    std::vector<LawPoint> points;
    for (const TStarCurve& c : lab)
      if (c.family == family && c.t.has) points.push_back({1.0, c.param, c.t});
    if (!lab.empty()) out.push_back({std::string(family) + " (steps)", variable, FitLaw(points)});
  }
  return out;
}

std::string ExponentSentence(const LawRow& row) {
  const Coefficient* c = row.fit.Term("c");
  if (!row.fit.fitted || !c) return "";
  return fmt::format("{}: T* ∝ {}^{:.3g} [{:.3g}, {:.3g}]", row.label, row.variable, c->value,
                     c->lo, c->hi);
}

void LawSection(Document& doc, const std::vector<LadderTStars>& ladders,
                const std::vector<TStarCurve>& lab, const std::filesystem::path& tables_dir) {
  std::vector<std::vector<std::string>> per_ladder;
  std::set<std::string> tasks;
  for (const LadderTStars& l : ladders)
    for (const TStarCurve& c : l.curves) {
      if (!c.task.empty()) tasks.insert(c.task);
      const std::string what =
          c.family == "OOD at the tuned LR" ? fmt::format("{}, {}", c.family, c.task)
          : c.task.empty()                  ? fmt::format("{}, γ = {:g}", c.family, c.param)
                           : fmt::format("{}, {} lr = {:g}", c.family, c.task, c.param);
      auto text = [](double x) { return TStarX(x, false); };
      per_ladder.push_back({l.name, FormatSize(static_cast<int64_t>(l.params)), what,
                            c.t.has ? TStarText(c.t, text) : "no T*",
                            c.t.has ? fmt::format("{:.3g}", c.t.t_star / l.params) : "–",
                            c.rests_on});
    }
  std::vector<std::vector<std::string>> fits;
  std::vector<std::string> sentences;
  CsvWriter csv(tables_dir / "law.csv",
                {"law", "term", "value", "lo", "hi", "level", "points", "replicates"});
  auto add_fit = [&](const std::string& label, const std::string& variable, const LawFit& fit) {
    if (!fit.fitted) {
      fits.push_back({label, fmt::format("not fitted: {}", fit.why_not), "–", "–", "–", "–"});
      return;
    }
    auto term = [&](const char* name) {
      const Coefficient* c = fit.Term(name);
      return c ? Interval(*c) : std::string("–");
    };
    fits.push_back({label, term("a"), term("b"), term("c"),
                    fit.Term("b") ? SizeSentence(*fit.Term("b")) : "–",
                    fmt::format("{} curves, {} replicates", fit.points, fit.replicates)});
    for (const Coefficient& c : fit.terms)
      csv.Cell(label)
          .Cell(c.name)
          .Cell(c.value)
          .Cell(c.lo)
          .Cell(c.hi)
          .Cell(fit.level)
          .Cell(int64_t{fit.points})
          .Cell(int64_t{fit.replicates}),
          csv.EndRow();
    if (const std::string e = ExponentSentence({label, variable, fit}); !e.empty())
      sentences.push_back(e);
  };
  for (const LawRow& row : FitLaws(ladders, lab)) add_fit(row.label, row.variable, row.fit);
  csv.Close();

  doc.Heading(2, "The inflection law: where T* falls with model size, γ and η");
  doc.Paragraph(
      "Each curve's T* (the vertex between budgets, with its 95% bootstrap interval; see a "
      "ladder's own report for the rule) enters a least-squares fit of log T* = a + b·log N + "
      "c·log p, N the ladder's parameters and p the modification's size (γ for noise, η for "
      "fine-tuning; the tuned-LR curve has size only). The intervals are percentile intervals "
      "of the same fit to each bootstrap replicate's T*s, so they carry every curve's own "
      "uncertainty (draws, fine-tuning seeds, pre-training seeds), but not the misfit of the "
      "law's form. Only curves with a T* enter: a curve still falling at the largest budget, or "
      "rising from the first, is absent from its fit, which biases the fit toward the curves "
      "whose minimum the ladder brackets. b = 1 would put the inflection at constant tokens per "
      "parameter; c < 0 puts it earlier for larger modifications (the paper's claim).");
  doc.Table({"law", "a", "b (log N)", "c (log γ or log η)", "b − 1", "fit"}, std::move(fits));
  if (!sentences.empty()) doc.Bullets(std::move(sentences));
  doc.Heading(3, "T* per ladder");
  doc.Table({"ladder", "parameters", "curve", "T* [interval]", "tokens/param at T*", "rests on"},
            std::move(per_ladder));
}

}  // namespace ot
