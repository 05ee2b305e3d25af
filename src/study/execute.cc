// The local process pool, run status files and Slurm emission.
#include "study/execute.h"

#include <fmt/format.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>

#include "core/check.h"
#include "core/fileio.h"
#include "core/run_lock.h"
#include "core/subprocess.h"
#include "engine/collective_config.h"

namespace ot {
namespace fs = std::filesystem;

bool IsComplete(const fs::path& run_dir, const Run& run) {
  std::error_code ec;
  if (!fs::exists(run_dir / "status.json", ec)) return false;
  try {
    auto j = nlohmann::json::parse(ReadFile(run_dir / "status.json"));
    return j.value("state", "") == "done" && j.value("id", "") == run.id;
  } catch (...) {
    return false;
  }
}

void WriteRunConfigs(const Plan& plan, const fs::path& study_dir) {
  for (const auto& run : plan.runs()) {
    const fs::path dir = plan.DirOf(study_dir, run);
    fs::create_directories(dir);
    const fs::path cfg = dir / "run.toml";
    std::error_code ec;
    if (fs::exists(cfg, ec) && ReadFile(cfg) == run.config_toml) continue;
    WriteFileAtomic(cfg, run.config_toml);
  }
}

namespace {

// The error a failed run printed: its last "error: ..." line (the CLI's one sentence), else the
// last lines.
std::string RunError(const Child& child) {
  const std::string tail = child.OutputTail(4000);
  const size_t at = tail.rfind("error: ");
  if (at != std::string::npos && (at == 0 || tail[at - 1] == '\n')) {
    const size_t end = tail.find('\n', at);
    return tail.substr(at + 7, end == std::string::npos ? std::string::npos : end - at - 7);
  }
  return TailOf(tail, 800);
}

// Indents each line of `text` by four spaces (the summary's block under a run's name).
std::string Indent(const std::string& text) {
  std::string out = "    ";
  for (char c : text) out += c == '\n' ? std::string("\n    ") : std::string(1, c);
  return out;
}

// Starts `binary stage --config dir/run.toml --out dir`, output appended to dir/log.txt. Dies with
// the parent (core/subprocess). Throws Error when it cannot start.
// `rank` > 0: a data-parallel task of a multi-task Slurm job (every task runs `study --only`);
// its stage shares the run directory with rank 0, so it logs to log-rank<k>.txt.
Child Spawn(const ExecOptions& opt, const Run& run, const fs::path& dir, int rank) {
  std::vector<std::string> args = {opt.binary};
  for (const auto& a : run.argv.empty() ? std::vector<std::string>{run.stage, "--config",
                                                                   "{config}", "--out", "{out}"}
                                        : run.argv)
    args.push_back(a == "{config}" ? (dir / "run.toml").string() : a == "{out}" ? dir.string() : a);
  return Child::Spawn({.argv = args,
                       .env = {"OMP_NUM_THREADS=" + std::to_string(opt.threads_per_job)},
                       .output = ChildOutput::kFile,
                       .log = dir / (rank == 0 ? std::string("log.txt")
                                               : "log-rank" + std::to_string(rank) + ".txt")});
}

// status.json of a run that ended. A failed run's record is best effort: on a full disk it cannot
// be written, and the run is retried next time either way (only "done" with the run's id counts as
// complete).
void WriteStatus(const fs::path& dir, const Run& run, const std::string& state,
                 const std::string& error, const std::string& ended) {
  nlohmann::json st = {{"state", state}, {"id", run.id}, {"stage", run.stage}, {"name", run.name}};
  if (!error.empty()) st["error"] = error;
  if (!ended.empty()) st["ended"] = ended;
  WriteFileAtomic(dir / "status.json", st.dump(2) + "\n");
}

std::string FormatDuration(double s) {
  if (s < 0 || !std::isfinite(s)) return "?";
  const int t = static_cast<int>(s + 0.5);
  return t >= 3600 ? fmt::format("{}h{:02}m", t / 3600, t / 60 % 60)
                   : fmt::format("{}m{:02}s", t / 60, t % 60);
}

}  // namespace

ExecSummary ExecutePlan(const Plan& plan, const ExecOptions& opt_in) {
  ExecOptions opt = opt_in;
  if (opt.binary.empty()) opt.binary = fs::read_symlink("/proc/self/exe").string();
  // One local pool per study (docs/reliability.md case 32). `--only` runs (Slurm array tasks of one
  // study, running side by side) rely on the per-run locks of their stages instead.
  RunDirLock study_lock;
  if (opt.only.empty()) study_lock = RunDirLock::Acquire(opt.study_dir, "study");
  // Inside a multi-task Slurm job every task runs this with --only: rank 0 keeps the books
  // (run.toml, status.json), the others run their stage's rank and record nothing.
  const int rank = RendezvousFromEnvironment().rank;
  const auto write_status = [&](const fs::path& dir, const Run& run, const std::string& state,
                                const std::string& error, const std::string& ended) {
    if (rank == 0) WriteStatus(dir, run, state, error, ended);
  };
  if (rank == 0) WriteRunConfigs(plan, opt.study_dir);
  ExecSummary summary;
  const std::set<std::string> only(opt.only.begin(), opt.only.end());
  std::set<std::string> complete, failed, todo;
  double cost_total = 0, cost_done = 0;
  for (const auto& run : plan.runs()) {
    if (IsComplete(plan.DirOf(opt.study_dir, run), run)) {
      complete.insert(run.name);
      ++summary.skipped;
    } else if (only.empty() || only.count(run.name)) {
      todo.insert(run.name);
      cost_total += run.cost_tokens;
    }
  }
  summary.total = static_cast<int>(plan.runs().size());
  struct Running {
    std::unique_ptr<Child> child;
    const Run* run;
    RunDirLock only_lock;  // --only: held until the stage ends
  };
  std::vector<Running> running;
  const auto start = std::chrono::steady_clock::now();
  const bool tty = isatty(STDERR_FILENO) && !opt.quiet;
  auto progress = [&](const std::string& event) {
    if (opt.quiet) return;
    const double elapsed =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    const double eta = cost_done > 0 ? elapsed * (cost_total - cost_done) / cost_done : -1;
    const std::string line =
        fmt::format("[study] {}/{} runs done, {} running, {} failed, elapsed {}, ETA {}  {}",
                    complete.size(), summary.total, running.size(), failed.size(),
                    FormatDuration(elapsed), FormatDuration(eta), event);
    std::fprintf(stderr, tty ? "\r\033[K%s" : "%s\n", line.c_str());
    if (tty && event.rfind("failed", 0) == 0) std::fprintf(stderr, "\n");
    std::fflush(stderr);
  };
  // A failed run: recorded in its status.json (best effort), in the summary, and its dependents
  // skipped. `ended`: how its process ended ("exit code 1"), empty when it never ran.
  auto fail = [&](const Run& run, const std::string& error, const std::string& ended,
                  const std::string& detail) {
    const fs::path dir = plan.DirOf(opt.study_dir, run);
    std::string entry = fmt::format("{}: {}", run.name, error);
    if (!ended.empty()) entry += fmt::format(" ({})", ended);
    try {
      write_status(dir, run, "failed", error, ended);
    } catch (const Error& e) {
      entry += " (its status.json could not be written either: " + std::string(e.what()) + ")";
    }
    failed.insert(run.name);
    ++summary.failed;
    if (!detail.empty()) entry += fmt::format("\n{}", Indent(detail));
    summary.failures.push_back(entry);
    progress("failed " + run.name);
  };
  while (true) {
    // Launch every ready run while there are free slots.
    for (const auto& run : plan.runs()) {
      if (static_cast<int>(running.size()) >= opt.jobs) break;
      if (!todo.count(run.name)) continue;
      bool ready = true, blocked = false;
      for (const auto& d : run.deps) {
        if (failed.count(d)) blocked = true;
        if (!complete.count(d)) ready = false;
      }
      if (blocked) {
        todo.erase(run.name);
        failed.insert(run.name);
        ++summary.failed;
        summary.failures.push_back(run.name + ": not run, a dependency failed");
        continue;
      }
      if (!ready) continue;
      // A run whose dependency is neither complete nor planned here (--only) cannot start.
      bool dep_pending = false;
      for (const auto& d : run.deps) dep_pending |= !complete.count(d) && !todo.count(d);
      if (dep_pending) continue;
      const fs::path dir = plan.DirOf(opt.study_dir, run);
      todo.erase(run.name);
      // Two --only processes on one run (rank 0 of each): the loser stops here, writing neither
      // the run's status.json nor its log.txt; its error goes to its own summary (stderr).
      RunDirLock only_lock;
      if (!opt.only.empty() && rank == 0) {
        try {
          only_lock = RunDirLock::Acquire(dir, "study run", kOnlyRunLockFile);
        } catch (const Error& e) {
          failed.insert(run.name);
          ++summary.failed;
          summary.failures.push_back(run.name + ": not run here: " + e.what());
          progress("failed " + run.name);
          continue;
        }
        if (IsComplete(dir, run)) {  // the other process finished it meanwhile
          complete.insert(run.name);
          ++summary.skipped;
          continue;
        }
      }
      try {
        running.push_back(
            {std::make_unique<Child>(Spawn(opt, run, dir, rank)), &run, std::move(only_lock)});
      } catch (const Error& e) {
        fail(run, e.what(), "", "");
        continue;
      }
      progress("started " + run.name);
    }
    if (running.empty()) break;
    std::vector<Child*> children;
    for (const auto& r : running) children.push_back(r.child.get());
    const size_t index = WaitAny(children);
    const Child child = std::move(*running[index].child);
    const Run& run = *running[index].run;
    const RunDirLock only_lock =
        std::move(running[index].only_lock);  // until status.json is written
    running.erase(running.begin() + static_cast<std::ptrdiff_t>(index));
    const fs::path dir = plan.DirOf(opt.study_dir, run);
    if (child.status().ok()) {
      try {
        write_status(dir, run, "done", "", "");
      } catch (
          const Error& e) {  // a full disk: the run's work is kept, it is redone after a restart
        fail(run, "finished, but its completion could not be recorded: " + std::string(e.what()),
             "", "");
        continue;
      }
      complete.insert(run.name);
      cost_done += run.cost_tokens;
      ++summary.done;
      progress("finished " + run.name);
    } else {
      fail(run, RunError(child), child.status().Describe(),
           "log " + (dir / "log.txt").string() + ":\n" + child.OutputTail(800));
    }
  }
  // Runs left in todo could not start (their dependencies are outside --only and incomplete).
  for (const auto& name : todo)
    summary.failures.push_back(name + ": not run, dependencies incomplete");
  summary.failed += static_cast<int>(todo.size());
  if (tty) std::fprintf(stderr, "\n");
  return summary;
}

namespace {

// 'text' for bash: single quotes, an embedded ' as '\''.
std::string ShellQuote(const std::string& text) {
  std::string out = "'";
  for (char c : text) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

}  // namespace

fs::path EmitSlurm(const Plan& plan, const fs::path& study_dir, const std::string& binary,
                   const std::string& study_config_path, const std::vector<std::string>& overrides,
                   int threads_per_job) {
  WriteRunConfigs(plan, study_dir);
  // Wave of a run = 1 + max wave of its deps.
  std::map<std::string, int> wave;
  int waves = 0;
  for (const auto& run : plan.runs()) {
    int w = 0;
    for (const auto& d : run.deps) w = std::max(w, wave[d] + 1);
    wave[run.name] = w;
    waves = std::max(waves, w + 1);
  }
  const fs::path dir = fs::absolute(study_dir / "slurm").lexically_normal();
  fs::create_directories(dir);
  // Jobs start where the study was emitted: its relative paths (data configs, study.out) resolve
  // from here.
  const std::string root = ShellQuote(fs::current_path().string());
  std::string study = ShellQuote(binary) + " study --config " +
                      ShellQuote(fs::absolute(study_config_path).string());
  for (const auto& o : overrides) study += " --set " + ShellQuote(o);
  const std::string threads =
      fmt::format("export OMP_NUM_THREADS=${{SLURM_CPUS_PER_TASK:-{}}}", threads_per_job);
  // --kill-on-invalid-dep: a job whose dependency failed or was cancelled ends instead of waiting
  // forever (DependencyNeverSatisfied); `overtrain study --config X --emit slurm` again then
  // resubmits only the runs that did not complete.
  const std::string job_options = fmt::format(
      "--requeue --kill-on-invalid-dep=yes --cpus-per-task={} --chdir={}", threads_per_job, root);
  std::string submit = fmt::format(
      "#!/usr/bin/env bash\n# Submits the study as one Slurm array job per dependency wave; every "
      "job runs in\n"
      "# {} (where the study was emitted) and logs to {}.\nset -euo pipefail\nprev=\"\"\n",
      fs::current_path().string(), dir.string());
  for (int w = 0; w < waves; ++w) {
    // The wave's one-process runs as one array job; each data-parallel run as its own multi-task
    // job (srun starts one `study --only` per task; their stages meet through srun's variables).
    std::string list;
    int n = 0;
    std::vector<const Run*> multi;
    for (const auto& run : plan.runs()) {
      // Runs already complete are left out: emitting again resubmits only what did not finish.
      if (wave[run.name] != w || IsComplete(plan.DirOf(study_dir, run), run)) continue;
      if (run.nodes * run.tasks_per_node > 1)
        multi.push_back(&run);
      else
        list += run.name + "\n", ++n;
    }
    submit += "dep=${prev:+--dependency=afterok:$prev}\njobs=\"\"\n";
    if (n > 0) {
      const fs::path file = dir / fmt::format("wave-{}.txt", w);
      WriteFileAtomic(file, list);
      submit += fmt::format(
          "jobs=$(sbatch --parsable $dep --array=1-{} --job-name=overtrain-w{} {} --output={} {} "
          "{})\n"
          "echo \"wave {}: job $jobs ({} runs)\"\n",
          n, w, job_options, ShellQuote((dir / "%x-%A_%a.out").string()),
          ShellQuote((dir / "run-array.sh").string()), ShellQuote(file.string()), w, n);
    }
    for (const Run* run : multi) {
      const std::string body = fmt::format("cd {}; {}; exec srun --kill-on-bad-exit=1 {} --only {}",
                                           root, threads, study, ShellQuote(run->name));
      submit += fmt::format(
          "job=$(sbatch --parsable $dep --nodes={} --ntasks-per-node={} "
          "--job-name=overtrain-w{}-dp "
          "{} --output={} --wrap {})\n"
          "jobs=${{jobs:+$jobs:}}$job\necho \"wave {}: job $job ({}, {} x {} processes)\"\n",
          run->nodes, run->tasks_per_node, w, job_options, ShellQuote((dir / "%x-%j.out").string()),
          ShellQuote(body), w, run->name, run->nodes, run->tasks_per_node);
    }
    submit += "prev=${jobs:-$prev}\n";  // an empty wave (all complete) passes its dependency on
  }
  submit += fmt::format(
      "# All runs complete: collect the results and write the report (nothing is re-run).\n"
      "sbatch --parsable ${{prev:+--dependency=afterok:$prev}} --job-name=overtrain-report {} "
      "--output={} "
      "--wrap {}\n",
      job_options, ShellQuote((dir / "%x-%j.out").string()),
      ShellQuote(threads + "; exec " + study));
  const std::string array = fmt::format(
      "#!/usr/bin/env bash\n"
      "#SBATCH --requeue\n#SBATCH --cpus-per-task={}\n"
      "# One array index = one run of the study; a requeued index resumes that run (completed runs "
      "are "
      "skipped).\n# $1: the wave's list of run names. submit.sh passes --chdir; the cd covers a "
      "hand-made sbatch.\n"
      "set -euo pipefail\n"
      "run=$(sed -n \"${{SLURM_ARRAY_TASK_ID}}p\" \"$1\")\n"
      "cd {}\n{}\n"
      "exec {} --only \"$run\"\n",
      threads_per_job, root, threads, study);
  WriteFileAtomic(dir / "submit.sh", submit);
  WriteFileAtomic(dir / "run-array.sh", array);
  fs::permissions(dir / "submit.sh", fs::perms::owner_exec, fs::perm_options::add);
  fs::permissions(dir / "run-array.sh", fs::perms::owner_exec, fs::perm_options::add);
  return dir / "submit.sh";
}

}  // namespace ot
