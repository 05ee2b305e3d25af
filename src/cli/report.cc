// `overtrain report <study dir>`: tables, gnuplot figures, report.md and index.html from results/
// only.
#include "report/report.h"

#include <fmt/format.h>

#include <filesystem>

#include "cli/command.h"
#include "report/sizes.h"

OT_COMMAND("report", [](CLI::App& app) {
  app.description(
      "Write <study>/report/{report.md, index.html, figures/, tables/} from <study>/results/; for "
      "a "
      "study of arms or sizes, every variant's report and their comparison");
  auto study_dir = std::make_shared<std::string>();
  auto z = std::make_shared<double>(2.0);
  app.add_option("study_dir", *study_dir, "study directory (holds results/)")->required();
  app.add_option("--z", *z, "a change is significant beyond this many combined standard errors")
      ->check(CLI::PositiveNumber);
  return [=] {
    ot::ReportOptions options;
    options.inflection.z = *z;
    if (!std::filesystem::exists(std::filesystem::path(*study_dir) / "results" / "study.json") &&
        !ot::VariantDirs(*study_dir).empty()) {  // a study of arms or sizes: all its reports
      const auto comparison = ot::WriteVariantReports(*study_dir, options);
      fmt::print("report: every variant's report and the comparison -> {}\n", comparison.string());
      return 0;
    }
    const ot::ReportOutput out = ot::WriteReport(*study_dir, options);
    fmt::print("report: {} figures, {} tables -> {}\n", out.figures.size(), out.tables.size(),
               (out.dir / "report.md").string());
    for (const auto& line : out.verdict) fmt::print("  - {}\n", line);
    return 0;
  };
});
