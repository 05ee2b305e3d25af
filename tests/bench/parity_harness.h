// The parity harness shared by parity_test.cc (the default architecture) and arch_parity_test.cc
// (the imported Hugging Face families): a fixture (weights, batch), one run of
// reference/reference.py on it, and the derived comparisons of loss, gradients and one AdamW step.
// Entry points: MakeFixture, RunTorch, ExpectReferenceDecoderParity, ExpectFastDecoderParity,
// ExpectParity, ExpectAdamWParity, RequireTorch, ScopedTempDir (also used by optim_parity_test.cc).
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <span>
#include <string>
#include <vector>

#include "bench/torch_reference.h"
#include "common/test_util.h"
#include "core/check.h"
#include "core/rng.h"
#include "core/safetensors.h"
#include "model/config.h"
#include "model/decoder.h"
#include "model/init.h"
#include "model/layout.h"
#include "model/reference_decoder.h"
#include "optim/optimizer.h"
#include "optim/param_groups.h"

namespace ot::parity {

namespace fs = std::filesystem;

inline constexpr double kLr = 1e-3;
inline const AdamWConfig kAdamW{0.9, 0.95, 1e-8, 0.1};

struct Fixture {
  ModelConfig config;
  ParamLayout layout;
  std::vector<float> params;
  std::vector<int32_t> inputs, targets;
  int B = 3, T = 24;
};

inline Fixture MakeFixture(const ModelConfig& config, uint64_t seed) {
  Fixture f{config, ParamLayout::ForModel(config), {}, {}, {}};
  f.params.assign(f.layout.total(), 0.0f);
  InitParams(f.layout, f.params, seed);
  const uint64_t key = RngKey(seed, StreamId("parity-test"));
  // Constant-initialised tensors moved off their constant: norm gains 1 + N(0, 0.1), norm and
  // linear biases N(0, 0.1), so each one changes the function and its gradient matters.
  for (const auto& t : f.layout.tensors())
    if (t.group == ParamGroup::kNorm || t.group == ParamGroup::kBias)
      for (int64_t i = 0; i < t.size; ++i)
        f.params[t.offset + i] = t.init_const + 0.1f * NormalAt(key, t.offset + i);
  const int N = f.B * f.T;
  for (int i = 0; i < N; ++i) {
    f.inputs.push_back(static_cast<int32_t>(UniformAt(key, 1000000 + i) * config.vocab_size));
    f.targets.push_back(static_cast<int32_t>(UniformAt(key, 2000000 + i) * config.vocab_size));
  }
  for (int t = 0; t < 5; ++t) f.targets[t] = -1;  // a prompt: ignored targets
  f.targets[f.T + 7] = -1;
  // clip_qkv at least 1e-4 from every projection entry, 100x float32's error in them: the float32
  // decoder then clamps exactly the entries torch's float64 one does, on any CPU.
  if (config.clip_qkv > 0)
    f.config.clip_qkv = ClipAwayFromProjections(f.config, f.params.data(), f.inputs.data(),
                                                f.targets.data(), f.B, f.T, 1e-4);
  return f;
}

// What the reference returned.
struct TorchResult {
  double loss = 0;
  std::string
      family;  // the Hugging Face family module reference.py ran (llama, olmo, olmo2, gpt_neox)
  std::map<std::string, std::vector<float>> grad, step;
};

// A fresh directory for one test's reference.py exchange, removed with the object.
class ScopedTempDir {
 public:
  ScopedTempDir()
      : path_(
            ot::testing::TempDir(std::string("parity_") +
                                 ::testing::UnitTest::GetInstance()->current_test_info()->name())) {
  }
  ~ScopedTempDir() { fs::remove_all(path_); }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

// reference.py --parity on `f`'s parameters and `batch` (tensors named batch.*, spans into memory
// that outlives the call) with kAdamW's settings: the loss, every gradient and one AdamW step.
inline TorchResult RunTorchParity(const Fixture& f, const std::vector<TensorToWrite>& batch,
                                  const fs::path& dir, const std::string& dtype) {
  nlohmann::json optim = {{"lr", kLr},
                          {"beta1", kAdamW.beta1},
                          {"beta2", kAdamW.beta2},
                          {"eps", kAdamW.eps},
                          {"weight_decay", kAdamW.weight_decay}};
  std::vector<std::string> decay;
  const auto groups = DefaultDecayGroups();
  for (const auto& t : f.layout.tensors())
    if (std::find(groups.begin(), groups.end(), GroupName(t.group)) != groups.end())
      decay.push_back(t.name);
  optim["decay"] = decay;
  std::vector<TensorToWrite> tensors;
  for (const auto& t : f.layout.tensors())
    tensors.push_back(F32Tensor(t.name, t.shape, std::span(f.params).subspan(t.offset, t.size)));
  tensors.insert(tensors.end(), batch.begin(), batch.end());
  const fs::path in = dir / "in.safetensors", out = dir / "out.safetensors";
  WriteSafetensorsFile(
      in, tensors,
      {{"bench.model", ReferenceModelJson(f.config).dump()}, {"bench.optim", optim.dump()}});
  RunReferenceParity(in, out, dtype);
  const SafetensorsFile file = SafetensorsFile::Open(out);
  TorchResult r;
  r.loss = std::stod(file.metadata().at("loss"));
  r.family = file.metadata().at("family");
  for (const auto& t : f.layout.tensors()) {
    r.grad[t.name] = ToF32(file.Get("grad." + t.name));
    r.step[t.name] = ToF32(file.Get("step." + t.name));
  }
  return r;
}

// The token decoder's parity run: batch.inputs and batch.targets (B, T).
inline TorchResult RunTorch(const Fixture& f, const fs::path& dir, const std::string& dtype) {
  auto i32 = [&](const char* name, const std::vector<int32_t>& v) {
    return TensorToWrite{
        name, DType::kI32, {f.B, f.T}, std::as_bytes(std::span<const int32_t>(v.data(), v.size()))};
  };
  return RunTorchParity(f, {i32("batch.inputs", f.inputs), i32("batch.targets", f.targets)}, dir,
                        dtype);
}

// max |a - b| / max |b| over one tensor (the error relative to the tensor's scale).
inline double RelInfError(std::span<const float> a, std::span<const float> b) {
  double diff = 0, scale = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    diff = std::max(diff, std::abs(double(a[i]) - double(b[i])));
    scale = std::max(scale, std::abs(double(b[i])));
  }
  return scale > 0 ? diff / scale : diff;
}

// Every bound below is derived from the arithmetic, so it holds on any CPU, -march level and
// OpenBLAS kernel.
//
// One AdamW step from zero moments updates each weight by u(g) = lr * g / (|g| + eps) (bias
// correction makes m̂ = g and sqrt(v̂) = |g|) after the decay p *= 1 - lr*wd. u is 1/eps-Lipschitz in
// g, so a float32 gradient that differs from torch's by δ can move a weight by far more than δ
// where |g| is near eps: for g, g' of one sign, |u(g) - u(g')| = lr * eps * |g - g'| / ((|g| +
// eps)(|g'| + eps)); for opposite signs it is lr * (2|g||g'| + eps(|g| + |g'|)) / ((|g| + eps)(|g'|
// + eps)). That bound, per element, is what the step of our gradients may differ by (the fixed 1e-5
// it replaces failed on AVX-512 machines whenever a gradient of ~1e-8 came out with a rounding
// difference).
inline double AdamStepBound(double g, double g_ref, double eps) {
  const double a = std::abs(g), b = std::abs(g_ref), den = (a + eps) * (b + eps);
  if ((g >= 0) == (g_ref >= 0)) return kLr * eps * std::abs(g - g_ref) / den;
  return kLr * (2 * a * b + eps * (a + b)) / den;
}

// float32 rounding of one AdamW update: p*keep, m, v, sqrt, the division and the subtraction are
// each one rounding (relative 2^-24) of a quantity of size at most |p| + lr, so 8 units of 2^-24
// (|p| + lr) bound it.
inline double StepRounding(double p) { return 8 * std::ldexp(std::abs(p) + kLr, -24); }

// Our AdamW on torch's own gradients: the two optimizers must agree to float32 rounding,
// everywhere.
inline void ExpectAdamWParity(const Fixture& f, const TorchResult& torch) {
  std::vector<float> grads(f.params.size()), stepped = f.params;
  for (const auto& t : f.layout.tensors())
    std::copy(torch.grad.at(t.name).begin(), torch.grad.at(t.name).end(), grads.begin() + t.offset);
  AdamW adamw(f.layout.total(), kAdamW, DecaySegmentsFor(f.layout, DefaultDecayGroups()));
  adamw.Step(stepped, grads, kLr);
  double worst = 0;  // in units of the rounding bound
  for (const auto& t : f.layout.tensors()) {
    const auto& ref = torch.step.at(t.name);
    for (int64_t i = 0; i < t.size; ++i) {
      // torch's gradient reached us rounded to float32: one more rounding of g, amplified as above.
      const double g = grads[t.offset + i];
      const double bound =
          StepRounding(f.params[t.offset + i]) + AdamStepBound(g, g * (1 + 0x1p-24), kAdamW.eps);
      const double err = std::abs(double(stepped[t.offset + i]) - double(ref[i]));
      worst = std::max(worst, err / bound);
      ASSERT_LE(err, bound) << "AdamW on torch's gradients, " << t.name << "[" << i << "]";
    }
  }
  std::printf(
      "  AdamW on torch's gradients: worst weight error %.2f of its float32 rounding bound\n",
      worst);
}

// Compares one engine's loss and gradients (grads arena) with the reference, then its post-AdamW
// weights element by element against the bound that its own gradient error implies (AdamStepBound +
// rounding).
inline void ExpectParity(const char* label, const Fixture& f, const TorchResult& torch, double loss,
                         std::span<const float> grads, double loss_tol, double grad_tol) {
  EXPECT_NEAR(loss, torch.loss, loss_tol * std::abs(torch.loss)) << "loss";
  std::vector<float> stepped = f.params;
  AdamW adamw(f.layout.total(), kAdamW, DecaySegmentsFor(f.layout, DefaultDecayGroups()));
  adamw.Step(stepped, grads, kLr);
  double worst_grad = 0, worst_step = 0, worst_ratio = 0;
  for (const auto& t : f.layout.tensors()) {
    const auto g = grads.subspan(t.offset, t.size);
    const auto w = std::span<const float>(stepped).subspan(t.offset, t.size);
    const auto& g_ref = torch.grad.at(t.name);
    const auto& w_ref = torch.step.at(t.name);
    const double eg = RelInfError(g, g_ref);
    EXPECT_LE(eg, grad_tol) << "gradient of " << t.name;
    worst_grad = std::max(worst_grad, eg);
    for (int64_t i = 0; i < t.size; ++i) {
      const double bound =
          StepRounding(f.params[t.offset + i]) + AdamStepBound(g[i], g_ref[i], kAdamW.eps);
      const double err = std::abs(double(w[i]) - double(w_ref[i]));
      worst_step = std::max(worst_step, err);
      worst_ratio = std::max(worst_ratio, err / bound);
      ASSERT_LE(err, bound) << "weights after one AdamW step, " << t.name << "[" << i
                            << "]: gradient " << g[i] << " vs torch " << g_ref[i];
    }
  }
  std::printf(
      "  %s: loss %.9f vs torch %.9f (rel %.2e); worst gradient error %.2e (rel. to tensor max); "
      "worst weight error after AdamW %.2e (%.2f of its derived bound)\n",
      label, loss, torch.loss, std::abs(loss - torch.loss) / std::abs(torch.loss), worst_grad,
      worst_step, worst_ratio);
}

// The double-precision scalar reference (ReferenceDecoder<double>) against torch in double: both
// sides are exact up to rounding, so this pins down that the two implementations are the same
// function; compared in float (the reference's outputs are F32), hence tolerances at float epsilon
// (loss 1e-12 relative; gradients 1e-6 of each tensor's largest entry).
inline void ExpectReferenceDecoderParity(const Fixture& f, const TorchResult& torch) {
  ReferenceDecoder<double> ref(f.config);
  std::vector<double> p(f.params.begin(), f.params.end()), g(p.size(), 0.0);
  const double loss = ref.Forward(p.data(), f.inputs.data(), f.targets.data(), f.B, f.T);
  ref.Backward(p.data(), g.data());
  std::vector<float> gf(g.begin(), g.end());
  ExpectParity("reference (double)", f, torch, loss, gf, 1e-12, 1e-6);
}

// The fast float32 Decoder (what trains and evaluates) at the tolerances: loss 1e-5
// relative; gradients 1e-4 of each tensor's largest entry (float32 sums over 72 rows and 211
// logits); weights after one AdamW step within the bound their own gradient error implies
// (AdamStepBound).
inline void ExpectFastDecoderParity(const Fixture& f, const TorchResult& torch) {
  if (f.config.clip_qkv > 0) {
    // No projection entry within 1e-4 of +-clip_qkv (100x float32's error in them), so the float32
    // decoder clamps the entries torch's float64 one does on any CPU.
    ReferenceDecoder<double> ref(f.config);
    const std::vector<double> pd(f.params.begin(), f.params.end());
    ref.Forward(pd.data(), f.inputs.data(), f.targets.data(), f.B, f.T);
    ASSERT_GT(ref.ClipMargin(), 1e-4);
  }
  Decoder decoder(f.config, f.B, f.T);
  std::vector<float> grads(f.params.size(), 0.0f);
  const double loss = decoder.Forward(f.params, f.inputs.data(), f.targets.data(), f.B, f.T);
  decoder.Backward(f.params, grads);
  ExpectParity("fast decoder (float32)", f, torch, loss, grads, 1e-5, 1e-4);
}

inline void RequireTorch() {
  try {
    CheckPythonTorch();
  } catch (const Error& e) {
    FAIL() << e.what();
  }
}

}  // namespace ot::parity
