// overtrain: one binary, one subcommand per stage. User errors (ot::Error) print one sentence,
// exit 1.
#include <fmt/format.h>

#include <algorithm>
#include <cstdio>
#include <map>

#include "cli/command.h"
#include "core/check.h"

namespace ot::cli {
std::vector<CommandEntry>& Registry() {
  static std::vector<CommandEntry> registry;
  return registry;
}
}  // namespace ot::cli

int main(int argc, char** argv) {
  CLI::App app{"overtrain: a laboratory for catastrophic overtraining in language models"};
  app.require_subcommand(1);
  auto& registry = ot::cli::Registry();
  std::sort(registry.begin(), registry.end(),
            [](const auto& a, const auto& b) { return a.name < b.name; });
  std::map<std::string, std::function<int()>> runs;
  std::map<std::string, CLI::App*> subs;
  for (const auto& entry : registry) {
    CLI::App* sub = app.add_subcommand(entry.name);
    subs[entry.name] = sub;
    runs[entry.name] = entry.setup(*sub);
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  try {
    for (const auto& [name, sub] : subs)
      if (sub->parsed()) return runs[name]();
  } catch (const ot::Error& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  return 1;
}
