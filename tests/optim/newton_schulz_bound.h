// A derived bound on the float32 rounding error of NewtonSchulz5 (optim/muon.h), shared by the Muon
// tests (tests/optim/muon_test.cc against a double iteration, tests/bench/optim_parity_test.cc
// against reference/reference.py). Entry points: NsIterationNorms, QuinticSlopeSup,
// NewtonSchulzErrorBound.
//
// First order in u = 2^-24. Iteration i maps the exact X (r, c), r <= c, through A = XXᵀ, A², B =
// bA + cA², BX and X' = aX + BX. Computed in float32 from an exact X, a product PQ with inner
// dimension K is off by at most γ_K |P||Q| elementwise, γ_K = Ku/(1−Ku) (Higham, "Accuracy and
// Stability of Numerical Algorithms", §3.5), so by γ_K ‖|P||Q|‖_F in Frobenius norm (computed
// exactly by the double reference); an error δ already in a factor is carried as ‖δ‖_F times the
// other factor's spectral norm; and each sgemm's alpha/beta scaling and sum plus the float rounding
// of a, b, c add 3u of each term:
//   E_A  = γ_c ‖|X||X|ᵀ‖                  E_A² = γ_r ‖|A||A|‖ + 2‖A‖₂ E_A
//   E_B  = |b| E_A + |c| E_A² + 3u (|b|‖A‖ + |c|‖A²‖) + u ‖B‖
//   E_X' = γ_r ‖|B||X|‖ + E_B ‖X‖₂ + 3u (|a|‖X‖ + ‖BX‖) + u ‖X'‖        (‖·‖ = Frobenius, ‖·‖₂
//   spectral)
// An error E in the iterate after step i is then carried through the remaining k = n−1−i steps by
// at most L_k(s) = sup over σ in [0, s] of |d/dσ p^k(σ)|, s the iterate's spectral norm: the
// derivative of a map applying an odd function g to the singular values is bounded by g's divided
// differences over the spectrum and 0 (Daleckii–Krein; Bhatia, "Matrix Analysis", §V.3 and §X.4),
// each at most sup |g'| (mean value theorem; |g'| is even). The input's own error is carried by
// L_n(s_0). Total: ‖δO‖_F <= the sum. L_k(s) = a^k = 3.4445^k, attained at σ = 0, for every s
// <= 1.2 that arises here. Worst case in every rounding and every direction, so it sits 3-4 orders
// of magnitude above the errors actually seen.
#pragma once

#include <algorithm>
#include <cmath>
#include <vector>

#include "optim/muon.h"

namespace ot {

// Norms of one exact (double) Newton–Schulz iteration: Frobenius norms of X, A = XXᵀ, A², B, BX,
// X', of the absolute products |X||X|ᵀ, |A||A|, |B||X|, and the spectral norms of X and X'.
struct NsIterationNorms {
  double x = 0, a = 0, a2 = 0, b = 0, bx = 0, x_next = 0;
  double abs_xx = 0, abs_aa = 0, abs_bx = 0;
  double x_spectral = 0, x_next_spectral = 0;
};

// sup over σ in [0, s] of |(p∘…∘p)'(σ)| (k-fold), p(σ) = aσ + bσ³ + cσ⁵, on a grid of 20001 points
// with the chain rule in double. Between grid points the slope changes by at most (grid step) x
// sup|(p^k)''|, < 1e-3 relative for k <= 5 and s <= 1.3; the 1.01 factor covers it.
inline double QuinticSlopeSup(int k, double s) {
  const double a = kNewtonSchulzA, b = kNewtonSchulzB, c = kNewtonSchulzC;
  double best = 0;
  for (int j = 0; j <= 20000; ++j) {
    double x = s * j / 20000.0, slope = 1;
    for (int i = 0; i < k; ++i) {
      slope *= a + 3 * b * x * x + 5 * c * x * x * x * x;
      x = a * x + b * x * x * x + c * x * x * x * x * x;
    }
    best = std::max(best, std::abs(slope));
  }
  return 1.01 * best;
}

// Bound on ‖O_float32 − O_exact‖_F for a (rows, cols) input whose normalised X_0 carries an error
// of Frobenius norm `input_error`; `its` are the exact run's iterations (its.size() = steps).
inline double NewtonSchulzErrorBound(const std::vector<NsIterationNorms>& its, int rows, int cols,
                                     double input_error) {
  const double u = std::ldexp(1.0, -24);
  const int r = std::min(rows, cols), c = std::max(rows, cols);
  const auto gamma = [u](int K) { return K * u / (1 - K * u); };
  const double ca = kNewtonSchulzA, cb = std::abs(double(kNewtonSchulzB)), cc = kNewtonSchulzC;
  const int n = static_cast<int>(its.size());
  double total = n > 0 ? QuinticSlopeSup(n, its[0].x_spectral) * input_error : input_error;
  for (int i = 0; i < n; ++i) {
    const NsIterationNorms& t = its[i];
    const double e_a = gamma(c) * t.abs_xx;
    const double e_a2 = gamma(r) * t.abs_aa + 2 * t.x_spectral * t.x_spectral * e_a;
    const double e_b = cb * e_a + cc * e_a2 + 3 * u * (cb * t.a + cc * t.a2) + u * t.b;
    const double e_x =
        gamma(r) * t.abs_bx + e_b * t.x_spectral + 3 * u * (ca * t.x + t.bx) + u * t.x_next;
    total += (i + 1 < n ? QuinticSlopeSup(n - 1 - i, t.x_next_spectral) : 1.0) * e_x;
  }
  return total;
}

}  // namespace ot
