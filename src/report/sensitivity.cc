// Δ's growth along a ladder with a bootstrap interval (see sensitivity.h).
#include "report/sensitivity.h"

#include <fmt/format.h>

#include <cmath>
#include <map>
#include <set>

#include "core/rng.h"
#include "report/tstar.h"

namespace ot {

namespace {

using Unit = std::pair<int64_t, int64_t>;  // (pre-training seed, draw)

std::string RestsOnUnits(const std::vector<int64_t>& cluster) {
  std::map<int64_t, size_t> per;
  for (int64_t c : cluster) ++per[c];
  const size_t draws = per.empty() ? 0 : per.begin()->second;
  return fmt::format("{} draw{} × {} pre-training seed{}", draws, draws == 1 ? "" : "s", per.size(),
                     per.size() == 1 ? "" : "s");
}

}  // namespace

std::vector<DeltaGrowth> DeltaGrowths(const StudyResults& results, uint64_t seed, int replicates,
                                      double level) {
  std::vector<DeltaGrowth> out;
  if (!results.perturb) return out;
  // Δ by (scale, γ) → unit → tokens.
  std::map<std::pair<std::string, double>, std::map<Unit, std::map<int64_t, double>>> table;
  std::set<int64_t> budgets;
  for (const PerturbRow& row : *results.perturb)
    if (IsWholeModelGroup(row.group)) {
      table[{row.scale, row.gamma}][{row.seed, row.draw}][row.tokens] = row.delta;
      budgets.insert(row.tokens);
    }
  if (budgets.size() < 2) return out;
  const int64_t first = *budgets.begin(), last = *budgets.rbegin();
  for (const auto& [key, units] : table) {
    std::vector<int64_t> cluster;
    std::vector<double> at_first, at_last;
    for (const auto& [unit, by_tokens] : units) {
      const auto f = by_tokens.find(first), l = by_tokens.find(last);
      if (f == by_tokens.end() || l == by_tokens.end()) continue;
      cluster.push_back(unit.first);
      at_first.push_back(f->second);
      at_last.push_back(l->second);
    }
    if (cluster.empty()) continue;
    // Each (scale, γ) resamples with its own key: the same units, independent replicates.
    const Resampler resampler(
        cluster, replicates,
        RngKey(seed, StreamId(fmt::format("growth:{}:{}", key.first, key.second).c_str())));
    auto means = [&](std::span<const int> w) {
      double f = 0, l = 0, n = 0;
      for (size_t u = 0; u < cluster.size(); ++u) {
        f += w[u] * at_first[u];
        l += w[u] * at_last[u];
        n += w[u];
      }
      return std::pair{f / n, l / n};
    };
    const std::vector<int> ones(cluster.size(), 1);
    const auto [f, l] = means(ones);
    if (!(f > 0)) continue;  // a growth factor needs a positive start
    DeltaGrowth g{.scale = key.first,
                  .gamma = key.second,
                  .first_tokens = first,
                  .last_tokens = last,
                  .delta_first = f,
                  .delta_last = l,
                  .growth = l / f,
                  .rests_on = RestsOnUnits(cluster)};
    std::vector<double> logs;
    for (int r = 0; r < resampler.replicates(); ++r) {
      const auto [rf, rl] = means(resampler.Weights(r));
      // A replicate whose start is not positive has no finite growth: it counts as unbounded.
      const double growth = rf > 0 ? rl / rf : INFINITY;
      g.draws.push_back(growth);
      g.first_draws.push_back(rf);
      g.last_draws.push_back(rl);
    }
    g.lo = Percentile(g.draws, (1 - level) / 2);
    g.hi = Percentile(g.draws, 1 - (1 - level) / 2);
    out.push_back(std::move(g));
  }
  return out;
}

DrawRatio RatioOfDraws(double value_a, const std::vector<double>& draws_a, double value_b,
                       const std::vector<double>& draws_b, double level) {
  DrawRatio r;
  if (!(value_a > 0) || !(value_b > 0) || draws_a.size() != draws_b.size() || draws_a.empty())
    return r;
  std::vector<double> ratios;
  for (size_t i = 0; i < draws_a.size(); ++i) {
    // Percentiles of a ratio are ordered statistics: an undefined replicate (a non-positive or
    // unbounded side) is placed at the end it leans to, never dropped (dropping would narrow the
    // interval).
    const double a = draws_a[i], b = draws_b[i];
    ratios.push_back(b > 0 && std::isfinite(b) ? (a > 0 ? a / b : 0.0) : (a > 0 ? INFINITY : 1.0));
  }
  r.has = true;
  r.value = value_a / value_b;
  r.lo = Percentile(ratios, (1 - level) / 2);
  r.hi = Percentile(ratios, 1 - (1 - level) / 2);
  return r;
}

}  // namespace ot
