// Curvature of a loss known only through a gradient oracle: Hessian-vector products as central
// finite differences of gradients (in double), the top eigenvalue by power iteration with an
// explicit convergence verdict, and the trace (or a scaled trace Σ s_i² H_ii) by Hutchinson's
// estimator. Entry points: GradientOracle, FiniteDifferenceHessian, TopEigenvalue, HutchinsonTrace,
// Describe.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

namespace ot {

// L(x) returned, ∇L(x) written into grad (same size as x). May be computed in lower precision.
using GradientOracle = std::function<double(std::span<const double> x, std::span<double> grad)>;
// hv = H v.
using HessianVectorProduct = std::function<void(std::span<const double> v, std::span<double> hv)>;

// Relative precision of a float32 / double gradient oracle (unit roundoff).
inline constexpr double kFloatGradientEps = 0x1p-24;
inline constexpr double kDoubleGradientEps = 0x1p-53;

// Hv ≈ (∇L(θ + hv) − ∇L(θ − hv)) / (2h), with h = sqrt(ε) · (1 + ‖θ‖) / ‖v‖.
//
// Why this h. Let ε be the oracle's relative gradient precision and s a length over which the
// loss's curvature changes (‖∇³L[v,v]‖ ~ ‖Hv‖/s for unit v). The central difference's truncation
// error is (h²/6)·∇³L[v,v,·] ~ ‖Hv‖·(h‖v‖/s)², its rounding error ~ ε·‖∇L‖/h; with ‖∇L‖ ~ ‖Hv‖·s
// the sum is smallest at (h‖v‖/s)³ ~ ε, i.e. h‖v‖ = ε^{1/3}·s, error ~ ε^{2/3} (the central
// difference cancels the h¹ term, so the balance is the cube root, not the forward difference's
// sqrt). The textbook scale s = 1 + ‖θ‖ (Nocedal & Wright §8.1) is far too long for a decoder: on
// the tiny test model (tests/analysis/diagnose_test.cc) the float32 Decoder at h‖v‖ =
// ε^{1/3}(1+‖θ‖) had truncation 5e-2 against rounding 5e-6 (weights at 4x init; 1.2e-3 vs 7e-6 at
// 1x): normalisation and the softmax bend the loss over a length s_eff ≈ ε^{1/6}·(1+‖θ‖) ≈
// (1+‖θ‖)/16 (on that model ‖θ‖ is mostly the norm gains, ones at init). Balancing at that s_eff
// gives
//     h‖v‖ = ε^{1/3}·s_eff = sqrt(ε)·(1 + ‖θ‖),
// where the two errors came out within 3x of each other at both weight scales, the total ~1e-4
// (float32, ε = 2^-24: h‖v‖ ≈ 2.4e-4·(1+‖θ‖)). For a double oracle on a smooth problem (quadratic,
// linear network) the same rule costs accuracy, not correctness: error ~ sqrt(2^-53) ≈ 1e-8.
// A float32 oracle also rounds θ ± hv to float: each element's displacement is off by ≤ 2^-24|θ_i|,
// relative to h|v_i| ≈ sqrt(ε)|θ_i|-ish for evenly spread v (Rademacher probes) that is ~ sqrt(ε),
// the same order as the rounding term above.
class FiniteDifferenceHessian {
 public:
  // theta is copied. gradient_eps: kFloatGradientEps for a float32 oracle, kDoubleGradientEps for
  // double.
  FiniteDifferenceHessian(GradientOracle oracle, std::span<const double> theta,
                          double gradient_eps);

  void Apply(std::span<const double> v, std::span<double> hv);  // two gradient evaluations
  HessianVectorProduct AsProduct();                             // Apply bound to this object
  double StepFor(double v_norm) const;                          // h for a direction of norm ‖v‖
  int64_t gradient_evals() const { return gradient_evals_; }
  int64_t size() const { return static_cast<int64_t>(theta_.size()); }

 private:
  GradientOracle oracle_;
  std::vector<double> theta_, x_, g_plus_, g_minus_;
  double theta_norm_ = 0, eps_ = 0;
  int64_t gradient_evals_ = 0;
};

struct PowerOptions {
  int max_iters = 30;
  double tol = 1e-3;  // on both the Rayleigh quotient's relative change and ‖Hv − λv‖/|λ|
  uint64_t seed = 0;  // the Gaussian start vector
};

// The eigenvalue of largest magnitude. `value` is the last Rayleigh quotient vᵀHv (‖v‖ = 1) whether
// or not it converged: read `converged` before using it. residual = ‖Hv − λv‖/|λ| of that v; by the
// Bauer–Fike / Kato bound the eigenvalue error is ≤ residual·|λ| and, with a gap δ to the next
// eigenvalue, ≤ (residual·|λ|)²/δ.
struct EigenResult {
  double value = 0;
  bool converged = false;
  double residual = 0;
  double relative_change = 0;  // |λ_k − λ_{k−1}| / |λ_k| at the last iteration
  int iterations = 0;          // Hessian-vector products used
  std::vector<double> vector;  // the last v (unit norm)
};
EigenResult TopEigenvalue(const HessianVectorProduct& hvp, int64_t n, const PowerOptions& options);

// Hutchinson: the mean of zᵀDHDz over Rademacher probes z (keyed by seed, probe), D = diag(scale)
// (identity when scale is empty). E[zᵀDHDz] = Σ scale_i² H_ii, the trace when scale is empty.
struct TraceEstimate {
  double mean = 0;
  double std_error = 0;  // sample std / sqrt(probes); 0 for one probe
  int probes = 0;
};
TraceEstimate HutchinsonTrace(const HessianVectorProduct& hvp, int64_t n, int probes, uint64_t seed,
                              std::span<const double> scale = {});

// "12.5 (converged, residual 2.1e-04, 9 iterations)" or "not converged (residual 3.2e-02) after 30
// iterations; last estimate 12.5" — never a bare number for an unconverged estimate.
std::string Describe(const EigenResult& r);

}  // namespace ot
