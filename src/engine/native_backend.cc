// The native CPU engine behind the Backend interface (see native_backend.h).
#include "engine/native_backend.h"

#include <fmt/format.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/check.h"
#include "optim/clip.h"

namespace ot {

void Interpolate(std::span<const float> a, std::span<const float> b, double alpha,
                 std::span<float> out) {
  OT_CHECK(a.size() == b.size() && a.size() == out.size()) << "arena size mismatch";
  const int64_t n = static_cast<int64_t>(a.size());
  if (alpha == 1.0 || alpha == 0.0) {  // exact ends (no rounding through the blend)
    const auto& from = alpha == 1.0 ? a : b;
    if (from.data() != out.data()) std::copy(from.begin(), from.end(), out.begin());
    return;
  }
  const float fa = static_cast<float>(alpha), fb = static_cast<float>(1.0 - alpha);
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < n; ++i) out[i] = fa * a[i] + fb * b[i];
}

void ApplyL2SpProximal(std::span<float> params, std::span<const float> anchor, double lr,
                       double lambda) {
  OT_CHECK(params.size() == anchor.size()) << "anchor arena size mismatch";
  const float shrink = static_cast<float>(1.0 / (1.0 + lr * lambda));
  const int64_t n = static_cast<int64_t>(params.size());
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < n; ++i) params[i] = anchor[i] + (params[i] - anchor[i]) * shrink;
}

NativeBackend::NativeBackend(const ModelConfig& config, const BackendPlan& plan,
                             std::vector<float> params)
    : Backend(config), plan_(plan), params_(std::move(params)) {
  OT_CHECK(static_cast<int64_t>(params_.size()) == layout_.total())
      << "params " << params_.size() << " vs layout " << layout_.total();
  if (config.vision()) {
    OT_CHECK(plan.train_batch == 0 && plan.eval_batch == 0)
        << "a ViT plans image_batch, not the token shapes";
    if (plan.optim && (plan.optim->z_loss > 0 || plan.optim->precision == "bf16"))
      throw Error(
          "model.input = patches trains in plain float32: optim.z_loss must be 0 and "
          "optim.precision fp32");
    if (plan.image_batch > 0) {  // head = projection runs B pairs as one batch of 2B images
      const int images = plan.image_batch * (config.head == "projection" ? 2 : 1);
      train_ = std::make_unique<Decoder>(config, images, config.image_tokens());
      grads_.assign(params_.size(), 0.0f);
      if (config.head == "classes") logits_.assign((size_t)plan.image_batch * config.n_classes, 0);
    }
  } else {
    OT_CHECK(plan.image_batch == 0) << "image_batch is for model.input = patches";
    if (plan.train_batch > 0) {
      train_ = std::make_unique<Decoder>(config, plan.train_batch, plan.train_seq);
      grads_.assign(params_.size(), 0.0f);
    }
  }
  if (plan.optim) {
    OT_CHECK(train_ != nullptr) << "an optimizer needs the training shape (train_batch)";
    train_->set_numerics(
        {.z_loss = plan.optim->z_loss, .bf16_matmul = plan.optim->precision == "bf16"});
    optimizer_ = MakeOptimizer(*plan.optim, layout_, "optim");
  }
  if (plan.eval_batch > 0)
    eval_ = std::make_unique<Decoder>(config, plan.eval_batch, plan.eval_seq);
  snapshots_.resize(plan.snapshots);
}

std::string NativeBackend::Describe() const {
  return fmt::format("native (CPU, {} threads)", omp_get_max_threads());
}

void NativeBackend::ReadParams(std::span<float> host) {
  OT_CHECK(host.size() == params_.size()) << "host " << host.size() << " vs " << params_.size();
  std::memcpy(host.data(), params_.data(), params_.size() * sizeof(float));
}

void NativeBackend::WriteParams(std::span<const float> host) {
  OT_CHECK(host.size() == params_.size()) << "host " << host.size() << " vs " << params_.size();
  std::memcpy(params_.data(), host.data(), params_.size() * sizeof(float));
}

std::vector<std::string> NativeBackend::OptimizerStateNames() {
  std::vector<std::string> names;
  if (optimizer_)
    for (const auto& s : optimizer_->State()) names.push_back(s.name);
  return names;
}

namespace {
std::span<float> StateArena(Optimizer* optimizer, const std::string& name) {
  OT_CHECK(optimizer != nullptr) << "optimizer state '" << name << "' without an optimizer";
  for (const auto& s : optimizer->State())
    if (s.name == name) return s.data;
  OT_CHECK(false) << "no optimizer state '" << name << "' in " << optimizer->Name();
  return {};
}
}  // namespace

void NativeBackend::ReadOptimizerState(const std::string& name, std::span<float> host) {
  const std::span<float> s = StateArena(optimizer_.get(), name);
  OT_CHECK(host.size() == s.size()) << name << ": host " << host.size() << " vs " << s.size();
  std::copy(s.begin(), s.end(), host.begin());
}

void NativeBackend::WriteOptimizerState(const std::string& name, std::span<const float> host) {
  const std::span<float> s = StateArena(optimizer_.get(), name);
  OT_CHECK(host.size() == s.size()) << name << ": host " << host.size() << " vs " << s.size();
  std::copy(host.begin(), host.end(), s.begin());
}

std::string NativeBackend::OptimizerName() const { return optimizer_ ? optimizer_->Name() : ""; }
int64_t NativeBackend::optimizer_steps() const { return optimizer_ ? optimizer_->step_count() : 0; }
void NativeBackend::set_optimizer_steps(int64_t steps) {
  OT_CHECK(optimizer_ != nullptr) << "set_optimizer_steps without an optimizer";
  optimizer_->set_step_count(steps);
}
void NativeBackend::ResetOptimizer() {
  if (optimizer_) optimizer_->Reset();
}
int NativeBackend::PassesPerStep() const { return optimizer_ ? optimizer_->PassesPerStep() : 1; }

void NativeBackend::RequireTokens(const char* what) const {
  if (config_.vision())
    throw Error(fmt::format(
        "{} takes token batches; model.input = patches (a vision transformer) runs through "
        "TrainStepImages, TrainStepPairs, EvalImages and FeaturesImages",
        what));
}

Decoder& NativeBackend::Batched(const char* what) {
  RequireTokens(what);
  OT_CHECK(train_ != nullptr) << what << " needs a backend planned with a training shape";
  return *train_;
}

double NativeBackend::Pass(std::span<const float> at, std::span<float> grads,
                           const ForwardBackward& run, const StepControl& control, int pass,
                           float& loss) {
  std::fill(grads.begin(), grads.end(), 0.0f);
  loss = run(at, grads);
  counted_ = train_->CountedTokensLast();
  if (control.collective != nullptr) {
    // The global mean: each rank's mean weighted by its counted targets, summed, divided by the
    // total count (ranks may hold different numbers of counted targets: fine-tuning masks).
    const float weight = static_cast<float>(counted_);
    const int64_t n = static_cast<int64_t>(grads.size());
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < n; ++i) grads[i] *= weight;
    double scalars[2] = {static_cast<double>(loss) * counted_, static_cast<double>(counted_)};
    control.collective->AllReduceSum(grads);
    control.collective->AllReduceSum(std::span<double>(scalars, 2));
    counted_ = static_cast<int64_t>(scalars[1]);
    const float inv = scalars[1] > 0 ? static_cast<float>(1.0 / scalars[1]) : 0.0f;
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < n; ++i) grads[i] *= inv;
    loss = static_cast<float>(scalars[1] > 0 ? scalars[0] / scalars[1] : 0.0);
  }
  if (control.fault) {
    const PassFault fault = control.fault(control.step, pass);
    if (fault == PassFault::kLossInf) loss = std::numeric_limits<float>::infinity();
    if (fault == PassFault::kLossNaN) loss = std::numeric_limits<float>::quiet_NaN();
    if (fault == PassFault::kLossSpike) loss += 10.0f;
    if (fault == PassFault::kGradientNaN) grads[0] = std::numeric_limits<float>::quiet_NaN();
  }
  return ClipGradNorm(grads, control.clip);  // NaN/Inf propagate into the norm
}

namespace {
// A non-finite second pass (SAM): unwinds the optimizer, which restores θ, back to TrainStep.
struct NonFinitePass {
  float loss;
  double norm;
};
}  // namespace

StepResult NativeBackend::TrainStep(const int32_t* inputs, const int32_t* targets, int B, int T,
                                    double lr, const StepControl& control) {
  Decoder& decoder = Batched("TrainStep");
  return Step(
      [&](std::span<const float> at, std::span<float> grads) {
        const float loss = decoder.Forward(at, inputs, targets, B, T);
        decoder.Backward(at, grads);
        return loss;
      },
      lr, control);
}

StepResult NativeBackend::Step(const ForwardBackward& run, double lr, const StepControl& control) {
  OT_CHECK(optimizer_ != nullptr) << "TrainStep needs a backend planned with an optimizer";
  StepResult r;
  float loss = 0;
  r.grad_norm = Pass(params_, grads_, run, control, 0, loss);
  r.loss = loss;
  r.counted_tokens = counted_;
  const Decoder::HeadStats& head = train_->HeadStatsLast();
  r.mean_log_z = head.mean_log_z;
  r.cross_entropy = loss;
  if (train_->numerics().z_loss > 0) {
    r.cross_entropy = head.cross_entropy;
    r.z_loss = head.z_loss;
  }
  if (!std::isfinite(loss) || !std::isfinite(r.grad_norm)) {
    r.bad_pass = 1;
    r.bad_loss = loss;
    r.bad_norm = r.grad_norm;
    return r;
  }
  const LossAndGrad again = [&](std::span<const float> at, std::span<float> grads) {
    float l = 0;
    const double norm = Pass(at, grads, run, control, 1, l);
    if (!std::isfinite(l) || !std::isfinite(norm)) throw NonFinitePass{l, norm};
    return l;
  };
  try {
    optimizer_->StepWithOracle(params_, grads_, lr, again);
  } catch (const NonFinitePass& bad) {
    r.bad_pass = 2;
    r.bad_loss = bad.loss;
    r.bad_norm = bad.norm;
  }
  return r;
}

double NativeBackend::Gradient(const int32_t* inputs, const int32_t* targets, int B, int T,
                               std::span<float> host) {
  Decoder& decoder = Batched("Gradient");
  OT_CHECK(host.size() == params_.size()) << "host " << host.size() << " vs " << params_.size();
  std::fill(host.begin(), host.end(), 0.0f);
  const DecoderNumerics numerics = decoder.numerics();
  if (numerics.z_loss > 0 || numerics.bf16_matmul) decoder.set_numerics({});
  const double loss = decoder.Forward(params_, inputs, targets, B, T);
  decoder.Backward(params_, host);
  if (numerics.z_loss > 0 || numerics.bf16_matmul) decoder.set_numerics(numerics);
  return loss;
}

std::map<std::string, double> NativeBackend::GroupNorms() {
  std::map<std::string, double> sums;
  ForEachTensor(layout_, [&](const TensorInfo& t) {
    double s = 0;  // per tensor in index order: a fixed-order reduction
    for (int64_t i = t.offset; i < t.offset + t.size; ++i)
      s += static_cast<double>(params_[i]) * params_[i];
    sums[GroupName(t.group)] += s;
  });
  for (auto& [_, v] : sums) v = std::sqrt(v);
  return sums;
}

void NativeBackend::LogProbs(const int32_t* inputs, const int32_t* targets, int B, int T,
                             float* logprobs) {
  RequireTokens("LogProbs");
  OT_CHECK(eval_ != nullptr) << "LogProbs needs a backend planned with an evaluation shape";
  eval_->LogProbs(params_, inputs, targets, B, T, logprobs);
}

double NativeBackend::Loss(const int32_t* inputs, const int32_t* targets, int B, int T) {
  return Batched("Loss").Loss(params_, inputs, targets, B, T);
}

void NativeBackend::LogitStats(const int32_t* inputs, int B, int T, double* max_logit,
                               double* log_z) {
  Batched("LogitStats").LogitStats(params_, inputs, B, T, max_logit, log_z);
}

const std::vector<float>& NativeBackend::Slot(int slot) const {
  OT_CHECK(slot >= 0 && slot < static_cast<int>(snapshots_.size()))
      << "snapshot slot " << slot << " of " << snapshots_.size() << " planned";
  OT_CHECK(!snapshots_[slot].empty()) << "snapshot slot " << slot << " read before it was saved";
  return snapshots_[slot];
}

void NativeBackend::SaveSnapshot(int slot) {
  OT_CHECK(slot >= 0 && slot < static_cast<int>(snapshots_.size()))
      << "snapshot slot " << slot << " of " << snapshots_.size() << " planned";
  snapshots_[slot] = params_;
}

void NativeBackend::RestoreSnapshot(int slot) {
  const std::vector<float>& s = Slot(slot);
  std::memcpy(params_.data(), s.data(), s.size() * sizeof(float));
}

void NativeBackend::AddNoise(const NoiseSpec& spec) { ot::AddNoise(layout_, params_, spec); }

void NativeBackend::InterpolateToward(int slot, double alpha) {
  Interpolate(params_, Slot(slot), alpha, params_);
}

void NativeBackend::PullToward(int slot, double lr, double lambda) {
  ApplyL2SpProximal(params_, Slot(slot), lr, lambda);
}

}  // namespace ot
