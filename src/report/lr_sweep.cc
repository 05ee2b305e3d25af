// LR sweeps: grouping, the edge flag, and the report's section on them.
#include "report/lr_sweep.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <tuple>

#include "report/sections.h"

namespace ot {

std::vector<LrSweep> SummarizeLrSweeps(const std::vector<LrSweepRow>& rows) {
  std::map<std::tuple<std::string, int64_t, int64_t>, LrSweep> by;
  for (const auto& r : rows) {
    LrSweep& s = by[{r.arm, r.seed, r.tokens}];
    s.arm = r.arm, s.seed = r.seed, s.tokens = r.tokens, s.epochs = r.epochs;
    s.points.push_back(r);
  }
  std::vector<LrSweep> out;
  for (auto& [key, s] : by) {
    std::sort(s.points.begin(), s.points.end(),
              [](const LrSweepRow& a, const LrSweepRow& b) { return a.lr < b.lr; });
    for (size_t i = 0; i < s.points.size(); ++i)
      if (s.points[i].chosen) s.chosen = static_cast<int>(i);
    out.push_back(std::move(s));
  }
  return out;
}

std::string LrSweepEdgeFlag(const LrSweep& s) {
  if (!s.at_edge()) return "";
  const LrSweepRow& c = s.points[s.chosen];
  return fmt::format(
      "{}the best pre-training LR ({:g}, × {:g} of pretrain.lr) is at the grid's edge (its {} "
      "LR): widen the grid (study.tune_lr_factors), the optimum may lie outside it",
      s.arm.empty() ? "" : "arm " + s.arm + ": ", c.lr, c.factor,
      s.chosen == 0 ? "smallest" : "largest");
}

namespace report_detail {

void LrSweepSection(Ctx& ctx) {
  if (!ctx.results.lr_sweep) return;
  ctx.body.Heading(2, "Pre-training learning rate (study.tune_lr)");
  ctx.body.Paragraph(
      "Before the ladder, its pre-training LR was swept at one reference budget; the ladder trains "
      "at the LR with the lowest general validation loss (± 1 s.e. over evaluation windows). "
      "`results/lr_sweep.jsonl`.");
  for (const LrSweep& s : SummarizeLrSweeps(*ctx.results.lr_sweep)) {
    std::vector<std::vector<std::string>> rows;
    for (size_t i = 0; i < s.points.size(); ++i) {
      const LrSweepRow& p = s.points[i];
      std::string loss = "not finite (diverged)";
      if (p.val_loss)
        loss = p.val_loss_stderr ? fmt::format("{:.4f} ± {:.2g}", *p.val_loss, *p.val_loss_stderr)
                                 : fmt::format("{:.4f}", *p.val_loss);
      rows.push_back({fmt::format("{:g}", p.lr), fmt::format("× {:g}", p.factor), loss,
                      static_cast<int>(i) == s.chosen ? "**chosen**" : ""});
    }
    ctx.body.Table({"pre-training lr", "of pretrain.lr", "validation loss", ""}, std::move(rows));
    std::string text = fmt::format("{}sweep at {} tokens ({:.3g} epochs), seed {}: ",
                                   s.arm.empty() ? "" : "Arm " + s.arm + ", ",
                                   ctx.tokens.Short(double(s.tokens)), s.epochs, s.seed);
    text += s.chosen >= 0 ? fmt::format("the ladder trains at lr {:g}.", s.points[s.chosen].lr)
                          : "no LR is marked chosen.";
    const std::string edge = LrSweepEdgeFlag(s);
    if (!edge.empty()) text += " **Flag**: " + edge + ".";
    ctx.body.Paragraph(text);
  }
}

}  // namespace report_detail
}  // namespace ot
