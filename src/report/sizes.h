// The paper's three-size comparison in miniature: a study of several model sizes writes one
// ordinary report per size (<study>/size-<preset>/report) and this comparison
// (<study>/report/report.md): per size its parameters, where each γ's perturbed-loss minimum and
// each LR's fine-tuned OOD minimum fall (in tokens and tokens per parameter), and each size's
// verdict on the paper's claims. Entry point: WriteSizeComparison.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "report/report.h"

namespace ot {

struct SizeReport {
  std::string size;                 // model preset
  std::filesystem::path study_dir;  // <study>/size-<preset> (holds results/ and report/)
  ReportOutput report;              // that size's own report
};

// Writes <study_dir>/report/report.md; returns its path.
std::filesystem::path WriteSizeComparison(const std::filesystem::path& study_dir,
                                          const std::vector<SizeReport>& sizes,
                                          const ReportOptions& options = {});

// `overtrain report <root>` of a study of arms or sizes: every variant's own report, then the
// comparison, from results/ only (so a report improved since the study ran needs no rerun). Arms
// are ordered as <root>/study.toml lists them in study.arms (the first is the reference), else by
// name. Returns the comparison's path.
std::filesystem::path WriteVariantReports(const std::filesystem::path& root,
                                          const ReportOptions& options = {});

}  // namespace ot
