// T* between ladder points: the estimator is exact on a parabola in log x, its bootstrap interval
// covers a known off-grid minimum at about the nominal rate, and a flat curve gets no T*.
#include "report/tstar.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <vector>

#include "core/rng.h"

namespace ot {
namespace {

std::vector<double> Doublings(double first, int n) {
  std::vector<double> x;
  for (int i = 0; i < n; ++i) x.push_back(first * std::pow(2.0, i));
  return x;
}

// A U in log tokens with its minimum at x0: base + curvature·(log2(x / x0))².
double Truth(double x, double x0, double curvature) {
  const double u = std::log2(x / x0);
  return 3.0 + curvature * u * u;
}

TEST(SubgridMinimum, IsExactOnAParabolaInLogTokens) {
  const std::vector<double> x = Doublings(1e6, 6);
  for (const double x0 : {2.9e6, 5.5e6, 6.1e6, 1.3e7}) {
    std::vector<double> y;
    for (double v : x) y.push_back(Truth(v, x0, 0.2));
    const auto t = SubgridMinimum(x, y);
    ASSERT_TRUE(t.has_value()) << x0;
    EXPECT_NEAR(std::log(*t), std::log(x0), 1e-12) << x0;
  }
}

TEST(SubgridMinimum, StaysWithinHalfAStepOfTheLowestPointOnNonUniformLadders) {
  const std::vector<double> x{1e6, 1.5e6, 4e6, 5e6, 2e7};
  const std::vector<double> y{3.4, 3.1, 3.0, 3.2, 3.9};
  const auto t = SubgridMinimum(x, y);
  ASSERT_TRUE(t.has_value());
  EXPECT_GT(*t, std::sqrt(1.5e6 * 4e6));
  EXPECT_LT(*t, std::sqrt(4e6 * 5e6));
}

TEST(SubgridMinimum, HasNoVertexAtAnEndOrOnAFlatCurve) {
  const std::vector<double> x = Doublings(1e6, 4);
  EXPECT_FALSE(SubgridMinimum(x, std::vector<double>{1, 2, 3, 4}).has_value());
  EXPECT_FALSE(SubgridMinimum(x, std::vector<double>{4, 3, 2, 1}).has_value());
  EXPECT_FALSE(SubgridMinimum(x, std::vector<double>{2, 2, 2, 2}).has_value());
}

TEST(Resampler, ResamplesClustersThenTheirUnitsAndIsDeterministic) {
  const std::vector<int64_t> cluster{1, 1, 1, 2, 2, 2};
  const Resampler a(cluster, 200, 7), b(cluster, 200, 7);
  int one_cluster_only = 0;
  for (int r = 0; r < a.replicates(); ++r) {
    const auto w = a.Weights(r);
    ASSERT_EQ(std::vector<int>(w.begin(), w.end()),
              std::vector<int>(b.Weights(r).begin(), b.Weights(r).end()));
    int total = 0, first = 0;
    for (size_t u = 0; u < w.size(); ++u) total += w[u], first += u < 3 ? w[u] : 0;
    EXPECT_EQ(total, 6);  // two clusters drawn, three units each
    one_cluster_only += first == 0 || first == 6;
  }
  // Both draws land on one cluster with probability 1/2: the outer level is really resampled.
  EXPECT_GT(one_cluster_only, 60);
  EXPECT_LT(one_cluster_only, 140);
  EXPECT_EQ(a.clusters(), 2);
}

// Noisy replicates of a U with a known off-grid minimum: `units` draws per budget, each with its
// own offset (shared across budgets, as a noise draw or a seed is) and independent noise.
Samples NoisyU(const std::vector<double>& x, double x0, int units, double noise, uint64_t seed) {
  Samples s;
  s.x = x;
  for (int u = 0; u < units; ++u) {
    const uint64_t key = RngKey(seed, StreamId("test-u"), uint64_t(u));
    const double offset = noise * NormalAt(key, 0);
    std::vector<double> y;
    for (size_t i = 0; i < x.size(); ++i)
      y.push_back(Truth(x[i], x0, 0.15) + offset + noise * NormalAt(key, i + 1));
    s.AddUnit(u / (units / 2), y);  // two "pre-training seeds" of units/2 draws each
  }
  return s;
}

TEST(EstimateTStar, TheIntervalCoversAnOffGridMinimumAtAboutTheNominalRate) {
  const std::vector<double> x = Doublings(1e6, 6);
  const double x0 = 5.5e6;  // between the 4M and 8M budgets
  int estimated = 0, covered = 0, inside_bracket = 0;
  const int datasets = 300;
  for (int d = 0; d < datasets; ++d) {
    const Samples s = NoisyU(x, x0, 16, 0.06, 1000 + d);
    const Resampler resampler(s.cluster, 400, 77 + d);
    const TStar t = MeanCurveTStar(s, resampler, InflectionOptions{});
    if (!t.has) continue;
    ++estimated;
    covered += t.lo <= x0 && x0 <= t.hi;
    inside_bracket += t.lo >= x.front() && t.hi <= x.back();
    EXPECT_EQ(t.replicates, 400);
    EXPECT_LE(t.lo, t.t_star);
    EXPECT_GE(t.hi, t.t_star);
  }
  // The curvature is large next to the noise: every dataset is significantly U-shaped.
  EXPECT_EQ(estimated, datasets);
  EXPECT_EQ(inside_bracket, estimated);
  const double rate = double(covered) / estimated;
  // 95% nominal; over 300 datasets the binomial s.e. of the rate is 0.0126, so 4 s.e. on each side.
  EXPECT_GT(rate, 0.95 - 4 * 0.0126) << covered << " of " << estimated;
  RecordProperty("coverage", std::to_string(rate));
  std::printf("coverage %.3f over %d datasets\n", rate, estimated);
  EXPECT_LT(rate, 1.0) << "an interval that always covers is too wide to be an interval";
}

TEST(EstimateTStar, AFlatCurveGetsNone) {
  const std::vector<double> x = Doublings(1e6, 6);
  Samples s;
  s.x = x;
  for (int u = 0; u < 8; ++u) {
    const uint64_t key = RngKey(5, StreamId("flat"), uint64_t(u));
    std::vector<double> y;
    for (size_t i = 0; i < x.size(); ++i) y.push_back(3.0 + 0.01 * NormalAt(key, i));
    s.AddUnit(0, y);
  }
  const Resampler resampler(s.cluster, 100, 1);
  // The noise alone puts the lowest mean inside the ladder, where the parabola has a vertex...
  ASSERT_TRUE(SubgridMinimum(x, s.WeightedMean(std::vector<int>(8, 1))).has_value());
  // ...but the minimum is not significant, so there is no T*.
  const TStar t = MeanCurveTStar(s, resampler, InflectionOptions{});
  EXPECT_FALSE(t.has);
  EXPECT_EQ(TStarText(t, [](double v) { return std::to_string(v); }), "no T*");
}

TEST(EstimateTStar, SaysHowManyReplicatesFellAtAnEnd) {
  // A minimum next to the first budget with large noise: some replicates move it to the end.
  const std::vector<double> x = Doublings(1e6, 5);
  const Samples s = NoisyU(x, 1.6e6, 8, 0.15, 3);
  const Resampler resampler(s.cluster, 300, 3);
  const TStar t = EstimateTStar(
      x, resampler, [&](std::span<const int> w) { return s.WeightedMean(w); }, true);
  ASSERT_TRUE(t.has);
  EXPECT_GT(t.censored, 0);
  EXPECT_DOUBLE_EQ(t.lo, x.front());
  EXPECT_NE(TStarText(t, [](double v) { return std::to_string(v); }).find("at an end"),
            std::string::npos);
}

}  // namespace
}  // namespace ot
