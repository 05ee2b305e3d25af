// Progressive sensitivity with intervals (docs/science.md §8): how much the perturbation's Δ grows
// from a ladder's first budget to its last, per noise scale and γ, with a bootstrap interval over
// the same units as T* (pre-training seeds, then noise draws within each). The arms comparison
// divides an arm's growth by the reference arm's: an interval below 1 says the arm grows less
// sensitive with training than the reference; one that holds 1 cannot tell them apart. Entry
// points: DeltaGrowths, RatioOfDraws.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "report/results.h"

namespace ot {

struct DeltaGrowth {
  std::string scale;  // noise scale: "init" | "relative"
  double gamma = 0;
  int64_t first_tokens = 0, last_tokens = 0;
  double delta_first = 0, delta_last = 0;  // mean Δ over units at the two budgets
  // growth = delta_last / delta_first; [lo, hi] its percentile interval; draws the replicates'
  // values (the same replicate count for every ladder, so ratios pair them one by one).
  double growth = 0, lo = 0, hi = 0;
  // Per replicate: the growth, and the mean Δ at the first and at the last budget.
  std::vector<double> draws, first_draws, last_draws;
  std::string rests_on;  // "4 draws × 3 pre-training seeds"
};

// One entry per (scale, γ) of the "all" group whose units cover the ladder's first and last
// budgets (two budgets at least) with a positive mean Δ at the first; none otherwise. `seed` keys
// the bootstrap (BootstrapSeed of the ladder's directory).
std::vector<DeltaGrowth> DeltaGrowths(const StudyResults& results, uint64_t seed,
                                      int replicates = 1000, double level = 0.95);

struct DrawRatio {
  bool has = false;
  double value = 0, lo = 0, hi = 0;
};
// value_a / value_b with the percentile interval of the replicate-by-replicate ratios (independent
// ladders' bootstraps paired r with r); none when either side is not positive or the replicate
// counts differ.
DrawRatio RatioOfDraws(double value_a, const std::vector<double>& draws_a, double value_b,
                       const std::vector<double>& draws_b, double level = 0.95);

}  // namespace ot
