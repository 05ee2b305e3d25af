// WriteReport: result files → tables, figures (gnuplot), findings and verdict → report.md + index.html.
// One function per section of protocol.md §5; each records its curves' findings and verdict bullets.
#include "report/report.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <deque>
#include <fstream>
#include <map>
#include <set>

#include "core/check.h"
#include "core/config.h"
#include "report/document.h"
#include "report/gnuplot.h"
#include "report/results.h"
#include "report/tables.h"
#include "report/verdict.h"

namespace ot {
namespace {

namespace fs = std::filesystem;

struct Ctx {
  Ctx(const StudyResults& r, const Summaries& summaries, const ReportOptions& o, fs::path dir)
      : results(r), s(summaries), options(o), figure_dir(std::move(dir)) {}
  const StudyResults& results;
  const Summaries& s;
  ReportOptions options;
  fs::path figure_dir;
  XAxis tokens{nullptr}, steps{nullptr};
  std::deque<Finding> findings;  // deque: Finding pointers handed out stay valid
  Document body;
  std::vector<std::string> verdict, omitted, figures;
};

// ------------------------------------------------------------------------------------------- curves

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
Curve TheoryCurve(const Ctx& ctx, std::string label, double param, const std::string& kind, Keep keep,
                  Get get_y, bool with_se) {
  Curve c{std::move(label), param, {}, {}, {}};
  for (const auto& p : ctx.s.theory) {
    if (p.kind != kind || !keep(p)) continue;
    c.x.push_back(double(p.step));
    c.y.push_back(get_y(p));
    if (with_se) c.se.push_back(p.loss_a_se);
  }
  return c;
}

const Finding& Record(Ctx& ctx, std::string figure, std::string panel, Curve curve, const XAxis& axis) {
  ctx.findings.push_back(Analyze(std::move(figure), std::move(panel), std::move(curve), axis,
                                 ctx.options.inflection));
  return ctx.findings.back();
}

// A curve for a figure, with its minimum marked (labelled when it is inside the range).
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
    tics.push_back({double(b.tokens), i % stride == 0 ? fmt::format("{}\n{:.3g} ep",
                                                                    axis.Short(double(b.tokens)), b.epochs)
                                                      : std::string()});
  }
  return tics;
}

PlotPanel TokenPanel(const Ctx& ctx, std::string title, std::string ylabel) {
  PlotPanel p;
  p.title = std::move(title);
  p.xlabel = "pre-training tokens (epochs)";
  p.ylabel = std::move(ylabel);
  p.xtics = TokenTics(ctx.s);
  return p;
}

Figure NewFigure(std::string name, std::string title, int panel_width = 620, int height = 520) {
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
  return fmt::format("{}–{} tokens, {:.3g}–{:.3g} epochs", ctx.tokens.Short(double(b.front().tokens)),
                     ctx.tokens.Short(double(b.back().tokens)), b.front().epochs, b.back().epochs);
}

// ------------------------------------------------------------------------------------------ sections

// The perturbation group drawn in the figures: "all" when present.
std::string MainGroup(const Summaries& s) {
  for (const auto& p : s.perturb)
    if (p.group == "all") return "all";
  return s.perturb.empty() ? "all" : s.perturb.front().group;
}

std::vector<double> Distinct(const std::vector<double>& v) {
  std::vector<double> out = v;
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

// The base model as the perturbation rows saw it (the reference of every Δ).
Curve PerturbBaseCurve(const Ctx& ctx) {
  const std::string group = MainGroup(ctx.s);
  std::map<int64_t, std::vector<double>> by;
  for (const auto& p : ctx.s.perturb)
    if (p.group == group) by[p.tokens].push_back(p.base_loss.mean);
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
    return MakeCurve("base model", 0, ctx.s.pretrain, [](auto&) { return true; },
                     [](const PretrainPoint& p) { return p.base_loss; });
  return PerturbBaseCurve(ctx);
}

std::vector<double> PerturbGammas(const Summaries& s, const std::string& group) {
  std::vector<double> gammas;
  for (const auto& p : s.perturb)
    if (p.group == group) gammas.push_back(p.gamma);
  return Distinct(gammas);
}

void BaseSection(Ctx& ctx) {
  ctx.body.Heading(2, "1. Base vs modified loss against tokens");
  const Curve base = BaseCurve(ctx);
  if (base.x.empty()) {
    ctx.body.Paragraph("No base-model losses (pretrain.jsonl and perturb.jsonl absent): no figure.");
    return;
  }
  Figure fig = NewFigure("fig1_base_vs_modified", "", 900, 600);
  PlotPanel panel = TokenPanel(ctx, "base vs modified models", "loss on the general validation set (nats)");
  const Finding& fb = Record(ctx, fig.name, "base vs modified", base, ctx.tokens);
  std::vector<const Finding*> shown{&fb};
  panel.series.push_back(Series(base, 0, true, &fb));
  int color = 1;
  const std::string group = MainGroup(ctx.s);
  for (double gamma : PerturbGammas(ctx.s, group)) {
    Curve c = MakeCurve(fmt::format("perturbed, γ = {}", FormatParam(gamma)), gamma, ctx.s.perturb,
                        [&](const PerturbPoint& p) { return p.group == group && p.gamma == gamma; },
                        [](const PerturbPoint& p) { return p.loss; });
    if (c.x.empty()) continue;
    Finding f = Analyze(fig.name, "", c, ctx.tokens, ctx.options.inflection);
    panel.series.push_back(Series(c, color++, false, &f));
  }
  std::set<std::string> tasks;
  for (const auto& p : ctx.s.tuned) tasks.insert(p.task);
  for (const auto& task : tasks) {
    Curve c = MakeCurve("fine-tuned on " + task + " (tuned lr), OOD", 0, ctx.s.tuned,
                        [&](const FinetunePoint& p) { return p.task == task; },
                        [](const FinetunePoint& p) { return p.ood_loss; });
    Finding f = Analyze(fig.name, "", c, ctx.tokens, ctx.options.inflection);
    panel.series.push_back(Series(c, color++, false, &f));
  }
  fig.panels.push_back(std::move(panel));
  ctx.body.Paragraph(
      "Base model (dashed) and modified models: Gaussian-perturbed (section 2) and fine-tuned with the "
      "LR tuned per checkpoint, measured out of domain (section 4). Error bars: ±1 s.e.");
  Draw(ctx, std::move(fig), "base vs modified loss against pre-training tokens");
  FindingsTable(ctx, shown);
  if (fb.result.monotone_decreasing)
    ctx.verdict.push_back(fmt::format(
        "The base model keeps improving: its loss decreases monotonically with tokens ({}).",
        RangeText(ctx)));
  else
    ctx.verdict.push_back("The base model's loss is " + std::string(ShapeName(fb.result.shape)) +
                          " in tokens: " + DescribeCurve(fb) + ".");
}

void PerturbSection(Ctx& ctx) {
  ctx.body.Heading(2, "2. Gaussian perturbation");
  if (ctx.s.perturb.empty()) {
    ctx.body.Paragraph("`results/perturb.jsonl` is absent or empty: no perturbation section.");
    ctx.omitted.push_back("perturb.jsonl");
    return;
  }
  const std::string group = MainGroup(ctx.s);
  const std::vector<double> gammas = PerturbGammas(ctx.s, group);
  Figure fig = NewFigure("fig2_perturb", fmt::format("Gaussian perturbation θ + γ·σ_init·z (group '{}')", group));
  PlotPanel pd = TokenPanel(ctx, "Δ = perturbed − base loss", "Δ loss (nats)");
  PlotPanel pl = TokenPanel(ctx, "perturbed loss (base dashed)", "loss (nats)");
  std::vector<const Finding*> deltas, losses;
  int color = 1;
  for (double g : gammas) {
    auto keep = [&](const PerturbPoint& p) { return p.group == group && p.gamma == g; };
    const std::string label = fmt::format("γ = {}", FormatParam(g));
    const Finding& fd = Record(ctx, fig.name, "Δ loss", MakeCurve(label, g, ctx.s.perturb, keep,
                                                                   [](auto& p) { return p.delta; }),
                               ctx.tokens);
    const Finding& fl = Record(ctx, fig.name, "perturbed loss",
                               MakeCurve(label, g, ctx.s.perturb, keep, [](auto& p) { return p.loss; }),
                               ctx.tokens);
    pd.series.push_back(Series(fd.curve, color, false, &fd));
    pl.series.push_back(Series(fl.curve, color, false, &fl));
    deltas.push_back(&fd);
    losses.push_back(&fl);
    ++color;
  }
  Curve base = PerturbBaseCurve(ctx);
  base.se.clear();
  pl.series.insert(pl.series.begin(), Series(base, 0, true, nullptr));
  fig.panels = {pd, pl};
  int64_t n_lo = INT64_MAX, n_hi = 0;
  for (const auto& p : ctx.s.perturb) n_lo = std::min(n_lo, p.loss.n), n_hi = std::max(n_hi, p.loss.n);
  const std::string n_text = n_lo == n_hi ? fmt::format("{}", n_lo) : fmt::format("{}–{}", n_lo, n_hi);
  ctx.body.Paragraph(fmt::format(
      "Mean ± 1 s.e. over draws × seeds (n = {} per point). Each curve's minimum is marked; '(n.s.)' marks "
      "an interior minimum that is not significant.",
      n_text));
  Draw(ctx, std::move(fig), "perturbation: delta and perturbed loss per gamma");
  std::vector<const Finding*> all = deltas;
  all.insert(all.end(), losses.begin(), losses.end());
  FindingsTable(ctx, all);
  std::set<std::string> others;
  for (const auto& p : ctx.s.perturb)
    if (p.group != group) others.insert(p.group);
  if (!others.empty())
    ctx.body.Paragraph(fmt::format("Other perturbation groups ({}) are in `tables/perturb_summary.csv`.",
                                   fmt::join(others, ", ")));
  ctx.verdict.push_back(fmt::format("At this scale ({}, {} parameters, {}), {} {}",
                                    ctx.results.study.preset, FormatSize(ctx.results.study.params),
                                    RangeText(ctx), GrowthVerdict("Δ", "γ", deltas),
                                    FamilyVerdict("the perturbed loss", "γ", losses)));
  if (n_hi < 2)
    ctx.verdict.push_back(
        "Perturbation uncertainty: each point is a single draw of a single seed, so there are no standard "
        "errors and the minima above are not tested against noise.");
  else
    ctx.verdict.push_back(fmt::format(
        "Perturbation uncertainty: each point averages n = {} draws × seeds; a change counts only beyond "
        "{:g} combined standard errors{}.",
        n_text, ctx.options.inflection.z,
        n_lo < 2 ? " (points with n = 1 carry no standard error)" : ""));
}

std::string SafeName(const std::string& s) {
  std::string out;
  for (char c : s) out += std::isalnum(static_cast<unsigned char>(c)) || c == '-' ? c : '_';
  return out;
}

void FinetuneSection(Ctx& ctx) {
  ctx.body.Heading(2, "3. Fine-tuning at fixed learning rates");
  if (ctx.s.finetune.empty()) {
    ctx.body.Paragraph("`results/finetune.jsonl` is absent or empty: no fine-tuning sections (3 and 4).");
    ctx.omitted.push_back("finetune.jsonl");
    return;
  }
  std::vector<std::string> tasks;
  for (const auto& p : ctx.s.finetune)
    if (std::find(tasks.begin(), tasks.end(), p.task) == tasks.end()) tasks.push_back(p.task);
  int64_t seeds = 0;
  for (const auto& p : ctx.s.finetune) seeds = std::max(seeds, p.id_loss.n);
  for (const auto& task : tasks) {
    ctx.body.Heading(3, "Task " + task);
    std::vector<double> lrs;
    for (const auto& p : ctx.s.finetune)
      if (p.task == task) lrs.push_back(p.lr);
    lrs = Distinct(lrs);
    Figure fig = NewFigure("fig3_finetune_" + SafeName(task), "fine-tuning on " + task + " at fixed LRs");
    PlotPanel po = TokenPanel(ctx, "OOD loss after fine-tuning (base dashed)", "loss (nats)");
    PlotPanel pdg = TokenPanel(ctx, "OOD degradation = fine-tuned − base", "Δ OOD loss (nats)");
    PlotPanel pi = TokenPanel(ctx, "ID loss after fine-tuning (base dashed)", "loss (nats)");
    std::vector<const Finding*> ood, deg, id;
    auto base_of = [&](auto get, std::string label) {
      std::map<int64_t, std::vector<double>> by;
      for (const auto& p : ctx.s.finetune)
        if (p.task == task) by[p.tokens].push_back(get(p));
      Curve c{std::move(label), 0, {}, {}, {}};
      for (const auto& [t, v] : by) c.x.push_back(double(t)), c.y.push_back(MeanAndSe(v).mean);
      return c;
    };
    po.series.push_back(Series(base_of([](auto& p) { return p.base_ood_loss.mean; }, "base model"), 0,
                               true, nullptr));
    pi.series.push_back(Series(base_of([](auto& p) { return p.base_id_loss.mean; }, "base model"), 0,
                               true, nullptr));
    int color = 1;
    for (double lr : lrs) {
      auto keep = [&](const FinetunePoint& p) { return p.task == task && p.lr == lr; };
      const std::string label = "lr = " + FormatParam(lr);
      const Finding& fo = Record(ctx, fig.name, task + " OOD loss",
                                 MakeCurve(label, lr, ctx.s.finetune, keep, [](auto& p) { return p.ood_loss; }),
                                 ctx.tokens);
      const Finding& fd = Record(ctx, fig.name, task + " OOD degradation",
                                 MakeCurve(label, lr, ctx.s.finetune, keep,
                                           [](auto& p) {
                                             MeanSe m = p.ood_loss;
                                             m.mean -= p.base_ood_loss.mean;
                                             return m;
                                           }),
                                 ctx.tokens);
      const Finding& fi = Record(ctx, fig.name, task + " ID loss",
                                 MakeCurve(label, lr, ctx.s.finetune, keep, [](auto& p) { return p.id_loss; }),
                                 ctx.tokens);
      po.series.push_back(Series(fo.curve, color, false, &fo));
      pdg.series.push_back(Series(fd.curve, color, false, &fd));
      pi.series.push_back(Series(fi.curve, color, false, &fi));
      ood.push_back(&fo), deg.push_back(&fd), id.push_back(&fi);
      ++color;
    }
    fig.panels = {po, pdg, pi};
    fig.panel_width = 560;
    Draw(ctx, std::move(fig), "fine-tuning on " + task + ": OOD and ID loss per learning rate");
    std::vector<const Finding*> all = ood;
    all.insert(all.end(), id.begin(), id.end());
    FindingsTable(ctx, all);
    ctx.verdict.push_back(
        FamilyVerdict("after fine-tuning on " + task + " at a fixed LR, the OOD loss", "lr", ood) + " " +
        GrowthVerdict("the OOD degradation", "lr", deg) + " " +
        FamilyVerdict("the ID loss", "lr", id));
  }
  if (seeds < 2)
    ctx.verdict.push_back(
        "Fine-tuning results come from a single seed: their curves carry no error bars and their minima "
        "are not tested against noise.");
}

void TunedSection(Ctx& ctx) {
  if (ctx.s.tuned.empty()) return;
  ctx.body.Heading(2, "4. Tuned learning rate");
  std::vector<std::string> tasks;
  for (const auto& p : ctx.s.tuned)
    if (std::find(tasks.begin(), tasks.end(), p.task) == tasks.end()) tasks.push_back(p.task);
  Figure fig = NewFigure("fig4_tuned_lr", "LR tuned per checkpoint for the best ID loss", 520);
  PlotPanel plr = TokenPanel(ctx, "optimal fine-tuning LR", "learning rate");
  plr.logy = true;
  PlotPanel po = TokenPanel(ctx, "OOD loss at the tuned LR", "loss (nats)");
  PlotPanel pi = TokenPanel(ctx, "ID loss at the tuned LR", "loss (nats)");
  std::vector<const Finding*> shown;
  std::vector<std::string> lr_sentences, tuned_sentences;
  int color = 1;
  for (const auto& task : tasks) {
    auto keep = [&](const FinetunePoint& p) { return p.task == task; };
    Curve lr = MakeCurve(task, 0, ctx.s.tuned, keep, [](const FinetunePoint& p) {
      MeanSe m;
      m.mean = p.lr;
      return m;
    });
    lr.se.clear();
    plr.series.push_back(Series(lr, color, false, nullptr));
    const Finding& fo = Record(ctx, fig.name, "OOD at tuned LR",
                               MakeCurve(task, 0, ctx.s.tuned, keep, [](auto& p) { return p.ood_loss; }),
                               ctx.tokens);
    const Finding& fi = Record(ctx, fig.name, "ID at tuned LR",
                               MakeCurve(task, 0, ctx.s.tuned, keep, [](auto& p) { return p.id_loss; }),
                               ctx.tokens);
    po.series.push_back(Series(fo.curve, color, false, &fo));
    pi.series.push_back(Series(fi.curve, color, false, &fi));
    shown.push_back(&fo), shown.push_back(&fi);
    ++color;
    // How the optimal LR moves with tokens (the paper's Fig. 5 classification), in grid steps.
    std::vector<double> grid;
    for (const auto& p : ctx.s.finetune)
      if (p.task == task) grid.push_back(p.lr);
    grid = Distinct(grid);
    auto pos = [&](double v) { return std::find(grid.begin(), grid.end(), v) - grid.begin(); };
    const auto& y = lr.y;
    bool up = true, down = true;
    for (size_t i = 1; i < y.size(); ++i) up = up && y[i] >= y[i - 1], down = down && y[i] <= y[i - 1];
    const long steps = long(pos(y.back()) - pos(y.front()));
    std::string trend;
    if (up && down)
      trend = fmt::format("is constant at {}", FormatParam(y.front()));
    else if (down)
      trend = fmt::format("decreases from {} to {} ({} grid step(s))", FormatParam(y.front()),
                          FormatParam(y.back()), -steps);
    else if (up)
      trend = fmt::format("increases from {} to {} ({} grid step(s))", FormatParam(y.front()),
                          FormatParam(y.back()), steps);
    else
      trend = fmt::format("moves non-monotonically between {} and {}",
                          FormatParam(*std::min_element(y.begin(), y.end())),
                          FormatParam(*std::max_element(y.begin(), y.end())));
    lr_sentences.push_back(fmt::format("for {} it {}", task, trend));
    tuned_sentences.push_back(fmt::format("on {} the OOD loss {}, and the ID loss {}", task,
                                          DescribeCurvePredicate(fo), DescribeCurvePredicate(fi)));
  }
  fig.panels = {plr, po, pi};
  Draw(ctx, std::move(fig), "tuned-LR view: optimal LR, OOD and ID loss at the tuned LR");
  FindingsTable(ctx, shown);
  ctx.body.Paragraph("Optimal LR per budget: `tables/finetune_optimal_lr.csv`; the metrics at it: "
                     "`tables/finetune_tuned.csv`.");
  ctx.verdict.push_back("With the LR tuned per checkpoint for the best ID loss: " +
                        fmt::format("{}", fmt::join(tuned_sentences, "; ")) + ".");
  ctx.verdict.push_back(
      "The optimal fine-tuning LR over the ladder: " + fmt::format("{}", fmt::join(lr_sentences, "; ")) +
      ".");
}

void TheorySection(Ctx& ctx) {
  ctx.body.Heading(2, "5. Theory: two-layer linear network");
  if (ctx.s.theory.empty()) {
    ctx.body.Paragraph("`results/theory.jsonl` is absent or empty: no theory section.");
    ctx.omitted.push_back("theory.jsonl");
    return;
  }
  bool positive = true;
  std::vector<double> steps;
  for (const auto& p : ctx.s.theory) positive = positive && p.step > 0, steps.push_back(double(p.step));
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
  Figure fig =
      NewFigure("fig5_theory", "linear-network lab: pre-training loss L_A after a modification", 560);
  PlotPanel pp = panel("perturbed L_A per γ (MC ± s.e.; closed form dashed)");
  PlotPanel pf = panel("L_A after fine-tuning per η_ft");
  PlotPanel pl = panel("L_A (solid) and L_B (dashed) per λ (L2-SP)");
  std::vector<double> gammas, lrs, lambdas;
  for (const auto& p : ctx.s.theory) {
    if (p.kind == "perturb") gammas.push_back(p.gamma);
    if (p.kind == "finetune") lrs.push_back(p.lr), lambdas.push_back(p.lambda);
  }
  gammas = Distinct(gammas), lrs = Distinct(lrs), lambdas = Distinct(lambdas);
  Curve base = TheoryCurve(ctx, "base L_A", 0, "base", [](auto&) { return true; },
                           [](auto& p) { return p.loss_a; }, false);
  for (PlotPanel* p : {&pp, &pf}) p->series.push_back(Series(base, 0, true, nullptr));
  std::vector<const Finding*> fam_gamma, fam_lr, fam_lambda, shown;
  int color = 1;
  for (double g : gammas) {
    auto keep = [&](auto& p) { return p.gamma == g; };
    const std::string label = fmt::format("γ = {}", FormatParam(g));
    const Finding& f = Record(ctx, fig.name, "perturbed L_A",
                              TheoryCurve(ctx, label, g, "perturb", keep, [](auto& p) { return p.loss_a; }, true),
                              ctx.steps);
    Curve closed = TheoryCurve(ctx, label + " closed form", g, "perturb", keep,
                               [](auto& p) { return p.loss_a_closed; }, false);
    pp.series.push_back(Series(f.curve, color, false, &f));
    pp.series.push_back(Series(closed, color, true, nullptr));
    pp.series.back().points = false;
    fam_gamma.push_back(&f);
    ++color;
  }
  // η_ft panel at the smallest λ (0 = plain fine-tuning); λ panel at the η_ft with the most λ values.
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
    Curve c = TheoryCurve(ctx, "η_ft = " + FormatParam(lr), lr, "finetune",
                          [&](auto& p) { return p.lr == lr && p.lambda == lambda0; },
                          [](auto& p) { return p.loss_a; }, false);
    if (c.x.empty()) continue;  // this η_ft was only run with λ > 0
    const Finding& f =
        Record(ctx, fig.name, fmt::format("fine-tuned L_A (λ = {})", FormatParam(lambda0)), c, ctx.steps);
    pf.series.push_back(Series(f.curve, color++, false, &f));
    fam_lr.push_back(&f);
  }
  color = 1;
  std::vector<std::pair<double, double>> last_loss_b;  // (λ, L_B at the last step)
  for (double lambda : lambdas) {
    auto keep = [&](auto& p) { return p.lr == lr_for_lambda && p.lambda == lambda; };
    const std::string label = "λ = " + FormatParam(lambda);
    Curve ca = TheoryCurve(ctx, label, lambda, "finetune", keep, [](auto& p) { return p.loss_a; }, false);
    if (ca.x.empty()) continue;
    const Finding& f = Record(ctx, fig.name, fmt::format("fine-tuned L_A (η_ft = {})", FormatParam(lr_for_lambda)),
                              ca, ctx.steps);
    Curve cb = TheoryCurve(ctx, label + " L_B", lambda, "finetune", keep, [](auto& p) { return p.loss_b; },
                           false);
    last_loss_b.push_back({lambda, cb.y.back()});
    pl.series.push_back(Series(f.curve, color, false, &f));
    pl.series.push_back(Series(cb, color, true, nullptr));
    fam_lambda.push_back(&f);
    ++color;
  }
  fig.panels = {pp, pf, pl};
  Draw(ctx, std::move(fig), "theory panels: perturbed and fine-tuned pre-training loss vs step");
  for (auto* fam : {&fam_gamma, &fam_lr, &fam_lambda}) shown.insert(shown.end(), fam->begin(), fam->end());
  FindingsTable(ctx, shown);
  std::string v = "Linear-network lab: " + Lower(FamilyVerdict("the perturbed L_A", "γ", fam_gamma));
  if (!fam_lr.empty()) v += " " + FamilyVerdict("L_A after fine-tuning", "η_ft", fam_lr);
  if (fam_lambda.size() >= 2) {
    const Finding& f0 = *fam_lambda.front();
    std::vector<std::string> effects;
    for (size_t i = 1; i < fam_lambda.size(); ++i) {
      const Finding& f = *fam_lambda[i];
      const std::string l = FormatParam(f.curve.param);
      if (f0.result.u_shaped && f.result.u_shaped)
        effects.push_back(f.result.x_min > f0.result.x_min
                              ? fmt::format("λ = {} delays the minimum to step {:g}", l, f.result.x_min)
                              : fmt::format("λ = {} does not delay the minimum (step {:g})", l, f.result.x_min));
      else if (f0.result.u_shaped)
        effects.push_back(fmt::format("λ = {} leaves no inflection inside the range ({})", l,
                                      NoInflectionReason(f)));
      else
        effects.push_back(fmt::format("λ = {}: {}", l, DescribeCurve(f)));
    }
    v += fmt::format(" With L2-SP at η_ft = {} (λ = {}: {}): {}; L_B at the last step goes from {:.4g} "
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

void InflectionsCsv(const Ctx& ctx, const fs::path& path) {
  CsvWriter w(path, {"figure", "panel", "curve", "param", "x_unit", "x_min", "epochs",
                     "tokens_per_param", "y_min", "interior", "u_shaped", "shape", "monotone_increasing",
                     "monotone_decreasing", "distinguishable", "plausible_x_lo", "plausible_x_hi", "fall",
                     "rise"});
  for (const auto& f : ctx.findings) {
    const auto& r = f.result;
    double epochs = kNaN, tpp = kNaN;
    if (f.axis.budgets) {
      const Budget& b = ctx.s.At(static_cast<int64_t>(r.x_min));
      epochs = b.epochs, tpp = b.tokens_per_param;
    }
    auto yes = [](bool b) { return std::string(b ? "true" : "false"); };
    w.Cell(f.figure).Cell(f.panel).Cell(f.curve.label).Cell(f.curve.param).Cell(f.axis.Unit());
    w.Cell(r.x_min).Cell(epochs).Cell(tpp).Cell(r.y_min).Cell(yes(r.interior)).Cell(yes(r.u_shaped));
    w.Cell(std::string(ShapeName(r.shape))).Cell(yes(r.monotone_increasing)).Cell(yes(r.monotone_decreasing));
    w.Cell(yes(r.distinguishable)).Cell(f.curve.x[r.plausible_lo]).Cell(f.curve.x[r.plausible_hi]);
    w.Cell(r.fall).Cell(r.rise);
    w.EndRow();
  }
  w.Close();
}

void WriteText(const fs::path& path, const std::string& text) {
  const fs::path tmp = path.string() + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << text;
    out.close();
    if (!out) throw Error(fmt::format("{}: could not be written", tmp.string()));
  }
  fs::rename(tmp, path);
}

}  // namespace

ReportOutput WriteReport(const fs::path& study_dir, const ReportOptions& options) {
  const StudyResults results = LoadStudyResults(study_dir / "results");
  const Summaries s = Summarize(results);
  ReportOutput out;
  out.dir = study_dir / "report";
  fs::remove_all(out.dir / "figures");
  fs::remove_all(out.dir / "tables");
  fs::create_directories(out.dir / "figures");
  out.tables = WriteTables(results, s, out.dir / "tables");

  Ctx ctx{results, s, options, out.dir / "figures"};
  ctx.tokens.budgets = &s;
  if (!results.pretrain) ctx.omitted.push_back("pretrain.jsonl");
  BaseSection(ctx);
  PerturbSection(ctx);
  FinetuneSection(ctx);
  TunedSection(ctx);
  TheorySection(ctx);
  if (!ctx.findings.empty()) {
    InflectionsCsv(ctx, out.dir / "tables" / "inflections.csv");
    out.tables.push_back("inflections.csv");
  }

  const StudyInfo& st = results.study;
  Document doc;
  doc.Heading(1, "overtrain report: " + st.name);
  doc.Paragraph(fmt::format(
      "Preset `{}`, {} parameters, {} training tokens per epoch, {} seed(s); tasks: {}; γ grid: {}; "
      "fine-tuning LRs: {}. Losses are mean token-level cross-entropy in nats on held-out sets "
      "(perplexity = exp(loss)). Error bars are ±1 standard error over draws and seeds; a change counts "
      "as real only beyond {:g} combined standard errors. Read from `results/` only.",
      st.preset, FormatSize(st.params), FormatSize(st.train_tokens_per_epoch), st.seeds,
      st.tasks.empty() ? "none" : fmt::format("{}", fmt::join(st.tasks, ", ")),
      st.gammas.empty() ? "none" : fmt::format("{}", fmt::join(st.gammas, ", ")),
      st.lrs.empty() ? "none" : fmt::format("{}", fmt::join(st.lrs, ", ")), options.inflection.z));
  doc.Heading(2, "Verdict");
  doc.Bullets(ctx.verdict);
  if (!ctx.omitted.empty())
    doc.Paragraph(fmt::format("Absent result files (their sections are omitted): {}.",
                              fmt::join(ctx.omitted, ", ")));
  if (!s.budgets.empty()) {
    doc.Heading(2, "Token budgets");
    std::vector<std::vector<std::string>> rows;
    for (const auto& b : s.budgets)
      rows.push_back({ctx.tokens.Short(double(b.tokens)), fmt::format("{}", b.tokens),
                      fmt::format("{:.3g}", b.epochs), fmt::format("{:.3g}", b.tokens_per_param)});
    doc.Table({"budget", "tokens", "epochs", "tokens/param"}, std::move(rows));
  }
  doc.Append(ctx.body);
  doc.Heading(2, "Tables");
  std::vector<std::string> table_items;
  for (const auto& t : out.tables) table_items.push_back("`tables/" + t + "`");
  doc.Bullets(table_items);
  doc.Paragraph("Each figure is regenerated by `cd figures && gnuplot <name>.gp` (data in <name>.dat).");

  WriteText(out.dir / "report.md", doc.Markdown());
  WriteText(out.dir / "index.html", doc.Html("overtrain report: " + st.name));
  out.figures = ctx.figures;
  out.verdict = ctx.verdict;
  out.omitted = ctx.omitted;
  return out;
}

}  // namespace ot
