// Muon: Newton–Schulz against a double iteration and the singular-value band it converges to, a
// step of a hidden matrix worked by hand, the AdamW part bit-identical to AdamW, decay segments,
// state and thread invariance. Against reference/reference.py's float64 Muon:
// tests/bench/optim_parity_test.cc.
#include "optim/muon.h"

#include <gtest/gtest.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "core/rng.h"
#include "model/init.h"
#include "model/layout.h"
#include "optim/newton_schulz_bound.h"
#include "optim/param_groups.h"

namespace ot {
namespace {

// Eigenvalues of a symmetric n x n matrix (row-major, destroyed), cyclic Jacobi in double until the
// off-diagonal mass is below 1e-30 of the total: exact to double rounding for the sizes used here.
std::vector<double> SymmetricEigenvalues(std::vector<double> a, int n) {
  for (int sweep = 0; sweep < 100; ++sweep) {
    double off = 0, all = 0;
    for (int i = 0; i < n; ++i)
      for (int j = 0; j < n; ++j) (i == j ? all : off) += a[i * n + j] * a[i * n + j];
    if (off <= 1e-30 * (all + off)) break;
    for (int p = 0; p < n; ++p)
      for (int q = p + 1; q < n; ++q) {
        if (a[p * n + q] == 0) continue;
        const double theta = (a[q * n + q] - a[p * n + p]) / (2 * a[p * n + q]);
        const double t = (theta >= 0 ? 1 : -1) / (std::abs(theta) + std::sqrt(theta * theta + 1));
        const double c = 1 / std::sqrt(t * t + 1), s = t * c;
        for (int k = 0; k < n; ++k) {  // columns p, q
          const double akp = a[k * n + p], akq = a[k * n + q];
          a[k * n + p] = c * akp - s * akq;
          a[k * n + q] = s * akp + c * akq;
        }
        for (int k = 0; k < n; ++k) {  // rows p, q
          const double apk = a[p * n + k], aqk = a[q * n + k];
          a[p * n + k] = c * apk - s * aqk;
          a[q * n + k] = s * apk + c * aqk;
        }
      }
  }
  std::vector<double> out(n);
  for (int i = 0; i < n; ++i) out[i] = a[i * n + i];
  return out;
}

// Singular values (ascending) of a (rows, cols) matrix: sqrt of the eigenvalues of the smaller
// Gram.
template <typename T>
std::vector<double> SingularValues(const T* x, int rows, int cols) {
  const bool tall = rows > cols;
  const int r = tall ? cols : rows, c = tall ? rows : cols;
  const auto at = [&](int i, int k) {
    return double(tall ? x[int64_t{k} * cols + i] : x[int64_t{i} * cols + k]);
  };
  std::vector<double> gram(int64_t{r} * r, 0.0);
  for (int i = 0; i < r; ++i)
    for (int j = 0; j < r; ++j)
      for (int k = 0; k < c; ++k) gram[i * r + j] += at(i, k) * at(j, k);
  std::vector<double> ev = SymmetricEigenvalues(gram, r);
  for (double& e : ev) e = std::sqrt(std::max(e, 0.0));
  std::sort(ev.begin(), ev.end());
  return ev;
}

// The same iteration in double (muon.h), with the norms NewtonSchulzErrorBound needs.
struct DoubleNs {
  std::vector<double> out;  // (rows, cols)
  std::vector<NsIterationNorms> its;
};

double Frobenius(const std::vector<double>& x) {
  double s = 0;
  for (double v : x) s += v * v;
  return std::sqrt(s);
}

DoubleNs NewtonSchulzDouble(const std::vector<float>& g, int rows, int cols, int steps) {
  const double a = 3.4445, b = -4.7750, c = 2.0315;  // Jordan's coefficients, exactly as published
  const bool tall = rows > cols;
  const int r = tall ? cols : rows, n = tall ? rows : cols;
  std::vector<double> X(int64_t{r} * n);
  for (int i = 0; i < rows; ++i)
    for (int j = 0; j < cols; ++j)
      (tall ? X[int64_t{j} * n + i] : X[int64_t{i} * n + j]) = g[int64_t{i} * cols + j];
  const double norm = Frobenius(X);
  for (double& v : X) v /= norm + 1e-7;
  DoubleNs res;
  double spectral = SingularValues(X.data(), r, n).back();
  const auto matmul = [](const std::vector<double>& P, const std::vector<double>& Q, int m, int k,
                         int q, bool q_transposed) {
    std::vector<double> out(int64_t{m} * q, 0.0);
    for (int i = 0; i < m; ++i)
      for (int j = 0; j < q; ++j) {
        double s = 0;
        for (int l = 0; l < k; ++l)
          s += P[int64_t{i} * k + l] *
               (q_transposed ? Q[int64_t{j} * k + l] : Q[int64_t{l} * q + j]);
        out[int64_t{i} * q + j] = s;
      }
    return out;
  };
  for (int s = 0; s < steps; ++s) {
    NsIterationNorms t;
    const std::vector<double> A = matmul(X, X, r, n, r, true), A2 = matmul(A, A, r, r, r, false);
    std::vector<double> B(A.size());
    for (size_t i = 0; i < B.size(); ++i) B[i] = b * A[i] + c * A2[i];
    const std::vector<double> BX = matmul(B, X, r, r, n, false);
    std::vector<double> next(X.size());
    for (size_t i = 0; i < X.size(); ++i) next[i] = a * X[i] + BX[i];
    t.x = Frobenius(X), t.a = Frobenius(A), t.a2 = Frobenius(A2), t.b = Frobenius(B),
    t.bx = Frobenius(BX);
    t.x_next = Frobenius(next);
    const auto abs = [](std::vector<double> m) {
      for (double& v : m) v = std::abs(v);
      return m;
    };
    t.abs_xx = Frobenius(matmul(abs(X), abs(X), r, n, r, true));
    t.abs_aa = Frobenius(matmul(abs(A), abs(A), r, r, r, false));
    t.abs_bx = Frobenius(matmul(abs(B), abs(X), r, r, n, false));
    t.x_spectral = spectral;
    t.x_next_spectral = spectral = SingularValues(next.data(), r, n).back();
    res.its.push_back(t);
    X = next;
  }
  res.out.assign(int64_t{rows} * cols, 0.0);
  for (int i = 0; i < rows; ++i)
    for (int j = 0; j < cols; ++j)
      res.out[int64_t{i} * cols + j] = tall ? X[int64_t{j} * n + i] : X[int64_t{i} * n + j];
  return res;
}

std::vector<float> RunNewtonSchulz(const std::vector<float>& g, int rows, int cols, int steps = 5) {
  std::vector<float> out(g.size()), scratch(NewtonSchulzScratchSize(rows, cols));
  NewtonSchulz5(out.data(), g.data(), rows, cols, steps, scratch.data());
  return out;
}

// ‖ours − exact‖_F and its derived bound (input: X_0 = g/‖g‖ carries 2u·‖X_0‖_F = 2u from the
// division and the float rounding of 1/‖g‖).
struct NsCheck {
  double error = 0, bound = 0;
};
NsCheck CheckAgainstDouble(const std::vector<float>& ours, const std::vector<float>& g, int rows,
                           int cols, const DoubleNs& exact) {
  double err = 0;
  for (size_t i = 0; i < ours.size(); ++i)
    err += (ours[i] - exact.out[i]) * (ours[i] - exact.out[i]);
  return {std::sqrt(err), NewtonSchulzErrorBound(exact.its, rows, cols, 2 * std::ldexp(1.0, -24))};
}

// Hand-worked: diag(3, 4) normalises to singular values 0.6 and 0.8 (‖·‖_F = 5), and the iteration
// acts on each by p(σ) = 3.4445σ − 4.775σ³ + 2.0315σ⁵:
//   0.6 → 1.1932694 → 0.9119177 → 0.8011377 → 0.9747024 → 0.7228762
//   0.8 → 0.9764819 → 0.7211176 → 1.0894568 → 0.6960447 → 1.1192039
// (the 1e-7 in the denominator moves these by < 1e-7). Wide (2,3) and tall (3,2) embeddings of the
// same diagonal give the same values: the zero column/row stays zero, and the tall one takes the
// transposed path.
TEST(NewtonSchulz, DiagonalMatchesScalarIterationByHand) {
  struct Shape {
    int rows, cols;
  };
  for (const Shape s : {Shape{2, 2}, Shape{2, 3}, Shape{3, 2}}) {
    std::vector<float> g(s.rows * s.cols, 0.0f);
    g[0] = 3.0f;
    g[s.cols + 1] = 4.0f;
    const std::vector<float> o = RunNewtonSchulz(g, s.rows, s.cols);
    const NsCheck check =
        CheckAgainstDouble(o, g, s.rows, s.cols, NewtonSchulzDouble(g, s.rows, s.cols, 5));
    const double tol = check.bound + 1e-7;  // + the hand values' 7-digit rounding
    for (int i = 0; i < s.rows; ++i)
      for (int j = 0; j < s.cols; ++j) {
        const double want = i == 0 && j == 0 ? 0.7228762 : i == 1 && j == 1 ? 1.1192039 : 0.0;
        EXPECT_NEAR(o[i * s.cols + j], want, tol)
            << s.rows << "x" << s.cols << " (" << i << "," << j << ")";
      }
  }
}

// Random Gaussian matrices, wide, tall and square: (1) ours vs the double iteration within the
// derived bound; (2) the singular values of O are the quintic's 5-fold image of X_0's (sorted,
// within the bound); (3) for the rectangular ones, whose normalised σ all exceed 0.01, they lie in
// the band that 5 steps reach (muon.h): [0.6818, 1.1344], widened by the bound.
TEST(NewtonSchulz, SingularValuesInTheQuinticBand) {
  struct Shape {
    int rows, cols;
    bool banded;
  };
  double lo = 1e9, hi = 0, worst = 0;
  for (const Shape s : {Shape{24, 64, true}, Shape{64, 24, true}, Shape{48, 48, false}}) {
    SCOPED_TRACE(std::to_string(s.rows) + "x" + std::to_string(s.cols));
    const uint64_t key = RngKey(5, StreamId("muon-test"), s.rows, s.cols);
    std::vector<float> g(s.rows * s.cols);
    for (size_t i = 0; i < g.size(); ++i) g[i] = static_cast<float>(NormalAt(key, i));
    const std::vector<float> o = RunNewtonSchulz(g, s.rows, s.cols);
    const DoubleNs exact = NewtonSchulzDouble(g, s.rows, s.cols, 5);
    const NsCheck check = CheckAgainstDouble(o, g, s.rows, s.cols, exact);
    EXPECT_LE(check.error, check.bound);
    worst = std::max(worst, check.error / check.bound);
    // Singular values of X_0 = g/(‖g‖ + 1e-7), mapped by the scalar quintic.
    double norm = 0;
    for (float v : g) norm += double(v) * v;
    std::vector<double> x0(g.begin(), g.end());
    for (double& v : x0) v /= std::sqrt(norm) + 1e-7;
    std::vector<double> predicted = SingularValues(x0.data(), s.rows, s.cols);
    if (s.banded) {
      EXPECT_GT(predicted.front(), 0.01);
    }
    for (double& sigma : predicted)
      for (int k = 0; k < 5; ++k)
        sigma = 3.4445 * sigma - 4.7750 * std::pow(sigma, 3) + 2.0315 * std::pow(sigma, 5);
    std::sort(predicted.begin(), predicted.end());
    const std::vector<double> got = SingularValues(o.data(), s.rows, s.cols);
    // |σ_i(O) − σ_i(O_exact)| <= ‖δO‖_2 <= ‖δO‖_F (Weyl); the double Jacobi adds ~1e-15.
    for (size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], predicted[i], check.bound) << i;
    if (s.banded) {
      EXPECT_GE(got.front(), 0.6818 - check.bound);
      EXPECT_LE(got.back(), 1.1344 + check.bound);
    }
    lo = std::min(lo, got.front());
    hi = std::max(hi, got.back());
    std::printf("  %dx%d: sigma(O) in [%.4f, %.4f]; |O - O_double|_F = %.2e, bound %.2e\n", s.rows,
                s.cols, got.front(), got.back(), check.error, check.bound);
  }
  std::printf(
      "  worst Newton-Schulz error %.2e of its bound; sigma(O) over all shapes in [%.4f, %.4f]\n",
      worst, lo, hi);
}

// The model the Muon tests step: pico-16, two layers, tied head.
const ParamLayout& Pico() {
  static const ParamLayout layout = ParamLayout::ForModel(ModelConfig::FromPreset("pico-16"));
  return layout;
}

MuonConfig TestConfig() {
  MuonConfig c;
  c.momentum = 0.95;
  c.ns_steps = 5;
  c.adamw = AdamWConfig{.beta1 = 0.9, .beta2 = 0.95, .eps = 1e-8, .weight_decay = 0.1};
  return c;
}

// A step worked by hand. The gradient is 0 except entry (0,0) of one matrix (q: 16x16, scale
// 0.2·√16 = 0.8; gate: (F,16) tall; down: (16,F) wide; scale 0.2·√F). lr 0.01, wd 0.1: keep =
// 0.999. Step 1, g = 1: buf = 1, U = 1 + 0.95 = 1.95 at (0,0): rank one, σ(X_0) = 1.95/(1.95 +
// 1e-7), and
//   O(0,0) = p⁵(σ) = 0.6964365 (σ: 1 → 0.701 → 1.1136202 → 0.7207059 → 1.0899742 → 0.6964365), 0
//   elsewhere. p(0,0) ← p·0.999 − 0.01·scale·0.6964365; every other entry ← p·0.999.
// Step 2, g = −0.5: buf = 0.95·1 − 0.5 = 0.45, U = −0.5 + 0.95·0.45 = −0.0725 (Nesterov: plain
// momentum
//   would step along +0.45), σ = 0.0725/(0.0725 + 1e-7) → O(0,0) = −0.6964378.
// Matrices with zero gradient get U = 0 → O = 0: decay only, and none when their group does not
// decay.
TEST(Muon, HiddenMatrixStepMatchesHandComputation) {
  const ParamLayout& layout = Pico();
  for (const char* name :
       {"model.layers.0.self_attn.q_proj.weight", "model.layers.1.mlp.gate_proj.weight",
        "model.layers.0.mlp.down_proj.weight"}) {
    SCOPED_TRACE(name);
    const TensorInfo& t = layout.Get(name);
    const int rows = static_cast<int>(t.shape[0]), cols = static_cast<int>(t.shape[1]);
    const double scale = 0.2 * std::sqrt(double(std::max(rows, cols)));
    EXPECT_DOUBLE_EQ(Muon::UpdateScale(rows, cols), scale);
    Muon opt(layout, TestConfig(), DecaySegmentsFor(layout, DefaultDecayGroups()));
    Muon no_decay(layout, TestConfig(), DecaySegmentsFor(layout, {"embed"}));
    std::vector<float> p(layout.total());
    InitParams(layout, p, 3);
    std::vector<float> q = p;
    const std::vector<float> p0 = p;
    std::vector<float> g(layout.total(), 0.0f);
    // The rank-one iteration: each product has one nonzero term, so the bound of the hand values is
    // the derived Newton–Schulz bound on that input plus the constants' 7-digit rounding; p·keep
    // and the subtraction add 3 roundings of |p| + |step|.
    std::vector<float> unit(int64_t{rows} * cols, 0.0f);
    unit[0] = 1.0f;
    const NsCheck ns = CheckAgainstDouble(RunNewtonSchulz(unit, rows, cols), unit, rows, cols,
                                          NewtonSchulzDouble(unit, rows, cols, 5));
    const double o_tol = 0.01 * scale * (ns.bound + 1e-7);
    const float keep = 0.999f;
    const double o1 = 0.6964365, o2 = -0.6964378;
    g[t.offset] = 1.0f;
    opt.Step(p, g, 0.01);
    no_decay.Step(q, g, 0.01);
    const double want1 = double(p0[t.offset]) * keep - 0.01 * scale * o1;
    const double rounding1 = 3 * std::ldexp(std::abs(want1) + 0.01 * scale, -24);
    EXPECT_NEAR(p[t.offset], want1, o_tol + rounding1);
    EXPECT_NEAR(q[t.offset], double(p0[t.offset]) - 0.01 * scale * o1, o_tol + rounding1);
    g[t.offset] = -0.5f;
    opt.Step(p, g, 0.01);
    const double want2 = want1 * keep - 0.01 * scale * o2;
    EXPECT_NEAR(p[t.offset], want2,
                2 * o_tol + rounding1 + 3 * std::ldexp(std::abs(want2) + 0.01 * scale, -24));
    EXPECT_NEAR(opt.State()[0].data[t.offset], 0.45f,
                1e-7);  // momentum_buffer: 0.95·1 − 0.5, one rounding
    // Every other entry of every hidden matrix: decay only (twice), or untouched without decay.
    for (const auto& other : layout.tensors()) {
      if (!Muon::IsHiddenMatrix(other)) continue;
      for (int64_t i = other.offset; i < other.offset + other.size; ++i) {
        if (i == t.offset) continue;
        ASSERT_EQ(p[i], p0[i] * keep * keep) << other.name << " " << i;
        ASSERT_EQ(q[i], p0[i]) << other.name << " " << i;
      }
    }
  }
}

std::vector<float> RandomGrads(const ParamLayout& layout, int step) {
  std::vector<float> g(layout.total());
  const uint64_t key = RngKey(11, StreamId("muon-grads"), step);
  for (size_t i = 0; i < g.size(); ++i) g[i] = static_cast<float>(0.01 * NormalAt(key, i));
  return g;
}

// Embedding, norm gains (and the head when untied) follow AdamW bit for bit: same config, same
// decay segments, same arithmetic (adamw_update.h). The hidden matrices do not (checked so the test
// can fail).
TEST(Muon, OtherTensorsUpdatedExactlyAsAdamW) {
  ModelConfig config = ModelConfig::FromPreset("pico-16");
  config.tied_head = false;
  const ParamLayout layout = ParamLayout::ForModel(config);
  const MuonConfig mc = TestConfig();
  const auto segments = DecaySegmentsFor(layout, DefaultDecayGroups());
  Muon muon(layout, mc, segments);
  AdamW adamw(layout.total(), mc.adamw, segments);
  std::vector<float> p(layout.total());
  InitParams(layout, p, 4);
  std::vector<float> q = p;
  for (int s = 0; s < 3; ++s) {
    const std::vector<float> g = RandomGrads(layout, s);
    muon.Step(p, g, 3e-3);
    adamw.Step(q, g, 3e-3);
  }
  int adam_tensors = 0, matrices_moved = 0;
  for (const auto& t : layout.tensors()) {
    const auto muon_m = muon.State()[1].data, muon_v = muon.State()[2].data;
    if (Muon::IsHiddenMatrix(t)) {
      bool differs = false;
      for (int64_t i = t.offset; i < t.offset + t.size; ++i) {
        differs |= p[i] != q[i];
        ASSERT_EQ(muon_m[i], 0.0f) << t.name;  // no AdamW state on the matrices
      }
      matrices_moved += differs;
      continue;
    }
    ++adam_tensors;
    for (int64_t i = t.offset; i < t.offset + t.size; ++i) {
      ASSERT_EQ(p[i], q[i]) << t.name << " " << i - t.offset;
      ASSERT_EQ(muon_m[i], adamw.m()[i]) << t.name;
      ASSERT_EQ(muon_v[i], adamw.v()[i]) << t.name;
    }
  }
  EXPECT_GE(adam_tensors, 3);  // embed, norms, final norm, head
  EXPECT_EQ(matrices_moved, 7 * config.n_layers);
}

TEST(Muon, StateExposedByNameAndReset) {
  Muon opt(Pico(), TestConfig(), DecaySegmentsFor(Pico(), DefaultDecayGroups()));
  std::vector<float> p(Pico().total(), 0.5f);
  opt.Step(p, RandomGrads(Pico(), 0), 1e-3);
  auto state = opt.State();
  ASSERT_EQ(state.size(), 3u);
  EXPECT_EQ(state[0].name, "momentum_buffer");
  EXPECT_EQ(state[1].name, "exp_avg");
  EXPECT_EQ(state[2].name, "exp_avg_sq");
  for (const auto& s : state) EXPECT_EQ(static_cast<int64_t>(s.data.size()), Pico().total());
  const int64_t q = Pico().Get("model.layers.0.self_attn.q_proj.weight").offset;
  EXPECT_EQ(state[0].data[q], RandomGrads(Pico(), 0)[q]);  // buf = g on step 1
  opt.Reset();
  EXPECT_EQ(opt.State()[0].data[q], 0.0f);
  EXPECT_EQ(opt.step_count(), 0);
}

TEST(Muon, SameBitsAtOneAndTwoThreads) {
  const ParamLayout layout = ParamLayout::ForModel(ModelConfig::FromPreset("pico-48"));
  std::vector<float> results[2];
  for (int threads = 1; threads <= 2; ++threads) {
    omp_set_num_threads(threads);
    Muon opt(layout, TestConfig(), DecaySegmentsFor(layout, DefaultDecayGroups()));
    std::vector<float> p(layout.total());
    InitParams(layout, p, 9);
    for (int s = 0; s < 3; ++s) opt.Step(p, RandomGrads(layout, s), 1e-2);
    results[threads - 1] = p;
  }
  omp_set_num_threads(2);
  EXPECT_EQ(results[0], results[1]);
}

}  // namespace
}  // namespace ot
