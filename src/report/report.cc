// WriteReport: result files → tables, figures (gnuplot), findings and verdict → report.md +
// index.html. The sections (sections.h) each record their curves' findings and verdict bullets.
#include "report/report.h"

#include <fmt/format.h>

#include <algorithm>
#include <fstream>

#include "core/check.h"
#include "core/config.h"
#include "report/sections.h"
#include "report/tstar_curves.h"

namespace ot {
namespace {

namespace fs = std::filesystem;
using report_detail::Ctx;

void InflectionsCsv(const Ctx& ctx, const fs::path& path) {
  CsvWriter w(
      path, {"figure", "panel", "curve", "param", "x_unit", "x_min", "epochs", "tokens_per_param",
             "y_min", "interior", "u_shaped", "shape", "monotone_increasing", "monotone_decreasing",
             "distinguishable", "plausible_x_lo", "plausible_x_hi", "fall", "rise"});
  for (const auto& f : ctx.findings) {
    const auto& r = f.result;
    double epochs = kNaN, tpp = kNaN;
    if (f.axis.budgets) {
      const Budget& b = ctx.s.At(static_cast<int64_t>(r.x_min));
      epochs = b.epochs, tpp = b.tokens_per_param;
    }
    auto yes = [](bool b) { return std::string(b ? "true" : "false"); };
    w.Cell(f.figure).Cell(f.panel).Cell(f.curve.label).Cell(f.curve.param).Cell(f.axis.Unit());
    w.Cell(r.x_min)
        .Cell(epochs)
        .Cell(tpp)
        .Cell(r.y_min)
        .Cell(yes(r.interior))
        .Cell(yes(r.u_shaped));
    w.Cell(std::string(ShapeName(r.shape)))
        .Cell(yes(r.monotone_increasing))
        .Cell(yes(r.monotone_decreasing));
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

// The variants of a study of arms or sizes (src/study: <root>/arm-<a>/, <root>/size-<p>/ or
// <root>/arm-<a>/size-<p>/, each with its own results/), relative to the root, sorted.
std::vector<std::string> VariantDirs(const fs::path& study_dir) {
  std::vector<std::string> out;
  auto is_variant = [](const fs::path& p) {
    const std::string name = p.filename().string();
    return fs::is_directory(p) && (name.starts_with("arm-") || name.starts_with("size-"));
  };
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(study_dir, ec)) {
    if (!is_variant(e.path())) continue;
    if (fs::exists(e.path() / "results" / "study.json"))
      out.push_back(e.path().filename().string());
    for (const auto& inner : fs::directory_iterator(e.path(), ec))
      if (is_variant(inner.path()) && fs::exists(inner.path() / "results" / "study.json"))
        out.push_back((e.path().filename() / inner.path().filename()).string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

ReportOutput WriteReport(const fs::path& study_dir, const ReportOptions& options) {
  if (!fs::exists(study_dir / "results" / "study.json")) {
    const std::vector<std::string> variants = VariantDirs(study_dir);
    if (!variants.empty()) {
      std::string list;
      for (const auto& v : variants) list += (list.empty() ? "" : ", ") + v;
      throw Error(fmt::format(
          "{}: a study of arms or sizes has no results/ of its own; its reports are per variant "
          "under {}/<variant>/report (variants: {}): run overtrain report {}, and likewise for "
          "the others (overtrain study writes their side-by-side comparison to {})",
          study_dir.string(), study_dir.string(), list, (study_dir / variants.front()).string(),
          (study_dir / "report").string()));
    }
  }
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
  ctx.bootstrap_seed = BootstrapSeed(study_dir);
  if (!results.pretrain) ctx.omitted.push_back("pretrain.jsonl");
  report_detail::LrSweepSection(ctx);
  report_detail::BaseSection(ctx);
  report_detail::PerturbSection(ctx);
  report_detail::FinetuneSection(ctx);
  report_detail::TunedSection(ctx);
  report_detail::TheorySection(ctx);
  report_detail::BenchmarkSection(ctx);
  report_detail::TStarSection(ctx, out.dir / "tables");
  report_detail::VisionSection(ctx);
  out.tables.insert(out.tables.end(), ctx.tables.begin(), ctx.tables.end());
  if (!ctx.findings.empty()) {
    InflectionsCsv(ctx, out.dir / "tables" / "inflections.csv");
    out.tables.push_back("inflections.csv");
  }

  const StudyInfo& st = results.study;
  Document doc;
  doc.Heading(1, "overtrain report: " + st.name);
  doc.Paragraph(fmt::format(
      "Preset `{}`, {} parameters, {} training {} per epoch, {} seed(s); tasks: {}; γ grid: "
      "{}; "
      "fine-tuning LRs: {}. {} Error bars are ±1 standard error over draws and seeds; a change "
      "counts "
      "as real only beyond {:g} combined standard errors. Read from `results/` only.",
      st.preset, FormatSize(st.params), FormatSize(st.train_tokens_per_epoch), st.unit, st.seeds,
      st.tasks.empty() ? "none" : fmt::format("{}", fmt::join(st.tasks, ", ")),
      st.gammas.empty() ? "none" : fmt::format("{}", fmt::join(st.gammas, ", ")),
      st.lrs.empty() ? "none" : fmt::format("{}", fmt::join(st.lrs, ", ")),
      st.unit == "images"
          ? "Losses are in nats on held-out images: the pre-training objective (per-image "
            "cross-entropy, or SigLIP's pairwise loss), and per-image cross-entropy after "
            "fine-tuning (docs/science.md §9)."
          : "Losses are mean token-level cross-entropy in nats on held-out sets (perplexity = "
            "exp(loss)).",
      options.inflection.z));
  doc.Heading(2, "The paper's claims at this scale");
  {
    std::vector<std::vector<std::string>> rows;
    const std::vector<report_detail::ClaimRow> claims = report_detail::Claims(ctx);
    if (st.unit == "images") {
      const std::string answer = report_detail::VisionAnswer(ctx, claims);
      doc.Paragraph(answer);
      ctx.verdict.insert(ctx.verdict.begin(), answer);
    }
    for (const auto& c : claims) {
      rows.push_back({c.id, c.claim, "**" + c.verdict + "**", c.evidence, c.range});
      out.claims.push_back(fmt::format("{} {}: {}", c.id, c.verdict, c.claim));
    }
    doc.Table({"claim", "statement", "verdict", "evidence (mean ± 1 s.e.)", "rests on"},
              std::move(rows));
    doc.Paragraph(fmt::format(
        "Verdicts: reproduced / not at this scale / contradicted / not measured; 'not tested' "
        "where a curve "
        "has no standard errors. A rise or fall counts only beyond {:g} combined standard errors.",
        options.inflection.z));
  }
  const std::vector<std::string> flags = report_detail::Flags(ctx);
  if (!flags.empty()) {
    doc.Heading(3, "Flags: results that cannot carry the science");
    doc.Bullets(flags);
  }
  doc.Heading(2, "Verdict");
  doc.FoldedBullets(fmt::format("{} findings, one per figure and family of curves (the claims "
                                "table above is their summary): show them",
                                ctx.verdict.size()),
                    ctx.verdict);
  if (!ctx.omitted.empty())
    doc.Paragraph(fmt::format("Absent result files (their sections are omitted): {}.",
                              fmt::join(ctx.omitted, ", ")));
  if (!s.budgets.empty()) {
    doc.Heading(2, st.unit == "images" ? "Budgets (images seen)" : "Token budgets");
    std::vector<std::vector<std::string>> rows;
    for (const auto& b : s.budgets)
      rows.push_back({ctx.tokens.Short(double(b.tokens)), fmt::format("{}", b.tokens),
                      fmt::format("{:.3g}", b.epochs), fmt::format("{:.3g}", b.tokens_per_param),
                      b.tokens_per_nonembed_param > 0
                          ? fmt::format("{:.3g}", b.tokens_per_nonembed_param)
                          : std::string("–")});
    doc.Table({"budget", st.unit, "epochs", st.unit + "/param", st.unit + "/non-embedding param"},
              std::move(rows));
  }
  doc.Append(ctx.body);
  doc.Heading(2, "Tables");
  std::vector<std::string> table_items;
  for (const auto& t : out.tables) table_items.push_back("`tables/" + t + "`");
  doc.Bullets(table_items);
  doc.Paragraph(
      "Each figure is regenerated by `cd figures && gnuplot <name>.gp` (data in <name>.dat).");

  WriteText(out.dir / "report.md", doc.Markdown());
  WriteText(out.dir / "index.html", doc.Html("overtrain report: " + st.name));
  out.figures = ctx.figures;
  out.verdict = ctx.verdict;
  out.omitted = ctx.omitted;
  return out;
}

}  // namespace ot