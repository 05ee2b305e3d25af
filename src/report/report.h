// `overtrain report <study dir>`: reads only <study>/results/* (docs/formats.md) and writes
// <study>/report/{report.md, index.html, figures/*.{png,svg,gp,dat}, tables/*.csv} — the figures of
// docs/science.md §5 with each curve's minimum marked, and a verdict generated from the data.
// Entry point: WriteReport.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "report/inflection.h"

namespace ot {

struct ReportOptions {
  InflectionOptions
      inflection;  // significance rule for minima and U-shapes (z = 2 s.e. by default)
};

struct ReportOutput {
  std::filesystem::path dir;         // <study>/report
  std::vector<std::string> figures;  // figure stems written (each has .png, .svg, .gp, .dat)
  std::vector<std::string> tables;   // CSV file names under tables/
  std::vector<std::string> verdict;  // the verdict bullets, as in report.md
  std::vector<std::string> claims;   // "C1 reproduced: <claim>", one per claim of the paper
  std::vector<std::string> omitted;  // one line per result kind that was absent
};

// The variants of a study of arms or sizes under `study_dir` (arm-<a>, size-<p>, arm-<a>/size-<p>,
// each with results/study.json), relative to it, sorted; empty for an ordinary study.
std::vector<std::string> VariantDirs(const std::filesystem::path& study_dir);

// Throws ot::Error for a missing study.json, a malformed row (file:line, key) or a gnuplot failure.
// Replaces report/figures and report/tables wholesale, so no figure of an earlier run survives.
ReportOutput WriteReport(const std::filesystem::path& study_dir, const ReportOptions& options = {});

}  // namespace ot
