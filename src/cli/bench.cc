// `overtrain bench`: runs overtrain-bench (src/bench_main), the benchmark binary built next to this
// one, with the same arguments (`overtrain bench --help` is its help). The benchmark lives apart so
// that its GEMM trace (a cblas_sgemm shim) is never part of the binary that trains.
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "cli/command.h"
#include "core/check.h"

OT_COMMAND("bench", [](CLI::App& app) {
  app.description(
      "training and evaluation tokens/s vs PyTorch and the GEMM ceiling (runs overtrain-bench; "
      "`overtrain bench --help` for its options)");
  app.set_help_flag();  // --help goes to overtrain-bench
  app.allow_extras();
  app.prefix_command();
  return std::function<int()>([&app]() -> int {
    std::error_code ec;
    const std::filesystem::path self = std::filesystem::read_symlink("/proc/self/exe", ec);
    const std::filesystem::path bench = self.parent_path() / "overtrain-bench";
    if (ec || !std::filesystem::exists(bench))
      throw ot::Error(
          bench.string() +
          " is missing: `overtrain bench` runs it; build it with `bash scripts/test.sh` "
          "or `cmake --build build/release --target overtrain-bench`");
    std::vector<std::string> args = {bench.string()};
    for (const auto& a : app.remaining()) args.push_back(a);
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    std::fflush(stdout);
    execv(bench.c_str(), argv.data());
    throw ot::Error("cannot run " + bench.string() + ": " + ot::ErrnoText(errno));
  });
});
