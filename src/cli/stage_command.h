// A stage command from a declared config: --config FILE, --set k=v (repeatable), --out DIR,
// --print-config. Parsing only; the stage's Run function holds the logic.
#pragma once

#include <cstdio>
#include <filesystem>
#include <memory>

#include "cli/command.h"
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
      const Cfg cfg = LoadConfig(schema(), *config, *sets);
      if (*print) {
        std::fputs(PrintConfig(schema(), cfg).c_str(), stdout);
        return 0;
      }
      return run(cfg, *out);
    };
  };
}

}  // namespace ot::cli
