// `overtrain pretrain` entry point (the CLI parses, this resolves the config and runs the ladder).
#include <algorithm>
#include <cstdio>
#include <optional>

#include "engine/data_parallel.h"
#include "train/pretrain.h"

namespace ot {

int PretrainMain(const std::string& config_path, const std::vector<std::string>& overrides,
                 const std::string& out, bool print_config, const std::string& set_from) {
  std::vector<std::string> sets;
  if (!set_from.empty()) sets = ReadOverrideFile(set_from);
  sets.insert(sets.end(), overrides.begin(), overrides.end());
  const PretrainConfig config = LoadPretrainConfig(config_path, sets);
  if (print_config) {
    std::fputs(PrintConfig(PretrainSchema(), config).c_str(), stdout);
    return 0;
  }
  fs::path dir = out;
  if (dir.empty()) {
    const std::string stem =
        config_path.empty() ? "default" : fs::path(config_path).stem().string();
    dir = fs::path("runs") / "pretrain" / stem;
  }
  // Launched by torchrun or srun with several processes: join their process group (c10d).
  const std::unique_ptr<Collective> collective =
      JoinDataParallel(config.compute, "overtrain pretrain");
  std::optional<TimedCollective> timed;
  if (collective) timed.emplace(*collective);
  PretrainHooks hooks;
  hooks.collective = timed ? &*timed : nullptr;
  const auto results = RunPretrainLadder(config, dir, hooks);
  if (timed && timed->rank() != 0) return 0;  // rank 0 reports
  for (const auto& r : results) {
    std::printf("run: %lld steps, %lld tokens, final loss %.4f", static_cast<long long>(r.steps),
                static_cast<long long>(r.tokens), r.final_loss);
    if (r.val_loss > 0) std::printf(", val loss %.4f", r.val_loss);
    std::printf(", %.2f s; %zu checkpoints written\n", r.wall_s, r.checkpoints.size());
  }
  if (timed) {
    int64_t steps = 0;  // trained in this session (a resumed run's earlier steps excluded)
    for (const auto& r : results)
      if (r.tokens > 0)
        steps += r.steps * (r.tokens - std::max<int64_t>(0, r.resumed_from_tokens)) / r.tokens;
    std::printf(
        "data parallel: %d processes; all-reduce %.2f ms per step, %.2f MB reduced per step\n",
        timed->world_size(), 1e3 * timed->seconds() / std::max<int64_t>(1, steps),
        timed->reduced_bytes() * 1e-6 / std::max<int64_t>(1, steps));
  }
  std::printf("run directory: %s\n", dir.c_str());
  return 0;
}

}  // namespace ot
