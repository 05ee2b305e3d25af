// `overtrain theory`: the two-layer linear-network lab of paper §4 (src/theory/lab.h). Parses and
// calls ot::theory::TheoryMain; no logic here.
#include "cli/command.h"
#include "theory/lab.h"

OT_COMMAND("theory", [](CLI::App& app) {
  app.description(
      "Linear-network theory lab: incremental learning, sensitivity, fine-tuning, L2-SP");
  auto config = std::make_shared<std::string>();
  auto sets = std::make_shared<std::vector<std::string>>();
  auto out = std::make_shared<std::string>();
  auto print = std::make_shared<bool>(false);
  app.add_option("--config", *config, "TOML config (e.g. configs/theory/reference.toml)");
  app.add_option("--set", *sets, "override one key: section.key=value (repeatable)");
  app.add_option("--out", *out, "output directory (default runs/theory/<config stem>)");
  app.add_flag("--print-config", *print, "print the resolved config and exit");
  return [=] { return ot::theory::TheoryMain(*config, *sets, *out, *print); };
});
