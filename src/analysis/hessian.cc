// Finite-difference Hessian-vector products, power iteration and Hutchinson's trace (see
// hessian.h).
#include "analysis/hessian.h"

#include <fmt/format.h>

#include <cmath>

#include "analysis/metrics.h"
#include "core/check.h"
#include "core/rng.h"

namespace ot {

static double Dot(std::span<const double> a, std::span<const double> b) {
  double s = 0;
  for (size_t i = 0; i < a.size(); ++i) s += a[i] * b[i];
  return s;
}

static double Norm(std::span<const double> a) { return std::sqrt(Dot(a, a)); }

FiniteDifferenceHessian::FiniteDifferenceHessian(GradientOracle oracle,
                                                 std::span<const double> theta, double gradient_eps)
    : oracle_(std::move(oracle)),
      theta_(theta.begin(), theta.end()),
      x_(theta.size()),
      g_plus_(theta.size()),
      g_minus_(theta.size()),
      theta_norm_(Norm(theta)),
      eps_(gradient_eps) {
  OT_CHECK(gradient_eps > 0 && gradient_eps < 1) << "gradient_eps " << gradient_eps;
}

double FiniteDifferenceHessian::StepFor(double v_norm) const {
  return std::sqrt(eps_) * (1 + theta_norm_) / v_norm;  // derivation and measurements in hessian.h
}

void FiniteDifferenceHessian::Apply(std::span<const double> v, std::span<double> hv) {
  const size_t n = theta_.size();
  OT_CHECK(v.size() == n && hv.size() == n)
      << "v " << v.size() << " hv " << hv.size() << " n " << n;
  const double v_norm = Norm(v);
  if (v_norm == 0) {
    std::fill(hv.begin(), hv.end(), 0.0);
    return;
  }
  const double h = StepFor(v_norm);
  for (size_t i = 0; i < n; ++i) x_[i] = theta_[i] + h * v[i];
  oracle_(x_, g_plus_);
  for (size_t i = 0; i < n; ++i) x_[i] = theta_[i] - h * v[i];
  oracle_(x_, g_minus_);
  gradient_evals_ += 2;
  for (size_t i = 0; i < n; ++i) hv[i] = (g_plus_[i] - g_minus_[i]) / (2 * h);
}

HessianVectorProduct FiniteDifferenceHessian::AsProduct() {
  return [this](std::span<const double> v, std::span<double> hv) { Apply(v, hv); };
}

EigenResult TopEigenvalue(const HessianVectorProduct& hvp, int64_t n, const PowerOptions& options) {
  OT_CHECK(n >= 1 && options.max_iters >= 1) << "n " << n << " max_iters " << options.max_iters;
  EigenResult r;
  std::vector<double>& v = r.vector;
  v.resize(n);
  std::vector<double> w(n);
  const uint64_t key = RngKey(options.seed, StreamId("hessian.power"));
  for (int64_t i = 0; i < n; ++i) v[i] = NormalAt(key, i);
  double norm = Norm(v);
  for (double& x : v) x /= norm;
  double previous = 0;
  for (int k = 1; k <= options.max_iters; ++k) {
    hvp(v, w);
    const double lambda = Dot(v, w);  // Rayleigh quotient, ‖v‖ = 1
    double rr = 0;
    for (int64_t i = 0; i < n; ++i) rr += (w[i] - lambda * v[i]) * (w[i] - lambda * v[i]);
    r.value = lambda;
    r.iterations = k;
    r.residual = lambda != 0 ? std::sqrt(rr) / std::abs(lambda) : INFINITY;
    r.relative_change =
        k > 1 && lambda != 0 ? std::abs(lambda - previous) / std::abs(lambda) : INFINITY;
    previous = lambda;
    if (r.residual < options.tol && r.relative_change < options.tol) {
      r.converged = true;
      break;
    }
    norm = Norm(w);
    if (norm == 0) break;  // H v = 0: v is in the null space; residual is already infinite
    for (int64_t i = 0; i < n; ++i) v[i] = w[i] / norm;
  }
  return r;
}

TraceEstimate HutchinsonTrace(const HessianVectorProduct& hvp, int64_t n, int probes, uint64_t seed,
                              std::span<const double> scale) {
  OT_CHECK(probes >= 1) << "probes " << probes;
  OT_CHECK(scale.empty() || static_cast<int64_t>(scale.size()) == n) << "scale " << scale.size();
  std::vector<double> z(n), hz(n), samples(probes);
  for (int p = 0; p < probes; ++p) {
    const uint64_t key = RngKey(seed, StreamId("hessian.hutchinson"), static_cast<uint64_t>(p));
    for (int64_t i = 0; i < n; ++i) {
      const double sign = UniformAt(key, i) < 0.5 ? -1.0 : 1.0;
      z[i] = scale.empty() ? sign : sign * scale[i];
    }
    hvp(z, hz);
    samples[p] = Dot(z, hz);
  }
  const auto [mean, se] = MeanStderr(samples);
  return {.mean = mean, .std_error = se, .probes = probes};
}

std::string Describe(const EigenResult& r) {
  if (r.converged)
    return fmt::format("{:.6g} (converged, residual {:.2e}, {} iterations)", r.value, r.residual,
                       r.iterations);
  return fmt::format("not converged (residual {:.2e}) after {} iterations; last estimate {:.6g}",
                     r.residual, r.iterations, r.value);
}

}  // namespace ot
