// The two-layer linear network of paper §4 (docs/science.md §3): f(x) = W₂W₁x on a linear teacher
// A = U diag(s) Vᵀ. Entry points: TheoryConfig + TheorySchema (declare-once config), MakeTeachers,
// InitStudent, Objective, Advance (GD or gradient flow, optional L2-SP), PopulationLoss,
// PerturbedLossClosedForm / MonteCarlo.
#pragma once

#include <Eigen/Dense>
#include <cstdint>
#include <string>
#include <vector>

#include "core/config.h"

namespace ot::theory {

using Eigen::MatrixXd;
using Eigen::VectorXd;

// Everything `overtrain theory` reads; declared once in TheorySchema().
struct TheoryConfig {
  int64_t seed = 0;
  // Independent replicates: seeds seed, seed+1, ..., seed+num_seeds−1, each re-drawing teacher
  // vectors, init, noise and samples (the spectra stay fixed). Rows carry their seed.
  int num_seeds = 1;
  // Teacher A (d×d).
  int d = 16;
  std::string spectrum =
      "power";  // power: s_i = scale·i^(−alpha); geometric: scale·ratio^(i−1); list
  double alpha = 1.0;
  double ratio = 0.7;
  double scale = 1.0;
  std::vector<double> values;  // spectrum = "list": the singular values (any order; sorted desc)
  std::string vectors = "random";  // random (Haar orthogonal U, V) | identity
  // Student W₁ (k×d), W₂ (d×k).
  int width = 16;
  double init_std = 1e-4;
  // Pre-training on A.
  std::string optimizer = "gd";  // gd: W ← W − η∇L; flow: RK4 on dW/dt = −∇L, one "step" = time η
  double eta = 0.05;
  int flow_substeps = 8;             // RK4 sub-steps per unit step (flow only)
  std::vector<int64_t> checkpoints;  // explicit checkpoint steps; if empty, log-spaced (below)
  int num_checkpoints = 12;
  int64_t first_checkpoint = 25;
  int64_t last_checkpoint = 6400;
  // Perturbation W_j ← W_j + γZ_j.
  std::vector<double> gammas{0.1, 0.05, 0.02};
  int draws = 200;
  // Fine-tuning on teacher B from every checkpoint.
  // reversed: U diag(s reversed) Vᵀ; rotated: U G diag(s) (V G)ᵀ; list; bottom-scaled: U diag(s
  // with its bottom half × bottom_scale) Vᵀ.
  std::string ft_teacher = "reversed";
  double ft_angle = 45.0;  // rotated: Givens angle (degrees) on column pairs (1,2), (3,4), ...
  double ft_bottom_scale = 4.0;  // bottom-scaled: factor on s_i for i > d/2
  std::vector<double>
      ft_values;  // list: B = U diag(values) Vᵀ (values in the order of A's vectors)
  std::vector<double> ft_lrs{0.05, 0.01};
  int ft_steps = 200;
  std::vector<double> ft_lambdas{0.0};  // L2-SP strengths: + λ/2 (‖W₁−W₁pre‖² + ‖W₂−W₂pre‖²)
  // A second fine-tuning sweep for Thm 4.7 (claim C8), on its own teacher so the C7 sweep above
  // keeps the protocol's reversed spectrum. Empty lambdas = off. Rows of kind "l2sp".
  std::string l2sp_teacher = "bottom-scaled";  // reversed | bottom-scaled (l2sp.bottom_scale)
  double l2sp_bottom_scale = 4.0;
  double l2sp_lr = 0.05;
  int l2sp_steps = 200;
  std::vector<double> l2sp_lambdas;
  // Optional finite sample (0 = whitened population, the default): n inputs x ~ N(0, I), y = Tx +
  // σε.
  int samples = 0;
  double label_noise = 0.0;
};

const ConfigSchema<TheoryConfig>& TheorySchema();

// The checkpoint steps a config resolves to: the explicit list, or num_checkpoints log-spaced steps
// from first_checkpoint to last_checkpoint (rounded, deduplicated), ascending.
std::vector<int64_t> CheckpointSteps(const TheoryConfig& c);

// Teacher A's singular values, descending (length d).
VectorXd TeacherSpectrum(const TheoryConfig& c);

struct Teachers {
  MatrixXd u, v;    // d×d orthogonal singular vectors of A
  VectorXd s;       // A's singular values, descending
  MatrixXd a, b;    // pre-training teacher A and fine-tuning teacher B (d×d)
  MatrixXd b_l2sp;  // the L2-SP sweep's teacher (d×d; = b's construction with l2sp.* settings)
};
Teachers MakeTeachers(const TheoryConfig& c);

struct Student {
  MatrixXd w1;                                  // (k, d)
  MatrixXd w2;                                  // (d, k)
  MatrixXd Product() const { return w2 * w1; }  // (d, d)
};

// A's singular values with the bottom half (i > d/2, 1-based, descending order) multiplied by
// `scale`: the top half is unchanged, so B agrees with A where pre-training learns first.
VectorXd BottomScaledSpectrum(const VectorXd& s, double scale);

// W₁, W₂ i.i.d. N(0, init_std²), keyed by (seed, "theory.init").
Student InitStudent(const TheoryConfig& c);

// A training objective L(P) = ½ tr(P Σ Pᵀ) − tr(P Cᵀ) + ½ c0 in the product P = W₂W₁ (d×d).
// Whitened population of teacher T: Σ = I, C = T, c0 = ‖T‖² so L = ½‖P − T‖²_F.
// Finite sample (x_n, y_n): Σ = XXᵀ/n, C = YXᵀ/n, c0 = ‖Y‖²/n.
struct Objective {
  MatrixXd sigma;  // (d, d) input second moment
  MatrixXd cross;  // (d, d) E[y xᵀ]
  double c0 = 0;
  double Loss(const MatrixXd& p) const;
  MatrixXd Gradient(const MatrixXd& p) const { return p * sigma - cross; }  // ∂L/∂P
};
Objective PopulationObjective(const MatrixXd& teacher);
// n samples keyed by (seed, "theory.data", which): which = 0 for pre-training, 1 for fine-tuning.
Objective SampleObjective(const MatrixXd& teacher, int n, double label_noise, int64_t seed,
                          int which);
// The objective a config trains on for teacher T (population unless samples > 0).
Objective TrainingObjective(const TheoryConfig& c, const MatrixXd& teacher, int which);

// The L2-SP anchor: when `anchor` is set, adds λ/2 ‖W − W_anchor‖² to the objective.
struct Anchor {
  const Student* weights = nullptr;
  double lambda = 0;
};

// The gradient of the (anchored) objective: g1 = ∂/∂W₁ = W₂ᵀG (+λ(W₁−W₁ₐ)), g2 = ∂/∂W₂ = GW₁ᵀ
// (+λ(W₂−W₂ₐ)).
void Gradients(const Student& w, const Objective& obj, const Anchor& anchor, MatrixXd& g1,
               MatrixXd& g2);

// Advances `w` by `steps` steps: GD at step eta, or gradient flow for time steps·eta (RK4, substeps
// each).
void Advance(Student& w, const Objective& obj, double eta, int64_t steps, bool flow, int substeps,
             const Anchor& anchor = {});

// ½‖W₂W₁ − A‖²_F.
double PopulationLoss(const Student& w, const MatrixXd& a);

// Exact E_Z[½‖(W₂+γZ₂)(W₁+γZ₁) − A‖²] for i.i.d. N(0,1) Z (derivation in linear_net.cc):
// L + ½[γ²(d_out‖W₁‖² + d_in‖W₂‖²) + γ⁴ d_out d_in k]; here d_in = d_out = d.
double PerturbedLossClosedForm(const Student& w, const MatrixXd& a, double gamma);

struct MonteCarlo {
  double mean = 0, se = 0;  // sample mean and its standard error (sample std / √K)
};
// K draws keyed by (seed, "theory.noise", draw): the same Z for every checkpoint and γ (common
// random numbers), so curves over checkpoints are compared on the same noise.
MonteCarlo PerturbedLossMonteCarlo(const Student& w, const MatrixXd& a, double gamma, int draws,
                                   int64_t seed);

// Learned singular values of W₂W₁, descending.
VectorXd LearnedSingularValues(const Student& w);

}  // namespace ot::theory
