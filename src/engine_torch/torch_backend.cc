// The torch backend (engine/backend.h) on LibTorch: parameters, gradients, snapshots and optimizer
// state are flat fp32 tensors on the device (CPU or CUDA); the model is TorchModel (autograd), the
// optimizers TorchOptimizer, SAM the same two passes as optim/sam.h. Noise is drawn by the native
// keyed Philox stream on the host and applied to a host copy, so a perturbation draw is the same
// weights bit for bit on either backend. Errors of the device (no CUDA, out of memory) become one
// sentence naming the key to change. Entry point: the plugin table at the end (torch_plugin.h).
#include "engine_torch/torch_backend.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <fmt/format.h>
#include <omp.h>
#include <torch/cuda.h>
#include <torch/version.h>

#include <cmath>
#include <cstring>

#include "core/check.h"
#include "engine_torch/torch_collective.h"
#include "engine_torch/torch_model.h"
#include "engine_torch/torch_optim.h"

namespace ot::torch_engine {
namespace {

// The device `compute.device` names, checked against what LibTorch sees.
at::Device ResolveDevice(const std::string& name) {
  if (name == "cpu") return at::Device(at::kCPU);
  const int count = torch::cuda::is_available() ? static_cast<int>(torch::cuda::device_count()) : 0;
  if (count == 0)
    throw Error("compute.device = '" + name +
                "': no CUDA device is visible to this LibTorch (" TORCH_VERSION
                ", torch::cuda::is_available() is false); use compute.device = \"cpu\", or build "
                "the plugin against a CUDA LibTorch on a machine with a GPU");
  const int index = name == "cuda" ? 0 : std::stoi(name.substr(5));
  if (index >= count)
    throw Error(
        fmt::format("compute.device = '{}': this machine has {} CUDA device(s), cuda:0 "
                    "to cuda:{}",
                    name, count, count - 1));
  return at::Device(at::kCUDA, static_cast<c10::DeviceIndex>(index));
}

// Runs `body`; a device allocation failure becomes one sentence naming the keys that size it.
template <typename F>
auto Guarded(const char* what, int B, int T, const ModelConfig& config, F&& body) {
  try {
    return body();
  } catch (const c10::Error& e) {
    const std::string text = e.what();
    if (text.find("out of memory") == std::string::npos) throw;
    throw Error(fmt::format(
        "{}: out of device memory at a batch of {} x {} tokens for a model of {} parameters; "
        "lower the batch size (train.batch_size / finetune.batch_size / eval.batch) or the "
        "sequence length (train.seq_len / eval.seq_len), or choose a smaller model.preset",
        what, B, T, config.NumParams()));
  }
}

constexpr const char* kNoImages =
    "compute.backend = \"torch\" has no image entry points: it runs model.input = tokens only";

class TorchBackend final : public Backend {
 public:
  TorchBackend(const ModelConfig& config, const ComputeConfig& compute, const BackendPlan& plan,
               std::vector<float> params)
      : Backend(config),
        device_(ResolveDevice(compute.device)),
        plan_(plan),
        model_(config, layout_, device_, std::max({plan.train_seq, plan.eval_seq, 1})) {
    OT_CHECK(static_cast<int64_t>(params.size()) == layout_.total())
        << "params " << params.size() << " vs layout " << layout_.total();
    at::set_num_threads(omp_get_max_threads());  // the stage's thread policy (ApplyThreadPolicy)
    const auto opts = at::TensorOptions().dtype(at::kFloat);
    theta_ = Guarded("compute.device", 0, 0, config_, [&] {
      return at::from_blob(params.data(), {layout_.total()}, opts).to(device_).clone();
    });
    if (plan.train_batch > 0) theta_.set_requires_grad(true);
    if (plan.optim) {
      OT_CHECK(plan.train_batch > 0) << "an optimizer needs the training shape";
      optim_ = MakeTorchOptimizer(*plan.optim, layout_, device_);
      bf16_ = plan.optim->precision == "bf16";
      z_loss_ = plan.optim->z_loss;
      sam_rho_ = plan.optim->sam_rho;
      sam_adaptive_ = plan.optim->sam_adaptive;
    }
    snapshots_.resize(plan.snapshots);
  }

  std::string Describe() const override {
    return fmt::format("torch (LibTorch {}, {}{})", TORCH_VERSION, device_.str(),
                       bf16_ ? ", bf16 GEMMs" : "");
  }

  void ReadParams(std::span<float> host) override { ToHost(theta_, host); }
  void WriteParams(std::span<const float> host) override { FromHost(host, theta_); }

  std::vector<std::string> OptimizerStateNames() override {
    std::vector<std::string> names;
    if (optim_)
      for (auto& [name, t] : optim_->State()) names.push_back(name);
    return names;
  }
  void ReadOptimizerState(const std::string& name, std::span<float> host) override {
    ToHost(State(name), host);
  }
  void WriteOptimizerState(const std::string& name, std::span<const float> host) override {
    FromHost(host, State(name));
  }
  std::string OptimizerName() const override {
    if (!optim_) return "";
    return sam_rho_ > 0 ? "sam+" + optim_->Name() : optim_->Name();
  }
  int64_t optimizer_steps() const override { return optim_ ? optim_->steps : 0; }
  void set_optimizer_steps(int64_t steps) override {
    OT_CHECK(optim_ != nullptr) << "set_optimizer_steps without an optimizer";
    optim_->steps = steps;
  }
  void ResetOptimizer() override {
    if (optim_) {
      at::NoGradGuard no_grad;
      optim_->Reset();
    }
  }
  int PassesPerStep() const override { return sam_rho_ > 0 ? 2 : 1; }

  StepResult TrainStep(const int32_t* inputs, const int32_t* targets, int B, int T, double lr,
                       const StepControl& control) override {
    OT_CHECK(optim_ != nullptr) << "TrainStep needs a backend planned with an optimizer";
    return Guarded("compute.device", B, T, config_, [&] {
      const at::Tensor in = Tokens(inputs, B, T), tg = Tokens(targets, B, T).view({-1});
      StepResult r;
      PassScalars first = Pass(in, tg, control, 0, bf16_, z_loss_);
      r.loss = first.loss;
      r.cross_entropy = first.cross_entropy;
      r.z_loss = first.z;
      r.mean_log_z = first.mean_log_z;
      r.grad_norm = first.norm;
      r.counted_tokens = first.count;
      if (!std::isfinite(first.loss) || !std::isfinite(first.norm)) {
        r.bad_pass = 1;
        r.bad_loss = first.loss;
        r.bad_norm = first.norm;
        return r;
      }
      at::NoGradGuard no_grad;
      at::Tensor grad = theta_.grad();
      if (sam_rho_ > 0) {  // optim/sam.h: ascend to θ + e, take the gradient there, step from θ
        const at::Tensor origin = theta_.detach().clone();
        const at::Tensor scaled = sam_adaptive_ ? theta_.detach().abs() * grad : grad;
        const double norm = scaled.norm().item<double>();
        const float scale = static_cast<float>(sam_rho_ / (norm + 1e-12));
        const at::Tensor e = sam_adaptive_ ? theta_.detach().pow(2) * grad * scale : grad * scale;
        theta_.detach().add_(e);
        PassScalars second;
        {
          at::AutoGradMode grad_mode(true);
          second = Pass(in, tg, control, 1, bf16_, z_loss_);
        }
        theta_.detach().copy_(origin);  // θ restored bit-exactly, not by subtracting e
        if (!std::isfinite(second.loss) || !std::isfinite(second.norm)) {
          r.bad_pass = 2;
          r.bad_loss = second.loss;
          r.bad_norm = second.norm;
          return r;
        }
        grad = theta_.grad();
      }
      optim_->Step(theta_.detach(), grad, lr);
      return r;
    });
  }

  double Gradient(const int32_t* inputs, const int32_t* targets, int B, int T,
                  std::span<float> host) override {
    OT_CHECK(plan_.train_batch > 0) << "Gradient needs a backend planned with a training shape";
    return Guarded("compute.device", B, T, config_, [&] {
      const PassScalars s =
          Pass(Tokens(inputs, B, T), Tokens(targets, B, T).view({-1}), {.clip = 0}, 0, false, 0);
      ToHost(theta_.grad(), host);
      return s.loss;
    });
  }

  std::map<std::string, double> GroupNorms() override {
    at::NoGradGuard no_grad;
    std::map<std::string, double> sums;
    for (const auto& t : layout_.tensors())
      sums[GroupName(t.group)] +=
          theta_.detach().narrow(0, t.offset, t.size).to(at::kDouble).pow(2).sum().item<double>();
    for (auto& [_, v] : sums) v = std::sqrt(v);
    return sums;
  }

  void LogProbs(const int32_t* inputs, const int32_t* targets, int B, int T,
                float* logprobs) override {
    OT_CHECK(B <= std::max(plan_.eval_batch, plan_.train_batch) &&
             T <= std::max(plan_.eval_seq, plan_.train_seq))
        << "LogProbs (" << B << ", " << T << ") beyond the planned shapes";
    Guarded("compute.device", B, T, config_, [&] {
      at::NoGradGuard no_grad;
      const at::Tensor tg = Tokens(targets, B, T).view({-1});
      const HeadOutput h =
          model_.Head(theta_, model_.Trunk(theta_, Tokens(inputs, B, T), false), tg, false);
      const at::Tensor lp = ((h.target_logit - h.log_z) * h.mask).to(at::kCPU).contiguous();
      std::memcpy(logprobs, lp.data_ptr<float>(), sizeof(float) * B * T);
      return 0;
    });
  }

  double Loss(const int32_t* inputs, const int32_t* targets, int B, int T) override {
    return Guarded("compute.device", B, T, config_, [&] {
      at::NoGradGuard no_grad;
      const HeadOutput h = model_.Head(theta_, model_.Trunk(theta_, Tokens(inputs, B, T), false),
                                       Tokens(targets, B, T).view({-1}), false);
      return TorchModel::Loss(h, 0).cross_entropy.item<double>();
    });
  }

  void LogitStats(const int32_t* inputs, int B, int T, double* max_logit, double* log_z) override {
    Guarded("compute.device", B, T, config_, [&] {
      at::NoGradGuard no_grad;
      const at::Tensor tg =
          at::zeros({int64_t{B} * T}, at::TensorOptions().dtype(at::kLong).device(device_));
      const HeadOutput h =
          model_.Head(theta_, model_.Trunk(theta_, Tokens(inputs, B, T), false), tg, false);
      const at::Tensor logits = h.logits.to(at::kDouble);  // double from the float logits
      const at::Tensor mx = std::get<0>(logits.max(-1)).to(at::kCPU).contiguous();
      const at::Tensor lz = at::logsumexp(logits, -1).to(at::kCPU).contiguous();
      std::memcpy(max_logit, mx.data_ptr<double>(), sizeof(double) * B * T);
      std::memcpy(log_z, lz.data_ptr<double>(), sizeof(double) * B * T);
      return 0;
    });
  }

  // The torch model is the token decoder alone (TorchModelProblem refuses a ViT before this
  // backend is built), so the image entry points can only be reached with a token model.
  StepResult TrainStepImages(const float*, const int32_t*, int, double,
                             const StepControl&) override {
    throw Error(kNoImages);
  }
  StepResult TrainStepPairs(const float*, const float*, int, double, const StepControl&) override {
    throw Error(kNoImages);
  }
  ImageEval EvalImages(const float*, const int32_t*, int) override { throw Error(kNoImages); }
  double EvalPairs(const float*, const float*, int) override { throw Error(kNoImages); }
  void FeaturesImages(const float*, int, float*) override { throw Error(kNoImages); }

  void SaveSnapshot(int slot) override {
    at::NoGradGuard no_grad;
    Slot(slot, false) = theta_.detach().clone();
  }
  void RestoreSnapshot(int slot) override {
    at::NoGradGuard no_grad;
    theta_.detach().copy_(Slot(slot, true));
  }
  void AddNoise(const NoiseSpec& spec) override {
    // Drawn on the host by the native keyed stream and applied to a host copy: the perturbed
    // weights are the native backend's, bit for bit.
    std::vector<float> host(layout_.total());
    ReadParams(host);
    ot::AddNoise(layout_, host, spec);
    WriteParams(host);
  }
  void InterpolateToward(int slot, double alpha) override {
    at::NoGradGuard no_grad;
    const at::Tensor& s = Slot(slot, true);
    at::Tensor p = theta_.detach();
    if (alpha == 1.0) return;
    if (alpha == 0.0) {
      p.copy_(s);
      return;
    }
    p.mul_(static_cast<float>(alpha)).add_(s, static_cast<float>(1.0 - alpha));
  }
  void PullToward(int slot, double lr, double lambda) override {
    at::NoGradGuard no_grad;
    const at::Tensor& s = Slot(slot, true);
    theta_.detach().sub_(s).mul_(static_cast<float>(1.0 / (1.0 + lr * lambda))).add_(s);
  }

 private:
  struct PassScalars {
    double loss = 0, cross_entropy = 0, z = 0, mean_log_z = 0, norm = 0;
    int64_t count = 0;
  };

  // Zero the gradient, forward, backward; the cross-rank sum (weighted by counted targets); the
  // fault hook; clipping. The gradient is left in theta_.grad().
  PassScalars Pass(const at::Tensor& in, const at::Tensor& tg, const StepControl& control, int pass,
                   bool bf16, double z_loss) {
    if (theta_.grad().defined()) theta_.mutable_grad().zero_();
    const TorchModel::Objective o =
        TorchModel::Loss(model_.Head(theta_, model_.Trunk(theta_, in, bf16), tg, bf16), z_loss);
    o.loss.backward();
    at::NoGradGuard no_grad;
    at::Tensor grad = theta_.mutable_grad();
    const at::Tensor scalars =
        at::stack({o.loss, o.cross_entropy, o.z, o.mean_log_z, o.count.to(at::kFloat)})
            .to(at::kDouble)
            .to(at::kCPU);
    const double* s = scalars.data_ptr<double>();
    PassScalars r{s[0], s[1], s[2], s[3], 0, static_cast<int64_t>(s[4])};
    if (control.collective != nullptr) {
      // The global mean: each rank's mean weighted by its counted targets, summed, divided by the
      // total count.
      grad.mul_(static_cast<float>(r.count));
      AllReduceSum(*control.collective, grad);
      double sums[5] = {r.loss * r.count, r.cross_entropy * r.count, r.z * r.count,
                        r.mean_log_z * r.count, static_cast<double>(r.count)};
      control.collective->AllReduceSum(std::span<double>(sums, 5));
      const double total = sums[4];
      grad.mul_(total > 0 ? static_cast<float>(1.0 / total) : 0.0f);
      const double inv = total > 0 ? 1.0 / total : 0.0;
      r = {sums[0] * inv,
           sums[1] * inv,
           sums[2] * inv,
           sums[3] * inv,
           0,
           static_cast<int64_t>(total)};
    }
    if (control.fault) {
      switch (control.fault(control.step, pass)) {
        case PassFault::kLossInf:
          r.loss = INFINITY;
          break;
        case PassFault::kLossNaN:
          r.loss = NAN;
          break;
        case PassFault::kGradientNaN:
          grad.narrow(0, 0, 1).fill_(NAN);
          break;
        case PassFault::kLossSpike:
          r.loss += 10;
          break;
        case PassFault::kNone:
          break;
      }
    }
    r.norm = grad.norm().item<double>();  // NaN/Inf propagate into the norm
    if (control.clip > 0 && std::isfinite(r.norm) && r.norm > control.clip)
      grad.mul_(static_cast<float>(control.clip / (r.norm + 1e-6)));
    return r;
  }

  at::Tensor Tokens(const int32_t* ids, int B, int T) const {
    return at::from_blob(const_cast<int32_t*>(ids), {B, T}, at::TensorOptions().dtype(at::kInt))
        .to(device_, at::kLong);
  }
  static void ToHost(const at::Tensor& t, std::span<float> host) {
    OT_CHECK(static_cast<int64_t>(host.size()) == t.numel()) << host.size() << " vs " << t.numel();
    const at::Tensor c = t.detach().to(at::kCPU).contiguous();
    std::memcpy(host.data(), c.data_ptr<float>(), host.size() * sizeof(float));
  }
  static void FromHost(std::span<const float> host, const at::Tensor& t) {
    OT_CHECK(static_cast<int64_t>(host.size()) == t.numel()) << host.size() << " vs " << t.numel();
    at::NoGradGuard no_grad;
    t.detach().copy_(at::from_blob(const_cast<float*>(host.data()), {t.numel()},
                                   at::TensorOptions().dtype(at::kFloat)));
  }
  at::Tensor State(const std::string& name) {
    OT_CHECK(optim_ != nullptr) << "optimizer state '" << name << "' without an optimizer";
    for (auto& [n, t] : optim_->State())
      if (n == name) return t;
    OT_CHECK(false) << "no optimizer state '" << name << "' in " << optim_->Name();
    return {};
  }
  at::Tensor& Slot(int slot, bool saved) {
    OT_CHECK(slot >= 0 && slot < static_cast<int>(snapshots_.size()))
        << "snapshot slot " << slot << " of " << snapshots_.size() << " planned";
    OT_CHECK(!saved || snapshots_[slot].defined()) << "snapshot slot " << slot << " not saved";
    return snapshots_[slot];
  }

  at::Device device_;
  BackendPlan plan_;
  TorchModel model_;
  at::Tensor theta_;  // (P) fp32 leaf; requires grad when the plan trains
  std::vector<at::Tensor> snapshots_;
  std::unique_ptr<TorchOptimizer> optim_;
  bool bf16_ = false, sam_adaptive_ = false;
  double z_loss_ = 0, sam_rho_ = 0;
};

}  // namespace

std::string DescribePlugin() {
  const int gpus = torch::cuda::is_available() ? static_cast<int>(torch::cuda::device_count()) : 0;
  return fmt::format("LibTorch {} ({})", TORCH_VERSION,
                     gpus > 0 ? fmt::format("{} CUDA device(s)", gpus) : std::string("CPU only"));
}

std::unique_ptr<Backend> MakeTorchBackend(const ModelConfig& config, const ComputeConfig& compute,
                                          const BackendPlan& plan, std::vector<float> params) {
  if (const std::string problem = TorchModelProblem(config); !problem.empty()) throw Error(problem);
  return std::make_unique<TorchBackend>(config, compute, plan, std::move(params));
}

}  // namespace ot::torch_engine
