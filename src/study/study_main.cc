// The study driver.
#include "study/study_main.h"

#include <fmt/format.h>
#include <omp.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <map>

#include "core/fileio.h"
#include "data/token_file.h"
#include "report/report.h"
#include "report/sizes.h"
#include "study/collect.h"
#include "study/execute.h"
#include "study/planner.h"
#include "study/tune_lr.h"

namespace ot {
namespace fs = std::filesystem;

namespace {

// Training tokens of the prepared data, when data/prepare has run (epochs need it).
int64_t PreparedTrainTokens(const StudyPlan& sp, const fs::path& study_dir) {
  const Run* prepare = sp.plan.Find(sp.data_run);
  if (!prepare) return 0;
  const fs::path tok = sp.plan.DirOf(study_dir, *prepare) / "general.train.tok";
  if (!fs::exists(tok)) return 0;
  try {
    return static_cast<int64_t>(data::ReadTokenHeader(tok).tokens);
  } catch (const Error&) {
    return 0;
  }
}

// The ladder in tokens, tokens/param (all and non-embedding), epochs; and a wall-time estimate from
// the planned token counts: training at kTrainFlops per core, forward passes at 3x the training
// token rate.
void PrintLadder(const StudyConfig& config, const StudyPlan& sp, const fs::path& study_dir,
                 int jobs) {
  const int64_t per_epoch = PreparedTrainTokens(sp, study_dir);
  // Calibrated on this project's machines (docs/performance.md): pico-32 trains 190K tokens/s on
  // one core, i.e. ~58 GFLOP/s of 6N+attention FLOPs; larger models reach more, so this errs long
  // for them.
  constexpr double kTrainFlops = 58e9;
  std::map<std::string, double>
      rate;  // training tokens/s per job, by size tag ("" = the one model)
  for (const StudyVariant& v : StudyVariants(config)) {
    const ModelConfig& m = v.config.model;
    const int64_t params = m.NumParams();
    const int64_t embed = int64_t{m.vocab_size} * m.d_model * (m.tied_head ? 1 : 2);
    std::printf("\n%smodel %s: %s parameters (%s non-embedding), vocabulary %d\n",
                v.arm.empty() ? "" : ("arm " + v.arm + ", ").c_str(), m.preset.c_str(),
                FormatSize(params).c_str(), FormatSize(params - embed).c_str(), m.vocab_size);
    if (v.config.study.tune_lr)
      std::printf(
          "LR sweep (study.tune_lr): pretrain.lr %g x {%s} at %s tokens, seed %lld; the ladder "
          "trains at the lowest validation loss\n",
          v.config.pretrain.optim.lr,
          fmt::format("{}", fmt::join(v.config.study.tune_lr_factors, ", ")).c_str(),
          FormatSize(TuneLrBudget(v.config)).c_str(),
          static_cast<long long>(v.config.study.seeds.front()));
    std::printf("%-10s %12s %16s %10s\n", "budget", "tokens/param", "non-embed t/p", "epochs");
    const int64_t corpus =
        v.config.checkpoints.series.empty() ? per_epoch : v.config.checkpoints.corpus_tokens.value;
    for (int64_t n : StudyBudgets(v.config)) {
      const std::string epochs = corpus > 0 ? fmt::format("{:.3g}", double(n) / corpus) : "?";
      std::printf("%-10s %12.3g %16.3g %10s\n", FormatSize(n).c_str(), double(n) / params,
                  double(n) / std::max<int64_t>(1, params - embed), epochs.c_str());
    }
    rate[v.tag] = kTrainFlops / m.TrainFlopsPerToken(v.config.pretrain.seq_len);
  }
  if (per_epoch == 0)
    std::printf(
        "(epochs after `data prepare`: the default corpus holds ~44M training tokens at V 512, "
        "~22M at V 8192)\n");
  auto rate_of = [&](const std::string& name) {
    for (const auto& [tag, r] : rate)
      if (!tag.empty() && name.find(tag) != std::string::npos) return r;
    return rate.begin()->second;
  };
  double work = 0, longest_pretrain = 0;
  for (const auto& run : sp.plan.runs()) {
    if (run.stage == "data" || run.stage == "data-fetch" ||
        IsComplete(sp.plan.DirOf(study_dir, run), run))
      continue;
    const bool forward_only = run.stage == "eval" || run.stage == "perturb";
    const double r = rate_of(run.name);
    const double seconds =
        run.cost_tokens / (forward_only ? 3 * r : r) +
        (run.stage == "finetune" || forward_only ? 1.0 : 0.0);  // process + data load
    if (run.stage == "pretrain") longest_pretrain = std::max(longest_pretrain, seconds);
    work += seconds;
  }
  const Run* prepare = sp.plan.Find(sp.data_run);
  const double data_s = prepare && IsComplete(sp.plan.DirOf(study_dir, *prepare), *prepare)
                            ? 0.0
                            : 240.0;  // fetch (network) + prepare, measured ~2-4 minutes
  if (config.compute.device != "cpu") {
    // A GPU study: its time is FLOPs over the card's throughput, which this machine has not
    // measured; say what is assumed.
    double flops = 0;
    for (const auto& run : sp.plan.runs()) {
      if (run.stage == "data" || run.stage == "data-fetch" ||
          IsComplete(sp.plan.DirOf(study_dir, run), run))
        continue;
      const double per_token = config.model.TrainFlopsPerToken(config.pretrain.seq_len);
      flops += run.cost_tokens *
               ((run.stage == "eval" || run.stage == "perturb") ? per_token / 3 : per_token);
    }
    const double mfu = config.study.gpu_mfu, peak = config.study.gpu_peak_tflops;
    std::printf(
        "estimated GPU time: %.1f GPU-hours on %s (%.3g FLOPs at an ASSUMED %.0f%% MFU of %.0f "
        "TFLOP/s, study.gpu_mfu and study.gpu_peak_tflops; `overtrain bench --backend torch "
        "--device cuda --precision bf16 --peak-tflops %.0f` measures the MFU), plus data "
        "preparation\n",
        flops / (mfu * peak * 1e12) / 3600, config.compute.device.c_str(), flops, 100 * mfu, peak,
        peak);
    return;
  }
  const double wall = data_s + std::max(longest_pretrain, work / std::max(1, jobs));
  std::printf(
      "estimated wall time: %.0f min at %d job(s) at a time (%.0f CPU-min of runs, data %.0f "
      "min)\n",
      wall / 60, jobs, work / 60, data_s / 60);
}

void PrintPlan(const StudyPlan& sp, const fs::path& study_dir) {
  std::map<std::string, std::pair<int, double>> by_stage;
  int complete = 0;
  for (const auto& run : sp.plan.runs()) {
    // The LR sweep's runs (study.tune_lr) are counted apart: "tune pretrain", "tune eval", ...
    auto& [n, cost] = by_stage[(run.name.rfind("tune/", 0) == 0 ? "tune " : "") + run.stage];
    ++n;
    cost += run.cost_tokens;
    complete += IsComplete(sp.plan.DirOf(study_dir, run), run);
  }
  std::printf("study %s: %zu runs (%d already complete)\n", study_dir.string().c_str(),
              sp.plan.runs().size(), complete);
  std::printf("%-14s %6s %16s\n", "stage", "runs", "est. tokens");
  double total = 0;
  for (const auto& [stage, v] : by_stage) {
    std::printf("%-14s %6d %16s\n", stage.c_str(), v.first,
                FormatSize(static_cast<int64_t>(v.second)).c_str());
    total += v.second;
  }
  std::printf("%-14s %6zu %16s\n", "total", sp.plan.runs().size(),
              FormatSize(static_cast<int64_t>(total)).c_str());
  if (const BenchmarkCost& b = sp.benchmarks; b.files > 0)
    std::printf(
        "benchmarks (eval.task_files, eval.rolling_files): %d file(s), %lld documents, ~%s "
        "tokens per evaluation, scored on %lld models (every base checkpoint and fine-tuned "
        "model; included above): ~%s tokens\n",
        b.files, static_cast<long long>(b.documents),
        FormatSize(static_cast<int64_t>(b.tokens_per_eval)).c_str(),
        static_cast<long long>(b.evaluations),
        FormatSize(static_cast<int64_t>(b.tokens_per_eval * b.evaluations)).c_str());
  std::printf("\nruns (name  id  deps):\n");
  for (const auto& run : sp.plan.runs()) {
    std::string deps;
    for (const auto& d : run.deps) deps += (deps.empty() ? "" : ", ") + d;
    std::printf("  %-44s %s  %s%s\n", run.name.c_str(), run.id.substr(0, 8).c_str(), deps.c_str(),
                IsComplete(sp.plan.DirOf(study_dir, run), run) ? "  [done]" : "");
  }
}

// The failure summary: every failed or skipped run with its error, and what to do about a full
// disk.
void PrintFailures(const ExecSummary& summary) {
  if (summary.failures.empty()) return;
  std::fprintf(stderr, "[study] %d of %d runs failed or could not run:\n", summary.failed,
               summary.total);
  bool disk_full = false;
  for (const auto& f : summary.failures) {
    std::fprintf(stderr, "[study] FAILED %s\n", f.c_str());
    disk_full |= f.find("No space left on device") != std::string::npos;
  }
  if (disk_full)
    std::fprintf(
        stderr,
        "[study] the disk is full: free space and run the same command again; finished runs "
        "are kept and skipped\n");
}

}  // namespace

int StudyMain(const StudyOptions& opt) {
  const StudyConfig config = ResolveSeries(LoadStudyConfig(opt.config_path, opt.overrides));
  const fs::path study_dir =
      config.study.out.empty() ? fs::path("runs") / config.study.name : fs::path(config.study.out);
  const StudyPlan sp = BuildStudyPlan(config, study_dir);
  if (opt.dry_run) {
    PrintPlan(sp, study_dir);
    const int cores = std::max(1, omp_get_num_procs());
    const int threads = config.study.threads_per_job > 0 ? config.study.threads_per_job
                        : config.model.d_model <= 64     ? 1
                                                         : std::min(cores, 2);
    PrintLadder(config, sp, study_dir,
                opt.jobs > 0            ? opt.jobs
                : config.study.jobs > 0 ? config.study.jobs
                                        : std::max(1, cores / threads));
    return 0;
  }
  fs::create_directories(study_dir);
  WriteFileAtomic(study_dir / "study.toml", PrintConfig(StudySchema(), config));
  const std::string binary = fs::read_symlink("/proc/self/exe").string();
  const int cores = std::max(1, omp_get_num_procs());
  ExecOptions exec;
  exec.study_dir = study_dir;
  exec.binary = binary;
  // Small models scale poorly to a second thread: run more of them side by side instead.
  exec.threads_per_job = config.study.threads_per_job > 0 ? config.study.threads_per_job
                         : config.model.d_model <= 64     ? 1
                                                          : std::min(cores, 2);
  if (opt.emit == "slurm") {
    const fs::path submit =
        EmitSlurm(sp.plan, study_dir, binary, opt.config_path, opt.overrides, exec.threads_per_job);
    std::printf("wrote %s (submit with: bash %s)\n", submit.string().c_str(),
                submit.string().c_str());
    return 0;
  }
  if (!opt.emit.empty()) throw Error("--emit '" + opt.emit + "': expected slurm");

  exec.jobs = opt.jobs > 0            ? opt.jobs
              : config.study.jobs > 0 ? config.study.jobs
                                      : std::max(1, cores / exec.threads_per_job);
  exec.only = opt.only;
  const auto start = std::chrono::steady_clock::now();
  std::fprintf(stderr, "[study] %s: %zu runs, %d at a time x %d threads\n",
               study_dir.string().c_str(), sp.plan.runs().size(), exec.jobs, exec.threads_per_job);
  const ExecSummary summary = ExecutePlan(sp.plan, exec);
  PrintFailures(summary);
  if (!opt.only.empty()) return summary.failed ? 1 : 0;

  int missing = 0;
  ReportOutput report;
  const std::vector<StudyVariant> variants = StudyVariants(config);
  if (variants.size() == 1 && variants.front().tag.empty()) {
    missing = CollectResults(config, sp, study_dir);
    report = WriteReport(study_dir);
    std::printf("\nclaims:\n");
    for (const auto& line : report.claims) std::printf("- %s\n", line.c_str());
  } else {  // one ordinary report per variant (arm and/or size), then the comparison
    std::vector<SizeReport> sizes;
    for (const StudyVariant& v : variants) {
      const std::string label = v.tag.substr(0, v.tag.size() - 1);  // "arm-sgd/size-pico-32"
      const fs::path dir = study_dir / label;
      missing += CollectResults(v.config, PlanForVariant(sp, v.tag), study_dir, dir);
      sizes.push_back({label, dir, WriteReport(dir)});
      std::printf("\nclaims, %s:\n", label.c_str());
      for (const auto& line : sizes.back().report.claims) std::printf("- %s\n", line.c_str());
    }
    const fs::path comparison = WriteSizeComparison(study_dir, sizes);
    report = sizes.back().report;
    report.dir = comparison.parent_path();
  }
  const double wall =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("\nverdict:\n");
  for (const auto& line : report.verdict) std::printf("- %s\n", line.c_str());
  std::printf(
      "\nstudy: %d runs done now, %d were already complete, %d failed, %d incomplete in the "
      "report; %.0f s\n",
      summary.done, summary.skipped, summary.failed, missing, wall);
  std::printf("report: %s\n", (report.dir / "report.md").string().c_str());
  return summary.failed ? 1 : 0;
}

}  // namespace ot
