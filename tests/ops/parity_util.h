// Helpers of the kernel parity tests (cpu_parity_test.cc, arch_parity_test.cc): seeded normal
// inputs, float -> double copies for the reference, the max-error-relative-to-max-|ref| check, and
// the 1 vs 2 OpenMP thread bit-identity run. Entry points: Rand, D, ExpectClose,
// SameAtOneAndTwoThreads.
#pragma once

#include <gtest/gtest.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <functional>
#include <random>
#include <string>
#include <vector>

namespace ot::testing {

// n floats drawn from N(0, scale^2) with a fixed seed.
inline std::vector<float> Rand(size_t n, float scale, uint32_t seed) {
  std::mt19937 gen(seed);
  std::normal_distribution<float> d(0.0f, scale);
  std::vector<float> v(n);
  for (auto& x : v) x = d(gen);
  return v;
}

// The same values in double: the reference's inputs.
inline std::vector<double> D(const std::vector<float>& v) { return {v.begin(), v.end()}; }

// EXPECTs max |fast - ref| <= tol * max |ref| (and equal sizes); prints and returns the ratio
// max |fast - ref| / max |ref|.
inline double ExpectClose(const std::vector<float>& fast, const std::vector<double>& ref,
                          double tol, const std::string& what) {
  EXPECT_EQ(fast.size(), ref.size()) << what;
  double scale = 0, err = 0;
  for (size_t i = 0; i < std::min(fast.size(), ref.size()); ++i) {
    scale = std::max(scale, std::abs(ref[i]));
    err = std::max(err, std::abs(fast[i] - ref[i]));
  }
  const double ratio = err / std::max(scale, 1e-30);
  std::printf("  fast vs ref %-34s max err / max|ref| = %.2e (tol %.0e)\n", what.c_str(), ratio,
              tol);
  EXPECT_LE(err, tol * scale) << what;
  return ratio;
}

// Runs fn at 1 and at 2 OpenMP threads; returns whether the outputs are bitwise equal (memcmp, so
// -0 vs +0 differ and equal NaN payloads match).
inline bool SameAtOneAndTwoThreads(const std::function<std::vector<float>()>& fn) {
  const int saved = omp_get_max_threads();
  omp_set_num_threads(1);
  const auto a = fn();
  omp_set_num_threads(2);
  const auto b = fn();
  omp_set_num_threads(saved);
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

}  // namespace ot::testing
