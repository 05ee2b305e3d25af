// The linear network's hand-derivable facts: the closed-form perturbed loss (square and non-square)
// against Monte-Carlo, gradients against central differences, zero init, incremental learning
// largest-first, GD ≈ flow.
#include "theory/linear_net.h"

#include <gtest/gtest.h>

#include <cmath>

#include "core/rng.h"

namespace ot::theory {
namespace {

TheoryConfig Small(int d, int k) {
  TheoryConfig c;
  c.d = d;
  c.width = k;
  return c;
}

Student RandomStudent(int d, int k, double std, uint64_t seed) {
  TheoryConfig c = Small(d, k);
  c.init_std = std;
  c.seed = static_cast<int64_t>(seed);
  return InitStudent(c);
}

// The closed form is exact for any shapes: check it on square, wide and narrow students with
// weights large enough that both the γ² and the γ⁴ terms matter.
TEST(LinearNet, ClosedFormMatchesMonteCarloForAnyShape) {
  for (auto [d, k] : {std::pair{6, 6}, std::pair{7, 3}, std::pair{5, 11}}) {
    TheoryConfig c = Small(d, k);
    const Teachers t = MakeTeachers(c);
    const Student w = RandomStudent(d, k, 0.4, 7);
    for (double gamma : {0.05, 0.3, 1.0}) {
      const MonteCarlo mc = PerturbedLossMonteCarlo(w, t.a, gamma, 4000, 3);
      const double closed = PerturbedLossClosedForm(w, t.a, gamma);
      EXPECT_NEAR(mc.mean, closed, 3 * mc.se) << "d=" << d << " k=" << k << " gamma=" << gamma;
      EXPECT_GT(mc.se, 0);
    }
  }
}

TEST(LinearNet, ClosedFormHandValues) {
  // W = 0: E L = ½‖A‖² + ½γ⁴d²k exactly.
  TheoryConfig c = Small(4, 3);
  const Teachers t = MakeTeachers(c);
  const Student zero = RandomStudent(4, 3, 0.0, 1);
  EXPECT_NEAR(PerturbedLossClosedForm(zero, t.a, 0.5),
              0.5 * t.a.squaredNorm() + 0.5 * std::pow(0.5, 4) * 16 * 3, 1e-12);
  // At γ = 0 the closed form and every draw equal the base loss.
  const Student w = RandomStudent(4, 3, 0.3, 2);
  EXPECT_DOUBLE_EQ(PerturbedLossClosedForm(w, t.a, 0), PopulationLoss(w, t.a));
  EXPECT_NEAR(PerturbedLossMonteCarlo(w, t.a, 0, 5, 1).mean, PopulationLoss(w, t.a), 1e-14);
}

TEST(LinearNet, TeacherHasTheConfiguredSpectrum) {
  TheoryConfig c = Small(8, 8);
  const Teachers t = MakeTeachers(c);
  Eigen::JacobiSVD<MatrixXd> svd(t.a);
  for (int i = 0; i < 8; ++i) EXPECT_NEAR(svd.singularValues()[i], 1.0 / (i + 1), 1e-12);
  EXPECT_NEAR((t.u.transpose() * t.u - MatrixXd::Identity(8, 8)).norm(), 0, 1e-12);
  // Reversed B shares A's vectors: Uᵀ B V = diag(s reversed).
  const MatrixXd core = t.u.transpose() * t.b * t.v;
  for (int i = 0; i < 8; ++i) EXPECT_NEAR(core(i, i), 1.0 / (8 - i), 1e-12);
  c.spectrum = "geometric";
  c.ratio = 0.5;
  EXPECT_NEAR(TeacherSpectrum(c)[3], 0.125, 1e-15);
  c.ft_teacher = "rotated";
  c.ft_angle =
      90;  // swaps each pair of singular directions: B's spectrum is A's, its vectors are not
  const Teachers r = MakeTeachers(c);
  Eigen::JacobiSVD<MatrixXd> svd_b(r.b);
  for (int i = 0; i < 8; ++i) EXPECT_NEAR(svd_b.singularValues()[i], std::pow(0.5, i), 1e-12);
  EXPECT_NEAR(std::abs((r.u.col(0).transpose() * r.b * r.v.col(0))(0, 0)), 0.5, 1e-12);
}

// Central differences of the full (anchored, finite-sample) objective vs the analytic gradients.
TEST(LinearNet, GradientMatchesCentralDifferences) {
  TheoryConfig c = Small(5, 3);
  const Teachers t = MakeTeachers(c);
  const Objective obj = SampleObjective(t.a, 9, 0.3, 4, 0);
  const Student w = RandomStudent(5, 3, 0.5, 11), pre = RandomStudent(5, 3, 0.5, 12);
  const Anchor anchor{&pre, 0.7};
  auto total = [&](const Student& s) {
    return obj.Loss(s.Product()) +
           0.5 * anchor.lambda * ((s.w1 - pre.w1).squaredNorm() + (s.w2 - pre.w2).squaredNorm());
  };
  MatrixXd g1, g2;
  Gradients(w, obj, anchor, g1, g2);
  const double h = 1e-6;  // central differences in double: error O(h²) ≈ 1e-12, rounding ≈ 1e-10
  double dot = 0, nn = 0, aa = 0;
  for (int which = 0; which < 2; ++which) {
    const MatrixXd& g = which == 0 ? g1 : g2;
    for (int i = 0; i < g.size(); ++i) {
      Student p = w, m = w;
      (which == 0 ? p.w1 : p.w2).data()[i] += h;
      (which == 0 ? m.w1 : m.w2).data()[i] -= h;
      const double num = (total(p) - total(m)) / (2 * h);
      EXPECT_NEAR(g.data()[i], num, 1e-7 * std::max(1.0, std::abs(num)));
      dot += num * g.data()[i], nn += num * num, aa += g.data()[i] * g.data()[i];
    }
  }
  EXPECT_GT(dot / std::sqrt(nn * aa), 1 - 1e-10);
}

TEST(LinearNet, PopulationObjectiveIsHalfSquaredDistance) {
  TheoryConfig c = Small(6, 4);
  const Teachers t = MakeTeachers(c);
  const Student w = RandomStudent(6, 4, 0.5, 5);
  EXPECT_NEAR(PopulationObjective(t.a).Loss(w.Product()), PopulationLoss(w, t.a), 1e-12);
  // A large noiseless sample approaches the population loss (Σ → I at rate 1/√n).
  const Objective big = SampleObjective(t.a, 20000, 0.0, 1, 0);
  EXPECT_NEAR(big.Loss(w.Product()), PopulationLoss(w, t.a), 0.05 * PopulationLoss(w, t.a));
}

TEST(LinearNet, ZeroInitStaysAtZero) {
  TheoryConfig c = Small(8, 8);
  c.init_std = 0;
  const Teachers t = MakeTeachers(c);
  for (bool flow : {false, true}) {
    Student w = InitStudent(c);
    Advance(w, PopulationObjective(t.a), 0.05, 500, flow, 4);
    EXPECT_EQ(w.w1.cwiseAbs().maxCoeff(), 0.0);
    EXPECT_EQ(w.w2.cwiseAbs().maxCoeff(), 0.0);
    EXPECT_DOUBLE_EQ(PopulationLoss(w, t.a), 0.5 * t.a.squaredNorm());
  }
}

// With k = d and a tiny step, mode i (projection u_iᵀ W₂W₁ v_i) crosses s_i/2 in order, largest
// first, and the learned singular values end at the teacher's.
TEST(LinearNet, LearnsSingularValuesLargestFirst) {
  TheoryConfig c = Small(8, 8);
  const Teachers t = MakeTeachers(c);
  const Objective obj = PopulationObjective(t.a);
  Student w = InitStudent(c);
  const double eta = 0.01;
  std::vector<int64_t> crossed(8, -1);
  for (int64_t step = 1; step <= 20000; ++step) {
    Advance(w, obj, eta, 1, false, 1);
    const MatrixXd modes = t.u.transpose() * w.Product() * t.v;
    for (int i = 0; i < 8; ++i)
      if (crossed[i] < 0 && modes(i, i) > 0.5 * t.s[i]) crossed[i] = step;
  }
  for (int i = 0; i < 8; ++i)
    ASSERT_GT(crossed[i], 0) << "mode " << i << " never reached half its target";
  for (int i = 1; i < 8; ++i) EXPECT_GT(crossed[i], crossed[i - 1]) << "mode " << i;
  // Hand estimate: from a tiny balanced start, σ_i grows like e^{2 s_i t}, so the crossing time
  // scales as 1/s_i up to a log factor; mode 1 vs mode 8 should differ by roughly 8x (loosely:
  // 4x..16x).
  const double ratio = static_cast<double>(crossed[7]) / crossed[0];
  EXPECT_GT(ratio, 4);
  EXPECT_LT(ratio, 16);
  const VectorXd sv = LearnedSingularValues(w);
  for (int i = 0; i < 8; ++i) EXPECT_NEAR(sv[i], t.s[i], 1e-3);
}

// Gradient flow (RK4) and GD at a small step agree to first order in η; flow is insensitive to
// substeps.
TEST(LinearNet, FlowMatchesSmallStepDescent) {
  TheoryConfig c = Small(6, 6);
  c.init_std = 0.05;
  const Teachers t = MakeTeachers(c);
  const Objective obj = PopulationObjective(t.a);
  Student flow4 = InitStudent(c), flow16 = InitStudent(c), gd = InitStudent(c);
  Advance(flow4, obj, 0.05, 400, true, 4);  // time 20
  Advance(flow16, obj, 0.05, 400, true, 16);
  Advance(gd, obj, 0.0005, 40000, false, 1);  // same time, step 100x smaller
  EXPECT_LT((flow4.Product() - flow16.Product()).norm(), 1e-8);
  EXPECT_LT((flow4.Product() - gd.Product()).norm(), 5e-3);
  EXPECT_LT(PopulationLoss(flow4, t.a), 0.5 * t.a.squaredNorm());
}

// Finite sample with label noise: from small init, GD converges to the least-squares fit P* = C Σ⁻¹
// (n > d so Σ is invertible), not to the teacher; its population loss is then above zero.
TEST(LinearNet, FiniteSampleConvergesToLeastSquares) {
  TheoryConfig c = Small(5, 5);
  c.samples = 40;
  c.label_noise = 0.2;
  c.spectrum = "list";
  c.values = {1.0, 0.8, 0.6, 0.5, 0.4};
  const Teachers t = MakeTeachers(c);
  const Objective obj = TrainingObjective(c, t.a, 0);
  Student w = InitStudent(c);
  Advance(w, obj, 0.05, 6000, false, 1);
  const MatrixXd least_squares = obj.cross * obj.sigma.inverse();
  EXPECT_LT((w.Product() - least_squares).norm(), 1e-6);
  EXPECT_GT(PopulationLoss(w, t.a), 1e-4);
  EXPECT_LT(obj.Loss(w.Product()), obj.Loss(t.a));  // fits its sample better than the teacher does
}

}  // namespace
}  // namespace ot::theory
