// `overtrain study`: one command from config to report (src/study/study_main.h). Parsing only.
#include "cli/command.h"
#include "study/study_main.h"

OT_COMMAND("study", [](CLI::App& app) {
  app.description(
      "Run a whole study: data, pre-training ladder, perturbation, fine-tuning sweeps, evaluation, "
      "theory, "
      "report. Resumable: the same command continues where it stopped");
  auto opt = std::make_shared<ot::StudyOptions>();
  app.add_option("--config", opt->config_path, "study TOML (e.g. configs/quick.toml)")->required();
  app.add_option("--set", opt->overrides, "override one key: section.key=value (repeatable)");
  app.add_flag("--dry-run", opt->dry_run, "print the plan with estimated cost and exit");
  app.add_option("--emit", opt->emit, "write a scheduler script instead of running: slurm");
  app.add_option("--only", opt->only, "run only these runs (their dependencies must be complete)");
  app.add_option("--jobs", opt->jobs, "runs at a time (default: study.jobs or cores / threads)");
  return [opt] { return ot::StudyMain(*opt); };
});
