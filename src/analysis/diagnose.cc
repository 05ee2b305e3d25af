// The curvature diagnostics of one checkpoint (see diagnose.h).
#include "analysis/diagnose.h"

#include <fmt/format.h>

#include <chrono>
#include <cmath>
#include <cstdio>

#include "core/check.h"
#include "core/fileio.h"
#include "data/loader.h"
#include "engine/data_parallel.h"
#include "model/noise.h"
#include "train/trainer.h"

namespace ot {
namespace fs = std::filesystem;

const ConfigSchema<DiagnoseConfig>& DiagnoseSchema() {
  static const ConfigSchema<DiagnoseConfig> schema = [] {
    ConfigSchema<DiagnoseConfig> s;
    DeclareCheckpointFields(
        s, [](DiagnoseConfig& c) -> CheckpointRef& { return c.checkpoint; },
        "checkpoint to diagnose");
    // Of data.dir and [eval], only what diagnose reads (the batch shape and the windows of the
    // logit statistics); any other eval key is refused like an unknown key, not silently ignored.
    ConfigSchema<DiagnoseConfig> eval;
    DeclareEvalFields(eval, [](DiagnoseConfig& c) -> EvalSuiteConfig& { return c.suite; });
    for (const char* key : {"data.dir", "eval.batch", "eval.seq_len", "eval.windows"}) {
      const auto* field = eval.Find(key);
      OT_CHECK(field) << key << " is no longer declared by DeclareEvalFields";
      s.Add(*field);
    }
    s.Field(
         "diagnose.batches", "training batches (general.train.tok) the loss is averaged over",
         [](DiagnoseConfig& c) -> int& { return c.batches; }, Between(1, 1 << 20))
        .Field(
            "diagnose.max_iters",
            "power-iteration steps (Hessian-vector products) for the top eigenvalue",
            [](DiagnoseConfig& c) -> int& { return c.max_iters; }, Between(1, 1 << 20))
        .Field(
            "diagnose.tol",
            "power iteration converges when the Rayleigh quotient's relative change and "
            "the residual ‖Hv−λv‖/|λ| are both below this",
            [](DiagnoseConfig& c) -> double& { return c.tol; }, Between(0, 1))
        .Field(
            "diagnose.probes", "Hutchinson probes per trace estimate",
            [](DiagnoseConfig& c) -> int& { return c.probes; }, Between(1, 1 << 20))
        .Field(
            "diagnose.seed", "seed of the batch choice, start vector and probes",
            [](DiagnoseConfig& c) -> int64_t& { return c.seed; }, AtLeast(0))
        .Field(
            "diagnose.gammas", "noise scales γ for the predicted perturbation ΔL = ½γ²·Σσ²H_ii",
            [](DiagnoseConfig& c) -> std::vector<double>& { return c.gammas; }, AtLeast(0));
    DeclareComputeFields(s, [](DiagnoseConfig& c) -> ComputeConfig& { return c.compute; });
    return s;
  }();
  return schema;
}

BackendLossOracle::BackendLossOracle(Backend& backend, std::vector<int32_t> inputs,
                                     std::vector<int32_t> targets, int B, int T)
    : backend_(backend), inputs_(std::move(inputs)), targets_(std::move(targets)), B_(B), T_(T) {
  const int64_t per_batch = int64_t{B} * T;
  OT_CHECK(!inputs_.empty() && inputs_.size() == targets_.size() &&
           static_cast<int64_t>(inputs_.size()) % per_batch == 0)
      << "inputs " << inputs_.size() << " targets " << targets_.size() << " B*T " << per_batch;
  K_ = static_cast<int>(static_cast<int64_t>(inputs_.size()) / per_batch);
  params_.resize(backend.layout().total());
  grads_.resize(params_.size());
}

double BackendLossOracle::operator()(std::span<const double> x, std::span<double> grad) {
  OT_CHECK(x.size() == params_.size() && grad.size() == params_.size()) << "arena size mismatch";
  for (size_t i = 0; i < x.size(); ++i) params_[i] = static_cast<float>(x[i]);
  backend_.WriteParams(params_);
  std::fill(grad.begin(), grad.end(), 0.0);
  double loss = 0;
  const int64_t per_batch = int64_t{B_} * T_;
  for (int k = 0; k < K_; ++k) {
    loss += static_cast<float>(backend_.Gradient(inputs_.data() + k * per_batch,
                                                 targets_.data() + k * per_batch, B_, T_, grads_));
    for (size_t i = 0; i < grad.size(); ++i) grad[i] += grads_[i];
  }
  for (double& g : grad) g /= K_;
  ++evals_;
  return loss / K_;
}

void TrainingBatches(const fs::path& data_dir, int K, int B, int T, uint64_t seed,
                     std::vector<int32_t>& inputs, std::vector<int32_t>& targets) {
  const fs::path file = data_dir / "general.train.tok";
  if (!fs::exists(file))
    throw Error("data.dir = '" + data_dir.string() +
                "': no general.train.tok (the diagnostics' training loss)");
  const data::TokenLoader loader(file, B, T, seed);
  if (loader.batches_per_epoch() < K)
    throw Error(
        fmt::format("{}: holds {} batches of {}x{} tokens; diagnose.batches = {} asks for more",
                    file.string(), loader.batches_per_epoch(), B, T, K));
  const int64_t per_batch = int64_t{B} * T;
  inputs.resize(K * per_batch);
  targets.resize(K * per_batch);
  for (int k = 0; k < K; ++k)
    loader.Batch({.epoch = 0, .index = k}, std::span(inputs).subspan(k * per_batch, per_batch),
                 std::span(targets).subspan(k * per_batch, per_batch));
}

// Validation windows for the logit statistics: `windows` of T tokens spread evenly over the stream
// (window w of n is the (w·available/n)-th, as the perplexity probe picks them); 0 = all.
static std::vector<int32_t> ValidationWindows(const fs::path& data_dir, int T, int64_t windows) {
  const std::vector<int32_t> tokens = data::TokenFile::Open(data_dir / "general.val.tok").ReadAll();
  const int64_t available = static_cast<int64_t>(tokens.size()) / T;
  if (available == 0)
    throw Error(fmt::format("{}: fewer than one window of {} tokens",
                            (data_dir / "general.val.tok").string(), T));
  const int64_t n = windows > 0 ? std::min(windows, available) : available;
  std::vector<int32_t> out;
  out.reserve(n * T);
  for (int64_t w = 0; w < n; ++w) {
    const int64_t start = w * available / n * T;
    out.insert(out.end(), tokens.begin() + start, tokens.begin() + start + T);
  }
  return out;
}

Diagnostics Diagnose(BackendLossOracle& oracle, std::span<const int32_t> val_inputs,
                     const DiagnoseConfig& options) {
  const auto start = std::chrono::steady_clock::now();
  Backend& backend = oracle.backend();
  const ParamLayout& layout = backend.layout();
  const int64_t n = layout.total();
  const int64_t evals_before = oracle.evals();
  const std::vector<float> params =
      HostParams(backend);  // the checkpoint's weights, put back below
  Diagnostics d;
  {
    std::vector<double> theta(params.begin(), params.end());
    {
      std::vector<double> g(n);
      d.loss = oracle(theta, g);
    }
    FiniteDifferenceHessian hessian(oracle.AsOracle(), theta, kFloatGradientEps);
    theta = {};
    const uint64_t seed = static_cast<uint64_t>(options.seed);
    d.lambda_max = TopEigenvalue(
        hessian.AsProduct(), n, {.max_iters = options.max_iters, .tol = options.tol, .seed = seed});
    d.lambda_max.vector = {};
    d.trace = HutchinsonTrace(hessian.AsProduct(), n, options.probes, seed);
    // σ_t as the perturb stage's default scale (init): tensors with σ_init = 0 get no noise.
    std::vector<double> sigma(n, 0.0);
    for (const TensorInfo& t : layout.tensors())
      if (IsPerturbed(t, NoiseSpec{}))
        std::fill_n(sigma.begin() + t.offset, t.size, static_cast<double>(t.init_std));
    d.sigma_trace = HutchinsonTrace(hessian.AsProduct(), n, options.probes, seed + 1, sigma);
  }
  for (double gamma : options.gammas)
    d.predicted.push_back({.gamma = gamma,
                           .delta = 0.5 * gamma * gamma * d.sigma_trace.mean,
                           .delta_stderr = 0.5 * gamma * gamma * d.sigma_trace.std_error});
  backend.WriteParams(params);  // the finite differences moved the weights
  d.group_norms = backend.GroupNorms();
  double ss = 0;
  for (const auto& [group, norm] : d.group_norms) ss += norm * norm;
  d.param_norm = std::sqrt(ss);
  // Logit statistics, batched at the oracle's shape.
  const int B = oracle.batch(), T = oracle.seq();
  OT_CHECK(val_inputs.size() % T == 0)
      << "validation inputs " << val_inputs.size() << " not windows of " << T;
  const int64_t windows = static_cast<int64_t>(val_inputs.size()) / T;
  std::vector<double> max_logit(int64_t{B} * T), log_z(int64_t{B} * T);
  double sum_max = 0, sum_z = 0;
  for (int64_t w0 = 0; w0 < windows; w0 += B) {
    const int b = static_cast<int>(std::min<int64_t>(B, windows - w0));
    backend.LogitStats(val_inputs.data() + w0 * T, b, T, max_logit.data(), log_z.data());
    for (int64_t i = 0; i < int64_t{b} * T; ++i) {
      sum_max += max_logit[i];
      sum_z += log_z[i];
    }
  }
  d.logit_tokens = windows * T;
  if (d.logit_tokens > 0) {
    d.mean_max_logit = sum_max / d.logit_tokens;
    d.mean_log_z = sum_z / d.logit_tokens;
  }
  d.gradient_evals = oracle.evals() - evals_before;
  d.wall_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return d;
}

static nlohmann::json TraceJson(const TraceEstimate& t) {
  return {{"mean", t.mean}, {"stderr", t.std_error}, {"probes", t.probes}};
}

nlohmann::json ToJson(const Diagnostics& d) {
  nlohmann::json predicted = nlohmann::json::array();
  for (const auto& p : d.predicted)
    predicted.push_back({{"gamma", p.gamma}, {"delta", p.delta}, {"delta_stderr", p.delta_stderr}});
  const EigenResult& e = d.lambda_max;
  return {{"loss", d.loss},
          {"lambda_max",
           {{"value", e.value},
            {"converged", e.converged},
            {"residual", e.residual},
            {"relative_change", e.relative_change},
            {"iterations", e.iterations}}},
          {"trace", TraceJson(d.trace)},
          {"sigma_trace", TraceJson(d.sigma_trace)},
          {"predicted_delta", predicted},
          {"group_norms", d.group_norms},
          {"param_norm", d.param_norm},
          {"mean_max_logit", d.mean_max_logit},
          {"mean_log_z", d.mean_log_z},
          {"logit_tokens", d.logit_tokens},
          {"cost", {{"wall_seconds", d.wall_seconds}, {"gradient_evals", d.gradient_evals}}}};
}

int RunDiagnoseStage(const DiagnoseConfig& config, const fs::path& out) {
  RequireOneProcess("overtrain diagnose");
  const int T0 = config.suite.seq_len;
  LoadedModel model =
      LoadModel(config.checkpoint.dir,
                {.arenas = 17,  // θ, θ±hv, g±, power v and Hv, probe z and Hz, σ in double (= 2
                                // floats each); float θ, grad
                 .arenas_what = "the double-precision Hessian vectors",
                 .decoders = {{config.suite.batch, T0, "eval.batch", "eval.seq_len"}}});
  ApplyThreadPolicy(0, model.config);
  const int T = T0 > 0 ? T0 : model.config.max_seq_len, B = config.suite.batch;
  const fs::path data_dir = config.suite.data_dir;
  if (config.suite.data_dir.empty())
    throw Error("data.dir: expected a prepared data directory, got nothing");
  std::vector<int32_t> inputs, targets;
  TrainingBatches(data_dir, config.batches, B, T, static_cast<uint64_t>(config.seed), inputs,
                  targets);
  const std::vector<int32_t> val = ValidationWindows(data_dir, T, config.suite.windows);
  for (int32_t t : val)
    if (t >= model.config.vocab_size)
      throw Error(fmt::format("data.dir = '{}': validation token {} >= the model's vocab_size {}",
                              config.suite.data_dir, t, model.config.vocab_size));
  const std::unique_ptr<Backend> backend = MakeBackend(
      model.config, config.compute, {.train_batch = B, .train_seq = T}, std::move(model.params));
  BackendLossOracle oracle(*backend, std::move(inputs), std::move(targets), B, T);
  const Diagnostics d = Diagnose(oracle, val, config);
  nlohmann::json j = ToJson(d);
  j["checkpoint"] = model.dir.string();
  j["tokens"] = config.checkpoint.tokens.value > 0 ? config.checkpoint.tokens.value : model.tokens;
  j["step"] = model.step;
  j["config"] = {{"batches", config.batches},
                 {"batch", B},
                 {"seq_len", T},
                 {"max_iters", config.max_iters},
                 {"tol", config.tol},
                 {"probes", config.probes},
                 {"seed", config.seed}};
  fs::create_directories(out);
  WriteFileAtomic(out / "diagnostics.json", j.dump(2) + "\n");
  std::fprintf(stderr, "diagnose: %s (tokens %lld), training loss %.4f on %d batches of %dx%d\n",
               model.dir.string().c_str(), static_cast<long long>(model.tokens), d.loss,
               config.batches, B, T);
  std::fprintf(stderr, "  lambda_max: %s\n", Describe(d.lambda_max).c_str());
  std::fprintf(stderr, "  trace H: %.6g ± %.2g (%d probes); sigma-weighted: %.6g ± %.2g\n",
               d.trace.mean, d.trace.std_error, d.trace.probes, d.sigma_trace.mean,
               d.sigma_trace.std_error);
  for (const auto& p : d.predicted)
    std::fprintf(stderr, "  predicted perturbation delta at gamma %g: %.6g ± %.2g\n", p.gamma,
                 p.delta, p.delta_stderr);
  std::string norms;
  for (const auto& [group, norm] : d.group_norms) norms += fmt::format(" {} {:.4g}", group, norm);
  std::fprintf(stderr, "  param norm %.4g:%s\n", d.param_norm, norms.c_str());
  std::fprintf(stderr, "  mean max logit %.4f, mean log Z %.4f over %lld validation tokens\n",
               d.mean_max_logit, d.mean_log_z, static_cast<long long>(d.logit_tokens));
  std::fprintf(stderr,
               "  cost: %.2f s wall, %lld gradient evaluations (each %d forward+backward passes)\n",
               d.wall_seconds, static_cast<long long>(d.gradient_evals), config.batches);
  return 0;
}

}  // namespace ot
