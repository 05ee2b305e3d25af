// T* between ladder points and its bootstrap interval (see tstar.h).
#include "report/tstar.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <map>

#include "core/check.h"
#include "core/rng.h"
#include "report/tables.h"

namespace ot {

std::optional<double> SubgridMinimum(std::span<const double> x, std::span<const double> y) {
  const size_t n = y.size();
  OT_CHECK(x.size() == n) << "x has " << x.size() << " points, y has " << n;
  if (n < 3) return std::nullopt;
  size_t m = 0;
  for (size_t i = 1; i < n; ++i)
    if (y[i] < y[m]) m = i;
  if (m == 0 || m + 1 == n) return std::nullopt;
  const double u0 = std::log(x[m - 1]), u1 = std::log(x[m]), u2 = std::log(x[m + 1]);
  const double s01 = (y[m] - y[m - 1]) / (u1 - u0), s12 = (y[m + 1] - y[m]) / (u2 - u1);
  const double curvature = (s12 - s01) / (u2 - u0);  // the parabola's leading coefficient
  if (!(curvature > 0)) return std::nullopt;         // three equal values: no vertex
  // The parabola's slope at the midpoints is s01 and s12; it is zero where it interpolates to 0.
  const double mid01 = 0.5 * (u0 + u1), mid12 = 0.5 * (u1 + u2);
  const double vertex = mid01 + (0 - s01) * (mid12 - mid01) / (s12 - s01);
  return std::exp(vertex);
}

void Samples::AddUnit(int64_t cluster_id, std::vector<double> values) {
  OT_CHECK(values.size() == x.size())
      << "a unit has " << values.size() << " values for " << x.size() << " budgets";
  cluster.push_back(cluster_id);
  y.push_back(std::move(values));
}

std::vector<double> Samples::WeightedMean(std::span<const int> w) const {
  OT_CHECK(w.size() == y.size()) << w.size() << " weights for " << y.size() << " units";
  std::vector<double> out(x.size(), std::nan(""));
  for (size_t i = 0; i < x.size(); ++i) {
    double sum = 0, weight = 0;
    for (size_t u = 0; u < y.size(); ++u)
      if (w[u] > 0 && std::isfinite(y[u][i])) sum += w[u] * y[u][i], weight += w[u];
    if (weight > 0) out[i] = sum / weight;
  }
  return out;
}

Resampler::Resampler(std::vector<int64_t> cluster, int replicates, uint64_t seed) {
  std::map<int64_t, std::vector<size_t>> units;  // cluster -> its units
  for (size_t u = 0; u < cluster.size(); ++u) units[cluster[u]].push_back(u);
  std::vector<const std::vector<size_t>*> groups;
  for (const auto& [id, members] : units) groups.push_back(&members);
  clusters_ = static_cast<int64_t>(groups.size());
  const uint64_t key = RngKey(seed, StreamId("bootstrap"));
  uint64_t counter = 0;
  auto pick = [&](size_t n) {  // uniform in [0, n), portable (no std:: distribution)
    return std::min(n - 1, static_cast<size_t>(UniformAt(key, counter++) * double(n)));
  };
  for (int r = 0; r < replicates; ++r) {
    std::vector<int> w(cluster.size(), 0);
    for (size_t c = 0; c < groups.size(); ++c) {
      const std::vector<size_t>& members = *groups[pick(groups.size())];
      for (size_t k = 0; k < members.size(); ++k) ++w[members[pick(members.size())]];
    }
    weights_.push_back(std::move(w));
  }
}

double Percentile(std::vector<double> values, double q) {
  OT_CHECK(!values.empty()) << "a percentile of no values";
  std::sort(values.begin(), values.end());
  const double pos = q * double(values.size() - 1);
  const size_t i = static_cast<size_t>(std::floor(pos));
  if (i + 1 >= values.size()) return values.back();
  const double frac = pos - double(i);
  // Exact order statistics need no interpolation (and an infinite one would make it NaN).
  if (frac == 0 || values[i] == values[i + 1]) return values[i];
  return values[i] + frac * (values[i + 1] - values[i]);
}

TStar EstimateTStar(std::span<const double> x, const Resampler& resampler,
                    const std::function<std::vector<double>(std::span<const int>)>& curve,
                    bool significant, double level) {
  TStar t;
  t.level = level;
  if (!significant || resampler.replicates() == 0) return t;
  const std::vector<int> ones(resampler.Weights(0).size(), 1);
  const std::optional<double> point = SubgridMinimum(x, curve(ones));
  if (!point) return t;
  t.has = true;
  t.t_star = *point;
  std::vector<double> logs;
  for (int r = 0; r < resampler.replicates(); ++r) {
    const std::vector<double> y = curve(resampler.Weights(r));
    double value = 0;
    if (const auto v = SubgridMinimum(x, y)) {
      value = *v;
    } else {  // the replicate's minimum is at an end (or flat): it contributes the lowest point
      size_t m = 0;
      for (size_t i = 1; i < y.size(); ++i)
        if (y[i] < y[m]) m = i;
      value = x[m];
      ++t.censored;
    }
    t.draws.push_back(value);
    logs.push_back(std::log(value));
  }
  t.replicates = resampler.replicates();
  t.lo = std::exp(Percentile(logs, 0.5 * (1 - level)));
  t.hi = std::exp(Percentile(logs, 1 - 0.5 * (1 - level)));
  return t;
}

TStar MeanCurveTStar(const Samples& samples, const Resampler& resampler,
                     const InflectionOptions& options, double level) {
  const size_t n = samples.x.size();
  std::vector<double> mean(n), se(n);
  for (size_t i = 0; i < n; ++i) {
    std::vector<double> v;
    for (const auto& unit : samples.y)
      if (std::isfinite(unit[i])) v.push_back(unit[i]);
    const MeanSe m = MeanAndSe(v);
    mean[i] = m.mean, se[i] = m.se;
  }
  for (double m : mean)
    if (!std::isfinite(m)) return TStar{.level = level};  // a budget without data: no curve
  const bool significant = FindInflection(samples.x, mean, se, options).u_shaped;
  return EstimateTStar(
      samples.x, resampler, [&](std::span<const int> w) { return samples.WeightedMean(w); },
      significant, level);
}

std::string TStarText(const TStar& t, const std::function<std::string(double)>& format) {
  if (!t.has) return "no T*";
  std::string out = fmt::format("{} [{}, {}]", format(t.t_star), format(t.lo), format(t.hi));
  if (t.censored > 0)
    out += fmt::format(" ({} of {} replicates at an end of the ladder)", t.censored, t.replicates);
  return out;
}

}  // namespace ot
