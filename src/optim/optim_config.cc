// Kind rules, schedules and memory counts behind optim_config.h.
#include "optim/optim_config.h"

#include <fmt/format.h>

#include <cmath>

namespace ot {

const std::vector<std::string>& OptimKinds() {
  static const std::vector<std::string> kinds = {"adamw", "sgd", "lion", "muon"};
  return kinds;
}

std::string KindProblem(const OptimConfig& c, const std::string& prefix) {
  const OptimConfig d;
  struct Knob {
    const char* name;
    bool changed;
    std::vector<std::string> kinds;  // the optimizers that read it
  };
  const Knob knobs[] = {
      {"beta1", c.beta1 != d.beta1, {"adamw", "lion", "muon"}},
      {"beta2", c.beta2 != d.beta2, {"adamw", "lion", "muon"}},
      {"eps", c.eps != d.eps, {"adamw", "muon"}},
      {"momentum", c.momentum != d.momentum, {"sgd"}},
      {"nesterov", c.nesterov != d.nesterov, {"sgd"}},
      {"muon_momentum", c.muon_momentum != d.muon_momentum, {"muon"}},
      {"muon_ns_steps", c.muon_ns_steps != d.muon_ns_steps, {"muon"}},
  };
  for (const auto& k : knobs) {
    if (!k.changed || std::find(k.kinds.begin(), k.kinds.end(), c.kind) != k.kinds.end()) continue;
    std::string owners;
    for (const auto& o : k.kinds) owners += (owners.empty() ? "" : " or ") + o;
    return fmt::format("{}.{} is set but applies to {}.kind = {} only, and {}.kind is '{}'", prefix,
                       k.name, prefix, owners, prefix, c.kind);
  }
  if (c.sam_adaptive && c.sam_rho <= 0)
    return fmt::format("{}.sam_adaptive is set but SAM is off ({}.sam_rho = 0); set {}.sam_rho > 0",
                       prefix, prefix, prefix);
  return "";
}

ScheduleConfig ScheduleFor(const OptimConfig& c, int64_t total_steps, int64_t tokens_per_step) {
  ScheduleConfig s;
  s.kind = ParseScheduleKind(c.schedule);
  s.lr_peak = c.lr;
  s.lr_min = c.lr_min;
  s.total = std::max<int64_t>(1, total_steps);
  s.warmup =
      c.warmup.value > 0
          ? (c.warmup.value + tokens_per_step - 1) / tokens_per_step
          : static_cast<int64_t>(std::llround(c.warmup_fraction * static_cast<double>(s.total)));
  s.warmup = std::min(s.warmup, s.total);
  s.decay = s.kind == ScheduleKind::kWsd ? WsdDecaySteps(s.total, c.wsd_decay_fraction) : 0;
  return s;
}

int OptimizerStateArenas(const OptimConfig& c) {
  const int base = c.kind == "muon"    ? 3
                   : c.kind == "adamw" ? 2
                                       : 1;  // muon: its momentum + AdamW's m, v
  return base + (c.sam_rho > 0 ? 1 : 0);
}

}  // namespace ot
