// The Hessian toolkit against oracles derived by hand: a 50-dim quadratic with chosen eigenvalues
// (exact Hessian), the two-layer linear network of the theory lab (Hessian in closed form, checked
// against its trace identity and Eigen's eigensolver), and power iteration that must admit
// non-convergence.
#include "analysis/hessian.h"

#include <gtest/gtest.h>

#include <Eigen/Dense>
#include <cmath>
#include <random>

#include "theory/linear_net.h"

namespace ot {
namespace {

using Eigen::MatrixXd;
using Eigen::VectorXd;

// H = Q diag(eigenvalues) Qᵀ with Q a random orthogonal matrix (QR of a Gaussian matrix).
MatrixXd WithSpectrum(const VectorXd& eigenvalues, unsigned seed) {
  const int n = static_cast<int>(eigenvalues.size());
  std::mt19937 gen(seed);
  std::normal_distribution<double> normal;
  MatrixXd g(n, n);
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < n; ++j) g(i, j) = normal(gen);
  const MatrixXd q = Eigen::HouseholderQR<MatrixXd>(g).householderQ();
  return q * eigenvalues.asDiagonal() * q.transpose();
}

// L(x) = ½xᵀHx − bᵀx as a gradient oracle; central differences of its gradient are exact up to
// rounding (the third derivative is 0).
GradientOracle Quadratic(const MatrixXd& h, const VectorXd& b) {
  return [h, b](std::span<const double> x, std::span<double> grad) {
    const Eigen::Map<const VectorXd> xv(x.data(), x.size());
    const VectorXd g = h * xv - b;
    std::copy(g.data(), g.data() + g.size(), grad.begin());
    return 0.5 * xv.dot(h * xv) - b.dot(xv);
  };
}

// 50-dim, eigenvalues 10 (top), 6, then 48 values in [0.1, 5]: a gap ratio of 0.6.
VectorXd QuadraticSpectrum() {
  VectorXd e(50);
  e(0) = 10;
  e(1) = 6;
  for (int i = 2; i < 50; ++i) e(i) = 0.1 + 4.9 * (i - 2) / 47.0;
  return e;
}

TEST(Hessian, QuadraticTopEigenvalueToOneInAMillion) {
  const VectorXd spectrum = QuadraticSpectrum();
  const MatrixXd h = WithSpectrum(spectrum, 1);
  const VectorXd theta = VectorXd::LinSpaced(50, -1, 1), b = VectorXd::Ones(50);
  FiniteDifferenceHessian fd(Quadratic(h, b), std::span<const double>(theta.data(), 50),
                             kDoubleGradientEps);
  // Residual r < 1e-4 bounds the eigenvalue error by (r·λ)²/gap = (1e-3)²/4 = 2.5e-7 absolute.
  const EigenResult r =
      TopEigenvalue(fd.AsProduct(), 50, {.max_iters = 200, .tol = 1e-4, .seed = 3});
  std::printf("  quadratic: %s, relative error %.2e, %lld gradient evaluations\n",
              Describe(r).c_str(), std::abs(r.value - 10) / 10,
              static_cast<long long>(fd.gradient_evals()));
  ASSERT_TRUE(r.converged);
  EXPECT_LT(r.residual, 1e-4);
  EXPECT_NEAR(r.value, 10.0, 1e-6 * 10);
  EXPECT_LE(std::abs(r.value - 10), r.residual * 10 + 1e-12);  // the stated bound holds
  EXPECT_EQ(fd.gradient_evals(), 2 * r.iterations);
  // The FD product equals Hv to rounding on a quadratic: the eigenvector satisfies H v = 10 v.
  const Eigen::Map<const VectorXd> v(r.vector.data(), 50);
  EXPECT_LT((h * v - 10 * v).norm(), 1e-3);
}

TEST(Hessian, QuadraticTraceWithinThreeStandardErrors) {
  const MatrixXd h = WithSpectrum(QuadraticSpectrum(), 2);
  const VectorXd theta = VectorXd::Zero(50), b = VectorXd::Zero(50);
  FiniteDifferenceHessian fd(Quadratic(h, b), std::span<const double>(theta.data(), 50),
                             kDoubleGradientEps);
  const TraceEstimate t = HutchinsonTrace(fd.AsProduct(), 50, 64, 7);
  std::printf("  quadratic trace: %.4f ± %.4f (exact %.4f)\n", t.mean, t.std_error, h.trace());
  EXPECT_GT(t.std_error, 0);
  EXPECT_LT(std::abs(t.mean - h.trace()), 3 * t.std_error);
  // Scaled: E[(s⊙z)ᵀH(s⊙z)] = Σ s_i² H_ii.
  std::vector<double> scale(50);
  double exact = 0;
  for (int i = 0; i < 50; ++i) {
    scale[i] = i < 25 ? 0.0 : 0.5 + 0.01 * i;
    exact += scale[i] * scale[i] * h(i, i);
  }
  const TraceEstimate s = HutchinsonTrace(fd.AsProduct(), 50, 64, 8, scale);
  std::printf("  quadratic scaled trace: %.4f ± %.4f (exact %.4f)\n", s.mean, s.std_error, exact);
  EXPECT_GT(s.std_error, 0);
  EXPECT_LT(std::abs(s.mean - exact), 3 * s.std_error);
  EXPECT_GT(std::abs(s.mean - h.trace()), 3 * s.std_error);  // the scale is not ignored
  // A diagonal Hessian makes every Rademacher probe exact: zero spread.
  const VectorXd d = QuadraticSpectrum();
  FiniteDifferenceHessian diag(Quadratic(MatrixXd(d.asDiagonal()), b),
                               std::span<const double>(theta.data(), 50), kDoubleGradientEps);
  const TraceEstimate e = HutchinsonTrace(diag.AsProduct(), 50, 4, 9);
  EXPECT_NEAR(e.mean, d.sum(), 1e-8 * d.sum());
  EXPECT_LT(e.std_error, 1e-8);
}

TEST(Hessian, TooFewIterationsReportNotConverged) {
  const MatrixXd h = WithSpectrum(QuadraticSpectrum(), 1);
  const VectorXd theta = VectorXd::Zero(50), b = VectorXd::Zero(50);
  FiniteDifferenceHessian fd(Quadratic(h, b), std::span<const double>(theta.data(), 50),
                             kDoubleGradientEps);
  const EigenResult r = TopEigenvalue(fd.AsProduct(), 50, {.max_iters = 3, .tol = 1e-4, .seed = 3});
  std::printf("  3 iterations: %s\n", Describe(r).c_str());
  EXPECT_FALSE(r.converged);
  EXPECT_EQ(r.iterations, 3);
  EXPECT_TRUE(std::isfinite(r.residual));
  EXPECT_GT(r.residual, 1e-4);
  EXPECT_NE(Describe(r).find("not converged (residual"), std::string::npos);
  // Eigenvalues +10 and −10: power iteration oscillates between them at any iteration count; the
  // Rayleigh quotient may look stable, the residual does not, and it must say so.
  VectorXd pm = QuadraticSpectrum();
  pm(1) = -10;
  FiniteDifferenceHessian both(Quadratic(WithSpectrum(pm, 4), b),
                               std::span<const double>(theta.data(), 50), kDoubleGradientEps);
  const EigenResult o =
      TopEigenvalue(both.AsProduct(), 50, {.max_iters = 100, .tol = 1e-3, .seed = 5});
  std::printf("  eigenvalues ±10: %s\n", Describe(o).c_str());
  EXPECT_FALSE(o.converged);
  EXPECT_GT(o.residual, 1e-3);
}

// ---- The two-layer linear network f(x) = W₂W₁x on the whitened population: L = ½‖W₂W₁ − A‖²_F.

struct LinearNet {
  theory::Objective objective;
  theory::Student student;
  MatrixXd a;
  int d = 0, k = 0;
  int64_t n() const { return 2 * int64_t{d} * k; }
  // x = [vec(W₁) (k×d, column-major) | vec(W₂) (d×k)].
  theory::Student Unpack(std::span<const double> x) const {
    theory::Student s;
    s.w1 = Eigen::Map<const MatrixXd>(x.data(), k, d);
    s.w2 = Eigen::Map<const MatrixXd>(x.data() + d * k, d, k);
    return s;
  }
  std::vector<double> Pack(const theory::Student& s) const {
    std::vector<double> x(n());
    Eigen::Map<MatrixXd>(x.data(), k, d) = s.w1;
    Eigen::Map<MatrixXd>(x.data() + d * k, d, k) = s.w2;
    return x;
  }
  GradientOracle Oracle() const {
    return [this](std::span<const double> x, std::span<double> grad) {
      const theory::Student s = Unpack(x);
      MatrixXd g1, g2;
      theory::Gradients(s, objective, {}, g1, g2);
      Eigen::Map<MatrixXd>(grad.data(), k, d) = g1;
      Eigen::Map<MatrixXd>(grad.data() + d * k, d, k) = g2;
      return objective.Loss(s.Product());
    };
  }
  // Closed form: H(u, v) = ⟨W₂U₁ + U₂W₁, W₂V₁ + V₂W₁⟩ + ⟨U₂V₁ + V₂U₁, W₂W₁ − A⟩ (the second
  // derivative of ½‖(W₂+tU₂)(W₁+tU₁) − A‖² polarised), formed on the basis vectors.
  MatrixXd ExplicitHessian() const {
    const MatrixXd& w1 = student.w1;
    const MatrixXd& w2 = student.w2;
    const MatrixXd residual = w2 * w1 - a;
    std::vector<theory::Student> basis(n());
    std::vector<MatrixXd> jvp(n());  // W₂U₁ + U₂W₁ per basis vector
    for (int64_t i = 0; i < n(); ++i) {
      std::vector<double> e(n(), 0.0);
      e[i] = 1;
      basis[i] = Unpack(e);
      jvp[i] = w2 * basis[i].w1 + basis[i].w2 * w1;
    }
    MatrixXd h(n(), n());
    for (int64_t i = 0; i < n(); ++i)
      for (int64_t j = 0; j < n(); ++j)
        h(i, j) =
            (jvp[i].array() * jvp[j].array()).sum() +
            ((basis[i].w2 * basis[j].w1 + basis[j].w2 * basis[i].w1).array() * residual.array())
                .sum();
    return h;
  }
};

// A student part-way through pre-training (a saddle-to-minimum transit: the Hessian has both
// signs).
LinearNet TrainedNet() {
  theory::TheoryConfig c;
  c.d = 5;
  c.width = 4;
  c.init_std = 0.3;
  c.seed = 11;
  LinearNet net;
  net.d = c.d;
  net.k = c.width;
  net.a = theory::MakeTeachers(c).a;
  net.objective = theory::PopulationObjective(net.a);
  net.student = theory::InitStudent(c);
  theory::Advance(net.student, net.objective, 0.05, 60, false, 1);
  return net;
}

TEST(Hessian, LinearNetworkMatchesEigenSolverAndTraceIdentity) {
  const LinearNet net = TrainedNet();
  const MatrixXd h = net.ExplicitHessian();
  ASSERT_LT((h - h.transpose()).norm(), 1e-12 * h.norm());
  // Trace identity of the theory lab's closed form: E_Z[L(W + γZ)] − L = ½γ² tr H + ½γ⁴d²k, so
  // tr H = d(‖W₁‖² + ‖W₂‖²).
  const double identity = net.d * (net.student.w1.squaredNorm() + net.student.w2.squaredNorm());
  EXPECT_NEAR(h.trace(), identity, 1e-10 * identity);
  const double gamma = 0.01, loss = theory::PopulationLoss(net.student, net.a);
  const double closed = theory::PerturbedLossClosedForm(net.student, net.a, gamma) - loss;
  EXPECT_NEAR(0.5 * gamma * gamma * h.trace(),
              closed - 0.5 * std::pow(gamma, 4) * net.d * net.d * net.k, 1e-9 * closed);

  Eigen::SelfAdjointEigenSolver<MatrixXd> solver(h);
  const VectorXd ev = solver.eigenvalues();  // ascending
  const double top = std::abs(ev(0)) > std::abs(ev(ev.size() - 1)) ? ev(0) : ev(ev.size() - 1);
  const std::vector<double> theta = net.Pack(net.student);
  FiniteDifferenceHessian fd(net.Oracle(), theta, kDoubleGradientEps);
  const EigenResult r =
      TopEigenvalue(fd.AsProduct(), net.n(), {.max_iters = 1000, .tol = 1e-6, .seed = 1});
  std::printf(
      "  linear net (d %d, k %d): eigen %.10g [%.4g .. %.4g], power %s, relative error %.2e\n",
      net.d, net.k, top, ev(0), ev(ev.size() - 1), Describe(r).c_str(),
      std::abs(r.value - top) / std::abs(top));
  ASSERT_TRUE(r.converged);
  // FD in double: relative HVP error ~ sqrt(ε) ≈ 1e-8 (hessian.h), and the power iteration's
  // (residual·|λ|)²/gap ~ 1e-12; 1e-6 relative is the target.
  EXPECT_NEAR(r.value, top, 1e-6 * std::abs(top));
  // The FD product itself against the closed form, on a fixed direction.
  std::vector<double> v(net.n()), hv(net.n());
  for (int64_t i = 0; i < net.n(); ++i) v[i] = std::sin(1.0 + i);
  fd.Apply(v, hv);
  const VectorXd exact = h * Eigen::Map<const VectorXd>(v.data(), net.n());
  const double err = (Eigen::Map<const VectorXd>(hv.data(), net.n()) - exact).norm() / exact.norm();
  std::printf("  linear net FD Hv relative error %.2e\n", err);
  EXPECT_LT(err, 1e-6);  // rounding ~ sqrt(ε) ≈ 1e-8 at hessian.h's step; 100x for the constants

  const TraceEstimate t = HutchinsonTrace(fd.AsProduct(), net.n(), 200, 3);
  std::printf("  linear net trace %.5f ± %.5f (exact %.5f)\n", t.mean, t.std_error, h.trace());
  EXPECT_LT(std::abs(t.mean - h.trace()), 3 * t.std_error);
}

}  // namespace
}  // namespace ot
