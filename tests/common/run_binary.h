// Runs the overtrain binary under test ($OVERTRAIN_BIN, set by ctest) as a user would, for the
// end-to-end tests of tests/cli. Entry point: RunOvertrain.
#pragma once

#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "common/test_util.h"
#include "core/fileio.h"

namespace ot::testing {

// Runs the binary with `args`, stdout and stderr both into `log`; returns {exit status (128 +
// signal when killed), the log's contents}.
inline std::pair<int, std::string> RunOvertrain(const std::vector<std::string>& args,
                                                const std::filesystem::path& log) {
  const std::string bin = EnvVar("OVERTRAIN_BIN");
  const pid_t pid = fork();
  if (pid == 0) {
    // Both streams append to the emptied file, so neither overwrites what the other wrote.
    if (!freopen(log.c_str(), "w", stdout) || !freopen(log.c_str(), "a", stdout) ||
        !freopen(log.c_str(), "a", stderr))
      _exit(125);
    std::vector<std::string> all = {bin};
    all.insert(all.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& a : all) argv.push_back(a.data());
    argv.push_back(nullptr);
    execv(bin.c_str(), argv.data());
    _exit(127);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status), ReadFile(log)};
}

}  // namespace ot::testing
