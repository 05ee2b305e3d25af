// `overtrain diagnose`: curvature and scale diagnostics of one checkpoint — the top Hessian
// eigenvalue of the training loss (power iteration, with its convergence verdict), the Hessian
// trace and the σ_init-weighted trace (Hutchinson), the quadratic prediction of the perturbation
// stage's ΔL, per-group parameter norms, and the mean max-logit and log-partition on validation
// tokens. Writes <out>/diagnostics.json (docs/formats.md). Entry points: DiagnoseConfig,
// DiagnoseSchema, RunDiagnoseStage, BackendLossOracle, Diagnose.
#pragma once

#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "analysis/hessian.h"
#include "analysis/perturb_stage.h"
#include "analysis/suite.h"

namespace ot {

struct DiagnoseConfig {
  CheckpointRef checkpoint;  // the directory and the pre-training it stands for
  EvalSuiteConfig
      suite;        // data.dir; eval.batch, eval.seq_len shape the batches; eval.windows the logits
  int batches = 4;  // training batches (general.train.tok) the loss is averaged over
  int max_iters = 30;  // power-iteration Hessian-vector products
  double tol = 1e-3;   // power-iteration convergence (hessian.h PowerOptions)
  int probes = 8;      // Hutchinson probes for each trace
  int64_t seed = 0;    // batch choice, start vector and probes
  std::vector<double> gammas = PerturbConfig{}.gammas;  // the perturb stage's default grid
  ComputeConfig compute;  // compute.*: the backend whose gradients are differenced
};

const ConfigSchema<DiagnoseConfig>& DiagnoseSchema();

// Writes <out>/diagnostics.json; returns 0.
int RunDiagnoseStage(const DiagnoseConfig& config, const std::filesystem::path& out);

// The training loss on fixed batches as a gradient oracle: L(θ) = (1/K) Σ_k mean NLL of batch k,
// computed by the backend (Backend::Gradient, float32) at θ rounded to float; the gradient is
// accumulated over batches in double. Each call writes θ into the backend: Diagnose puts the
// checkpoint's weights back when it is done.
class BackendLossOracle {
 public:
  // inputs, targets: K batches of (B,T), concatenated. The backend is planned with a training shape
  // of at least (B,T).
  BackendLossOracle(Backend& backend, std::vector<int32_t> inputs, std::vector<int32_t> targets,
                    int B, int T);
  double operator()(std::span<const double> x, std::span<double> grad);
  GradientOracle AsOracle() {
    return [this](std::span<const double> x, std::span<double> g) { return (*this)(x, g); };
  }
  int64_t evals() const { return evals_; }
  Backend& backend() { return backend_; }
  int batch() const { return B_; }
  int seq() const { return T_; }

 private:
  Backend& backend_;
  std::vector<int32_t> inputs_, targets_;
  int B_, T_, K_;
  std::vector<float> params_, grads_;
  int64_t evals_ = 0;
};

// K training batches of (B,T) from <data_dir>/general.train.tok: batches 0..K−1 of the loader's
// epoch 0 under `seed` (shuffled windows, as pre-training draws them). Throws Error when the file
// holds fewer than K batches.
void TrainingBatches(const std::filesystem::path& data_dir, int K, int B, int T, uint64_t seed,
                     std::vector<int32_t>& inputs, std::vector<int32_t>& targets);

struct Diagnostics {
  double loss = 0;            // training loss on the fixed batches at θ
  EigenResult lambda_max;     // `vector` left empty
  TraceEstimate trace;        // tr H
  TraceEstimate sigma_trace;  // Σ_i σ_i² H_ii, σ_i = σ_init of i's tensor (0 where not perturbed)
  struct Prediction {
    double gamma = 0, delta = 0, delta_stderr = 0;  // ½γ²·sigma_trace and its standard error
  };
  std::vector<Prediction> predicted;
  std::map<std::string, double> group_norms;  // L2 per parameter group
  double param_norm = 0;
  double mean_max_logit = 0, mean_log_z = 0;
  int64_t logit_tokens = 0;
  double wall_seconds = 0;
  int64_t gradient_evals = 0;  // one = K forward+backward passes
};

// The diagnostics of the oracle's backend's weights on the oracle's batches and the validation
// windows (T tokens each, concatenated; any count, batched by B). The backend holds the same
// weights afterwards.
Diagnostics Diagnose(BackendLossOracle& oracle, std::span<const int32_t> val_inputs,
                     const DiagnoseConfig& options);

nlohmann::json ToJson(const Diagnostics& d);

}  // namespace ot
