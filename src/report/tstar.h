// Where a curve's minimum falls between ladder points (T*), with a confidence interval from a
// bootstrap over what the curve's uncertainty rests on (docs/science.md §8). Entry points:
// SubgridMinimum (the estimator), Samples (one curve's observations, unit by unit), Resampler (the
// bootstrap's replicate weights), EstimateTStar (estimate + CI for one curve).
//
// The estimator: a parabola in log x through the lowest point and its two neighbours; T* is its
// vertex. On a ladder of doubling budgets the vertex always lies within half a step (in log x) of
// the lowest point, so T* refines the grid without leaving the lowest point's bracket.
// The interval: the percentile interval of T* over B bootstrap replicates, each one resampling
// pre-training seeds with replacement and, within each drawn seed, its units (noise draws or
// fine-tuning seeds) with replacement. A unit is resampled jointly across budgets, so the pairing
// of a seed (or draw) across budgets is kept. A replicate whose minimum sits at an end of the
// ladder contributes that end ("censored"): an interval that reaches an end says so.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "report/inflection.h"

namespace ot {

// The vertex of the parabola in log x through the minimum of y and its neighbours (y NaN-free),
// as x; nullopt when the minimum is at either end or the three points do not bend upward.
std::optional<double> SubgridMinimum(std::span<const double> x, std::span<const double> y);

// One curve's observations: y[u][i] of unit u at budget x[i] (NaN where the unit has no value
// there). cluster[u] is the unit's outer resampling level (its pre-training seed).
struct Samples {
  std::vector<double> x;
  std::vector<int64_t> cluster;
  std::vector<std::vector<double>> y;
  void AddUnit(int64_t cluster_id, std::vector<double> values);
  // Mean over units with weights w (w[u] copies of unit u), per budget; NaN where no weight.
  std::vector<double> WeightedMean(std::span<const int> w) const;
};

// Replicate weights for a set of units with the given clusters, deterministic in `seed`: replicate
// r resamples the distinct clusters with replacement, then each drawn cluster's units with
// replacement. With one cluster this is the ordinary bootstrap of the units.
class Resampler {
 public:
  Resampler(std::vector<int64_t> cluster, int replicates, uint64_t seed);
  int replicates() const { return static_cast<int>(weights_.size()); }
  std::span<const int> Weights(int r) const { return weights_[r]; }
  int64_t clusters() const { return clusters_; }

 private:
  std::vector<std::vector<int>> weights_;
  int64_t clusters_ = 0;
};

struct TStar {
  bool has = false;                  // a significant interior minimum (the caller's rule) exists
  double t_star = 0;                 // the sub-grid estimate, in x units
  double lo = 0, hi = 0;             // the percentile interval at `level`
  double level = 0.95;               // nominal coverage
  int replicates = 0, censored = 0;  // replicates, and those whose minimum sat at an end
  std::vector<double> draws;  // each replicate's T* (in x units; censored ones at the end), for
                              // the law's bootstrap
};

// T* of the curve `point(all weights 1)` with its bootstrap interval: `curve(w)` maps replicate
// weights to a curve on `x` (NaN-free), `significant` says whether the full-data curve has a
// significant interior minimum (FindInflection's U-shape). Without it there is no T*: has = false.
TStar EstimateTStar(std::span<const double> x, const Resampler& resampler,
                    const std::function<std::vector<double>(std::span<const int>)>& curve,
                    bool significant, double level = 0.95);

// T* of the mean curve over units (each unit weighted by its copies), the case of every curve
// that is a plain mean: significant when FindInflection on the full-data mean ± s.e. over units
// finds a U-shape under `options`.
TStar MeanCurveTStar(const Samples& samples, const Resampler& resampler,
                     const InflectionOptions& options, double level = 0.95);

// The q-quantile of `values` (linear interpolation between order statistics); values non-empty.
double Percentile(std::vector<double> values, double q);

// "5.4M [4.1M, 7.9M]" style text with `format` for x; "no T*" when !has; "(n of B replicates at
// an end)" appended when censored > 0.
std::string TStarText(const TStar& t, const std::function<std::string(double)>& format);

}  // namespace ot
