// The size comparison: each size's minima and claims side by side (see sizes.h).
#include "report/sizes.h"

#include <fmt/format.h>
#include <toml++/toml.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>

#include "core/check.h"
#include "core/config.h"
#include "core/fileio.h"
#include "report/arms_section.h"
#include "report/document.h"
#include "report/gnuplot.h"
#include "report/law_section.h"
#include "report/lr_sweep.h"
#include "report/results.h"
#include "report/sections.h"
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
  if (b.tokens_per_nonembed_param > 0)
    out += fmt::format("; {:.3g} non-emb.", b.tokens_per_nonembed_param);
  return out + ")";
}

// "3.412 ± 0.004" / "3.412" / "–".
std::string Num(const MeanSe& m) {
  if (!(m.n > 0) || std::isnan(m.mean)) return "–";
  return std::isnan(m.se) || m.n < 2 ? fmt::format("{:.4g}", m.mean)
                                     : fmt::format("{:.4g} ± {:.2g}", m.mean, m.se);
}

// results/diagnostics.jsonl of one ladder by the checkpoint's own token count (as the budgets are
// keyed); empty when the study did not diagnose. Read once per ladder.
using Diagnostics = std::map<int64_t, nlohmann::json>;
Diagnostics ReadDiagnostics(const fs::path& results) {
  Diagnostics out;
  std::ifstream in(results / "diagnostics.jsonl");
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) {
      nlohmann::json d = nlohmann::json::parse(line);
      const int64_t tokens =
          d.value("tokens", int64_t{0});  // before the move: json's operator= takes its
      out[tokens] = std::move(d);         // argument by value, built first (C++17)
    }
  return out;
}

// λ_max at a budget: the value, or why there is none.
std::string Sharpness(const Diagnostics& diag, int64_t tokens) {
  const auto it = diag.find(tokens);
  if (it == diag.end()) return "not run";
  const auto& e = it->second["lambda_max"];
  if (!e.value("converged", false))
    return fmt::format("not converged (residual {:.2g})", e.value("residual", 0.0));
  return fmt::format("{:.4g}", e["value"].get<double>());
}

// The four panels of the comparison figure, one series per ladder, against pre-training tokens.
struct ComparisonPanels {
  PlotPanel base{
      .title = "base validation loss", .xlabel = "pre-training tokens", .ylabel = "loss"};
  PlotPanel delta{.title = "Δ at the reference γ",
                  .xlabel = "pre-training tokens",
                  .ylabel = "perturbed − base loss"};
  PlotPanel sharp{.title = "sharpness λ_max (training loss)",
                  .xlabel = "pre-training tokens",
                  .ylabel = "λ_max",
                  .logy = true};
  PlotPanel tuned{.title = "fine-tuned OOD loss at the tuned LR",
                  .xlabel = "pre-training tokens",
                  .ylabel = "loss"};

  void Add(const SizeReport& v, const Summaries& s, const Diagnostics& diag, double gamma,
           int color) {
    PlotSeries b{.title = v.size, .color = color}, d = b, h = b, t = b;
    for (const auto& p : s.pretrain)
      b.x.push_back(double(p.tokens)), b.y.push_back(p.base_loss.mean),
          b.se.push_back(p.base_loss.se);
    const std::vector<std::string> scales = s.PerturbScales();
    for (const auto& p : s.perturb)
      if (IsWholeModelGroup(p.group) && p.gamma == gamma && p.scale == scales.front())
        d.x.push_back(double(p.tokens)), d.y.push_back(p.delta.mean), d.se.push_back(p.delta.se);
    for (const auto& [tokens, d] :
         diag)  // converged values only: an unconverged estimate is not a point
      if (d["lambda_max"].value("converged", false))
        h.x.push_back(double(tokens)), h.y.push_back(d["lambda_max"]["value"].get<double>());
    std::string task;
    for (const auto& p : s.tuned) {
      if (task.empty()) task = p.task;
      if (p.task == task)
        t.x.push_back(double(p.tokens)), t.y.push_back(p.ood_loss.mean),
            t.se.push_back(p.ood_loss.se);
    }
    for (auto [panel, series] : {std::pair{&base, &b}, {&delta, &d}, {&sharp, &h}, {&tuned, &t}})
      if (!series->x.empty()) panel->series.push_back(*series);
  }
};

// Curvature against sensitivity: at the grid's smallest γ, the measured Δ next to the quadratic
// prediction ½γ²·tr(Σ_init H) from `overtrain diagnose` (both mean ± s.e.), per budget. Empty
// without diagnostics.
std::vector<std::vector<std::string>> CurvatureRows(const SizeReport& v, const Summaries& s,
                                                    const Diagnostics& diag) {
  std::vector<std::vector<std::string>> rows;  // in token order: the map's
  // The prediction is for init-scaled noise (probes scaled by σ_init), so it is compared with the
  // init scale's Δ only.
  double gamma = kNaN;
  for (const auto& p : s.perturb)
    if (IsWholeModelGroup(p.group) && p.scale == "init" && !(p.gamma >= gamma)) gamma = p.gamma;
  for (const auto& [tokens, d] : diag) {
    std::string measured = "–", predicted = "–";
    for (const auto& p : s.perturb)
      if (IsWholeModelGroup(p.group) && p.scale == "init" && p.gamma == gamma && p.tokens == tokens)
        measured = Num(p.delta);
    for (const auto& q : d["predicted_delta"])
      if (q["gamma"].get<double>() == gamma)
        predicted = fmt::format("{:.4g} ± {:.2g}", q["delta"].get<double>(),
                                q["delta_stderr"].get<double>());
    rows.push_back({v.size, FormatSize(tokens), fmt::format("{:g}", gamma), measured, predicted,
                    fmt::format("{:.4g} ± {:.2g}", d["trace"]["mean"].get<double>(),
                                d["trace"]["stderr"].get<double>()),
                    Sharpness(diag, tokens)});
  }
  return rows;
}

// One row per variant: at the smallest and largest budget, the base loss, Δ at the reference γ (the
// grid's median), λ_max, and the fine-tuned OOD loss at the tuned LR (per task, the LR with the
// lowest ID loss). The mechanism in numbers: sharper checkpoints should lose more to the same
// noise.
std::vector<std::vector<std::string>> AtAGlance(const SizeReport& v, const Summaries& s,
                                                const Diagnostics& diag, double* reference_gamma) {
  std::vector<std::vector<std::string>> rows;
  if (s.budgets.empty()) return rows;
  std::vector<double> gammas;
  const std::vector<std::string> scales = s.PerturbScales();
  for (const auto& p : s.perturb)
    if (IsWholeModelGroup(p.group) && p.scale == scales.front() &&
        std::find(gammas.begin(), gammas.end(), p.gamma) == gammas.end())
      gammas.push_back(p.gamma);
  std::sort(gammas.begin(), gammas.end());
  const double gamma = gammas.empty() ? kNaN : gammas[gammas.size() / 2];
  *reference_gamma = gamma;
  for (const int64_t tokens : {s.budgets.front().tokens, s.budgets.back().tokens}) {
    std::string base = "–", delta = "–", tuned;
    for (const auto& p : s.pretrain)
      if (p.tokens == tokens) base = Num(p.base_loss);
    const std::vector<std::string> scales = s.PerturbScales();
    for (const std::string& scale : scales)  // one entry per noise scale, the main one first
      for (const auto& p : s.perturb)
        if (IsWholeModelGroup(p.group) && p.scale == scale && p.gamma == gamma &&
            p.tokens == tokens)
          delta = (delta == "–" ? "" : delta + "; ") + (scales.size() > 1 ? scale + " " : "") +
                  Num(p.delta);
    for (const auto& t : s.tuned)
      if (t.tokens == tokens)
        tuned += (tuned.empty() ? "" : "; ") +
                 fmt::format("{} {} (lr {:g})", t.task, Num(t.ood_loss), t.lr);
    rows.push_back({v.size, FormatSize(tokens),
                    fmt::format("{:.3g}", s.At(tokens).tokens_per_param), base, delta,
                    Sharpness(diag, tokens), tuned.empty() ? "–" : tuned});
    if (s.budgets.size() == 1) break;
  }
  return rows;
}

}  // namespace

fs::path WriteSizeComparison(const fs::path& study_dir, const std::vector<SizeReport>& sizes,
                             const ReportOptions& options) {
  Document doc;
  doc.Heading(1, "overtrain report: " + study_dir.filename().string() + " (ladders compared)");
  doc.Paragraph(
      "One ladder per arm and/or model size on the same data; each has its own full report (linked "
      "below). "
      "Minima count only when the rise after them exceeds " +
      fmt::format("{:g}", options.inflection.z) +
      " combined standard errors; t/p = tokens per parameter (all parameters; non-embedding in "
      "brackets).");
  std::vector<std::vector<std::string>> info, perturb, finetune, claims, glance, curvature,
      tuned_lr;
  double reference_gamma = kNaN;
  ComparisonPanels panels;
  int color = 0;
  std::vector<std::pair<double, std::string>>
      tics;  // the first ladder's budgets (ladders share them)
  std::vector<std::string> claim_ids;
  std::vector<LadderTStars> ladders;  // the law's inputs, when the ladders are model sizes
  std::vector<TStarCurve> lab;        // the linear-network lab's curves (shared by all ladders)
  bool all_sizes = !sizes.empty(), all_arms = !sizes.empty();
  std::string unit = "tokens";  // what the budgets count: "images" when every ladder is a ViT's
  for (const auto& sz : sizes) {
    const StudyResults r = LoadStudyResults(sz.study_dir / "results");
    const Summaries s = Summarize(r);
    unit = &sz == &sizes.front() || unit == r.study.unit ? r.study.unit : "tokens";
    // A pure size study (size-<preset> ladders) has a law; a pure arms study has its findings.
    all_sizes = all_sizes && sz.size.find('/') == std::string::npos &&
                sz.study_dir.filename().string().starts_with("size-");
    all_arms = all_arms && sz.size.find('/') == std::string::npos &&
               sz.study_dir.filename().string().starts_with("arm-");
    {
      const TStarOptions t{.inflection = options.inflection, .seed = BootstrapSeed(sz.study_dir)};
      LadderTStars ladder{sz.size, double(r.study.params), {}, {}};
      if (all_arms) ladder.growth = DeltaGrowths(r, t.seed);
      const bool first = ladders.empty();  // the lab is shared: take the first ladder's
      for (TStarCurve& c : StudyTStars(r, t))
        if (!c.steps)
          ladder.curves.push_back(std::move(c));
        else if (first)
          lab.push_back(std::move(c));
      ladders.push_back(std::move(ladder));
    }
    XAxis axis{&s};
    const auto& b = s.budgets;
    const std::string none = "–";
    info.push_back(
        {sz.size, FormatSize(r.study.params),
         r.study.embedding_params > 0 ? FormatSize(r.study.params - r.study.embedding_params)
                                      : none,
         b.empty()
             ? none
             : fmt::format("{:.3g}–{:.3g}", b.front().tokens_per_param, b.back().tokens_per_param),
         b.empty() ? none : fmt::format("{:.2g}–{:.2g}", b.front().epochs, b.back().epochs),
         fmt::format("[report](../{}/report/report.md)", sz.size)});
    if (r.lr_sweep)  // study.tune_lr: each ladder's swept grid and the LR it trained at
      for (const LrSweep& sw : SummarizeLrSweeps(*r.lr_sweep)) {
        std::string grid;
        for (const auto& p : sw.points)
          grid += (grid.empty() ? "" : ", ") + fmt::format("{:g}", p.lr);
        const LrSweepRow* c = sw.chosen >= 0 ? &sw.points[sw.chosen] : nullptr;
        const std::string edge = LrSweepEdgeFlag(sw);
        tuned_lr.push_back({sz.size, FormatSize(sw.tokens), grid,
                            c ? fmt::format("{:g} (× {:g})", c->lr, c->factor) : "–",
                            c && c->val_loss ? fmt::format("{:.4f}", *c->val_loss) : "–",
                            edge.empty() ? "interior" : "**at the grid's edge: widen the grid**"});
      }
    const Diagnostics diag = ReadDiagnostics(sz.study_dir / "results");
    for (auto& row : AtAGlance(sz, s, diag, &reference_gamma)) glance.push_back(std::move(row));
    for (auto& row : CurvatureRows(sz, s, diag)) curvature.push_back(std::move(row));
    panels.Add(sz, s, diag, reference_gamma, color++);
    if (tics.empty()) tics = report_detail::TokenTics(s);
    std::map<std::pair<std::string, double>, Curve> by_gamma;  // one curve per (scale, γ)
    for (const auto& p : s.perturb) {
      if (!IsWholeModelGroup(p.group)) continue;
      Curve& c = by_gamma[{p.scale, p.gamma}];
      c.label = fmt::format("γ = {:g}", p.gamma), c.param = p.gamma;
      c.x.push_back(double(p.tokens)), c.y.push_back(p.loss.mean), c.se.push_back(p.loss.se);
    }
    for (auto& [key, c] : by_gamma) {
      const Finding f = Analyze("sizes", "perturbed loss", c, axis, options.inflection);
      perturb.push_back({sz.size, key.first, fmt::format("{:g}", key.second), MinimumText(f, s),
                         f.result.uncertainty});
    }
    std::map<std::pair<std::string, double>, Curve> by_lr;
    for (const auto& p : s.finetune) {
      Curve& c = by_lr[{p.task, p.lr}];
      c.label = fmt::format("{} lr = {:g}", p.task, p.lr), c.param = p.lr;
      c.x.push_back(double(p.tokens)), c.y.push_back(p.ood_loss.mean),
          c.se.push_back(p.ood_loss.se);
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
  doc.Heading(2, "Ladders");
  doc.Table({"ladder", "parameters", "non-embedding", "tokens/param", "epochs", "full report"},
            std::move(info));
  if (!tuned_lr.empty()) {
    doc.Heading(2, "Pre-training LR per ladder (study.tune_lr)");
    doc.Paragraph(
        "Each ladder's pre-training LR, swept at one reference budget before the ladder (the "
        "ladder trains at the lowest validation loss). An optimum at the grid's edge may lie "
        "outside the grid.");
    doc.Table({"ladder", "swept at", "grid (lr)", "chosen lr", "validation loss", "optimum"},
              std::move(tuned_lr));
  }
  doc.Heading(2, "At a glance: smallest and largest budget");
  doc.Paragraph(
      fmt::format("Base validation loss, the perturbation's Δ at the reference γ = {:g} (the "
                  "grid's median; mean ± s.e. over "
                  "draws and seeds; one entry per noise scale when there are several), the "
                  "training loss's top Hessian eigenvalue λ_max (`overtrain "
                  "diagnose`; \"not run\" when "
                  "the study does not diagnose), and the fine-tuned OOD loss at the tuned LR (the "
                  "LR with the lowest ID loss).",
                  reference_gamma));
  doc.Table({"ladder", "tokens", "t/p", "base loss", "Δ at ref. γ", "λ_max",
             "fine-tuned OOD at tuned LR"},
            std::move(glance));
  Figure fig{.name = "ladders",
             .title = "ladders compared against pre-training " + unit,
             .panel_width = 430,
             .height = 430};
  for (PlotPanel* p : {&panels.base, &panels.delta, &panels.sharp, &panels.tuned}) {
    p->xlabel = "pre-training " + unit;
    if (!p->series.empty()) fig.panels.push_back(*p);
  }
  for (PlotPanel& p : fig.panels) p.xtics = tics;
  if (!fig.panels.empty()) {
    fs::create_directories(study_dir / "report" / "figures");
    RenderFigure(fig, study_dir / "report" / "figures");
    doc.Image("figures/ladders.svg", "figures/ladders.png",
              "base loss, Δ at the reference γ, λ_max and the tuned fine-tuned OOD loss per ladder "
              "against tokens "
              "(error bars: ± s.e.)");
  }
  if (!curvature.empty()) {
    doc.Heading(2, "Curvature and sensitivity");
    doc.Paragraph(
        "For small noise the perturbation's expected loss change is quadratic in γ: E[Δ] ≈ "
        "½γ²·tr(Σ_init H), with H the "
        "Hessian of the training loss (Hutchinson estimate with probes scaled by each tensor's "
        "init std). Where the "
        "measured Δ at the smallest γ matches the prediction, the growth of Δ with tokens is the "
        "growth of the "
        "curvature the noise sees; where it does not, γ is past the quadratic regime (or training "
        "and validation "
        "loss curve differently).");
    doc.Table(
        {"ladder", "tokens", "γ", "measured Δ", "predicted ½γ²·tr(Σ_init H)", "tr(H)", "λ_max"},
        std::move(curvature));
  }
  doc.Heading(2, "The paper's claims per ladder");
  std::vector<std::string> header{"ladder"};
  header.insert(header.end(), claim_ids.begin(), claim_ids.end());
  doc.Table(header, std::move(claims));
  doc.Paragraph(
      "C1 Δ rises with tokens; C2 perturbed loss U-shaped, earlier for larger γ; C3 OOD "
      "degradation rises "
      "with tokens at a fixed LR; C4 fine-tuned OOD U-shaped, earlier for larger LR; C5 tuned LR: "
      "ID improves "
      "while OOD degrades; C6 optimal LR falls; C7/C8 the linear-network lab (shared by all "
      "ladders; \"not measured\" "
      "when the study runs no theory).");
  doc.Heading(2, "Where the perturbed loss turns upward");
  doc.Table({"ladder", "noise scale", "γ", "minimum at", "uncertainty"}, std::move(perturb));
  doc.Heading(2, "Where the fine-tuned OOD loss turns upward");
  doc.Table({"ladder", "task", "lr", "minimum at"}, std::move(finetune));
  if (all_sizes && ladders.size() > 1) {
    fs::create_directories(study_dir / "report" / "tables");
    LawSection(doc, ladders, lab, study_dir / "report" / "tables");
  }
  if (all_arms && ladders.size() > 1) ArmsSection(doc, ladders);
  const fs::path out = study_dir / "report" / "report.md";
  fs::create_directories(out.parent_path());
  std::string text = doc.Markdown();
  if (unit != "tokens")  // a vision study: every "tokens" of the comparison counts images
    for (size_t at = 0; (at = text.find("tokens", at)) != std::string::npos; at += unit.size())
      text.replace(at, 6, unit);
  WriteFileAtomic(out, text);
  return out;
}

namespace {

// study.arms of <root>/study.toml (the study's resolved config), or a vision study's
// pretrain.objectives, or empty.
std::vector<std::string> ArmOrder(const fs::path& root) {
  std::vector<std::string> arms;
  try {
    const toml::table t = toml::parse_file((root / "study.toml").string());
    const toml::array* a = t["study"]["arms"].as_array();
    if (!a) a = t["pretrain"]["objectives"].as_array();
    if (a)
      for (const auto& v : *a)
        if (const auto name = v.value<std::string>()) arms.push_back(*name);
  } catch (const toml::parse_error&) {
  }
  return arms;
}

}  // namespace

fs::path WriteVariantReports(const fs::path& root, const ReportOptions& options) {
  std::vector<std::string> variants = VariantDirs(root);
  if (variants.empty())
    throw Error(root.string() +
                ": no results/study.json and no arm-* or size-* variants with "
                "one: not a study directory");
  const std::vector<std::string> arms = ArmOrder(root);
  auto rank = [&](const std::string& v) {
    for (size_t i = 0; i < arms.size(); ++i)
      if (v == "arm-" + arms[i] || v.starts_with("arm-" + arms[i] + "/")) return i;
    return arms.size();
  };
  std::stable_sort(variants.begin(), variants.end(),
                   [&](const std::string& a, const std::string& b) { return rank(a) < rank(b); });
  std::vector<SizeReport> reports;
  for (const std::string& v : variants)
    reports.push_back({v, root / v, WriteReport(root / v, options)});
  return WriteSizeComparison(root, reports, options);
}

}  // namespace ot
