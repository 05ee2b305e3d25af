// A stage command from a declared config: --config FILE, --set k=v (repeatable), --out DIR,
// --print-config. Parsing only; the stage's Run function holds the logic.
#pragma once

#include <cstdio>
#include <filesystem>
#include <memory>

#include "cli/command.h"
#include "core/check.h"
#include "core/config.h"

namespace ot::cli {

template <typename Cfg>
CommandSetup StageCommand(std::string description, const ConfigSchema<Cfg>& (*schema)(),
                          int (*run)(const Cfg&, const std::filesystem::path&),
                          std::string default_out) {
  return [=](CLI::App& app) -> std::function<int()> {
    app.description(description);
    auto config = std::make_shared<std::string>();
    auto sets = std::make_shared<std::vector<std::string>>();
    auto out = std::make_shared<std::string>(default_out);
    auto print = std::make_shared<bool>(false);
    app.add_option("--config", *config, "TOML config file");
    app.add_option("--set", *sets, "override one key: section.key=value (repeatable)");
    app.add_option("--out", *out, "output directory")->capture_default_str();
    app.add_flag("--print-config", *print, "print the fully resolved config and exit");
    return [=] {
      ConfigOrigins origins;
      const Cfg cfg = ResolveConfig(schema(), *config, *sets, origins);
      if (*print) {
        // A template to fill in: printed even when a required key (a checkpoint) is still unset;
        // what would stop a run is said on stderr.
        std::fputs(PrintConfig(schema(), cfg).c_str(), stdout);
        std::fflush(stdout);  // the config first, then the note, also when both go to one file
        try {
          ValidateConfig(schema(), cfg, origins);
        } catch (const Error& e) {
          std::fprintf(stderr, "note: this config does not run as it is: %s\n", e.what());
        }
        return 0;
      }
      ValidateConfig(schema(), cfg, origins);
      return run(cfg, *out);
    };
  };
}

}  // namespace ot::cli
