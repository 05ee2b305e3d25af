// What moves the inflection: T* per arm and its ratio to the reference arm (see arms_section.h).
#include "report/arms_section.h"

#include <fmt/format.h>

#include <cmath>
#include <set>

#include "report/tstar.h"

namespace ot {

namespace {

const TStarCurve* Find(const LadderTStars& l, const std::string& family, double param) {
  for (const TStarCurve& c : l.curves)
    if (c.family == family && (!family.starts_with("perturbed loss") || c.param == param))
      return &c;
  return nullptr;
}

struct Ratio {
  bool has = false;
  double value = 0, lo = 0, hi = 0;
};

// T*_arm / T*_reference with the percentile interval of the replicate-by-replicate ratios (the
// ladders' bootstraps are independent, so pairing replicate r with replicate r is a valid draw).
Ratio RatioOf(const TStar& arm, const TStar& reference) {
  Ratio r;
  if (!arm.has || !reference.has || arm.draws.size() != reference.draws.size() || arm.draws.empty())
    return r;
  std::vector<double> logs;
  for (size_t i = 0; i < arm.draws.size(); ++i)
    logs.push_back(std::log(arm.draws[i] / reference.draws[i]));
  r.has = true;
  r.value = arm.t_star / reference.t_star;
  r.lo = std::exp(Percentile(logs, 0.025));
  r.hi = std::exp(Percentile(logs, 0.975));
  return r;
}

std::string TStarCell(const TStarCurve* c) {
  if (!c) return "not measured";
  if (!c->t.has) return "no T*";
  return TStarText(c->t, [](double x) { return TStarX(x, false); });
}

std::string RatioCell(const Ratio& r) {
  if (!r.has) return "–";
  return fmt::format("{:.3g} [{:.3g}, {:.3g}]", r.value, r.lo, r.hi);
}

// "later (×1.8 [1.3, 2.6])", "earlier (...)", or "no evidence it moves (...)".
std::string Reading(const Ratio& r) {
  if (r.lo > 1) return fmt::format("later (×{:.3g} [{:.3g}, {:.3g}])", r.value, r.lo, r.hi);
  if (r.hi < 1) return fmt::format("earlier (×{:.3g} [{:.3g}, {:.3g}])", r.value, r.lo, r.hi);
  return fmt::format("no evidence it moves (×{:.3g} [{:.3g}, {:.3g}] holds 1)", r.value, r.lo,
                     r.hi);
}

}  // namespace

void ArmsSection(Document& doc, const std::vector<LadderTStars>& arms) {
  if (arms.size() < 2) return;
  const LadderTStars& reference = arms.front();
  std::set<std::pair<std::string, double>> gammas;  // (perturbed-loss family: its noise scale, γ)
  std::set<std::string> tasks;
  for (const LadderTStars& a : arms)
    for (const TStarCurve& c : a.curves) {
      if (c.family.starts_with("perturbed loss")) gammas.insert({c.family, c.param});
      if (c.family == "OOD at the tuned LR") tasks.insert(c.task);
    }
  std::vector<std::vector<std::string>> rows;
  std::vector<std::string> findings;
  auto add = [&](const LadderTStars& a, const std::string& what, const TStarCurve* arm,
                 const TStarCurve* ref) {
    const Ratio r = arm && ref ? RatioOf(arm->t, ref->t) : Ratio{};
    rows.push_back({a.name, what, TStarCell(arm), &a == &reference ? "reference" : RatioCell(r)});
    if (&a != &reference && r.has)
      findings.push_back(fmt::format("{}: {} turns upward {} than in {}.", a.name, what, Reading(r),
                                     reference.name));
    else if (&a != &reference && arm && ref && (arm->t.has != ref->t.has))
      findings.push_back(fmt::format(
          "{}: {} has {} while {} has {}: the ladder brackets one minimum and not the other, so "
          "no ratio is estimated.",
          a.name, what, arm->t.has ? "a T*" : "no T*", reference.name,
          ref->t.has ? "one" : "none"));
  };
  for (const LadderTStars& a : arms) {
    for (const auto& [family, gamma] : gammas)
      add(a, fmt::format("{}, γ = {:g}", family, gamma), Find(a, family, gamma),
          Find(reference, family, gamma));
    for (const std::string& task : tasks) {
      const TStarCurve* arm = nullptr;
      const TStarCurve* ref = nullptr;
      for (const TStarCurve& c : a.curves)
        if (c.family == "OOD at the tuned LR" && c.task == task) arm = &c;
      for (const TStarCurve& c : reference.curves)
        if (c.family == "OOD at the tuned LR" && c.task == task) ref = &c;
      add(a, "fine-tuned OOD at the tuned LR, " + task, arm, ref);
    }
  }
  doc.Heading(2, "What moves the inflection");
  doc.Paragraph(fmt::format(
      "T* per arm (the vertex between budgets with its 95% bootstrap interval; each arm's own "
      "report gives the rule) and its ratio to the reference arm {}: a ratio whose interval lies "
      "above 1 moves the inflection later (the arm is less sensitive to the same modification), "
      "below 1 earlier. \"no T*\" means the curve has no significant interior minimum inside the "
      "ladder. An interval rests only on the units the arm's study resampled: with one "
      "pre-training seed it leaves out seed-to-seed variation, and an arm's untuned learning rate "
      "is a confound the ratio cannot remove.",
      reference.name));
  doc.Paragraph("Whether each claim holds per arm: the claims table above.");
  doc.Table({"arm", "curve", "T* [interval]", "ratio to the reference [interval]"},
            std::move(rows));
  if (!findings.empty()) doc.Bullets(std::move(findings));
}

}  // namespace ot
