// Inflection-point detection (see inflection.h): significance of differences between ladder points.
#include "report/inflection.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "core/check.h"

namespace ot {

const char* ShapeName(CurveShape shape) {
  switch (shape) {
    case CurveShape::kUShaped:
      return "U-shaped";
    case CurveShape::kDecreasing:
      return "decreasing";
    case CurveShape::kIncreasing:
      return "increasing";
    case CurveShape::kNotTested:
      return "not tested";
    case CurveShape::kFlat:
      return "flat";
  }
  return "?";
}

InflectionResult FindInflection(std::span<const double> x, std::span<const double> y,
                                std::span<const double> se, const InflectionOptions& options) {
  const size_t n = y.size();
  OT_CHECK(n >= 1) << "FindInflection needs at least one point";
  OT_CHECK(x.size() == n) << "x has " << x.size() << " points, y has " << n;
  OT_CHECK(se.empty() || se.size() == n) << "se has " << se.size() << " points, y has " << n;
  for (size_t i = 1; i < n; ++i) OT_CHECK(x[i] > x[i - 1]) << "x must increase strictly at " << i;

  auto se_at = [&](size_t i) {
    if (se.empty() || !std::isfinite(se[i]) || se[i] < 0) return 0.0;
    return se[i];
  };
  double scale = 0;
  for (size_t i = 0; i < n; ++i) scale = std::max(scale, std::fabs(y[i]));
  const double floor = options.min_rel_change * scale;
  // Is y[hi] - y[lo] > 0 by more than the noise of both points?
  auto above = [&](size_t hi, size_t lo) {
    const double threshold =
        std::max(floor, options.z * std::sqrt(se_at(hi) * se_at(hi) + se_at(lo) * se_at(lo)));
    return y[hi] - y[lo] > threshold;
  };
  auto fmt_x = [&](double v) {
    return options.format_x ? options.format_x(v) : fmt::format("{:g}", v);
  };

  InflectionResult r;
  for (size_t i = 1; i < n; ++i)
    if (y[i] < y[r.argmin]) r.argmin = i;
  const size_t m = r.argmin;
  r.x_min = x[m];
  r.y_min = y[m];
  r.interior = m > 0 && m + 1 < n;
  r.tested = true;
  for (size_t i = 0; i < n; ++i) {
    r.has_uncertainty = r.has_uncertainty || se_at(i) > 0;
    r.tested = r.tested && se_at(i) > 0;
  }
  r.tested = r.tested || options.deterministic;

  // The highest point on each side of the minimum: a U needs both to stand out of the noise.
  size_t left = m, right = m;
  for (size_t i = 0; i < m; ++i)
    if (y[i] > y[left]) left = i;
  for (size_t i = m + 1; i < n; ++i)
    if (y[i] > y[right]) right = i;
  r.fall = y[left] - y[m];
  r.rise = y[right] - y[m];
  const bool fall_sig = left != m && above(left, m);
  const bool rise_sig = right != m && above(right, m);
  r.u_shaped = r.interior && fall_sig && rise_sig;
  r.shape = r.u_shaped ? CurveShape::kUShaped
            : fall_sig ? CurveShape::kDecreasing
            : rise_sig ? CurveShape::kIncreasing
                       : CurveShape::kFlat;

  bool any_rise = false, any_drop = false;
  for (size_t i = 0; i < n; ++i)
    for (size_t j = i + 1; j < n; ++j) {
      any_rise = any_rise || above(j, i);
      any_drop = any_drop || above(i, j);
    }
  r.monotone_increasing = any_rise && !any_drop;
  r.monotone_decreasing = any_drop && !any_rise;

  r.distinguishable = (m == 0 || above(m - 1, m)) && (m + 1 >= n || above(m + 1, m)) && n > 1;
  r.plausible_lo = m;
  r.plausible_hi = m;
  for (size_t i = 0; i < n; ++i)
    if (!above(i, m)) {
      r.plausible_lo = std::min(r.plausible_lo, i);
      r.plausible_hi = std::max(r.plausible_hi, i);
    }

  if (!r.tested) {  // descriptive argmin and interior only; no shape, no monotonicity claimed
    r.u_shaped = r.monotone_increasing = r.monotone_decreasing = r.distinguishable = false;
    r.shape = CurveShape::kNotTested;
  }
  const std::string zs = fmt::format("{:g}", options.z);
  if (n < 3) {
    r.uncertainty = fmt::format("only {} point(s): an inflection cannot be located", n);
  } else if (!r.tested) {
    r.uncertainty =
        "not tested: some points have no standard error (a single draw/seed), so no shape is "
        "claimed";
  } else if (options.deterministic && !r.has_uncertainty) {
    r.uncertainty =
        fmt::format("exact curve (no sampling noise): the minimum is at {}", fmt_x(r.x_min));
  } else if (r.u_shaped && r.distinguishable) {
    r.uncertainty = fmt::format("the minimum at {} lies more than {} s.e. below both neighbours",
                                fmt_x(r.x_min), zs);
  } else if (r.u_shaped) {
    r.uncertainty = fmt::format(
        "the curve is U-shaped beyond {} s.e., but within {} s.e. the minimum could lie anywhere "
        "from {} "
        "to {}",
        zs, zs, fmt_x(x[r.plausible_lo]), fmt_x(x[r.plausible_hi]));
  } else if (r.interior && fall_sig) {
    r.uncertainty = fmt::format(
        "the rise after the minimum at {} ({:.3g}) is within {} s.e.: not a significant inflection",
        fmt_x(r.x_min), r.rise, zs);
  } else if (r.interior && rise_sig) {
    r.uncertainty = fmt::format(
        "the fall before the minimum at {} ({:.3g}) is within {} s.e.: not a significant "
        "inflection",
        fmt_x(r.x_min), r.fall, zs);
  } else if (r.shape == CurveShape::kFlat) {
    r.uncertainty = fmt::format("all changes along the curve are within {} s.e.", zs);
  } else {
    r.uncertainty = fmt::format(
        "the minimum is at the {} end of the range, and the change along the "
        "curve exceeds {} s.e.",
        m == 0 ? "low" : "high", zs);
  }
  return r;
}

}  // namespace ot
