// Executes a Plan on this machine with a small process pool: each run is a child process of the
// same binary (`overtrain <stage> --config <dir>/run.toml --out <dir>`), so a study survives being
// killed — completed runs carry a status.json with their id and are skipped; an interrupted run is
// started again in its directory (pretraining resumes from its newest valid checkpoint). Also emits
// Slurm array scripts. Entry points: ExecOptions, ExecutePlan, IsComplete, EmitSlurm.
#pragma once

#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "study/plan.h"

namespace ot {

struct ExecOptions {
  std::filesystem::path study_dir;
  std::string binary;             // path of the overtrain executable (default: /proc/self/exe)
  int jobs = 1;                   // runs at a time
  int threads_per_job = 2;        // OMP_NUM_THREADS of each child
  std::vector<std::string> only;  // run names to execute (empty = all); their deps must be complete
  bool quiet = false;             // no progress line
};

bool IsComplete(const std::filesystem::path& run_dir, const Run& run);

// The lock a `study --only` process holds on a run directory while it runs the run's stage there
// (the stage itself locks the directory's .lock): a second --only of the same run is refused
// before it starts anything, so its error reaches its own stderr, not the run's log.txt.
inline constexpr const char* kOnlyRunLockFile = ".study-only.lock";

// Writes <dir>/run.toml for every run (idempotent) — the Slurm script and the pool both read it.
void WriteRunConfigs(const Plan& plan, const std::filesystem::path& study_dir);

struct ExecSummary {
  int total = 0, skipped = 0, done = 0,
      failed = 0;                     // failed counts the runs skipped for a failed dependency
  std::vector<std::string> failures;  // "name: error (how it ended)" + the indented tail of its log
};

// Runs every incomplete run whose dependencies are complete. A failed run writes status.json with
// state "failed" and its error (best effort) and stops its dependents; others continue. A run whose
// completion cannot be recorded (disk full) counts as failed and is redone on the next call;
// completed runs are never touched. Progress: runs done / total and an ETA from the cost estimates.
ExecSummary ExecutePlan(const Plan& plan, const ExecOptions& options);

// Writes <study>/slurm/{submit.sh, wave-<k>.txt, run-array.sh}: one array job per dependency wave
// (one index per run, afterok dependencies between waves, --requeue), each index calling `overtrain
// study --config <study config> --only <run>` with --cpus-per-task = `threads_per_job`. Every job
// runs in the directory the study was emitted from (--chdir, an absolute path), so the study's
// relative paths (data configs, study.out) resolve as they did here; job logs go to <study>/slurm/.
std::filesystem::path EmitSlurm(const Plan& plan, const std::filesystem::path& study_dir,
                                const std::string& binary, const std::string& study_config_path,
                                const std::vector<std::string>& overrides, int threads_per_job);

}  // namespace ot
