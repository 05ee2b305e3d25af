// `overtrain pretrain`: trains a decoder on a token file to a token budget with checkpoint ladders
// and exact resume (src/train/pretrain.h). Parses and calls ot::PretrainMain; no logic here.
#include "train/pretrain.h"

#include "cli/command.h"

OT_COMMAND("pretrain", [](CLI::App& app) {
  app.description(
      "Pre-train a decoder to a token budget; checkpoints at ladder points; an existing run "
      "directory "
      "resumes from its newest valid checkpoint");
  auto config = std::make_shared<std::string>();
  auto sets = std::make_shared<std::vector<std::string>>();
  auto out = std::make_shared<std::string>();
  auto set_from = std::make_shared<std::string>();
  auto print = std::make_shared<bool>(false);
  app.add_option("--config", *config, "TOML config (e.g. configs/pretrain/nano.toml)");
  app.add_option("--set", *sets, "override one key: section.key=value (repeatable)");
  app.add_option("--set-from", *set_from,
                 "a file of section.key=value lines applied before --set (a study's LR sweep "
                 "hands its chosen optim.lr to the ladder this way)");
  app.add_option("--out", *out, "run directory (default runs/pretrain/<config stem>)");
  app.add_flag("--print-config", *print, "print the resolved config and exit");
  return [=] { return ot::PretrainMain(*config, *sets, *out, *print, *set_from); };
});
