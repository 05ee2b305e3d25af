// Report section 5: the linear-network lab — perturbed L_A per γ, fine-tuned L_A per η_ft and per
// λ.
#include <fmt/format.h>

#include <set>

#include "report/sections.h"

namespace ot::report_detail {

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
  std::vector<double> gammas, lrs, lambdas;
  for (const auto& p : ctx.s.theory) {
    if (p.kind == "perturb") gammas.push_back(p.gamma);
    if (p.kind == "finetune") lrs.push_back(p.lr), lambdas.push_back(p.lambda);
  }
  gammas = Distinct(gammas), lrs = Distinct(lrs), lambdas = Distinct(lambdas);
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
  const double lambda0 = lambdas.empty() ? 0 : lambdas.front();
  double lr_for_lambda = lrs.empty() ? 0 : lrs.back();
  size_t most = 0;
  for (double lr : lrs) {
    std::set<double> ls;
    for (const auto& p : ctx.s.theory)
      if (p.kind == "finetune" && p.lr == lr) ls.insert(p.lambda);
    if (ls.size() >= most) most = ls.size(), lr_for_lambda = lr;
  }
  color = 1;
  for (double lr : lrs) {
    Curve c = TheoryCurve(
        ctx, "η_ft = " + FormatParam(lr), lr, "finetune",
        [&](auto& p) { return p.lr == lr && p.lambda == lambda0; },
        [](auto& p) { return p.loss_a; }, false);
    if (c.x.empty()) continue;  // this η_ft was only run with λ > 0
    const Finding& f = Record(
        ctx, fig.name, fmt::format("fine-tuned L_A (λ = {})", FormatParam(lambda0)), c, ctx.steps);
    pf.series.push_back(Series(f.curve, color++, false, &f));
    fam_lr.push_back(&f);
    ctx.families["theory.eta"].push_back(&f);
  }
  color = 1;
  std::vector<std::pair<double, double>> last_loss_b;  // (λ, L_B at the last step)
  for (double lambda : lambdas) {
    auto keep = [&](auto& p) { return p.lr == lr_for_lambda && p.lambda == lambda; };
    const std::string label = "λ = " + FormatParam(lambda);
    Curve ca = TheoryCurve(
        ctx, label, lambda, "finetune", keep, [](auto& p) { return p.loss_a; }, false);
    if (ca.x.empty()) continue;
    const Finding& f =
        Record(ctx, fig.name, fmt::format("fine-tuned L_A (η_ft = {})", FormatParam(lr_for_lambda)),
               ca, ctx.steps);
    Curve cb = TheoryCurve(
        ctx, label + " L_B", lambda, "finetune", keep, [](auto& p) { return p.loss_b; }, false);
    last_loss_b.push_back({lambda, cb.y.back()});
    pl.series.push_back(Series(f.curve, color, false, &f));
    pl.series.push_back(Series(cb, color, true, nullptr));
    fam_lambda.push_back(&f);
    ctx.families["theory.lambda"].push_back(&f);
    ++color;
  }
  fig.panels = {pp, pf, pl};
  Draw(ctx, std::move(fig), "theory panels: perturbed and fine-tuned pre-training loss vs step");
  for (auto* fam : {&fam_gamma, &fam_lr, &fam_lambda})
    shown.insert(shown.end(), fam->begin(), fam->end());
  FindingsTable(ctx, shown);
  std::string v =
      "Linear-network lab: " + Lower(FamilyVerdict("the perturbed L_A", "γ", fam_gamma));
  if (!fam_lr.empty()) v += " " + FamilyVerdict("L_A after fine-tuning", "η_ft", fam_lr);
  if (fam_lambda.size() >= 2) {
    const Finding& f0 = *fam_lambda.front();
    std::vector<std::string> effects;
    for (size_t i = 1; i < fam_lambda.size(); ++i) {
      const Finding& f = *fam_lambda[i];
      const std::string l = FormatParam(f.curve.param);
      if (f0.result.u_shaped && f.result.u_shaped)
        effects.push_back(
            f.result.x_min > f0.result.x_min
                ? fmt::format("λ = {} delays the minimum to step {:g}", l, f.result.x_min)
                : fmt::format("λ = {} does not delay the minimum (step {:g})", l, f.result.x_min));
      else if (f0.result.u_shaped)
        effects.push_back(fmt::format("λ = {} leaves no inflection inside the range ({})", l,
                                      NoInflectionReason(f)));
      else
        effects.push_back(fmt::format("λ = {}: {}", l, DescribeCurve(f)));
    }
    v += fmt::format(
        " With L2-SP at η_ft = {} (λ = {}: {}): {}; L_B at the last step goes from {:.4g} "
        "(λ = {}) to {:.4g} (λ = {}).",
        FormatParam(lr_for_lambda), FormatParam(f0.curve.param), DescribeCurve(f0),
        fmt::join(effects, "; "), last_loss_b.front().second,
        FormatParam(last_loss_b.front().first), last_loss_b.back().second,
        FormatParam(last_loss_b.back().first));
  }
  bool deterministic_ft = false;
  for (const auto* f : fam_lr) deterministic_ft = deterministic_ft || !f->result.has_uncertainty;
  if (deterministic_ft)
    v += " (Fine-tuning in the lab is a single deterministic run per condition: no error bars.)";
  ctx.verdict.push_back(v);
}

}  // namespace ot::report_detail
