// The local process pool, run status files and Slurm emission.
#include "study/execute.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include <fmt/format.h>

#include "core/check.h"
#include "core/fileio.h"

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

std::string LogTail(const fs::path& log, size_t lines) {
  std::ifstream in(log);
  std::vector<std::string> all;
  for (std::string line; std::getline(in, line);) all.push_back(line);
  std::string out;
  for (size_t i = all.size() > lines ? all.size() - lines : 0; i < all.size(); ++i) out += "    " + all[i] + "\n";
  return out;
}

// Starts `binary stage --config dir/run.toml --out dir`, output to dir/log.txt. Dies with the parent.
pid_t Spawn(const ExecOptions& opt, const Run& run, const fs::path& dir) {
  const std::string cfg = (dir / "run.toml").string(), out = dir.string(), log = (dir / "log.txt").string();
  const std::string threads = std::to_string(opt.threads_per_job);
  const pid_t parent = getpid();
  const pid_t pid = fork();
  OT_CHECK(pid >= 0) << "fork failed";
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);  // a killed study leaves no orphan writing into its run dirs
    if (getppid() != parent) _exit(127);
    const int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0) {
      dup2(fd, 1);
      dup2(fd, 2);
      close(fd);
    }
    setenv("OMP_NUM_THREADS", threads.c_str(), 1);
    std::vector<std::string> args = run.argv;
    if (args.empty()) args = {run.stage, "--config", "{config}", "--out", "{out}"};
    std::vector<char*> cargs{const_cast<char*>(opt.binary.c_str())};
    for (auto& a : args) {
      if (a == "{config}") a = cfg;
      if (a == "{out}") a = out;
      cargs.push_back(a.data());
    }
    cargs.push_back(nullptr);
    execv(opt.binary.c_str(), cargs.data());
    std::perror("exec");
    _exit(127);
  }
  return pid;
}

std::string FormatDuration(double s) {
  if (s < 0 || !std::isfinite(s)) return "?";
  const int t = static_cast<int>(s + 0.5);
  return t >= 3600 ? fmt::format("{}h{:02}m", t / 3600, t / 60 % 60) : fmt::format("{}m{:02}s", t / 60, t % 60);
}

}  // namespace

ExecSummary ExecutePlan(const Plan& plan, const ExecOptions& opt_in) {
  ExecOptions opt = opt_in;
  if (opt.binary.empty()) opt.binary = fs::read_symlink("/proc/self/exe").string();
  WriteRunConfigs(plan, opt.study_dir);
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
  std::map<pid_t, const Run*> running;
  const auto start = std::chrono::steady_clock::now();
  const bool tty = isatty(STDERR_FILENO) && !opt.quiet;
  auto progress = [&](const std::string& event) {
    if (opt.quiet) return;
    const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    const double eta = cost_done > 0 ? elapsed * (cost_total - cost_done) / cost_done : -1;
    const std::string line = fmt::format("[study] {}/{} runs done, {} running, {} failed, elapsed {}, ETA {}  {}",
                                         complete.size(), summary.total, running.size(), failed.size(),
                                         FormatDuration(elapsed), FormatDuration(eta), event);
    std::fprintf(stderr, tty ? "\r\033[K%s" : "%s\n", line.c_str());
    if (tty && event.rfind("failed", 0) == 0) std::fprintf(stderr, "\n");
    std::fflush(stderr);
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
      running[Spawn(opt, run, dir)] = &run;
      progress("started " + run.name);
    }
    if (running.empty()) break;
    int status = 0;
    const pid_t pid = waitpid(-1, &status, 0);
    if (pid < 0) continue;
    auto it = running.find(pid);
    if (it == running.end()) continue;
    const Run& run = *it->second;
    running.erase(it);
    const fs::path dir = plan.DirOf(opt.study_dir, run);
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
      nlohmann::json st = {{"state", "done"}, {"id", run.id}, {"stage", run.stage}, {"name", run.name}};
      WriteFileAtomic(dir / "status.json", st.dump(2) + "\n");
      complete.insert(run.name);
      cost_done += run.cost_tokens;
      ++summary.done;
      progress("finished " + run.name);
    } else {
      failed.insert(run.name);
      ++summary.failed;
      summary.failures.push_back(fmt::format("{} (exit {}), log {}:\n{}", run.name,
                                             WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status),
                                             (dir / "log.txt").string(), LogTail(dir / "log.txt", 8)));
      progress("failed " + run.name);
    }
  }
  // Runs left in todo could not start (their dependencies are outside --only and incomplete).
  for (const auto& name : todo) summary.failures.push_back(name + ": not run, dependencies incomplete");
  summary.failed += static_cast<int>(todo.size());
  if (tty) std::fprintf(stderr, "\n");
  return summary;
}

fs::path EmitSlurm(const Plan& plan, const fs::path& study_dir, const std::string& binary,
                   const std::string& study_config_path, const std::vector<std::string>& overrides) {
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
  const fs::path dir = study_dir / "slurm";
  fs::create_directories(dir);
  std::string sets;
  for (const auto& o : overrides) sets += " --set '" + o + "'";
  std::string submit =
      "#!/usr/bin/env bash\n# Submits the study as one Slurm array job per dependency wave.\nset -euo pipefail\n"
      "cd \"$(dirname \"$0\")\"\nprev=\"\"\n";
  for (int w = 0; w < waves; ++w) {
    std::string list;
    int n = 0;
    for (const auto& run : plan.runs())
      if (wave[run.name] == w) list += run.name + "\n", ++n;
    const std::string file = fmt::format("wave-{}.txt", w);
    WriteFileAtomic(dir / file, list);
    submit += fmt::format(
        "dep=${{prev:+--dependency=afterok:$prev}}\n"
        "prev=$(sbatch --parsable $dep --array=1-{} --job-name=overtrain-w{} run-array.sh {})\n"
        "echo \"wave {}: job $prev ({} runs)\"\n",
        n, w, file, w, n);
  }
  submit += fmt::format(
      "# All runs complete: collect the results and write the report (nothing is re-run).\n"
      "sbatch --dependency=afterok:$prev --job-name=overtrain-report --wrap \"{} study --config {}{}\"\n",
      binary, fs::absolute(study_config_path).string(), sets);
  const std::string array = fmt::format(
      "#!/usr/bin/env bash\n"
      "#SBATCH --requeue\n#SBATCH --cpus-per-task=2\n#SBATCH --output=%x-%A_%a.out\n"
      "# One array index = one run of the study; a requeued index resumes that run (completed runs are "
      "skipped).\nset -euo pipefail\n"
      "run=$(sed -n \"${{SLURM_ARRAY_TASK_ID}}p\" \"$1\")\n"
      "export OMP_NUM_THREADS=${{SLURM_CPUS_PER_TASK:-2}}\n"
      "exec {} study --config {}{} --only \"$run\"\n",
      binary, fs::absolute(study_config_path).string(), sets);
  WriteFileAtomic(dir / "submit.sh", submit);
  WriteFileAtomic(dir / "run-array.sh", array);
  fs::permissions(dir / "submit.sh", fs::perms::owner_exec, fs::perm_options::add);
  fs::permissions(dir / "run-array.sh", fs::perms::owner_exec, fs::perm_options::add);
  return dir / "submit.sh";
}

}  // namespace ot
