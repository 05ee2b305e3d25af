// The subcommand registry: each src/cli/<command>.cc registers itself with OT_COMMAND; main()
// builds the CLI11 app from the registry. The cli layer parses and calls one stage; it holds no
// logic.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <string>
#include <vector>

namespace ot::cli {

// Adds one subcommand to `app`; returns the callback to run when it is chosen (returns the exit
// code).
using CommandSetup = std::function<std::function<int()>(CLI::App& app)>;

struct CommandEntry {
  std::string name;
  CommandSetup setup;
};

std::vector<CommandEntry>& Registry();

struct Registrar {
  Registrar(std::string name, CommandSetup setup) {
    Registry().push_back({std::move(name), std::move(setup)});
  }
};

}  // namespace ot::cli

#define OT_CLI_CONCAT2(a, b) a##b
#define OT_CLI_CONCAT(a, b) OT_CLI_CONCAT2(a, b)
#define OT_COMMAND(name, setup) \
  static ::ot::cli::Registrar OT_CLI_CONCAT(ot_command_registrar_, __COUNTER__)(name, setup)
