// The vision study's own part of the report (docs/science.md §9): what the budgets mean (images
// seen, with augmentation; epochs past 1 repeat the source images), the linear probe and retention
// per budget, and the one-sentence answer to "does longer pre-training make this ViT harder to
// fine-tune?" read off the claims table.
#include <fmt/format.h>

#include <cmath>
#include <map>

#include "report/sections.h"

namespace ot::report_detail {
namespace {

std::string Cell(const MeanSe& m) {
  if (!std::isfinite(m.mean)) return "–";
  return std::isfinite(m.se) && m.n > 1 ? fmt::format("{:.3f} ± {:.3f}", m.mean, m.se)
                                        : fmt::format("{:.3f}", m.mean);
}

const ClaimRow* Find(const std::vector<ClaimRow>& claims, const std::string& id) {
  for (const auto& c : claims)
    if (c.id == id) return &c;
  return nullptr;
}

}  // namespace

void VisionSection(Ctx& ctx) {
  if (ctx.s.unit != "images") return;
  const StudyResults& r = ctx.results;
  ctx.body.Heading(2, "Vision: budgets, linear probe and retention");
  ctx.body.Paragraph(
      "Budgets count images seen in pre-training, each drawn with fresh augmentation (random crop "
      "with padding, flips where the classes allow, small affine transforms). Past one epoch the "
      "same source images return: that is repetition, as multi-epoch vision pre-training always "
      "is, and the epochs column and the 'data repeated' flags say how much. The linear probe is a "
      "multinomial logistic regression on the frozen backbone's pooled features of the downstream "
      "set (the usual foundation-model metric). OOD after fine-tuning is the retention of the "
      "pre-training task: the original class head on the fine-tuned backbone (supervised), or a "
      "linear probe fit on the pre-trained features of the source set and applied to the "
      "fine-tuned features (siglip).");
  std::map<int64_t, std::vector<double>> base_acc, probe_acc, probe_loss;
  if (r.pretrain)
    for (const auto& p : *r.pretrain) {
      if (p.accuracy) base_acc[p.tokens].push_back(*p.accuracy);
      if (p.probe_accuracy) probe_acc[p.tokens].push_back(*p.probe_accuracy);
      if (p.probe_loss) probe_loss[p.tokens].push_back(*p.probe_loss);
    }
  // Fine-tuned accuracy (ID) and retention accuracy (OOD) at the LR tuned per budget.
  std::map<int64_t, double> tuned_lr;
  for (const auto& t : ctx.s.tuned) tuned_lr[t.tokens] = t.lr;
  std::map<int64_t, std::vector<double>> id_acc, ood_acc;
  if (r.finetune)
    for (const auto& f : *r.finetune) {
      auto it = tuned_lr.find(f.tokens);
      if (it == tuned_lr.end() || it->second != f.lr) continue;
      if (f.accuracy) id_acc[f.tokens].push_back(*f.accuracy);
      if (f.ood_accuracy) ood_acc[f.tokens].push_back(*f.ood_accuracy);
    }
  auto at = [](const std::map<int64_t, std::vector<double>>& m, int64_t k) {
    auto it = m.find(k);
    return it == m.end() ? MeanSe{} : MeanAndSe(it->second);
  };
  std::vector<std::vector<std::string>> rows;
  for (const Budget& b : ctx.s.budgets)
    rows.push_back({ctx.tokens.Short(double(b.tokens)), fmt::format("{:.3g}", b.epochs),
                    Cell(at(base_acc, b.tokens)), Cell(at(probe_acc, b.tokens)),
                    Cell(at(probe_loss, b.tokens)),
                    tuned_lr.count(b.tokens) ? FormatParam(tuned_lr[b.tokens]) : "–",
                    Cell(at(id_acc, b.tokens)), Cell(at(ood_acc, b.tokens))});
  ctx.body.Table(
      {"images", "epochs", "source test accuracy", "linear probe accuracy", "linear probe loss",
       "tuned lr", "fine-tuned accuracy (ID)", "retention accuracy (OOD)"},
      std::move(rows));
}

std::string VisionAnswer(const Ctx& ctx, const std::vector<ClaimRow>& claims) {
  const ClaimRow *c1 = Find(claims, "C1"), *c3 = Find(claims, "C3"), *c4 = Find(claims, "C4"),
                 *c5 = Find(claims, "C5");
  auto is = [](const ClaimRow* c, const char* v) { return c && c->verdict == v; };
  const std::string range = RangeText(ctx);
  std::string answer, why;
  if (is(c4, "reproduced") || is(c5, "reproduced")) {
    answer = "yes";
    why = fmt::format(
        "past some budget, more pre-training leaves a worse model after fine-tuning: the "
        "fine-tuned OOD (retention) loss turns upward in images seen ({}: {}; {}: {})",
        "C4", c4 ? c4->verdict : "not measured", "C5", c5 ? c5->verdict : "not measured");
  } else if (is(c3, "contradicted") && !is(c1, "reproduced")) {
    answer = "no";
    why =
        "the backbone grows less sensitive with images seen: the OOD degradation after "
        "fine-tuning falls (C3 contradicted) and Δ under noise does not rise (C1 " +
        std::string(c1 ? c1->verdict : "not measured") + ")";
  } else {
    answer = "not at this scale";
    why = fmt::format(
        "no fine-tuned curve turns upward beyond the noise inside the ladder (C4 {}, C5 {}); "
        "progressive sensitivity: C1 {} (Δ under noise), C3 {} (OOD degradation at a fixed LR)",
        c4 ? c4->verdict : "not measured", c5 ? c5->verdict : "not measured",
        c1 ? c1->verdict : "not measured", c3 ? c3->verdict : "not measured");
  }
  return fmt::format(
      "Does longer pre-training make this ViT harder to fine-tune? **{}** at {} ({}): {}.", answer,
      range, ctx.results.study.preset, why);
}

}  // namespace ot::report_detail
