// `overtrain ckpt inspect <dir>` (summary: config, state, tensors, norms per group) and
// `overtrain ckpt verify <dir>...` (hashes, then the full structural parse of loading; exit 1 if
// any checkpoint has a problem). Logic: train/checkpoint.h.
#include <fmt/format.h>

#include <iostream>
#include <string>
#include <vector>

#include "cli/command.h"
#include "train/checkpoint.h"

OT_COMMAND("ckpt", [](CLI::App& app) {
  app.description("inspect or verify checkpoint directories");
  app.require_subcommand(1);
  auto dir = std::make_shared<std::string>();
  auto dirs = std::make_shared<std::vector<std::string>>();
  CLI::App* inspect =
      app.add_subcommand("inspect", "print config, state, tensors and norms per group");
  inspect->add_option("dir", *dir, "checkpoint directory (tokens-<N>)")->required();
  CLI::App* verify = app.add_subcommand("verify",
                                        "check manifest, sizes and xxh3 of every file and tensor, "
                                        "then every structural check of loading");
  verify->add_option("dirs", *dirs, "checkpoint directories")->required();
  return [=]() -> int {
    if (inspect->parsed()) {
      return ot::InspectCheckpoint(*dir, std::cout) ? 0 : 1;
    }
    int failed = 0;
    for (const auto& d : *dirs) {
      const auto problems = ot::VerifyCheckpoint(d);
      if (problems.empty()) {
        fmt::print("{}: ok\n", d);
        continue;
      }
      ++failed;
      fmt::print("{}: {} problem(s)\n", d, problems.size());
      for (const auto& p : problems) fmt::print("  - {}\n", p);
    }
    return failed == 0 ? 0 : 1;
  };
});
