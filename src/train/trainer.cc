// The shared training loop (see trainer.h).
#include "train/trainer.h"

#include <fmt/format.h>
#include <omp.h>

#include <chrono>
#include <cmath>
#include <cstdlib>

#include "core/check.h"
#include "engine/data_parallel.h"

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

BatchSource RankSlice(BatchSource global, int global_batch, int seq_len, int rank, int world,
                      const std::string& batch_key) {
  const RowRange rows = RankRows(global_batch, rank, world, batch_key);
  if (world == 1) return global;
  auto in = std::make_shared<std::vector<int32_t>>(int64_t{global_batch} * seq_len);
  auto tg = std::make_shared<std::vector<int32_t>>(in->size());
  BatchSource s = global;
  s.next = [next = global.next, in, tg, rows, seq_len](std::span<int32_t> inputs,
                                                       std::span<int32_t> targets) {
    next(*in, *tg);
    const int64_t first = int64_t{rows.first} * seq_len, n = int64_t{rows.count} * seq_len;
    std::copy(in->begin() + first, in->begin() + first + n, inputs.begin());
    std::copy(tg->begin() + first, tg->begin() + first + n, targets.begin());
  };
  return s;
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

Trainer::Trainer(Backend& backend, BatchSource source, const TrainerOptions& options,
                 MetricsWriter& metrics, TrainerHooks hooks)
    : backend_(backend),
      source_(std::move(source)),
      options_(options),
      metrics_(metrics),
      hooks_(std::move(hooks)),
      spike_(options.spike_sigma),
      progress_(options.total_tokens_for_progress > 0 ? options.total_tokens_for_progress
                                                      : options.total_steps * options.batch_size *
                                                            options.seq_len * options.world_size,
                options.quiet),
      inputs_(static_cast<size_t>(options.batch_size) * options.seq_len),
      targets_(inputs_.size()) {
  OT_CHECK(source_.next) << "a BatchSource needs next()";
  session_start_ = last_log_wall_ = NowSeconds();
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

StepInfo Trainer::Step() {
  const int B = options_.batch_size, T = options_.seq_len;
  const int64_t step_tokens = int64_t{B} * T * options_.world_size;
  source_.next(inputs_, targets_);
  StepInfo info;
  info.lr = LearningRate(options_.schedule, state_.step);
  const StepResult r = backend_.TrainStep(inputs_.data(), targets_.data(), B, T, info.lr,
                                          {.step = state_.step,
                                           .clip = options_.clip,
                                           .collective = hooks_.collective,
                                           .fault = hooks_.fault});
  // Log the cross-entropy (comparable across arms) and the z term apart.
  info.loss = r.cross_entropy;
  info.z_loss = r.z_loss;
  info.log_z = r.mean_log_z;
  info.grad_norm = r.grad_norm;
  const float loss = static_cast<float>(r.loss);
  if (r.bad_pass != 0) {  // the backend left the weights and optimizer state as they were
    const bool loss_bad = !std::isfinite(r.bad_loss);
    const std::string why =
        r.bad_pass == 1
            ? fmt::format("non-finite {} at step {} (tokens {}): loss = {}, grad norm = {}",
                          loss_bad ? "loss" : "gradient", state_.step + 1,
                          state_.tokens + step_tokens, static_cast<float>(r.bad_loss), r.bad_norm)
            : fmt::format(
                  "non-finite {} in the second pass of step {} (tokens {}): loss = {}, "
                  "grad norm = {}",
                  loss_bad ? "loss" : "gradient", state_.step + 1, state_.tokens + step_tokens,
                  static_cast<float>(r.bad_loss), r.bad_norm);
    if (options_.nan_policy == NanPolicy::kAbort) {
      metrics_.Write(
          {{"step", state_.step + 1}, {"event", "nan_abort"}, {"train/tokens", state_.tokens}});
      progress_.Finish();
      throw Error("train: " + why +
                  "; stopped without saving (train.nan_policy = abort); the newest checkpoint is "
                  "the last good state");
    }
    info.skipped = true;
    ++state_.skipped_steps;
    progress_.Message("warning: " + why + "; step skipped, weights unchanged (skip-step)");
  }
  ++state_.step;
  state_.tokens += step_tokens;
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
  for (const auto& [group, norm] : backend_.GroupNorms()) row["train/param_norm/" + group] = norm;
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
