// The two-layer linear network behind linear_net.h: config schema, teachers, training,
// perturbation.
#include "theory/linear_net.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <numbers>
#include <vector>

#include "core/rng.h"

namespace ot::theory {

const ConfigSchema<TheoryConfig>& TheorySchema() {
  static const ConfigSchema<TheoryConfig> schema = [] {
    using C = TheoryConfig;
    ConfigSchema<C> s;
    s.Field(
         "seed", "keys teacher vectors, init, noise draws and samples",
         [](C& c) -> int64_t& { return c.seed; }, AtLeast(0))
        .Field(
            "num_seeds", "independent replicates: seeds seed .. seed+num_seeds-1 (rows carry it)",
            [](C& c) -> int& { return c.num_seeds; }, Between(1, 1000))
        .Field(
            "teacher.d", "input = output dimension d", [](C& c) -> int& { return c.d; },
            Between(1, 512))
        .Field(
            "teacher.spectrum", "power (scale·i^-alpha) | geometric (scale·ratio^(i-1)) | list",
            [](C& c) -> std::string& { return c.spectrum; }, OneOf({"power", "geometric", "list"}))
        .Field(
            "teacher.alpha", "power-law exponent", [](C& c) -> double& { return c.alpha; },
            AtLeast(0))
        .Field(
            "teacher.ratio", "geometric ratio", [](C& c) -> double& { return c.ratio; },
            Between(1e-6, 1))
        .Field(
            "teacher.scale", "largest singular value (power, geometric)",
            [](C& c) -> double& { return c.scale; }, Above(0))
        .Field(
            "teacher.values", "singular values when spectrum = \"list\" (d of them)",
            [](C& c) -> std::vector<double>& { return c.values; }, AtLeast(0))
        .Field(
            "teacher.vectors", "singular vectors: random (Haar) | identity",
            [](C& c) -> std::string& { return c.vectors; }, OneOf({"random", "identity"}))
        .Field(
            "student.width", "hidden width k (W1 is k×d, W2 is d×k)",
            [](C& c) -> int& { return c.width; }, Between(1, 512))
        .Field(
            "student.init_std", "i.i.d. init std of W1, W2",
            [](C& c) -> double& { return c.init_std; }, AtLeast(0))
        .Field(
            "train.optimizer", "gd (step eta) | flow (RK4; one step = time eta)",
            [](C& c) -> std::string& { return c.optimizer; }, OneOf({"gd", "flow"}))
        .Field(
            "train.eta", "pre-training step size", [](C& c) -> double& { return c.eta; }, Above(0))
        .Field(
            "train.flow_substeps", "RK4 sub-steps per step (flow)",
            [](C& c) -> int& { return c.flow_substeps; }, AtLeast(1))
        .Field(
            "train.checkpoints", "explicit checkpoint steps (ascending); empty = log-spaced",
            [](C& c) -> std::vector<int64_t>& { return c.checkpoints; }, AtLeast(0))
        .Field(
            "train.num_checkpoints", "log-spaced checkpoint count",
            [](C& c) -> int& { return c.num_checkpoints; }, AtLeast(2))
        .Field(
            "train.first_checkpoint", "first log-spaced checkpoint step",
            [](C& c) -> int64_t& { return c.first_checkpoint; }, AtLeast(1))
        .Field(
            "train.last_checkpoint", "last log-spaced checkpoint step",
            [](C& c) -> int64_t& { return c.last_checkpoint; }, AtLeast(1))
        .Field(
            "perturb.gammas", "noise scales γ",
            [](C& c) -> std::vector<double>& { return c.gammas; }, AtLeast(0))
        .Field(
            "perturb.draws", "Monte-Carlo draws K per checkpoint",
            [](C& c) -> int& { return c.draws; }, AtLeast(2))
        .Field(
            "finetune.teacher", "teacher B: reversed | rotated | list | bottom-scaled",
            [](C& c) -> std::string& { return c.ft_teacher; },
            OneOf({"reversed", "rotated", "list", "bottom-scaled"}))
        .Field(
            "finetune.bottom_scale", "bottom-scaled: factor on A's bottom-half singular values",
            [](C& c) -> double& { return c.ft_bottom_scale; }, AtLeast(0))
        .Field("finetune.angle",
               "rotated: Givens angle in degrees on vector pairs (1,2), (3,4), ...",
               [](C& c) -> double& { return c.ft_angle; })
        .Field(
            "finetune.values", "list: B = U diag(values) V^T",
            [](C& c) -> std::vector<double>& { return c.ft_values; }, AtLeast(0))
        .Field(
            "finetune.lrs", "fine-tuning step sizes",
            [](C& c) -> std::vector<double>& { return c.ft_lrs; }, Above(0))
        .Field(
            "finetune.steps", "fine-tuning steps", [](C& c) -> int& { return c.ft_steps; },
            AtLeast(0))
        .Field(
            "finetune.lambdas", "L2-SP strengths λ (0 = none)",
            [](C& c) -> std::vector<double>& { return c.ft_lambdas; }, AtLeast(0))
        .Field(
            "l2sp.teacher", "teacher of the L2-SP sweep (claim C8): reversed | bottom-scaled",
            [](C& c) -> std::string& { return c.l2sp_teacher; },
            OneOf({"reversed", "bottom-scaled"}))
        .Field(
            "l2sp.bottom_scale", "bottom-scaled: factor on A's bottom-half singular values",
            [](C& c) -> double& { return c.l2sp_bottom_scale; }, AtLeast(0))
        .Field(
            "l2sp.lr", "L2-SP sweep: fine-tuning step size",
            [](C& c) -> double& { return c.l2sp_lr; }, Above(0))
        .Field(
            "l2sp.steps", "L2-SP sweep: fine-tuning steps",
            [](C& c) -> int& { return c.l2sp_steps; }, AtLeast(0))
        .Field(
            "l2sp.lambdas", "L2-SP sweep: strengths λ (empty = no sweep)",
            [](C& c) -> std::vector<double>& { return c.l2sp_lambdas; }, AtLeast(0))
        .Field(
            "data.samples", "finite sample size n (0 = whitened population loss)",
            [](C& c) -> int& { return c.samples; }, AtLeast(0))
        .Field(
            "data.label_noise", "label noise std σ (finite sample only)",
            [](C& c) -> double& { return c.label_noise; }, AtLeast(0))
        .Rule({"teacher.spectrum", "teacher.values", "teacher.d"},
              [](const C& c) -> std::string {
                if (c.spectrum == "list" && static_cast<int>(c.values.size()) != c.d)
                  return fmt::format("spectrum = \"list\" needs d = {} values, got {}", c.d,
                                     c.values.size());
                return "";
              })
        .Rule({"finetune.teacher", "finetune.values", "teacher.d"},
              [](const C& c) -> std::string {
                if (c.ft_teacher == "list" && static_cast<int>(c.ft_values.size()) != c.d)
                  return fmt::format("teacher = \"list\" needs d = {} values, got {}", c.d,
                                     c.ft_values.size());
                return "";
              })
        .Rule({"train.checkpoints"},
              [](const C& c) -> std::string {
                for (size_t i = 1; i < c.checkpoints.size(); ++i)
                  if (c.checkpoints[i] <= c.checkpoints[i - 1])
                    return "expected strictly ascending steps";
                return "";
              })
        .Rule({"train.first_checkpoint", "train.last_checkpoint"},
              [](const C& c) -> std::string {
                return c.first_checkpoint < c.last_checkpoint ? "" : "expected first < last";
              })
        .Rule({"perturb.gammas", "finetune.lrs", "finetune.lambdas"},
              [](const C& c) -> std::string {
                return c.gammas.empty() || c.ft_lrs.empty() || c.ft_lambdas.empty()
                           ? "expected non-empty lists"
                           : "";
              });
    return s;
  }();
  return schema;
}

std::vector<int64_t> CheckpointSteps(const TheoryConfig& c) {
  if (!c.checkpoints.empty()) return c.checkpoints;
  std::vector<int64_t> steps;
  const double lo = std::log(static_cast<double>(c.first_checkpoint));
  const double hi = std::log(static_cast<double>(c.last_checkpoint));
  for (int i = 0; i < c.num_checkpoints; ++i) {
    const auto t =
        static_cast<int64_t>(std::llround(std::exp(lo + (hi - lo) * i / (c.num_checkpoints - 1))));
    if (steps.empty() || t > steps.back()) steps.push_back(t);
  }
  return steps;
}

VectorXd TeacherSpectrum(const TheoryConfig& c) {
  VectorXd s(c.d);
  for (int i = 0; i < c.d; ++i) {
    if (c.spectrum == "power")
      s[i] = c.scale * std::pow(i + 1.0, -c.alpha);
    else if (c.spectrum == "geometric")
      s[i] = c.scale * std::pow(c.ratio, i);
    else
      s[i] = c.values[i];
  }
  std::sort(s.data(), s.data() + s.size(), std::greater<>());
  return s;
}

// A Haar-distributed orthogonal d×d matrix: QR of a Gaussian matrix with R's diagonal made
// positive.
static MatrixXd RandomOrthogonal(int d, uint64_t key) {
  MatrixXd g(d, d);
  for (int r = 0; r < d; ++r)
    for (int col = 0; col < d; ++col) g(r, col) = NormalAt(key, static_cast<uint64_t>(r) * d + col);
  Eigen::HouseholderQR<MatrixXd> qr(g);
  MatrixXd q = qr.householderQ() * MatrixXd::Identity(d, d);
  const MatrixXd rr = qr.matrixQR();
  for (int i = 0; i < d; ++i)
    if (rr(i, i) < 0) q.col(i) *= -1;
  return q;
}

Teachers MakeTeachers(const TheoryConfig& c) {
  Teachers t;
  t.s = TeacherSpectrum(c);
  if (c.vectors == "identity") {
    t.u = t.v = MatrixXd::Identity(c.d, c.d);
  } else {
    t.u = RandomOrthogonal(c.d, RngKey(c.seed, StreamId("theory.teacher"), 0));
    t.v = RandomOrthogonal(c.d, RngKey(c.seed, StreamId("theory.teacher"), 1));
  }
  t.a = t.u * t.s.asDiagonal() * t.v.transpose();
  const auto with_values = [&](const VectorXd& vals) -> MatrixXd {
    return t.u * vals.asDiagonal() * t.v.transpose();
  };
  t.b_l2sp = c.l2sp_teacher == "reversed"
                 ? with_values(t.s.reverse())
                 : with_values(BottomScaledSpectrum(t.s, c.l2sp_bottom_scale));
  if (c.ft_teacher == "reversed") {
    t.b = with_values(t.s.reverse());
  } else if (c.ft_teacher == "bottom-scaled") {
    t.b = with_values(BottomScaledSpectrum(t.s, c.ft_bottom_scale));
  } else if (c.ft_teacher == "list") {
    const VectorXd vals = Eigen::Map<const VectorXd>(c.ft_values.data(), c.d);
    t.b = t.u * vals.asDiagonal() * t.v.transpose();
  } else {  // rotated: both singular bases turned by the same pairwise Givens rotation G.
    MatrixXd g = MatrixXd::Identity(c.d, c.d);
    const double th = c.ft_angle * std::numbers::pi / 180.0;
    for (int i = 0; i + 1 < c.d; i += 2) {
      g(i, i) = std::cos(th), g(i, i + 1) = -std::sin(th);
      g(i + 1, i) = std::sin(th), g(i + 1, i + 1) = std::cos(th);
    }
    t.b = (t.u * g) * t.s.asDiagonal() * (t.v * g).transpose();
  }
  return t;
}

VectorXd BottomScaledSpectrum(const VectorXd& s, double scale) {
  VectorXd out = s;
  out.tail(s.size() / 2) *= scale;  // odd d: the middle value stays in the (unchanged) top half
  return out;
}

Student InitStudent(const TheoryConfig& c) {
  Student w;
  w.w1.resize(c.width, c.d);
  w.w2.resize(c.d, c.width);
  const uint64_t k1 = RngKey(c.seed, StreamId("theory.init"), 1),
                 k2 = RngKey(c.seed, StreamId("theory.init"), 2);
  for (int r = 0; r < c.width; ++r)
    for (int col = 0; col < c.d; ++col)
      w.w1(r, col) = c.init_std * NormalAt(k1, static_cast<uint64_t>(r) * c.d + col);
  for (int r = 0; r < c.d; ++r)
    for (int col = 0; col < c.width; ++col)
      w.w2(r, col) = c.init_std * NormalAt(k2, static_cast<uint64_t>(r) * c.width + col);
  return w;
}

double Objective::Loss(const MatrixXd& p) const {
  return 0.5 * (p * sigma * p.transpose()).trace() - (p * cross.transpose()).trace() + 0.5 * c0;
}

Objective PopulationObjective(const MatrixXd& teacher) {
  return {MatrixXd::Identity(teacher.cols(), teacher.cols()), teacher, teacher.squaredNorm()};
}

Objective SampleObjective(const MatrixXd& teacher, int n, double label_noise, int64_t seed,
                          int which) {
  const int d = static_cast<int>(teacher.cols());
  const uint64_t kx = RngKey(seed, StreamId("theory.data"), which, 0);
  const uint64_t ke = RngKey(seed, StreamId("theory.data"), which, 1);
  MatrixXd x(d, n), e(teacher.rows(), n);
  for (int j = 0; j < n; ++j)
    for (int i = 0; i < d; ++i) x(i, j) = NormalAt(kx, static_cast<uint64_t>(j) * d + i);
  for (int j = 0; j < n; ++j)
    for (int i = 0; i < e.rows(); ++i)
      e(i, j) = NormalAt(ke, static_cast<uint64_t>(j) * e.rows() + i);
  const MatrixXd y = teacher * x + label_noise * e;
  return {x * x.transpose() / n, y * x.transpose() / n, y.squaredNorm() / n};
}

Objective TrainingObjective(const TheoryConfig& c, const MatrixXd& teacher, int which) {
  return c.samples > 0 ? SampleObjective(teacher, c.samples, c.label_noise, c.seed, which)
                       : PopulationObjective(teacher);
}

void Gradients(const Student& w, const Objective& obj, const Anchor& anchor, MatrixXd& g1,
               MatrixXd& g2) {
  const MatrixXd g = obj.Gradient(w.w2 * w.w1);
  g1.noalias() = w.w2.transpose() * g;
  g2.noalias() = g * w.w1.transpose();
  if (anchor.weights && anchor.lambda > 0) {
    g1 += anchor.lambda * (w.w1 - anchor.weights->w1);
    g2 += anchor.lambda * (w.w2 - anchor.weights->w2);
  }
}

void Advance(Student& w, const Objective& obj, double eta, int64_t steps, bool flow, int substeps,
             const Anchor& anchor) {
  MatrixXd g1, g2;
  if (!flow) {
    for (int64_t t = 0; t < steps; ++t) {
      Gradients(w, obj, anchor, g1, g2);
      w.w1 -= eta * g1;
      w.w2 -= eta * g2;
    }
    return;
  }
  // Classical RK4 on dW/dt = −∇L with h = eta / substeps.
  const double h = eta / substeps;
  Student k1, k2, k3, k4, tmp;
  auto deriv = [&](const Student& at, Student& out) {
    Gradients(at, obj, anchor, out.w1, out.w2);
    out.w1 *= -1;
    out.w2 *= -1;
  };
  for (int64_t t = 0; t < steps * substeps; ++t) {
    deriv(w, k1);
    tmp.w1 = w.w1 + 0.5 * h * k1.w1, tmp.w2 = w.w2 + 0.5 * h * k1.w2;
    deriv(tmp, k2);
    tmp.w1 = w.w1 + 0.5 * h * k2.w1, tmp.w2 = w.w2 + 0.5 * h * k2.w2;
    deriv(tmp, k3);
    tmp.w1 = w.w1 + h * k3.w1, tmp.w2 = w.w2 + h * k3.w2;
    deriv(tmp, k4);
    w.w1 += (h / 6) * (k1.w1 + 2 * k2.w1 + 2 * k3.w1 + k4.w1);
    w.w2 += (h / 6) * (k1.w2 + 2 * k2.w2 + 2 * k3.w2 + k4.w2);
  }
}

double PopulationLoss(const Student& w, const MatrixXd& a) {
  return 0.5 * (w.Product() - a).squaredNorm();
}

// Derivation. With M = W₂W₁ − A, the perturbed residual is M + γ(Z₂W₁ + W₂Z₁) + γ²Z₂Z₁. All cross
// terms have zero mean (odd in Z, or a product of independent zero-mean factors), so
//   E‖·‖² = ‖M‖² + γ²(E‖Z₂W₁‖² + E‖W₂Z₁‖²) + γ⁴E‖Z₂Z₁‖².
// Z₂ is d_out×k: E‖Z₂W₁‖² = Σ_{i≤d_out, j} Σ_l W₁[l,j]² = d_out‖W₁‖². Z₁ is k×d_in: E‖W₂Z₁‖² =
// d_in‖W₂‖². E‖Z₂Z₁‖² = Σ_{i,j} Σ_l E[Z₂[i,l]²]E[Z₁[l,j]²] = d_out·d_in·k. With d_in = d_out = d
// this is docs/science.md §3's formula, for any k (it does not need k = d).
double PerturbedLossClosedForm(const Student& w, const MatrixXd& a, double gamma) {
  const double d_out = static_cast<double>(w.w2.rows()), d_in = static_cast<double>(w.w1.cols());
  const double k = static_cast<double>(w.w1.rows());
  const double g2 = gamma * gamma;
  return PopulationLoss(w, a) +
         0.5 * (g2 * (d_out * w.w1.squaredNorm() + d_in * w.w2.squaredNorm()) +
                g2 * g2 * d_out * d_in * k);
}

MonteCarlo PerturbedLossMonteCarlo(const Student& w, const MatrixXd& a, double gamma, int draws,
                                   int64_t seed) {
  const auto k = w.w1.rows(), d_in = w.w1.cols(), d_out = w.w2.rows();
  Student z;
  z.w1.resize(k, d_in);
  z.w2.resize(d_out, k);
  std::vector<double> losses(draws);
  for (int j = 0; j < draws; ++j) {
    const uint64_t key = RngKey(seed, StreamId("theory.noise"), j);
    uint64_t i = 0;
    for (int r = 0; r < k; ++r)
      for (int col = 0; col < d_in; ++col) z.w1(r, col) = NormalAt(key, i++);
    for (int r = 0; r < d_out; ++r)
      for (int col = 0; col < k; ++col) z.w2(r, col) = NormalAt(key, i++);
    losses[j] = 0.5 * ((w.w2 + gamma * z.w2) * (w.w1 + gamma * z.w1) - a).squaredNorm();
  }
  MonteCarlo mc;  // two passes: the spread is small next to the mean at small γ
  for (double l : losses) mc.mean += l;
  mc.mean /= draws;
  double ss = 0;
  for (double l : losses) ss += (l - mc.mean) * (l - mc.mean);
  mc.se = std::sqrt(ss / (draws - 1) / draws);
  return mc;
}

VectorXd LearnedSingularValues(const Student& w) {
  Eigen::JacobiSVD<MatrixXd> svd(w.Product());
  return svd.singularValues();
}

}  // namespace ot::theory
