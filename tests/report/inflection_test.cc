// FindInflection on curves whose answer is known by construction: U-shapes, monotone curves, noisy
// flat curves, ties with the neighbours, and the relative floor that keeps float noise from being a
// "rise".
#include "report/inflection.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "report/tables.h"
#include "report/verdict.h"

namespace ot {
namespace {

std::vector<double> Ladder(int n) {  // 1M, 2M, 4M, ... like a token ladder
  std::vector<double> x;
  for (int i = 0; i < n; ++i) x.push_back(1e6 * std::pow(2.0, i));
  return x;
}

TEST(Inflection, KnownUShapeGivesItsMinimum) {
  const auto x = Ladder(7);
  std::vector<double> y, se(7, 0.01);
  for (int i = 0; i < 7; ++i) y.push_back(1.0 + 0.1 * (i - 3) * (i - 3));  // minimum at i = 3 (8M)
  const InflectionResult r = FindInflection(x, y, se);
  EXPECT_EQ(r.argmin, 3u);
  EXPECT_DOUBLE_EQ(r.x_min, 8e6);
  EXPECT_DOUBLE_EQ(r.y_min, 1.0);
  EXPECT_TRUE(r.interior);
  EXPECT_TRUE(r.u_shaped);
  EXPECT_EQ(r.shape, CurveShape::kUShaped);
  EXPECT_TRUE(r.distinguishable);
  EXPECT_FALSE(r.monotone_increasing);
  EXPECT_FALSE(r.monotone_decreasing);
  EXPECT_NEAR(r.fall, 0.9, 1e-12);
  EXPECT_NEAR(r.rise, 0.9, 1e-12);
  EXPECT_EQ(r.plausible_lo, 3u);
  EXPECT_EQ(r.plausible_hi, 3u);
  EXPECT_NE(r.uncertainty.find("more than 2 s.e. below both neighbours"), std::string::npos)
      << r.uncertainty;
}

TEST(Inflection, AsymmetricUShapeMinimumOffCentre) {
  const auto x = Ladder(6);
  const std::vector<double> y = {4.55, 4.014, 3.7, 3.607, 3.8, 4.454};
  const InflectionResult r = FindInflection(x, y);
  EXPECT_EQ(r.argmin, 3u);
  EXPECT_TRUE(r.interior);
  // No standard errors: no claim (docs/science.md §6), whatever the curve looks like...
  EXPECT_FALSE(r.u_shaped);
  EXPECT_FALSE(r.tested);
  EXPECT_EQ(r.shape, CurveShape::kNotTested);
  EXPECT_NE(r.uncertainty.find("not tested"), std::string::npos) << r.uncertainty;
  // ...unless the curve is exact (the linear-network lab's gradient descent has no sampling noise).
  InflectionOptions exact;
  exact.deterministic = true;
  const InflectionResult d = FindInflection(x, y, {}, exact);
  EXPECT_TRUE(d.u_shaped);
  EXPECT_TRUE(d.tested);
  EXPECT_NE(d.uncertainty.find("exact curve"), std::string::npos) << d.uncertainty;
}

// A synthetic U with a known minimum and Gaussian noise of known s.e. on every point is found at
// its minimum; the same curve with its s.e. withheld is not claimed.
TEST(Inflection, NoisyUWithKnownMinimumIsFound) {
  const auto x = Ladder(7);
  const double noise[] = {0.004, -0.007, 0.003, -0.002, 0.006, -0.004, 0.001};  // |noise| < 1 s.e.
  std::vector<double> y, se(7, 0.008);
  for (int i = 0; i < 7; ++i)
    y.push_back(3.0 + 0.05 * (i - 2) * (i - 2) + noise[i]);  // minimum at 4M
  const InflectionResult r = FindInflection(x, y, se);
  EXPECT_TRUE(r.u_shaped);
  EXPECT_EQ(r.argmin, 2u);
  EXPECT_DOUBLE_EQ(r.x_min, 4e6);
  EXPECT_FALSE(FindInflection(x, y).u_shaped);
}

// Some points with a standard error and some without: still not tested (a claim would rest on the
// points that have none).
TEST(Inflection, PartlyMissingStandardErrorsAreNotTested) {
  const auto x = Ladder(5);
  const std::vector<double> y = {3.2, 3.1, 3.0, 3.1, 3.2};
  const std::vector<double> se = {0.001, 0.001, 0.001, std::nan(""), 0.001};
  const InflectionResult r = FindInflection(x, y, se);
  EXPECT_FALSE(r.tested);
  EXPECT_FALSE(r.u_shaped);
  EXPECT_EQ(r.shape, CurveShape::kNotTested);
}

TEST(Inflection, MonotoneDecreasingHasNoInflectionInsideTheRange) {
  const auto x = Ladder(6);
  const std::vector<double> y = {4.5, 3.9, 3.5, 3.2, 3.0, 2.85};
  const std::vector<double> se(6, 0.01);
  const InflectionResult r = FindInflection(x, y, se);
  EXPECT_EQ(r.argmin, 5u);
  EXPECT_FALSE(r.interior);
  EXPECT_FALSE(r.u_shaped);
  EXPECT_EQ(r.shape, CurveShape::kDecreasing);
  EXPECT_TRUE(r.monotone_decreasing);
  EXPECT_FALSE(r.monotone_increasing);

  Summaries s;  // DescribeCurve words it for the report
  for (double t : x) s.budgets.push_back({int64_t(t), t / 8e6, t / 1e6});
  const Finding f = Analyze("fig", "panel", Curve{"c", 0, x, y, se}, XAxis{&s}, {});
  EXPECT_EQ(DescribeCurve(f),
            "no inflection inside the range (still decreasing at the largest budget)");
}

TEST(Inflection, MonotoneIncreasingHasNoInflectionInsideTheRange) {
  const auto x = Ladder(5);
  const std::vector<double> y = {0.01, 0.02, 0.05, 0.1, 0.2};
  const InflectionResult r = FindInflection(x, y, std::vector<double>(5, 0.001));
  EXPECT_EQ(r.argmin, 0u);
  EXPECT_FALSE(r.interior);
  EXPECT_EQ(r.shape, CurveShape::kIncreasing);
  EXPECT_TRUE(r.monotone_increasing);
  const Finding f =
      Analyze("fig", "panel", Curve{"c", 0, x, y, std::vector<double>(5, 0.001)}, XAxis{}, {});
  EXPECT_EQ(NoInflectionReason(f), "rising monotonically from the first step");
  const Finding untested = Analyze("fig", "panel", Curve{"c", 0, x, y, {}}, XAxis{}, {});
  EXPECT_EQ(NoInflectionReason(untested), "not tested: no standard errors");
}

TEST(Inflection, NoisyFlatCurveIsNotUShaped) {
  const auto x = Ladder(6);
  // Wiggles of up to 0.05 with s.e. 0.02 each: every difference is below 2*sqrt(2)*0.02 = 0.057.
  const std::vector<double> y = {3.01, 2.99, 2.97, 3.00, 3.02, 2.995};
  const std::vector<double> se(6, 0.02);
  const InflectionResult r = FindInflection(x, y, se);
  EXPECT_EQ(r.argmin, 2u);
  EXPECT_TRUE(r.interior);   // the raw argmin is interior...
  EXPECT_FALSE(r.u_shaped);  // ...but the U is not beyond the noise
  EXPECT_EQ(r.shape, CurveShape::kFlat);
  EXPECT_FALSE(r.monotone_increasing);
  EXPECT_FALSE(r.monotone_decreasing);
  EXPECT_FALSE(r.distinguishable);
  EXPECT_EQ(r.plausible_lo, 0u);
  EXPECT_EQ(r.plausible_hi, 5u);
  // The same numbers without standard errors are not tested; exact, they would be a (fragile) U.
  EXPECT_FALSE(FindInflection(x, y).u_shaped);
  InflectionOptions exact;
  exact.deterministic = true;
  EXPECT_TRUE(FindInflection(x, y, {}, exact).u_shaped);
}

TEST(Inflection, RiseWithinNoiseIsNotAnInflection) {
  const auto x = Ladder(5);
  const std::vector<double> y = {4.0, 3.5, 3.2, 3.1, 3.12};  // rise 0.02 after the minimum
  const std::vector<double> se(5, 0.02);
  const InflectionResult r = FindInflection(x, y, se);
  EXPECT_EQ(r.argmin, 3u);
  EXPECT_TRUE(r.interior);
  EXPECT_FALSE(r.u_shaped);
  EXPECT_EQ(r.shape, CurveShape::kDecreasing);
  EXPECT_NE(r.uncertainty.find("within 2 s.e."), std::string::npos) << r.uncertainty;
}

TEST(Inflection, ShallowMinimumIsUShapedButItsLocationIsUncertain) {
  const auto x = Ladder(6);
  const std::vector<double> y = {3.0, 2.9, 2.85, 2.84, 2.86, 3.0};
  const std::vector<double> se(6, 0.01);  // neighbours within 2*sqrt(2)*0.01 = 0.028 of the minimum
  const InflectionResult r = FindInflection(x, y, se);
  EXPECT_TRUE(r.u_shaped);
  EXPECT_EQ(r.argmin, 3u);
  EXPECT_FALSE(r.distinguishable);
  EXPECT_EQ(r.plausible_lo, 2u);
  EXPECT_EQ(r.plausible_hi, 4u);
  EXPECT_NE(r.uncertainty.find("anywhere from 4e+06 to 1.6e+07"), std::string::npos)
      << r.uncertainty;
}

TEST(Inflection, LargerZMakesTheSameCurveNotSignificant) {
  const auto x = Ladder(5);
  const std::vector<double> y = {3.2, 3.1, 3.0, 3.1, 3.2};
  const std::vector<double> se(5, 0.03);  // differences 0.2 vs 2*0.042 (yes) and 5*0.042 (no)
  EXPECT_TRUE(FindInflection(x, y, se).u_shaped);
  InflectionOptions strict;
  strict.z = 5;
  EXPECT_FALSE(FindInflection(x, y, se, strict).u_shaped);
}

TEST(Inflection, RelativeFloorIgnoresFloatNoise) {
  const auto x = Ladder(3);
  const std::vector<double> y = {1.0, 1.0 - 1e-7, 1.0};
  InflectionOptions exact;
  exact.deterministic = true;
  const InflectionResult r = FindInflection(x, y, {}, exact);
  EXPECT_EQ(r.argmin, 1u);
  EXPECT_FALSE(r.u_shaped);
  EXPECT_EQ(r.shape, CurveShape::kFlat);
}

TEST(Inflection, NaNStandardErrorsAreUnknownNotPoison) {
  const auto x = Ladder(5);
  const std::vector<double> y = {3.2, 3.1, 3.0, 3.1, 3.2};
  const double nan = std::nan("");
  const InflectionResult r = FindInflection(x, y, std::vector<double>{nan, nan, nan, nan, nan});
  EXPECT_FALSE(r.u_shaped);  // unknown, so not tested...
  EXPECT_EQ(r.shape, CurveShape::kNotTested);
  EXPECT_FALSE(r.has_uncertainty);
  EXPECT_EQ(r.argmin, 2u);  // ...and NaN does not poison the descriptive argmin
}

TEST(Inflection, TooFewPoints) {
  const std::vector<double> x1 = {1e6}, y1 = {3.0};
  const InflectionResult one = FindInflection(x1, y1);
  EXPECT_EQ(one.argmin, 0u);
  EXPECT_FALSE(one.interior);
  EXPECT_FALSE(one.u_shaped);
  const std::vector<double> x2 = {1e6, 2e6}, y2 = {3.0, 2.0};
  InflectionOptions exact;
  exact.deterministic = true;
  const InflectionResult two = FindInflection(x2, y2, {}, exact);
  EXPECT_EQ(two.argmin, 1u);
  EXPECT_EQ(two.shape, CurveShape::kDecreasing);
  EXPECT_NE(two.uncertainty.find("cannot be located"), std::string::npos);
}

TEST(Inflection, TiesPickTheFirstMinimum) {
  const auto x = Ladder(5);
  const std::vector<double> y = {3.0, 2.0, 2.0, 2.5, 3.0};
  EXPECT_EQ(FindInflection(x, y).argmin, 1u);
}

}  // namespace
}  // namespace ot
