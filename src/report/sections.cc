// Shared section helpers (sections.h) and the first two sections: base vs modified loss,
// perturbation.
#include "report/sections.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <set>

#include "core/check.h"
#include "core/config.h"

namespace ot::report_detail {

const Finding& Record(Ctx& ctx, std::string figure, std::string panel, Curve curve,
                      const XAxis& axis) {
  ctx.findings.push_back(
      Analyze(std::move(figure), std::move(panel), std::move(curve), axis, ctx.options.inflection));
  return ctx.findings.back();
}

PlotSeries Series(const Curve& c, int color, bool dashed, const Finding* f) {
  PlotSeries ps;
  ps.title = c.label;
  ps.x = c.x;
  ps.y = c.y;
  const bool any_se = std::any_of(c.se.begin(), c.se.end(), [](double v) { return v > 0; });
  if (any_se) ps.se = c.se;
  ps.color = color;
  ps.dashed = dashed;
  if (f && !c.x.empty()) {
    ps.marker = f->result.argmin;
    if (f->result.u_shaped)
      ps.marker_label = "min " + f->axis.Short(f->result.x_min);
    else if (f->result.interior)
      ps.marker_label = f->axis.Short(f->result.x_min) + " (n.s.)";
  }
  return ps;
}

std::vector<std::pair<double, std::string>> TokenTics(const Summaries& s) {
  std::vector<std::pair<double, std::string>> tics;
  const size_t stride = (s.budgets.size() + 7) / 8;  // at most ~8 labelled tics per panel
  for (size_t i = 0; i < s.budgets.size(); ++i) {
    const Budget& b = s.budgets[i];
    XAxis axis{&s};
    tics.push_back({double(b.tokens),
                    i % stride == 0
                        ? fmt::format("{}\n{:.3g} ep", axis.Short(double(b.tokens)), b.epochs)
                        : std::string()});
  }
  return tics;
}

PlotPanel TokenPanel(const Ctx& ctx, std::string title, std::string ylabel) {
  PlotPanel p;
  p.title = std::move(title);
  p.xlabel = "pre-training " + ctx.s.unit + " (epochs)";
  p.ylabel = std::move(ylabel);
  p.xtics = TokenTics(ctx.s);
  const size_t stride = (ctx.s.budgets.size() + 7) / 8;
  for (size_t i = 0; i < ctx.s.budgets.size(); i += stride)
    p.x2tics.push_back({double(ctx.s.budgets[i].tokens),
                        fmt::format("{:.3g}", ctx.s.budgets[i].tokens_per_param)});
  p.x2label = ctx.s.unit + " per parameter";
  return p;
}

Figure NewFigure(std::string name, std::string title, int panel_width, int height) {
  Figure f;
  f.name = std::move(name);
  f.title = std::move(title);
  f.panel_width = panel_width;
  f.height = height;
  return f;
}

void Draw(Ctx& ctx, Figure fig, const std::string& alt) {
  RenderFigure(fig, ctx.figure_dir);
  ctx.figures.push_back(fig.name);
  ctx.body.Image("figures/" + fig.name + ".svg", "figures/" + fig.name + ".png", alt);
}

void SmallMultiples(Ctx& ctx, const std::string& name, const std::string& title,
                    const std::string& what, const std::vector<const Finding*>& family,
                    const Curve& reference) {
  if (family.size() < 2) return;
  Figure fig = NewFigure(name, title, family.size() > 4 ? 330 : 400, 420);
  int color = 1;
  for (const Finding* f : family) {
    PlotPanel p = TokenPanel(ctx, f->curve.label, what);
    p.x2tics.clear();  // narrow panels: tokens/param and epochs are on the main figure
    for (auto& [x, label] : p.xtics) label = label.substr(0, label.find('\n'));
    p.xlabel = "pre-training " + ctx.s.unit;
    if (!reference.x.empty()) p.series.push_back(Series(reference, 0, true, nullptr));
    p.series.push_back(Series(f->curve, color++, false, f));
    fig.panels.push_back(std::move(p));
  }
  Draw(ctx, std::move(fig), title);
}

void FindingsTable(Ctx& ctx, const std::vector<const Finding*>& findings) {
  std::vector<std::vector<std::string>> rows;
  for (const auto* f : findings) {
    const auto& r = f->result;
    std::string epochs = "–", tpp = "–";
    if (f->axis.budgets) {
      const Budget& b = ctx.s.At(static_cast<int64_t>(r.x_min));
      epochs = fmt::format("{:.3g}", b.epochs);
      tpp = fmt::format("{:.3g}", b.tokens_per_param);
    }
    rows.push_back({f->panel, f->curve.label, f->axis.Short(r.x_min), epochs, tpp,
                    r.u_shaped ? "yes" : "no", DescribeCurve(*f), r.uncertainty});
  }
  ctx.body.Table({"panel", "curve", "minimum at", "epochs", "tokens/param", "U-shaped", "finding",
                  "uncertainty"},
                 std::move(rows));
}

std::string Lower(std::string s) {
  if (!s.empty() && s[0] >= 'A' && s[0] <= 'Z') s[0] = char(s[0] - 'A' + 'a');
  return s;
}

std::string RangeText(const Ctx& ctx) {
  const auto& b = ctx.s.budgets;
  if (b.empty()) return "";
  return fmt::format("{}–{} {}, {:.3g}–{:.3g} epochs", ctx.tokens.Short(double(b.front().tokens)),
                     ctx.tokens.Short(double(b.back().tokens)), ctx.s.unit, b.front().epochs,
                     b.back().epochs);
}

std::vector<double> Distinct(const std::vector<double>& v) {
  std::vector<double> out = v;
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

namespace {

// The perturbation scale of the claims: "init" (the paper's) when present.
std::string MainScale(const Summaries& s) {
  const std::vector<std::string> scales = s.PerturbScales();
  return scales.empty() ? "init" : scales.front();
}

// The perturbation group drawn in the figures: "all" (or a ViT's "backbone") when present.
std::string MainGroup(const Summaries& s) {
  for (const auto& p : s.perturb)
    if (IsWholeModelGroup(p.group)) return p.group;
  return s.perturb.empty() ? "all" : s.perturb.front().group;
}

// The base model as the perturbation rows of one scale saw it (the reference of every Δ).
Curve PerturbBaseCurve(const Ctx& ctx, const std::string& scale) {
  const std::string group = MainGroup(ctx.s);
  std::map<int64_t, std::vector<double>> by;
  for (const auto& p : ctx.s.perturb)
    if (p.group == group && p.scale == scale) by[p.tokens].push_back(p.base_loss.mean);
  Curve c{"base model", 0, {}, {}, {}};
  for (const auto& [tokens, v] : by) {
    c.x.push_back(double(tokens));
    c.y.push_back(MeanAndSe(v).mean);
    c.se.push_back(kNaN);
  }
  return c;
}

// The base model from pretrain.jsonl (mean ± s.e. over seeds), else from the perturbation rows.
Curve BaseCurve(const Ctx& ctx) {
  if (!ctx.s.pretrain.empty())
    return MakeCurve(
        "base model", 0, ctx.s.pretrain, [](auto&) { return true; },
        [](const PretrainPoint& p) { return p.base_loss; });
  return PerturbBaseCurve(ctx, MainScale(ctx.s));
}

std::vector<double> PerturbGammas(const Summaries& s, const std::string& group,
                                  const std::string& scale) {
  std::vector<double> gammas;
  for (const auto& p : s.perturb)
    if (p.group == group && p.scale == scale) gammas.push_back(p.gamma);
  return Distinct(gammas);
}

}  // namespace

void BaseSection(Ctx& ctx) {
  ctx.body.Heading(2, "1. Base vs modified loss against tokens");
  const Curve base = BaseCurve(ctx);
  if (base.x.empty()) {
    ctx.body.Paragraph(
        "No base-model losses (pretrain.jsonl and perturb.jsonl absent): no figure.");
    return;
  }
  // One panel per kind of model, each on its own scale (a diverged fine-tuning run must not squash
  // the base curve): the base model, then per task the OOD loss after fine-tuning at the tuned LR
  // with the base dashed. The perturbed models have their own figures (section 2).
  Figure fig = NewFigure("fig1_base_vs_modified",
                         "base vs modified models against pre-training tokens", 520, 520);
  PlotPanel panel = TokenPanel(ctx, "base model", "loss on the general validation set (nats)");
  const Finding& fb = Record(ctx, fig.name, "base vs modified", base, ctx.tokens);
  std::vector<const Finding*> shown{&fb};
  panel.series.push_back(Series(base, 0, false, &fb));
  fig.panels.push_back(std::move(panel));
  std::set<std::string> tasks;
  for (const auto& p : ctx.s.tuned) tasks.insert(p.task);
  int color = 1;
  for (const auto& task : tasks) {
    PlotPanel pt = TokenPanel(ctx, "fine-tuned on " + task + " (tuned LR), OOD", "loss (nats)");
    Curve c = MakeCurve(
        "fine-tuned", 0, ctx.s.tuned, [&](const FinetunePoint& p) { return p.task == task; },
        [](const FinetunePoint& p) { return p.ood_loss; });
    Finding f = Analyze(fig.name, "", c, ctx.tokens, ctx.options.inflection);
    Curve b = base;
    b.se.clear();
    pt.series.push_back(Series(b, 0, true, nullptr));
    pt.series.push_back(Series(c, color++, false, &f));
    fig.panels.push_back(std::move(pt));
  }
  ctx.body.Paragraph(
      "Base model, and the OOD loss after fine-tuning with the LR tuned per checkpoint (section 4) "
      "with the "
      "base dashed, each panel on its own scale. The Gaussian-perturbed models are in section 2. "
      "Error "
      "bars: ±1 s.e. (the base model's over evaluation windows when there is one pre-training "
      "seed).");
  Draw(ctx, std::move(fig), "base vs modified loss against pre-training tokens");
  FindingsTable(ctx, shown);
  if (fb.result.monotone_decreasing)
    ctx.verdict.push_back(fmt::format(
        "The base model keeps improving: its loss decreases monotonically with {} ({}).",
        ctx.s.unit, RangeText(ctx)));
  else
    ctx.verdict.push_back("The base model's loss is " + std::string(ShapeName(fb.result.shape)) +
                          " in " + ctx.s.unit + ": " + DescribeCurve(fb) + ".");
}

namespace {

// "σ_init" / "rms(θ_t)": the per-tensor scale s_t of a noise scale's name.
std::string ScaleSymbol(const std::string& scale) {
  return scale == "relative" ? "rms(θ_t)" : "σ_init";
}

// The figures, findings table and verdict of one noise scale. The main scale's curves feed the
// claims (families perturb.delta / perturb.loss); another scale's are its own ("perturb.<scale>.*")
// and never share a curve with the main one's.
void PerturbScaleSection(Ctx& ctx, const std::string& scale, bool main) {
  const std::string group = MainGroup(ctx.s);
  const std::vector<double> gammas = PerturbGammas(ctx.s, group, scale);
  const std::string suffix = main ? "" : "_" + scale;
  const std::string family = main ? "perturb" : "perturb." + scale;
  Figure fig = NewFigure("fig2_perturb" + suffix,
                         fmt::format("Gaussian perturbation θ + γ·{}·z, scale '{}' (group '{}')",
                                     ScaleSymbol(scale), scale, group));
  PlotPanel pd = TokenPanel(ctx, "Δ = perturbed − base loss", "Δ loss (nats)");
  PlotPanel pl = TokenPanel(ctx, "perturbed loss (base dashed)", "loss (nats)");
  std::vector<const Finding*> deltas, losses;
  int color = 1;
  for (double g : gammas) {
    auto keep = [&](const PerturbPoint& p) {
      return p.group == group && p.scale == scale && p.gamma == g;
    };
    const std::string label = fmt::format("γ = {}", FormatParam(g));
    const std::string panel = main ? "" : ", " + scale + " scale";
    const Finding& fd = Record(
        ctx, fig.name, "Δ loss" + panel,
        MakeCurve(label, g, ctx.s.perturb, keep, [](auto& p) { return p.delta; }), ctx.tokens);
    const Finding& fl = Record(
        ctx, fig.name, "perturbed loss" + panel,
        MakeCurve(label, g, ctx.s.perturb, keep, [](auto& p) { return p.loss; }), ctx.tokens);
    pd.series.push_back(Series(fd.curve, color, false, &fd));
    pl.series.push_back(Series(fl.curve, color, false, &fl));
    deltas.push_back(&fd);
    losses.push_back(&fl);
    ctx.families[family + ".delta"].push_back(&fd);
    ctx.families[family + ".loss"].push_back(&fl);
    ++color;
  }
  Curve base = PerturbBaseCurve(ctx, scale);
  base.se.clear();
  pl.series.insert(pl.series.begin(), Series(base, 0, true, nullptr));
  fig.panels = {pd, pl};
  int64_t n_lo = INT64_MAX, n_hi = 0;
  for (const auto& p : ctx.s.perturb)
    if (p.scale == scale) n_lo = std::min(n_lo, p.loss.n), n_hi = std::max(n_hi, p.loss.n);
  const std::string n_text =
      n_lo == n_hi ? fmt::format("{}", n_lo) : fmt::format("{}–{}", n_lo, n_hi);
  ctx.body.Paragraph(
      fmt::format("Noise scale '{}': per tensor σ = γ·{}. Mean ± 1 s.e. over draws × seeds (n = {} "
                  "per point). Each curve's minimum is marked; '(n.s.)' marks an interior minimum "
                  "that is not significant.",
                  scale, ScaleSymbol(scale), n_text));
  Draw(ctx, std::move(fig),
       std::string("perturbation") + (main ? "" : " (" + scale + " scale)") +
           ": delta and perturbed loss per gamma");
  SmallMultiples(ctx, "fig2b_perturb_per_gamma" + suffix,
                 "perturbed loss per γ, " + scale + " scale, each on its own scale (base dashed)",
                 "loss (nats)", losses, base);
  std::vector<const Finding*> all = deltas;
  all.insert(all.end(), losses.begin(), losses.end());
  FindingsTable(ctx, all);
  const std::string scale_text = main ? "" : fmt::format("Under the {} noise scale, ", scale);
  ctx.verdict.push_back(fmt::format(
      "{}{} ({}, {} parameters, {}), {} {}", scale_text, main ? "At this scale" : "at this scale",
      ctx.results.study.preset, FormatSize(ctx.results.study.params), RangeText(ctx),
      GrowthVerdict("Δ", "γ", deltas), FamilyVerdict("the perturbed loss", "γ", losses)));
  if (!main) return;
  if (n_hi < 2)
    ctx.verdict.push_back(
        "Perturbation uncertainty: each point is a single draw of a single seed, so there are no "
        "standard "
        "errors and the minima above are not tested against noise.");
  else
    ctx.verdict.push_back(
        fmt::format("Perturbation uncertainty: each point averages n = {} draws × seeds; a change "
                    "counts only beyond "
                    "{:g} combined standard errors{}.",
                    n_text, ctx.options.inflection.z,
                    n_lo < 2 ? " (points with n = 1 carry no standard error)" : ""));
}

}  // namespace

void PerturbSection(Ctx& ctx) {
  ctx.body.Heading(2, "2. Gaussian perturbation");
  if (ctx.s.perturb.empty()) {
    ctx.body.Paragraph("`results/perturb.jsonl` is absent or empty: no perturbation section.");
    ctx.omitted.push_back("perturb.jsonl");
    return;
  }
  const std::vector<std::string> scales = ctx.s.PerturbScales();
  if (scales.size() > 1)
    ctx.body.Paragraph(fmt::format(
        "Noise scales, each with its own figures (never one curve across scales): {}. The "
        "claims C1 and C2 rest on '{}'.",
        fmt::join(scales, ", "), scales.front()));
  for (size_t i = 0; i < scales.size(); ++i) {
    if (scales.size() > 1) ctx.body.Heading(3, "Noise scale '" + scales[i] + "'");
    PerturbScaleSection(ctx, scales[i], i == 0);
  }
  const std::string group = MainGroup(ctx.s);
  std::set<std::string> others;
  for (const auto& p : ctx.s.perturb)
    if (p.group != group) others.insert(p.group);
  if (!others.empty())
    ctx.body.Paragraph(
        fmt::format("Other perturbation groups ({}) are in `tables/perturb_summary.csv`.",
                    fmt::join(others, ", ")));
}

}  // namespace ot::report_detail
