// Report sections 3 and 4: fine-tuning at fixed learning rates (per task), and the tuned-LR view.
#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <map>

#include "report/sections.h"

namespace ot::report_detail {
namespace {

std::string SafeName(const std::string& s) {
  std::string out;
  for (char c : s) out += std::isalnum(static_cast<unsigned char>(c)) || c == '-' ? c : '_';
  return out;
}

}  // namespace

void FinetuneSection(Ctx& ctx) {
  ctx.body.Heading(2, "3. Fine-tuning at fixed learning rates");
  if (ctx.s.finetune.empty()) {
    ctx.body.Paragraph(
        "`results/finetune.jsonl` is absent or empty: no fine-tuning sections (3 and 4).");
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
    Figure fig =
        NewFigure("fig3_finetune_" + SafeName(task), "fine-tuning on " + task + " at fixed LRs");
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
    po.series.push_back(Series(base_of([](auto& p) { return p.base_ood_loss.mean; }, "base model"),
                               0, true, nullptr));
    pi.series.push_back(Series(base_of([](auto& p) { return p.base_id_loss.mean; }, "base model"),
                               0, true, nullptr));
    int color = 1;
    for (double lr : lrs) {
      auto keep = [&](const FinetunePoint& p) { return p.task == task && p.lr == lr; };
      const std::string label = "lr = " + FormatParam(lr);
      const Finding& fo =
          Record(ctx, fig.name, task + " OOD loss",
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
      const Finding& fi =
          Record(ctx, fig.name, task + " ID loss",
                 MakeCurve(label, lr, ctx.s.finetune, keep, [](auto& p) { return p.id_loss; }),
                 ctx.tokens);
      po.series.push_back(Series(fo.curve, color, false, &fo));
      pdg.series.push_back(Series(fd.curve, color, false, &fd));
      pi.series.push_back(Series(fi.curve, color, false, &fi));
      ood.push_back(&fo), deg.push_back(&fd), id.push_back(&fi);
      ctx.families["ft." + task + ".ood"].push_back(&fo);
      ctx.families["ft." + task + ".deg"].push_back(&fd);
      ctx.families["ft." + task + ".id"].push_back(&fi);
      ++color;
    }
    fig.panels = {po, pdg, pi};
    fig.panel_width = 560;
    const Curve base_ood =
        po.series.empty() ? Curve{}
                          : Curve{"base model", 0, po.series.front().x, po.series.front().y, {}};
    Draw(ctx, std::move(fig), "fine-tuning on " + task + ": OOD and ID loss per learning rate");
    SmallMultiples(
        ctx, "fig3b_finetune_ood_" + SafeName(task),
        "OOD loss after fine-tuning on " + task + " per LR, each on its own scale (base dashed)",
        "loss (nats)", ood, base_ood);
    std::vector<const Finding*> all = ood;
    all.insert(all.end(), id.begin(), id.end());
    FindingsTable(ctx, all);
    ctx.verdict.push_back(
        FamilyVerdict("after fine-tuning on " + task + " at a fixed LR, the OOD loss", "lr", ood) +
        " " + GrowthVerdict("the OOD degradation", "lr", deg) + " " +
        FamilyVerdict("the ID loss", "lr", id));
  }
  if (seeds < 2)
    ctx.verdict.push_back(
        "Fine-tuning results come from a single seed: their curves carry no error bars and their "
        "minima "
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
    const Finding& fo = Record(
        ctx, fig.name, "OOD at tuned LR",
        MakeCurve(task, 0, ctx.s.tuned, keep, [](auto& p) { return p.ood_loss; }), ctx.tokens);
    const Finding& fi = Record(
        ctx, fig.name, "ID at tuned LR",
        MakeCurve(task, 0, ctx.s.tuned, keep, [](auto& p) { return p.id_loss; }), ctx.tokens);
    po.series.push_back(Series(fo.curve, color, false, &fo));
    pi.series.push_back(Series(fi.curve, color, false, &fi));
    shown.push_back(&fo), shown.push_back(&fi);
    ctx.families["tuned." + task + ".ood"].push_back(&fo);
    ctx.families["tuned." + task + ".id"].push_back(&fi);
    ++color;
    // How the optimal LR moves with tokens (the paper's Fig. 5 classification), in grid steps.
    std::vector<double> grid;
    for (const auto& p : ctx.s.finetune)
      if (p.task == task) grid.push_back(p.lr);
    grid = Distinct(grid);
    auto pos = [&](double v) { return std::find(grid.begin(), grid.end(), v) - grid.begin(); };
    const auto& y = lr.y;
    bool up = true, down = true;
    for (size_t i = 1; i < y.size(); ++i)
      up = up && y[i] >= y[i - 1], down = down && y[i] <= y[i - 1];
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
  ctx.body.Paragraph(
      "Optimal LR per budget: `tables/finetune_optimal_lr.csv`; the metrics at it: "
      "`tables/finetune_tuned.csv`.");
  ctx.verdict.push_back("With the LR tuned per checkpoint for the best ID loss: " +
                        fmt::format("{}", fmt::join(tuned_sentences, "; ")) + ".");
  ctx.verdict.push_back("The optimal fine-tuning LR over the ladder: " +
                        fmt::format("{}", fmt::join(lr_sentences, "; ")) + ".");
}

}  // namespace ot::report_detail
