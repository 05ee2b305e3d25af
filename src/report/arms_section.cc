// What moves the inflection: T* per arm and its ratio to the reference arm (see arms_section.h).
#include "report/arms_section.h"

#include <fmt/format.h>

#include <cmath>
#include <map>
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

// The sensitivity table: per noise scale and γ, each arm's Δ growth from the first budget to the
// last, its ratio to the reference arm's, and the last-budget Δ ratio. The findings read one γ per
// scale: the smallest at which the reference arm's Δ at the first budget is significantly positive
// (its interval above 0), the regime nearest the quadratic one where Δ measures curvature and a
// growth factor is measurable. A larger γ can saturate (Δ of several nats: the model destroyed).
void SensitivityTable(Document& doc, const std::vector<LadderTStars>& arms) {
  const LadderTStars& reference = arms.front();
  std::map<std::string, std::vector<const DeltaGrowth*>> by_scale;  // γ ascending (map order)
  for (const DeltaGrowth& g : reference.growth) by_scale[g.scale].push_back(&g);
  if (by_scale.empty()) return;
  auto find = [](const LadderTStars& a, const std::string& scale,
                 double gamma) -> const DeltaGrowth* {
    for (const DeltaGrowth& g : a.growth)
      if (g.scale == scale && g.gamma == gamma) return &g;
    return nullptr;
  };
  std::vector<std::vector<std::string>> rows;
  std::vector<std::string> findings, chosen;
  for (const auto& [scale, refs] : by_scale) {
    const DeltaGrowth* read = nullptr;
    for (const DeltaGrowth* g : refs)
      if (!read && Percentile(g->first_draws, 0.025) > 0) read = g;
    chosen.push_back(
        read ? fmt::format("{} noise: γ = {:g}", scale, read->gamma)
             : fmt::format("{} noise: none (no γ's first-budget Δ is significant)", scale));
    for (const LadderTStars& a : arms)
      for (const DeltaGrowth* ref : refs) {
        const DeltaGrowth* g = find(a, scale, ref->gamma);
        if (!g) {
          rows.push_back(
              {a.name, scale, fmt::format("{:g}", ref->gamma), "not measured", "–", "–", "–"});
          continue;
        }
        const bool is_ref = &a == &reference;
        const DrawRatio growth = RatioOfDraws(g->growth, g->draws, ref->growth, ref->draws);
        const DrawRatio last =
            RatioOfDraws(g->delta_last, g->last_draws, ref->delta_last, ref->last_draws);
        auto cell = [&](const DrawRatio& r) {
          return is_ref  ? std::string("reference")
                 : r.has ? fmt::format("{:.3g} [{:.3g}, {:.3g}]", r.value, r.lo, r.hi)
                         : std::string("–");
        };
        rows.push_back({a.name, scale, fmt::format("{:g}", ref->gamma),
                        fmt::format("{:.3g} → {:.3g}", g->delta_first, g->delta_last),
                        fmt::format("×{:.3g} [{:.3g}, {:.3g}]", g->growth, g->lo, g->hi),
                        cell(growth), cell(last)});
        if (is_ref || !growth.has || ref != read) continue;
        const std::string reading =
            growth.hi < 1   ? "grows less sensitive with training than"
            : growth.lo > 1 ? "grows more sensitive with training than"
                            : "cannot be told apart (the ratio's interval holds 1) from";
        findings.push_back(fmt::format(
            "{}, {} noise at γ = {:g}: Δ grows ×{:.3g} [{:.3g}, {:.3g}] from the first budget to "
            "the last, against ×{:.3g} for {}; ratio {:.3g} [{:.3g}, {:.3g}]: it {} {}.",
            a.name, scale, ref->gamma, g->growth, g->lo, g->hi, ref->growth, reference.name,
            growth.value, growth.lo, growth.hi, reading, reference.name));
      }
  }
  std::string read_at;
  for (const std::string& c : chosen) read_at += (read_at.empty() ? "" : "; ") + c;
  doc.Heading(3, "Progressive sensitivity per arm");
  doc.Paragraph(fmt::format(
      "How much the perturbation's Δ grows from the ladder's first budget to its last, per noise "
      "scale (init: σ = γ·σ_init; relative: σ = γ·rms(θ) of each tensor at that checkpoint, "
      "which factors out weights that weight decay shrinks) and γ. The growth's 95% interval is "
      "a bootstrap over pre-training seeds and draws; the ratios pair two arms' independent "
      "replicates. A growth ratio below 1 means the arm's sensitivity rises less with training "
      "than the reference arm's. The sentences below read one γ per scale, the smallest whose "
      "first-budget Δ in the reference arm is significantly positive ({}); a Δ of several nats "
      "means that γ destroys the model, and its growth says little.",
      read_at));
  doc.Table({"arm", "noise scale", "γ", "Δ first → last", "growth [interval]",
             "growth ratio to the reference [interval]", "last-budget Δ ratio [interval]"},
            std::move(rows));
  if (!findings.empty()) doc.Bullets(std::move(findings));
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
  SensitivityTable(doc, arms);
}

}  // namespace ot
