// Report section 6, the paper's Figure 1: accuracy on each benchmark file
// (results/benchmarks.jsonl) against pre-training tokens, for the base model and the models
// fine-tuned from it (per LR, and at the LR tuned per budget for ID loss), with chance drawn in.
// Entry points: BenchmarkSection, BenchmarkCurve, BenchmarkChance, AtChance.
#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <map>

#include "report/sections.h"

namespace ot::report_detail {
namespace {

std::string FileSafe(const std::string& s) {
  std::string out;
  for (char c : s) out += std::isalnum(static_cast<unsigned char>(c)) || c == '-' ? c : '_';
  return out;
}

// "0.262 ± 0.044"
std::string AccText(const Curve& c, size_t i) {
  const double se = i < c.se.size() ? c.se[i] : kNaN;
  return std::isfinite(se) ? fmt::format("{:.3f} ± {:.3f}", c.y[i], se)
                           : fmt::format("{:.3f}", c.y[i]);
}

}  // namespace

std::vector<std::string> BenchmarkNames(const Ctx& ctx, const std::string& metric) {
  std::vector<std::string> out;
  for (const auto& p : ctx.s.benchmarks)
    if (p.metric == metric && std::find(out.begin(), out.end(), p.benchmark) == out.end())
      out.push_back(p.benchmark);
  return out;
}

std::vector<std::string> BenchmarkTasks(const Ctx& ctx) {
  std::vector<std::string> out;
  for (const auto& p : ctx.s.benchmarks)
    if (p.model == "finetuned" && std::find(out.begin(), out.end(), p.task) == out.end())
      out.push_back(p.task);
  return out;
}

Curve BenchmarkCurve(const Ctx& ctx, const std::string& benchmark, const std::string& metric,
                     const std::string& task, double lr) {
  const bool base = task.empty(), tuned = !base && lr == 0;
  Curve c{base    ? "base model"
          : tuned ? task + ", tuned LR"
                  : task + ", lr = " + FormatParam(lr),
          lr,
          {},
          {},
          {}};
  std::map<int64_t, const BenchmarkPoint*> points;
  for (const auto& p : ctx.s.benchmarks) {
    if (p.benchmark != benchmark || p.metric != metric) continue;
    if (base != (p.model == "base") || (!base && p.task != task)) continue;
    if (!base && !tuned && p.lr != lr) continue;
    if (tuned) {  // the LR with the best mean ID loss at this budget (Summaries::tuned)
      const auto it = std::find_if(ctx.s.tuned.begin(), ctx.s.tuned.end(), [&](const auto& t) {
        return t.task == task && t.tokens == p.tokens;
      });
      if (it == ctx.s.tuned.end() || it->lr != p.lr) continue;
    }
    if (std::isfinite(p.value.mean)) points.emplace(p.tokens, &p);
  }
  for (const auto& [tokens, p] : points) {  // by tokens: the tuned LR changes along the ladder
    c.x.push_back(double(tokens));
    c.y.push_back(p->value.mean);
    c.se.push_back(p->value.se);
  }
  return c;
}

double BenchmarkChance(const Ctx& ctx, const std::string& benchmark) {
  std::vector<double> v;
  for (const auto& p : ctx.s.benchmarks)
    if (p.benchmark == benchmark && std::isfinite(p.chance)) v.push_back(p.chance);
  return MeanAndSe(v).mean;
}

bool AtChance(const Curve& c, double chance, double z) {
  if (c.x.empty() || !std::isfinite(chance)) return false;
  for (size_t i = 0; i < c.y.size(); ++i)
    if (!(i < c.se.size() && std::isfinite(c.se[i]) && c.se[i] > 0) ||
        std::fabs(c.y[i] - chance) > z * c.se[i])
      return false;
  return true;
}

void BenchmarkSection(Ctx& ctx) {
  const std::vector<std::string> benchmarks = BenchmarkNames(ctx, "acc");
  if (benchmarks.empty()) return;
  ctx.body.Heading(2, "6. Benchmarks after fine-tuning (the paper's Figure 1)");
  ctx.body.Paragraph(fmt::format(
      "Accuracy on each benchmark file (`eval.task_files`, scored as lm-eval scores "
      "multiple-choice tasks) of the base checkpoint (black, dashed) and of the models fine-tuned "
      "from it: per learning rate, and at the LR tuned per budget for the best ID loss. acc is "
      "the argmax of the summed log-likelihood of each choice, acc_norm the argmax per character. "
      "Error bars are ±1 s.e., the benchmark's binomial standard error (the same documents score "
      "every model) combined with the spread over fine-tuning seeds; the grey line is chance. A "
      "curve within {:g} s.e. of chance at every budget is flagged: it cannot show a rise or a "
      "fall.",
      ctx.options.inflection.z));
  const std::vector<std::string> tasks = BenchmarkTasks(ctx);
  for (const auto& bench : benchmarks) {
    ctx.body.Heading(3, "Benchmark " + bench);
    const double chance = BenchmarkChance(ctx, bench);
    Figure fig = NewFigure("fig1_benchmark_" + FileSafe(bench),
                           bench + ": accuracy after fine-tuning against pre-training tokens", 520);
    std::map<int64_t, std::vector<std::string>> base_cells, tuned_cells;  // per budget
    for (const char* metric : {"acc", "acc_norm"}) {
      PlotPanel per_lr = TokenPanel(ctx, std::string(metric) + " per fine-tuning LR", metric);
      PlotPanel at_tuned = TokenPanel(ctx, std::string(metric) + " at the tuned LR", metric);
      const Curve base = BenchmarkCurve(ctx, bench, metric, "", 0);
      for (PlotPanel* panel : {&per_lr, &at_tuned}) {
        if (std::isfinite(chance) && !base.x.empty()) {
          PlotSeries line{.title = fmt::format("chance {:.3f}", chance),
                          .x = {base.x.front(), base.x.back()},
                          .y = {chance, chance},
                          .color = 8,
                          .dashed = true,
                          .points = false};
          panel->series.push_back(line);
        }
        panel->series.push_back(Series(base, 0, true, nullptr));
      }
      int color = 1;
      for (const auto& task : tasks) {
        std::vector<double> lrs;
        for (const auto& p : ctx.s.benchmarks)
          if (p.benchmark == bench && p.metric == metric && p.task == task) lrs.push_back(p.lr);
        for (double lr : Distinct(lrs))
          per_lr.series.push_back(
              Series(BenchmarkCurve(ctx, bench, metric, task, lr), color++, false, nullptr));
        const Curve tuned = BenchmarkCurve(ctx, bench, metric, task, 0);
        at_tuned.series.push_back(
            Series(tuned, 1 + static_cast<int>(&task - tasks.data()), false, nullptr));
        for (size_t i = 0; i < tuned.x.size(); ++i)
          tuned_cells[int64_t(tuned.x[i])].push_back(
              fmt::format("{} {}: {}", task, metric, AccText(tuned, i)));
      }
      for (size_t i = 0; i < base.x.size(); ++i)
        base_cells[int64_t(base.x[i])].push_back(
            fmt::format("base {}: {}", metric, AccText(base, i)));
      fig.panels.push_back(std::move(per_lr));
      fig.panels.push_back(std::move(at_tuned));
    }
    Draw(
        ctx, std::move(fig),
        bench + ": acc and acc_norm of the base and fine-tuned models against pre-training tokens");
    std::vector<std::vector<std::string>> rows;
    for (auto [tokens, cells] : base_cells) {
      const auto& tuned = tuned_cells[tokens];
      cells.insert(cells.end(), tuned.begin(), tuned.end());
      rows.push_back(
          {ctx.tokens.Format(double(tokens)), fmt::format("{}", fmt::join(cells, "; "))});
    }
    ctx.body.Table(
        {"budget",
         fmt::format("mean ± 1 s.e. (chance {:.3f}); fine-tuned at the tuned LR", chance)},
        std::move(rows));
  }
  if (!BenchmarkNames(ctx, "bits_per_byte").empty())
    ctx.body.Paragraph(
        "Rolling files (`eval.rolling_files`): bits per byte of every model are in "
        "`tables/benchmarks.csv`.");
  const ClaimRow c9 = BenchmarkClaim(ctx);
  ctx.verdict.push_back(fmt::format("Benchmarks (Figure 1, C9): {}. {}", c9.verdict, c9.evidence));
}

}  // namespace ot::report_detail
