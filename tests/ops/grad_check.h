// Central-difference gradient checking in double for tests: compares an analytic gradient with
// (f(x+h) - f(x-h)) / 2h element by element. Entry point: CheckGradient.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>
#include <random>
#include <string>
#include <vector>

namespace ot::testing {

struct GradCheckResult {
  double max_err =
      0;  // max |analytic - numeric| / max(max |numeric|, 1e-12): relative to the gradient scale
  double cosine = 0;   // analytic . numeric / (|analytic| |numeric|)
  double max_abs = 0;  // max |numeric|
};

// Perturbs x[i] for every i (or `max_points` evenly strided indices) and returns the comparison.
// `loss` must read x. h = 1e-5 * max(1, |x_i|): central-difference truncation O(h^2 f''') ~ 1e-10
// at these magnitudes, round-off ~ 1e-16 / h ~ 1e-11, so 1e-6 tolerances have two decades of
// margin.
inline GradCheckResult CheckGradient(std::vector<double>& x, const std::vector<double>& analytic,
                                     const std::function<double()>& loss,
                                     int max_points = 1 << 30) {
  const size_t n = x.size();
  const size_t stride = std::max<size_t>(1, n / std::max(1, max_points));
  std::vector<double> num, ana;
  for (size_t i = 0; i < n; i += stride) {
    const double saved = x[i], h = 1e-5 * std::max(1.0, std::abs(saved));
    x[i] = saved + h;
    const double fp = loss();
    x[i] = saved - h;
    const double fm = loss();
    x[i] = saved;
    num.push_back((fp - fm) / (2 * h));
    ana.push_back(analytic[i]);
  }
  GradCheckResult r;
  double dot = 0, na = 0, nn = 0, err = 0;
  for (size_t j = 0; j < num.size(); ++j) {
    dot += num[j] * ana[j];
    na += ana[j] * ana[j];
    nn += num[j] * num[j];
    err = std::max(err, std::abs(num[j] - ana[j]));
    r.max_abs = std::max(r.max_abs, std::abs(num[j]));
  }
  r.max_err = err / std::max(r.max_abs, 1e-12);
  r.cosine = (na == 0 && nn == 0) ? 1.0 : dot / std::sqrt(na * nn + 1e-300);
  return r;
}

inline void PrintGradCheck(const std::string& what, const GradCheckResult& r) {
  std::printf("  gradcheck %-40s max_rel_err %.2e  |1-cosine| %.1e  |grad|max %.2e\n", what.c_str(),
              r.max_err, std::abs(1 - r.cosine), r.max_abs);
}

inline std::vector<double> RandomVector(size_t n, double scale, uint32_t seed) {
  std::mt19937 gen(seed);
  std::normal_distribution<double> d(0.0, scale);
  std::vector<double> v(n);
  for (auto& x : v) x = d(gen);
  return v;
}

}  // namespace ot::testing
