// Muon (MomentUm Orthogonalized by Newton-Schulz) for the hidden matrices, AdamW for everything
// else. Sources: K. Jordan et al., "Muon: An optimizer for hidden layers in neural networks" (2024,
// kellerjordan.github.io/posts/muon, reference code github.com/KellerJordan/Muon); the scaled
// variant of J. Liu et al. (Moonshot AI), "Muon is Scalable for LLM Training" (arXiv:2502.16982,
// 2025, github.com/MoonshotAI/Moonlight). For each 2-D tensor of group attn or mlp (not embed, head
// or norms), G its (rows, cols) gradient, μ = muon_momentum:
//   buf ← μ·buf + G ;  U = G + μ·buf                         (Nesterov momentum, as both
//   references) O   = NewtonSchulz5(U)                                  (≈ the orthogonal factor of
//   U, see below) p   ← p·(1 − lr·wd) − lr·0.2·sqrt(max(rows, cols))·O    (decoupled decay on decay
//   segments only)
// The factor 0.2·sqrt(max(rows, cols)) is Moonshot's: O has all singular values ≈ 1, so its RMS
// entry is ≈ 1/sqrt(max(rows, cols)); the factor gives the update an RMS of ≈ 0.2, the typical RMS
// of an AdamW update, so ONE lr and schedule serve the matrices and the AdamW tensors (Liu et al.
// §2.2). Every other tensor gets AdamW (optim.beta1, beta2, eps, weight_decay) with AdamW's own
// arithmetic (adamw_update.h).
//
// NewtonSchulz5 (Jordan's zeropower_via_newtonschulz5): X = U/(‖U‖_F + 1e-7), transposed to be wide
// (rows <= cols) when U is tall; `steps` times X ← aX + (bA + cA²)X with A = XXᵀ and Jordan's
// quintic (a, b, c) = (3.4445, −4.7750, 2.0315); transposed back. Each singular value σ of X
// follows p(σ) = aσ + bσ³ + cσ⁵, whose slope at 0 is a (fast growth of small σ) and which maps the
// band [0.6818, 1.1362] into itself instead of converging to 1: measured on a 2e6-point grid of σ
// in (0, 1], 5 steps send every σ >= 0.01 into [0.6818, 1.1344] (σ in [0.002, 0.005) can still
// overshoot to 1.2024, σ < 0.002 has not grown into the band). Orthogonal enough for the update,
// cheap (3 GEMMs per step).
//
// Precision and determinism: float32 through cblas_sgemm. Jordan runs the iteration in bfloat16;
// its output is only specified to within that band, and float32 rounding (relative 6e-8, amplified
// at most a^5 ≈ 485 through 5 steps) is 4 orders of magnitude below it, so double would buy nothing
// but 2x the time. The matrices are spread over OpenMP threads (dynamic schedule); each runs its
// GEMMs single-threaded (OpenBLAS does inside a parallel region) in a fixed order, so a step is
// bit-identical at any thread count. Entry points: MuonConfig, Muon, NewtonSchulz5,
// NewtonSchulzScratchSize.
#pragma once

#include <vector>

#include "model/layout.h"
#include "optim/optimizer.h"

namespace ot {

struct MuonConfig {
  double momentum = 0.95;  // μ of the hidden matrices' Nesterov momentum
  int ns_steps = 5;        // Newton-Schulz iterations
  // The other tensors; adamw.weight_decay is also the matrices' (decoupled) decay.
  AdamWConfig adamw;
};

// Jordan's quintic coefficients.
inline constexpr float kNewtonSchulzA = 3.4445f, kNewtonSchulzB = -4.7750f,
                       kNewtonSchulzC = 2.0315f;

// Floats of scratch NewtonSchulz5 needs for a (rows, cols) matrix.
int64_t NewtonSchulzScratchSize(int rows, int cols);
// out (rows, cols) = NewtonSchulz5(g (rows, cols)) as above; out may not alias g.
void NewtonSchulz5(float* out, const float* g, int rows, int cols, int steps, float* scratch);

class Muon final : public Optimizer {
 public:
  // `segments` (optim/param_groups.h) decide decay for both parts; a segment boundary may not cut a
  // matrix.
  Muon(const ParamLayout& layout, const MuonConfig& config, std::vector<DecaySegment> segments);
  std::string Name() const override { return "muon"; }
  void Step(std::span<float> params, std::span<const float> grads, double lr) override;
  // {"momentum_buffer" (matrices; 0 elsewhere), "exp_avg", "exp_avg_sq" (AdamW tensors; 0 on
  // matrices)}.
  std::vector<OptimizerState> State() override;
  void Reset() override;

  // A hidden matrix: 2-D and in group attn or mlp.
  static bool IsHiddenMatrix(const TensorInfo& t);
  // Moonshot's RMS-matching factor 0.2·sqrt(max(rows, cols)).
  static double UpdateScale(int rows, int cols);

 private:
  struct Matrix {
    int64_t offset = 0;
    int rows = 0, cols = 0;
    bool decay = true;
  };
  MuonConfig config_;
  int64_t total_;
  std::vector<Matrix> matrices_;             // sorted by offset
  std::vector<DecaySegment> adam_segments_;  // the arena minus the matrices
  std::vector<float> buf_, m_, v_;           // (total,)
  // Per OpenMP thread: U, O and the Newton-Schulz scratch.
  std::vector<std::vector<float>> scratch_;
  int64_t scratch_size_ = 0;
};

}  // namespace ot
