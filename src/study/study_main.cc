// The study driver.
#include "study/study_main.h"

#include <omp.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fmt/format.h>
#include <map>

#include "core/fileio.h"
#include "report/report.h"
#include "study/collect.h"
#include "study/execute.h"
#include "study/planner.h"

namespace ot {
namespace fs = std::filesystem;

namespace {

void PrintPlan(const StudyPlan& sp, const fs::path& study_dir) {
  std::map<std::string, std::pair<int, double>> by_stage;
  int complete = 0;
  for (const auto& run : sp.plan.runs()) {
    auto& [n, cost] = by_stage[run.stage];
    ++n;
    cost += run.cost_tokens;
    complete += IsComplete(sp.plan.DirOf(study_dir, run), run);
  }
  std::printf("study %s: %zu runs (%d already complete)\n", study_dir.string().c_str(), sp.plan.runs().size(),
              complete);
  std::printf("%-12s %6s %16s\n", "stage", "runs", "est. tokens");
  double total = 0;
  for (const auto& [stage, v] : by_stage) {
    std::printf("%-12s %6d %16s\n", stage.c_str(), v.first, FormatSize(static_cast<int64_t>(v.second)).c_str());
    total += v.second;
  }
  std::printf("%-12s %6zu %16s\n", "total", sp.plan.runs().size(), FormatSize(static_cast<int64_t>(total)).c_str());
  std::printf("\nruns (name  id  deps):\n");
  for (const auto& run : sp.plan.runs()) {
    std::string deps;
    for (const auto& d : run.deps) deps += (deps.empty() ? "" : ", ") + d;
    std::printf("  %-44s %s  %s%s\n", run.name.c_str(), run.id.substr(0, 8).c_str(), deps.c_str(),
                IsComplete(sp.plan.DirOf(study_dir, run), run) ? "  [done]" : "");
  }
}

}  // namespace

int StudyMain(const StudyOptions& opt) {
  const StudyConfig config = LoadStudyConfig(opt.config_path, opt.overrides);
  const fs::path study_dir = config.study.out.empty() ? fs::path("runs") / config.study.name : fs::path(config.study.out);
  const StudyPlan sp = BuildStudyPlan(config, study_dir);
  if (opt.dry_run) {
    PrintPlan(sp, study_dir);
    return 0;
  }
  fs::create_directories(study_dir);
  WriteFileAtomic(study_dir / "study.toml", PrintConfig(StudySchema(), config));
  const std::string binary = fs::read_symlink("/proc/self/exe").string();
  if (opt.emit == "slurm") {
    const fs::path submit = EmitSlurm(sp.plan, study_dir, binary, opt.config_path, opt.overrides);
    std::printf("wrote %s (submit with: bash %s)\n", submit.string().c_str(), submit.string().c_str());
    return 0;
  }
  if (!opt.emit.empty()) throw Error("--emit '" + opt.emit + "': expected slurm");

  const int cores = std::max(1, omp_get_num_procs());
  ExecOptions exec;
  exec.study_dir = study_dir;
  exec.binary = binary;
  // Small models scale poorly to a second thread: run more of them side by side instead.
  exec.threads_per_job = config.study.threads_per_job > 0 ? config.study.threads_per_job
                         : config.model.d_model <= 64  ? 1
                                                        : std::min(cores, 2);
  exec.jobs = opt.jobs > 0 ? opt.jobs
              : config.study.jobs > 0 ? config.study.jobs
                                      : std::max(1, cores / exec.threads_per_job);
  exec.only = opt.only;
  const auto start = std::chrono::steady_clock::now();
  std::fprintf(stderr, "[study] %s: %zu runs, %d at a time x %d threads\n", study_dir.string().c_str(),
               sp.plan.runs().size(), exec.jobs, exec.threads_per_job);
  const ExecSummary summary = ExecutePlan(sp.plan, exec);
  for (const auto& f : summary.failures) std::fprintf(stderr, "[study] FAILED %s\n", f.c_str());
  if (!opt.only.empty()) return summary.failed ? 1 : 0;

  const int missing = CollectResults(config, sp, study_dir);
  const ReportOutput report = WriteReport(study_dir);
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("\nclaims:\n");
  for (const auto& line : report.claims) std::printf("- %s\n", line.c_str());
  std::printf("\nverdict:\n");
  for (const auto& line : report.verdict) std::printf("- %s\n", line.c_str());
  std::printf("\nstudy: %d runs done now, %d were already complete, %d failed, %d incomplete in the report; %.0f s\n",
              summary.done, summary.skipped, summary.failed, missing, wall);
  std::printf("report: %s\n", (report.dir / "report.md").string().c_str());
  return summary.failed ? 1 : 0;
}

}  // namespace ot
