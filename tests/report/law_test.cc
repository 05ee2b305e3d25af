// The inflection law's fit: known exponents are recovered from noisy synthetic T*s, their bootstrap
// intervals cover them at about the nominal rate, and a fit without enough variation is refused.
#include "report/law.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "core/rng.h"

namespace ot {
namespace {

constexpr double kA = 2.0, kB = 0.8, kC = -1.3;  // T* = e^a · N^b · γ^c

// One synthetic T* per (N, γ): the truth times log-normal noise of sd `noise` (the estimate), with
// `replicates` bootstrap draws scattered around the estimate by the same sd (what the bootstrap
// sees of the estimate's sampling error).
std::vector<LawPoint> Synthetic(double noise, int replicates, uint64_t seed) {
  std::vector<LawPoint> points;
  uint64_t k = 0;
  for (const double n : {15e3, 25e3, 43e3, 60e3, 80e3})
    for (const double gamma : {0.5, 1.0, 2.0}) {
      const uint64_t key = RngKey(seed, StreamId("law-test"), k++);
      const double truth = kA + kB * std::log(n) + kC * std::log(gamma);
      LawPoint p{.params = n, .size = gamma};
      p.t.has = true;
      const double estimate = truth + noise * NormalAt(key, 0);
      p.t.t_star = std::exp(estimate);
      for (int r = 0; r < replicates; ++r)
        p.t.draws.push_back(std::exp(estimate + noise * NormalAt(key, r + 1)));
      points.push_back(p);
    }
  return points;
}

TEST(FitLaw, RecoversKnownExponentsFromNoisyTStars) {
  const LawFit fit = FitLaw(Synthetic(0.05, 500, 1));
  ASSERT_TRUE(fit.fitted) << fit.why_not;
  ASSERT_EQ(fit.terms.size(), 3u);
  EXPECT_EQ(fit.points, 15);
  EXPECT_EQ(fit.replicates, 500);
  // The exponents' standard errors here are ≈ 0.05/sqrt(15)/sd(log N) ≈ 0.025 and 0.05/sqrt(15)/
  // sd(log γ) ≈ 0.023: 5 s.e.
  EXPECT_NEAR(fit.Term("b")->value, kB, 0.13);
  EXPECT_NEAR(fit.Term("c")->value, kC, 0.12);
  for (const Coefficient& c : fit.terms) {
    EXPECT_LE(c.lo, c.value) << c.name;
    EXPECT_GE(c.hi, c.value) << c.name;
  }
}

TEST(FitLaw, TheExponentsIntervalsCoverTheTruthAtAboutTheNominalRate) {
  int covered_b = 0, covered_c = 0;
  const int datasets = 200;
  for (int d = 0; d < datasets; ++d) {
    const LawFit fit = FitLaw(Synthetic(0.2, 300, 100 + d));
    ASSERT_TRUE(fit.fitted);
    covered_b += fit.Term("b")->lo <= kB && kB <= fit.Term("b")->hi;
    covered_c += fit.Term("c")->lo <= kC && kC <= fit.Term("c")->hi;
  }
  // 95% nominal; over 200 datasets the binomial s.e. of a rate is 0.0154: 4 s.e. below.
  EXPECT_GT(covered_b / double(datasets), 0.95 - 4 * 0.0154);
  EXPECT_GT(covered_c / double(datasets), 0.95 - 4 * 0.0154);
  EXPECT_LT(covered_b, datasets);  // an interval that always covers is no interval
}

TEST(FitLaw, OneSizeFitsOnlyTheModificationsExponent) {
  std::vector<LawPoint> points;
  for (const LawPoint& p : Synthetic(0.01, 50, 2))
    if (p.params == 43e3) points.push_back(p);
  const LawFit fit = FitLaw(points);
  ASSERT_TRUE(fit.fitted) << fit.why_not;
  EXPECT_EQ(fit.Term("b"), nullptr);
  ASSERT_NE(fit.Term("c"), nullptr);
  EXPECT_NEAR(fit.Term("c")->value, kC, 0.1);
}

TEST(FitLaw, TwoPointsDetermineTheExponentAndOneIsRefused) {
  std::vector<LawPoint> points = Synthetic(0.01, 10, 3);
  points.resize(2);  // one size, two γs: two coefficients through two points
  const LawFit two = FitLaw(points);
  ASSERT_TRUE(two.fitted) << two.why_not;
  EXPECT_NEAR(two.Term("c")->value,
              std::log(points[1].t.t_star / points[0].t.t_star) / std::log(2.0), 1e-9);
  points.resize(1);
  EXPECT_FALSE(FitLaw(points).fitted);
  EXPECT_NE(FitLaw(points).why_not.find("one model size"), std::string::npos);
  // Sizes and γs doubling together: log N and log γ are collinear, b and c cannot be told apart.
  std::vector<LawPoint> diagonal;
  for (const double k : {1.0, 2.0, 4.0}) {
    LawPoint p{.params = 15e3 * k, .size = 0.5 * k};
    p.t.has = true;
    p.t.t_star = 1e6 * k;
    p.t.draws.assign(10, 1e6 * k);
    diagonal.push_back(p);
  }
  const LawFit collinear = FitLaw(diagonal);
  EXPECT_FALSE(collinear.fitted);
  EXPECT_NE(collinear.why_not.find("cannot be told apart"), std::string::npos);
}

}  // namespace
}  // namespace ot
