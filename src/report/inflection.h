// Inflection-point detection on one curve y(x) over a ladder (token budgets or steps), honest about
// noise. Entry points: FindInflection (argmin, interior?, U-shaped?, monotone?, uncertainty),
// ShapeName. A minimum at either end of the ladder is "no inflection inside the range"; a change
// counts only when it exceeds z combined standard errors (and a small relative floor, so float
// noise is never a "rise").
#pragma once

#include <cstddef>
#include <functional>
#include <span>
#include <string>

namespace ot {

enum class CurveShape {
  kUShaped,     // falls, reaches an interior minimum, then rises: each by more than the uncertainty
  kDecreasing,  // only a significant fall (minimum at, or indistinguishable from, the right end)
  kIncreasing,  // only a significant rise (minimum at, or indistinguishable from, the left end)
  kFlat,        // neither a significant fall nor a significant rise
  kNotTested,  // some point has no standard error (and the curve is not exact): no shape is claimed
};
// "U-shaped", "decreasing", "increasing", "flat", "not tested"
const char* ShapeName(CurveShape shape);

struct InflectionOptions {
  double z = 2.0;  // a difference is significant if > z * sqrt(se_i^2 + se_j^2) (~95%)
  double min_rel_change =
      1e-3;  // ...and > this fraction of max|y| (loss changes below 0.1% are noise)
  std::function<std::string(double)>
      format_x;  // how the uncertainty sentence prints x (default %g)
  // The curve is computed without noise (the linear-network lab's gradient descent): differences
  // beyond the relative floor are real, so no standard errors are needed. Otherwise a curve with
  // any point lacking a standard error is "not tested" (docs/science.md §6: no uncertainty, no
  // claim).
  bool deterministic = false;
};

struct InflectionResult {
  size_t argmin = 0;  // index of the smallest y (first one on ties)
  double x_min = 0, y_min = 0;
  bool interior = false;  // 0 < argmin < n-1; false means "no inflection inside the range"
  bool u_shaped = false;  // interior and both the fall before and the rise after are significant
  CurveShape shape = CurveShape::kFlat;
  bool monotone_increasing =
      false;  // some significant rise, and no significant drop between any i < j
  bool monotone_decreasing =
      false;                     // some significant fall, and no significant rise between any i < j
  double fall = 0, rise = 0;     // max(y before argmin) - y_min, max(y after argmin) - y_min
  bool has_uncertainty = false;  // some se > 0 was given
  bool tested = false;           // deterministic, or every point has a standard error > 0
  bool distinguishable = false;  // y_min significantly below each existing neighbour
  size_t plausible_lo = 0, plausible_hi = 0;  // index range of points not significantly above y_min
  std::string uncertainty;  // one plain-language sentence about how sure the minimum's location is
};

// x: strictly increasing ladder; y: values (same length, >= 1); se: optional standard errors
// (empty, or same length; NaN or 0 = unknown for that point).
InflectionResult FindInflection(std::span<const double> x, std::span<const double> y,
                                std::span<const double> se = {},
                                const InflectionOptions& options = {});

}  // namespace ot
