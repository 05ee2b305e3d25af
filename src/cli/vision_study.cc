// `overtrain vision-study`: the vision transformer study (src/study/vision_study.h). Parses and
// calls ot::VisionStudyMain; no logic here.
#include "study/vision_study.h"

#include "cli/command.h"

OT_COMMAND("vision-study", [](CLI::App& app) {
  app.description(
      "Vision study: pre-train ViTs at a ladder of images seen (supervised or SigLIP), perturb, "
      "probe and fine-tune every checkpoint on another dataset, then report the claims");
  auto o = std::make_shared<ot::VisionStudyOptions>();
  app.add_option("--config", o->config_path, "TOML config (e.g. configs/vision-quick.toml)");
  app.add_option("--set", o->overrides, "override one key: section.key=value (repeatable)");
  app.add_option("--out", o->out, "study directory (default runs/<config stem>)");
  app.add_option("--jobs", o->jobs, "work units at a time, one thread each (default study.jobs)");
  app.add_flag("--dry-run", o->dry_run, "print the plan (ladders, budgets in epochs) and exit");
  app.add_flag("--print-config", o->print_config, "print the resolved config and exit");
  return [o] { return ot::VisionStudyMain(*o); };
});
