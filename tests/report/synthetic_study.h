// Writes a synthetic study's results/ (docs/formats.md) whose curves have known shapes, for the
// report tests. Budgets 1M..32M tokens (8M tokens per epoch, 1M params). By construction:
//   base loss decreases monotonically; Δ grows monotonically for every γ;
//   perturbed loss: γ = 0.1 minimum at 8M, γ = 0.05 minimum at 16M, γ = 0.01 still decreasing;
//   fine-tune OOD: lr = 1e-3 minimum at 8M, lr = 1e-4 decreasing; optimal lr 1e-3 up to 4M, then
//   1e-4; theory: perturbed L_A U-shaped for γ = 0.1 (minimum at step 400), decreasing for γ =
//   0.02; fine-tuned L_A U-shaped at λ = 0 (minimum at step 400), decreasing at λ = 0.1; singular
//   values learned largest first.
#pragma once

#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/result_rows.h"

namespace ot::testing {

struct SyntheticOptions {
  bool pretrain = true, perturb = true, finetune = true, theory = true;
  int draws = 4, seeds = 2;
  double accuracy = 0.7;      // fine-tuned accuracy (chance is 0.5)
  double delta_factor = 1.0;  // scales every Δ: < 1 moves the perturbed-loss minima later
  double delta_growth = 2.0;  // Δ's factor per doubling of tokens (init scale)
  // Also perturbation rows under the "relative" noise scale, whose Δ falls with tokens (the init
  // scale's rises): averaged into the init curves they would flatten C1.
  bool relative_scale = false;
  // "images": a vision study's results (study.json "unit", rows with retention accuracy).
  std::string unit = "tokens";
};

inline double SynthBase(int u) {
  return 2.5 + 2.0 * std::pow(2.0, -u / 2.0);
}  // u = log2(tokens / 1M)
// Deterministic "noise" of ±0.01 that averages to zero over draws and seeds.
inline double SynthNoise(int draw, int seed) { return 0.01 * (((draw + seed) % 2) ? 1 : -1); }

inline void WriteSyntheticStudy(const std::filesystem::path& study,
                                const SyntheticOptions& o = {}) {
  using nlohmann::json;
  const auto dir = study / "results";
  std::filesystem::create_directories(dir);
  const std::vector<double> gammas = {0.01, 0.05, 0.1}, lrs = {1e-4, 1e-3};
  std::ofstream(dir / "study.json")
      << json{{"name", "synthetic"}, {"preset", "nano"},
              {"params", 1000000},   {"train_tokens_per_epoch", 8000000},
              {"seeds", o.seeds},    {"tasks", {"sst"}},
              {"gammas", gammas},    {"lrs", lrs},
              {"unit", o.unit}}
             .dump()
      << "\n";
  auto tokens = [](int u) { return int64_t(1000000) << u; };
  auto epochs = [&](int u) { return double(tokens(u)) / 8e6; };
  if (o.pretrain) {
    std::ofstream f(dir / "pretrain.jsonl");
    for (int u = 0; u < 6; ++u)
      for (int seed = 0; seed < o.seeds; ++seed) {
        const double loss = SynthBase(u) + 0.5 * SynthNoise(0, seed);
        f << ToJson(PretrainRow{.tokens = tokens(u),
                                .epochs = epochs(u),
                                .seed = seed,
                                .base_loss = loss,
                                .base_ppl = std::exp(loss),
                                .base_loss_stderr = 0.002})
                 .dump()
          << "\n";
      }
  }
  if (o.perturb) {
    std::ofstream f(dir / "perturb.jsonl");
    const double scale[] = {0.0005, 0.0125, 0.05};  // Δ = scale * 2^u
    for (int u = 0; u < 6; ++u)
      for (int g = 0; g < 3; ++g)
        for (int seed = 0; seed < o.seeds; ++seed)
          for (int draw = 0; draw < o.draws; ++draw) {
            auto row = [&](double delta, const char* noise) {
              f << ToJson(PerturbRow{.tokens = tokens(u),
                                     .epochs = epochs(u),
                                     .seed = seed,
                                     .gamma = gammas[g],
                                     .draw = draw,
                                     .group = "all",
                                     .loss = SynthBase(u) + delta,
                                     .base_loss = SynthBase(u),
                                     .delta = delta,
                                     .scale = noise})
                       .dump()
                << "\n";
            };
            row(o.delta_factor * scale[g] * std::pow(o.delta_growth, u) + SynthNoise(draw, seed),
                "init");
            if (o.relative_scale)
              row(4 * scale[g] * std::pow(2.0, -u) + SynthNoise(draw, seed), "relative");
          }
  }
  if (o.finetune) {
    std::ofstream f(dir / "finetune.jsonl");
    for (int u = 0; u < 6; ++u)
      for (double lr : lrs)
        for (int seed = 0; seed < o.seeds; ++seed) {
          const bool big = lr > 5e-4;
          const double ood = SynthBase(u) + (big ? 0.05 : 0.0005) * std::pow(2.0, u);
          const double id = 1.5 + 0.5 * std::pow(2.0, -u / 2.0) + (big ? 0.02 * u : 0.05);
          f << ToJson(FinetuneRow{.tokens = tokens(u),
                                  .epochs = epochs(u),
                                  .seed = 1,
                                  .ft_seed = seed,
                                  .task = "sst",
                                  .lr = lr,
                                  .id_loss = id + SynthNoise(0, seed) * 0.1,
                                  .ood_loss = ood + SynthNoise(1, seed) * 0.1,
                                  .accuracy = o.accuracy,
                                  .chance_accuracy = 0.5,
                                  .base_id_loss = 2.5,
                                  .base_ood_loss = SynthBase(u),
                                  .ood_accuracy = o.unit == "images"
                                                      ? std::optional<double>(0.9 - 0.01 * u)
                                                      : std::nullopt})
                   .dump()
            << "\n";
        }
  }
  if (o.theory) {
    std::ofstream f(dir / "theory.jsonl");
    for (int k = 0; k < 6; ++k) {
      const int64_t step = int64_t(100) << k;  // 100 .. 3200
      const double base = 0.5 + 1.0 * std::pow(2.0, -k);
      f << json{{"kind", "base"},
                {"step", step},
                {"loss_a", base},
                {"singular_values", {1.0 - std::exp(-1.0 - k), 0.5 * (1.0 - std::exp(-k / 3.0))}}}
               .dump()
        << "\n";
      for (double g : {0.02, 0.1}) {
        const double la =
            base + (g > 0.05 ? 0.05 : 0.001) * std::pow(2.0, k);  // γ = 0.1: minimum k = 2
        f << json{{"kind", "perturb"}, {"step", step},       {"gamma", g},
                  {"loss_a", la},      {"loss_a_se", 0.005}, {"loss_a_closed", la + 0.002},
                  {"base_loss", base}}
                 .dump()
          << "\n";
      }
      for (double lambda : {0.0, 0.1}) {
        const double la = base + (lambda == 0 ? 0.05 * std::pow(2.0, k) : 0.0);
        f << json{{"kind", "finetune"}, {"step", step}, {"lr", 0.05},
                  {"lambda", lambda},   {"loss_a", la}, {"loss_b", 0.2 + lambda},
                  {"base_loss", base}}
                 .dump()
          << "\n";
      }
    }
  }
}

}  // namespace ot::testing
