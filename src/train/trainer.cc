// The shared training loop (see trainer.h).
#include "train/trainer.h"

#include <fmt/format.h>
#include <omp.h>

#include <chrono>
#include <cmath>
#include <cstdlib>

#include "core/check.h"
#include "optim/clip.h"

namespace ot {

int ApplyThreadPolicy(int requested, const ModelConfig& model) {
  int threads = requested;
  if (threads <= 0 && std::getenv("OMP_NUM_THREADS") == nullptr && model.d_model <= 64) threads = 1;
  if (threads > 0) omp_set_num_threads(threads);
  return threads > 0 ? threads : omp_get_max_threads();
}
DecoderNumerics NumericsFor(const OptimConfig& c) {
  return {.z_loss = c.z_loss, .bf16_matmul = c.precision == "bf16"};
}

namespace {
double NowSeconds() {
  using namespace std::chrono;
  return duration<double>(steady_clock::now().time_since_epoch()).count();
}
}  // namespace

nlohmann::json TrainState::ToJson() const {
  return {{"step", step},     {"tokens", tokens}, {"skipped_steps", skipped_steps},
          {"wall_s", wall_s}, {"data", data},     {"spike", spike}};
}

TrainState TrainState::FromJson(const nlohmann::json& j) {
  TrainState s;
  try {
    s.step = j.at("step").get<int64_t>();
    s.tokens = j.at("tokens").get<int64_t>();
    s.skipped_steps = j.value("skipped_steps", int64_t{0});
    s.wall_s = j.value("wall_s", 0.0);
    s.data = j.at("data");
    s.spike = j.value("spike", nlohmann::json());
  } catch (const nlohmann::json::exception& e) {
    throw Error(std::string("state.json: missing or invalid training state field (") + e.what() +
                ")");
  }
  return s;
}

Trainer::Trainer(Decoder& decoder, std::span<float> params, Optimizer& optimizer,
                 BatchSource source, const TrainerOptions& options, MetricsWriter& metrics,
                 TrainerHooks hooks)
    : decoder_(decoder),
      params_(params),
      optimizer_(optimizer),
      source_(std::move(source)),
      options_(options),
      metrics_(metrics),
      hooks_(std::move(hooks)),
      spike_(options.spike_sigma),
      progress_(options.total_tokens_for_progress > 0
                    ? options.total_tokens_for_progress
                    : options.total_steps * options.batch_size * options.seq_len,
                options.quiet),
      grads_(params.size(), 0.0f),
      inputs_(static_cast<size_t>(options.batch_size) * options.seq_len),
      targets_(inputs_.size()) {
  OT_CHECK(static_cast<int64_t>(params.size()) == decoder.layout().total())
      << "params arena " << params.size() << " vs layout " << decoder.layout().total();
  OT_CHECK(source_.next) << "a BatchSource needs next()";
  session_start_ = last_log_wall_ = NowSeconds();
}

std::map<std::string, double> Trainer::GroupNorms(const ParamLayout& layout,
                                                  std::span<const float> x) {
  std::map<std::string, double> sums;
  ForEachTensor(layout, [&](const TensorInfo& t) {
    double s = 0;  // per tensor in index order: a fixed-order reduction
    for (int64_t i = t.offset; i < t.offset + t.size; ++i) s += static_cast<double>(x[i]) * x[i];
    sums[GroupName(t.group)] += s;
  });
  for (auto& [_, v] : sums) v = std::sqrt(v);
  return sums;
}

TrainState Trainer::CaptureState() {
  if (source_.save) state_.data = source_.save();
  state_.spike = spike_.ToJson();
  state_.wall_s += NowSeconds() - session_start_;
  session_start_ = NowSeconds();
  return state_;
}

void Trainer::RestoreState(const TrainState& state) {
  state_ = state;
  if (source_.load && !state.data.is_null()) source_.load(state.data);
  if (!state.spike.is_null()) spike_.FromJson(state.spike);
  session_start_ = last_log_wall_ = NowSeconds();
  last_log_tokens_ = state.tokens;
}

namespace {
// A non-finite loss or gradient inside a multi-pass step (SAM's second pass): unwinds the optimizer
// (which restores θ) back to Step, where the NaN policy decides.
struct NonFinitePass : Error {
  using Error::Error;
};
}  // namespace

StepInfo Trainer::Step() {
  const int B = options_.batch_size, T = options_.seq_len;
  source_.next(inputs_, targets_);
  // One forward/backward on this step's batch: the gradient-reduction hook (data parallel), then
  // clipping. Returns the loss and the norm before clipping.
  auto pass = [&](std::span<const float> at, std::span<float> grads, float& loss) {
    std::fill(grads.begin(), grads.end(), 0.0f);
    loss = decoder_.Forward(at, inputs_.data(), targets_.data(), B, T);
    decoder_.Backward(at, grads);
    if (hooks_.reduce_gradients) hooks_.reduce_gradients(loss, grads);
    if (hooks_.after_backward) hooks_.after_backward(state_.step, loss, grads);
    return ClipGradNorm(grads, options_.clip);  // NaN/Inf propagate into the norm
  };
  StepInfo info;
  float loss = 0;
  info.grad_norm = pass(params_, grads_, loss);
  info.loss = loss;
  info.log_z = decoder_.HeadStatsLast().mean_log_z;
  if (decoder_.numerics().z_loss >
      0) {  // log the cross-entropy (comparable across arms) and the z term
    info.loss = decoder_.HeadStatsLast().cross_entropy;
    info.z_loss = decoder_.HeadStatsLast().z_loss;
  }
  info.lr = LearningRate(options_.schedule, state_.step);
  std::string bad_pass;  // why the step cannot update (non-finite loss or gradient)
  if (!std::isfinite(loss) || !std::isfinite(info.grad_norm)) {
    bad_pass = fmt::format("non-finite {} at step {} (tokens {}): loss = {}, grad norm = {}",
                           std::isfinite(loss) ? "gradient" : "loss", state_.step + 1,
                           state_.tokens + int64_t{B} * T, loss, info.grad_norm);
  } else {
    const LossAndGrad again = [&](std::span<const float> at, std::span<float> grads) {
      float l = 0;
      const double norm = pass(at, grads, l);
      if (!std::isfinite(l) || !std::isfinite(norm))
        throw NonFinitePass(
            fmt::format("non-finite {} in the second pass of step {} (tokens {}): loss = {}, "
                        "grad norm = {}",
                        std::isfinite(l) ? "gradient" : "loss", state_.step + 1,
                        state_.tokens + int64_t{B} * T, l, norm));
      return l;
    };
    try {
      optimizer_.StepWithOracle(params_, grads_, info.lr, again);
    } catch (const NonFinitePass& e) {
      bad_pass = e.what();
    }
  }
  if (!bad_pass.empty()) {
    if (options_.nan_policy == NanPolicy::kAbort) {
      metrics_.Write(
          {{"step", state_.step + 1}, {"event", "nan_abort"}, {"train/tokens", state_.tokens}});
      progress_.Finish();
      throw Error(
          "train: " + bad_pass +
          "; stopped without saving (train.nan_policy = abort); the newest checkpoint is the last "
          "good state");
    }
    info.skipped = true;
    ++state_.skipped_steps;
    progress_.Message("warning: " + bad_pass + "; step skipped, weights unchanged (skip-step)");
  }
  ++state_.step;
  state_.tokens += int64_t{B} * T;
  info.step = state_.step;
  info.tokens = state_.tokens;
  if (!info.skipped && spike_.Observe(loss)) {
    info.spike = true;
    metrics_.Write({{"step", info.step},
                    {"event", "loss_spike"},
                    {"train/loss", loss},
                    {"spike/mean", spike_.mean()},
                    {"spike/std", spike_.std()},
                    {"spike/sigmas", spike_.Sigmas(loss)}});
    progress_.Message(
        fmt::format("warning: loss spike at step {}: {:.4f} is {:.1f} sigma above the running "
                    "mean {:.4f}",
                    info.step, loss, spike_.Sigmas(loss), spike_.mean()));
  }
  if (info.skipped)
    metrics_.Write({{"step", info.step}, {"event", "nan_skip"}, {"train/tokens", info.tokens}});

  const bool last = state_.step >= options_.total_steps;
  const bool eval_now =
      hooks_.evaluate &&
      ((options_.eval_every > 0 && state_.step % options_.eval_every == 0) || last);
  if (last || eval_now || (options_.log_every > 0 && state_.step % options_.log_every == 0))
    LogRow(info, eval_now);
  const double now = NowSeconds();
  const double rate = (state_.tokens - last_log_tokens_) / std::max(1e-9, now - last_log_wall_);
  progress_.Update(state_.tokens, loss, rate, state_.wall_s + now - session_start_);
  if (hooks_.after_step) hooks_.after_step(info);
  return info;
}

void Trainer::LogRow(const StepInfo& info, bool eval_now) {
  const double now = NowSeconds();
  nlohmann::json row = {{"step", info.step},
                        {"train/loss", info.loss},
                        {"train/log_z", info.log_z},
                        {"train/lr", info.lr},
                        {"train/grad_norm", info.grad_norm},
                        {"train/tokens", info.tokens},
                        {"train/epoch", source_.epoch ? source_.epoch() : 0.0}};
  if (info.z_loss > 0) row["train/z_loss"] = info.z_loss;
  for (const auto& [group, norm] : GroupNorms(decoder_.layout(), params_))
    row["train/param_norm/" + group] = norm;
  if (eval_now) {
    last_val_loss_ = hooks_.evaluate();
    row["val/loss"] = last_val_loss_;
  }
  row["perf/tokens_per_s"] =
      (info.tokens - last_log_tokens_) / std::max(1e-9, now - last_log_wall_);
  row["time/wall_s"] = state_.wall_s + now - session_start_;
  metrics_.Write(row);
  last_log_wall_ = NowSeconds();
  last_log_tokens_ = info.tokens;
}

void Trainer::Run() {
  stop_ = false;
  while (!stop_ && state_.step < options_.total_steps) Step();
  progress_.Finish();
}

}  // namespace ot
