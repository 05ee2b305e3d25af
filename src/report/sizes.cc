// The size comparison: each size's minima and claims side by side (see sizes.h).
#include "report/sizes.h"

#include <fmt/format.h>

#include <map>

#include "core/check.h"
#include "core/config.h"
#include "core/fileio.h"
#include "report/document.h"
#include "report/results.h"
#include "report/tables.h"
#include "report/verdict.h"

namespace ot {
namespace fs = std::filesystem;

namespace {

// "8M (185 t/p)" for a U-shaped curve; otherwise why there is no inflection inside the range.
std::string MinimumText(const Finding& f, const Summaries& s) {
  if (!f.result.u_shaped) return NoInflectionReason(f);
  const Budget& b = s.At(static_cast<int64_t>(f.result.x_min));
  std::string out = fmt::format("{} ({:.3g} t/p", f.axis.Short(f.result.x_min), b.tokens_per_param);
  if (b.tokens_per_nonembed_param > 0) out += fmt::format("; {:.3g} non-emb.", b.tokens_per_nonembed_param);
  return out + ")";
}

}  // namespace

fs::path WriteSizeComparison(const fs::path& study_dir, const std::vector<SizeReport>& sizes,
                             const ReportOptions& options) {
  Document doc;
  doc.Heading(1, "overtrain report: " + study_dir.filename().string() + " (model sizes compared)");
  doc.Paragraph(
      "One ladder per model size on the same data; each size has its own full report (linked below). "
      "Minima count only when the rise after them exceeds " + fmt::format("{:g}", options.inflection.z) +
      " combined standard errors; t/p = tokens per parameter (all parameters; non-embedding in brackets).");
  std::vector<std::vector<std::string>> info, perturb, finetune, claims;
  std::vector<std::string> claim_ids;
  for (const auto& sz : sizes) {
    const StudyResults r = LoadStudyResults(sz.study_dir / "results");
    const Summaries s = Summarize(r);
    XAxis axis{&s};
    const auto& b = s.budgets;
    const std::string none = "–";
    info.push_back({sz.size, FormatSize(r.study.params),
                    r.study.embedding_params > 0 ? FormatSize(r.study.params - r.study.embedding_params) : none,
                    b.empty() ? none
                              : fmt::format("{:.3g}–{:.3g}", b.front().tokens_per_param, b.back().tokens_per_param),
                    b.empty() ? none : fmt::format("{:.2g}–{:.2g}", b.front().epochs, b.back().epochs),
                    fmt::format("[report](../size-{}/report/report.md)", sz.size)});
    std::map<double, Curve> by_gamma;
    for (const auto& p : s.perturb) {
      if (p.group != "all") continue;
      Curve& c = by_gamma[p.gamma];
      c.label = fmt::format("γ = {:g}", p.gamma), c.param = p.gamma;
      c.x.push_back(double(p.tokens)), c.y.push_back(p.loss.mean), c.se.push_back(p.loss.se);
    }
    for (auto& [gamma, c] : by_gamma) {
      const Finding f = Analyze("sizes", "perturbed loss", c, axis, options.inflection);
      perturb.push_back({sz.size, fmt::format("{:g}", gamma), MinimumText(f, s), f.result.uncertainty});
    }
    std::map<std::pair<std::string, double>, Curve> by_lr;
    for (const auto& p : s.finetune) {
      Curve& c = by_lr[{p.task, p.lr}];
      c.label = fmt::format("{} lr = {:g}", p.task, p.lr), c.param = p.lr;
      c.x.push_back(double(p.tokens)), c.y.push_back(p.ood_loss.mean), c.se.push_back(p.ood_loss.se);
    }
    for (auto& [key, c] : by_lr) {
      const Finding f = Analyze("sizes", "fine-tuned OOD", c, axis, options.inflection);
      finetune.push_back({sz.size, key.first, fmt::format("{:g}", key.second), MinimumText(f, s)});
    }
    std::vector<std::string> row{sz.size};
    for (const auto& line : sz.report.claims) {  // "C1 reproduced: <claim>"
      const size_t colon = line.find(':');
      if (claim_ids.size() < sz.report.claims.size()) claim_ids.push_back(line.substr(0, 2));
      row.push_back(colon == std::string::npos ? line : line.substr(3, colon - 3));
    }
    claims.push_back(std::move(row));
  }
  doc.Heading(2, "Sizes");
  doc.Table({"size", "parameters", "non-embedding", "tokens/param", "epochs", "full report"}, std::move(info));
  doc.Heading(2, "The paper's claims per size");
  std::vector<std::string> header{"size"};
  header.insert(header.end(), claim_ids.begin(), claim_ids.end());
  doc.Table(header, std::move(claims));
  doc.Paragraph(
      "C1 Δ rises with tokens; C2 perturbed loss U-shaped, earlier for larger γ; C3 OOD degradation rises "
      "with tokens at a fixed LR; C4 fine-tuned OOD U-shaped, earlier for larger LR; C5 tuned LR: ID improves "
      "while OOD degrades; C6 optimal LR falls; C7/C8 the linear-network lab (shared by all sizes).");
  doc.Heading(2, "Where the perturbed loss turns upward");
  doc.Table({"size", "γ", "minimum at", "uncertainty"}, std::move(perturb));
  doc.Heading(2, "Where the fine-tuned OOD loss turns upward");
  doc.Table({"size", "task", "lr", "minimum at"}, std::move(finetune));
  const fs::path out = study_dir / "report" / "report.md";
  fs::create_directories(out.parent_path());
  WriteFileAtomic(out, doc.Markdown());
  return out;
}

}  // namespace ot
