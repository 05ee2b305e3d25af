// Report section 5: the linear-network lab — perturbed L_A per γ, fine-tuned L_A per η_ft and per
// λ (the C8 sweep when the rows have one), then claims C7 and C8 over seeds (theory_claims.h).
#include <fmt/format.h>

#include <cmath>
#include <set>

#include "report/sections.h"
#include "report/theory_claims.h"

namespace ot::report_detail {
namespace {

// One row per condition: median argmin over seeds with its IQR, how many seeds are U-shaped, flat
// or at the convergence edge, and the U's depth; fine-tuning rows add L_B from the converged base.
void ClaimTables(Ctx& ctx, const TheoryClaims& t) {
  auto cells = [](const ConditionSummary& s) {
    return std::vector<std::string>{
        fmt::format("{:.0f} [{:.0f}–{:.0f}]", s.argmin_median, s.argmin_q1, s.argmin_q3),
        fmt::format("{}/{}/{}/{}/{}", s.u_shaped, s.flat, s.at_edge, s.plateau, s.at_start),
        fmt::format("{:.3g}", s.depth_median), fmt::format("{:.1f}%", 100 * s.spread_median)};
  };
  const std::vector<std::string> head{"argmin T: median [IQR]", "seeds U/flat/edge/plateau/start",
                                      "U depth (median)", "spread (median)"};
  std::vector<std::vector<std::string>> rows;
  for (const auto& s : t.perturb) {
    rows.push_back({"perturbed L_A, γ = " + FormatParam(s.param)});
    for (auto& c : cells(s)) rows.back().push_back(std::move(c));
  }
  for (const auto& s : t.finetune) {
    rows.push_back({"fine-tuned L_A, η_ft = " + FormatParam(s.param)});
    for (auto& c : cells(s)) rows.back().push_back(std::move(c));
  }
  std::vector<std::string> h7{"C7 curve"};
  h7.insert(h7.end(), head.begin(), head.end());
  ctx.body.Paragraph(fmt::format(
      "C7 and C8 over {} seed(s). A curve whose spread (max − min)/min is under {:g}% is \"flat: "
      "argmin not meaningful\"; a minimum at the last checkpoint, or where the base's learned "
      "spectrum "
      "is within {:g}% of its final one, is at the pre-training convergence edge. C7: {} — {}",
      t.seeds, 100 * kFlatSpread, 100 * kConvergedTolerance, t.c7.verdict, t.c7.evidence));
  ctx.body.Table(h7, std::move(rows));
  if (t.l2sp.empty()) return;
  rows.clear();
  for (const auto& s : t.l2sp) {
    rows.push_back({FormatParam(s.param),
                    s.ft_steps ? fmt::format("{:.3g}", s.param * s.lr * s.ft_steps) : "?"});
    for (auto& c : cells(s)) rows.back().push_back(std::move(c));
    rows.back().push_back(
        fmt::format("{:.4g} [{:.4g}–{:.4g}]", s.loss_b_median, s.loss_b_lo, s.loss_b_hi));
  }
  std::vector<std::string> h8{"λ", "λ·η_ft·steps"};
  h8.insert(h8.end(), head.begin(), head.end());
  h8.push_back("L_B at the last checkpoint: median [range]");
  ctx.body.Paragraph(
      fmt::format("C8 (L2-SP, {} rows): {} — {}", t.l2sp_source, t.c8.verdict, t.c8.evidence));
  ctx.body.Table(h8, std::move(rows));
}

// Fills c.se with the standard error over seeds of L_A at each step (NaN with one seed). The
// plotted curves are means over seeds (TheoryPoint); fine-tuning is deterministic per seed, so the
// spread between seeds is its only uncertainty.
void AddSeedSe(const Ctx& ctx, Curve& c, const std::string& kind, double lr, double lambda) {
  c.se.assign(c.x.size(), std::nan(""));
  for (size_t i = 0; i < c.x.size(); ++i) {
    std::vector<double> v;
    for (const auto& r : *ctx.results.theory)
      if (r.kind == kind && r.lr == lr && r.lambda == lambda && double(r.step) == c.x[i])
        v.push_back(r.loss_a);
    if (v.size() < 2) continue;
    double mean = 0, ss = 0;
    for (double x : v) mean += x / v.size();
    for (double x : v) ss += (x - mean) * (x - mean);
    c.se[i] = std::sqrt(ss / (v.size() - 1) / v.size());
  }
}

}  // namespace

void TheorySection(Ctx& ctx) {
  ctx.body.Heading(2, "5. Theory: two-layer linear network");
  if (ctx.s.theory.empty()) {
    ctx.body.Paragraph("`results/theory.jsonl` is absent or empty: no theory section.");
    ctx.omitted.push_back("theory.jsonl");
    return;
  }
  bool positive = true;
  std::vector<double> steps;
  for (const auto& p : ctx.s.theory)
    positive = positive && p.step > 0, steps.push_back(double(p.step));
  steps = Distinct(steps);
  auto panel = [&](std::string title) {
    PlotPanel p;
    p.title = std::move(title);
    p.xlabel = "pre-training step";
    p.ylabel = "L_A (pre-training loss)";
    p.logx = positive;
    if (steps.size() <= 12)
      for (double x : steps) p.xtics.push_back({x, fmt::format("{:g}", x)});
    return p;
  };
  Figure fig = NewFigure("fig5_theory",
                         "linear-network lab: pre-training loss L_A after a modification", 560);
  PlotPanel pp = panel("perturbed L_A per γ (MC ± s.e.; closed form dashed)");
  PlotPanel pf = panel("L_A after fine-tuning per η_ft");
  PlotPanel pl = panel("L_A (solid) and L_B (dashed) per λ (L2-SP)");
  pl.ylabel = "L_A, L_B";
  // The λ panel shows the C8 sweep (kind "l2sp", its own teacher) when the rows have one; curves
  // are means over seeds (TheoryPoint), the per-seed analysis is in the claims tables below.
  bool sweep = false;
  for (const auto& p : ctx.s.theory) sweep = sweep || p.kind == "l2sp";
  const std::string lambda_kind = sweep ? "l2sp" : "finetune";
  std::vector<double> gammas, lrs, lambdas, sweep_lrs;
  for (const auto& p : ctx.s.theory) {
    if (p.kind == "perturb") gammas.push_back(p.gamma);
    if (p.kind == "finetune") lrs.push_back(p.lr);
    if (p.kind == lambda_kind) lambdas.push_back(p.lambda), sweep_lrs.push_back(p.lr);
  }
  gammas = Distinct(gammas), lrs = Distinct(lrs), lambdas = Distinct(lambdas);
  sweep_lrs = Distinct(sweep_lrs);
  Curve base = TheoryCurve(
      ctx, "base L_A", 0, "base", [](auto&) { return true; }, [](auto& p) { return p.loss_a; },
      false);
  for (PlotPanel* p : {&pp, &pf}) p->series.push_back(Series(base, 0, true, nullptr));
  std::vector<const Finding*> fam_gamma, fam_lr, fam_lambda, shown;
  int color = 1;
  for (double g : gammas) {
    auto keep = [&](auto& p) { return p.gamma == g; };
    const std::string label = fmt::format("γ = {}", FormatParam(g));
    const Finding& f =
        Record(ctx, fig.name, "perturbed L_A",
               TheoryCurve(
                   ctx, label, g, "perturb", keep, [](auto& p) { return p.loss_a; }, true),
               ctx.steps);
    Curve closed = TheoryCurve(
        ctx, label + " closed form", g, "perturb", keep, [](auto& p) { return p.loss_a_closed; },
        false);
    pp.series.push_back(Series(f.curve, color, false, &f));
    pp.series.push_back(Series(closed, color, true, nullptr));
    pp.series.back().points = false;
    fam_gamma.push_back(&f);
    ctx.families["theory.gamma"].push_back(&f);
    ++color;
  }
  // η_ft panel at the smallest λ (0 = plain fine-tuning); λ panel at the η_ft with the most λ
  // values.
  double lambda0 = 0;
  {
    std::vector<double> ft_lambdas;
    for (const auto& p : ctx.s.theory)
      if (p.kind == "finetune") ft_lambdas.push_back(p.lambda);
    ft_lambdas = Distinct(ft_lambdas);
    if (!ft_lambdas.empty()) lambda0 = ft_lambdas.front();
  }
  double lr_for_lambda = sweep_lrs.empty() ? 0 : sweep_lrs.back();
  size_t most = 0;
  for (double lr : sweep_lrs) {
    std::set<double> ls;
    for (const auto& p : ctx.s.theory)
      if (p.kind == lambda_kind && p.lr == lr) ls.insert(p.lambda);
    if (ls.size() >= most) most = ls.size(), lr_for_lambda = lr;
  }
  color = 1;
  for (double lr : lrs) {
    Curve c = TheoryCurve(
        ctx, "η_ft = " + FormatParam(lr), lr, "finetune",
        [&](auto& p) { return p.lr == lr && p.lambda == lambda0; },
        [](auto& p) { return p.loss_a; }, false);
    if (c.x.empty()) continue;  // this η_ft was only run with λ > 0
    AddSeedSe(ctx, c, "finetune", lr, lambda0);
    const Finding& f = Record(
        ctx, fig.name, fmt::format("fine-tuned L_A (λ = {})", FormatParam(lambda0)), c, ctx.steps);
    pf.series.push_back(Series(f.curve, color++, false, &f));
    fam_lr.push_back(&f);
    ctx.families["theory.eta"].push_back(&f);
  }
  color = 1;
  for (double lambda : lambdas) {
    auto keep = [&](auto& p) { return p.lr == lr_for_lambda && p.lambda == lambda; };
    const std::string label = "λ = " + FormatParam(lambda);
    Curve ca = TheoryCurve(
        ctx, label, lambda, lambda_kind, keep, [](auto& p) { return p.loss_a; }, false);
    if (ca.x.empty()) continue;
    AddSeedSe(ctx, ca, lambda_kind, lr_for_lambda, lambda);
    const Finding& f =
        Record(ctx, fig.name,
               fmt::format("{} L_A (η_ft = {})", sweep ? "L2-SP sweep (C8 teacher)" : "fine-tuned",
                           FormatParam(lr_for_lambda)),
               ca, ctx.steps);
    Curve cb = TheoryCurve(
        ctx, label + " L_B", lambda, lambda_kind, keep, [](auto& p) { return p.loss_b; }, false);
    pl.series.push_back(Series(f.curve, color, false, &f));
    pl.series.push_back(Series(cb, color, true, nullptr));
    fam_lambda.push_back(&f);
    ++color;
  }
  fig.panels = {pp, pf, pl};
  Draw(ctx, std::move(fig), "theory panels: perturbed and fine-tuned pre-training loss vs step");
  for (auto* fam : {&fam_gamma, &fam_lr, &fam_lambda})
    shown.insert(shown.end(), fam->begin(), fam->end());
  FindingsTable(ctx, shown);
  // L2-SP is judged per seed here, not from the mean curve: one seed's nearly flat curve was once
  // read as "λ = 0.1 moves the minimum earlier".
  const TheoryClaims claims = SummarizeTheory(*ctx.results.theory);
  ClaimTables(ctx, claims);
  std::string v =
      "Linear-network lab: " + Lower(FamilyVerdict("the perturbed L_A", "γ", fam_gamma));
  if (!fam_lr.empty()) v += " " + FamilyVerdict("L_A after fine-tuning", "η_ft", fam_lr);
  if (!claims.l2sp.empty())
    v += fmt::format(" L2-SP (C8, {}): {}", claims.c8.verdict, claims.c8.evidence);
  bool deterministic_ft = false;
  for (const auto* f : fam_lr) deterministic_ft = deterministic_ft || !f->result.has_uncertainty;
  if (deterministic_ft)
    v += claims.seeds > 1 ? fmt::format(
                                " (Fine-tuning in the lab is deterministic per seed; the spread is "
                                "over {} seeds.)",
                                claims.seeds)
                          : " (Fine-tuning in the lab is a single deterministic run per condition: "
                            "no error bars.)";
  ctx.verdict.push_back(v);
}

}  // namespace ot::report_detail
