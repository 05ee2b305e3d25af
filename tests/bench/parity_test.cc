// Parity with an independent implementation: bench/reference.py (PyTorch, /usr/bin/python3) loads the same
// initial weights and batch from a safetensors file overtrain writes, and returns its loss, gradients and
// weights after one AdamW step; we compare with the engine's. Fails (never skips) without torch.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>

#include "bench/torch_reference.h"
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

namespace ot {
namespace {

namespace fs = std::filesystem;

constexpr double kLr = 1e-3;
const AdamWConfig kAdamW{0.9, 0.95, 1e-8, 0.1};

// A small model that still has every feature: several heads, ignored targets, gains away from 1.
ModelConfig SmallConfig(NormKind norm, bool tied) {
  ModelConfig c;
  c.vocab_size = 211;
  c.d_model = 32;
  c.n_layers = 2;
  c.n_heads = 4;
  c.max_seq_len = 24;
  c.norm = norm;
  c.tied_head = tied;
  c.init_std = 0.2;  // larger than 0.02 so the logits are far from uniform and every gradient is sizeable
  return c;
}

struct Fixture {
  ModelConfig config;
  ParamLayout layout;
  std::vector<float> params;
  std::vector<int32_t> inputs, targets;
  int B = 3, T = 24;
};

Fixture MakeFixture(const ModelConfig& config, uint64_t seed) {
  Fixture f{config, ParamLayout::ForModel(config), {}, {}, {}};
  f.params.assign(f.layout.total(), 0.0f);
  InitParams(f.layout, f.params, seed);
  const uint64_t key = RngKey(seed, StreamId("parity-test"));
  for (const auto& t : f.layout.tensors())  // norm gains: 1 + N(0, 0.1), so their gradients matter
    if (t.group == ParamGroup::kNorm)
      for (int64_t i = 0; i < t.size; ++i) f.params[t.offset + i] = 1.0f + 0.1f * NormalAt(key, t.offset + i);
  const int N = f.B * f.T;
  for (int i = 0; i < N; ++i) {
    f.inputs.push_back(static_cast<int32_t>(UniformAt(key, 1000000 + i) * config.vocab_size));
    f.targets.push_back(static_cast<int32_t>(UniformAt(key, 2000000 + i) * config.vocab_size));
  }
  for (int t = 0; t < 5; ++t) f.targets[t] = -1;  // a prompt: ignored targets
  f.targets[f.T + 7] = -1;
  return f;
}

// What the reference returned.
struct TorchResult {
  double loss = 0;
  std::map<std::string, std::vector<float>> grad, step;
};

class TempDir {
 public:
  TempDir() {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    path_ = fs::temp_directory_path() /
            ("ot_parity_" + std::to_string(getpid()) + "_" + info->name());
    fs::remove_all(path_);
    fs::create_directories(path_);
  }
  ~TempDir() { fs::remove_all(path_); }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

TorchResult RunTorch(const Fixture& f, const fs::path& dir, const std::string& dtype) {
  nlohmann::json optim = {{"lr", kLr},         {"beta1", kAdamW.beta1}, {"beta2", kAdamW.beta2},
                          {"eps", kAdamW.eps}, {"weight_decay", kAdamW.weight_decay}};
  std::vector<std::string> decay;
  const auto groups = DefaultDecayGroups();
  for (const auto& t : f.layout.tensors())
    if (std::find(groups.begin(), groups.end(), GroupName(t.group)) != groups.end()) decay.push_back(t.name);
  optim["decay"] = decay;
  std::vector<TensorToWrite> tensors;
  for (const auto& t : f.layout.tensors())
    tensors.push_back(F32Tensor(t.name, t.shape, std::span(f.params).subspan(t.offset, t.size)));
  auto i32 = [&](const char* name, const std::vector<int32_t>& v) {
    return TensorToWrite{name, DType::kI32, {f.B, f.T},
                         std::as_bytes(std::span<const int32_t>(v.data(), v.size()))};
  };
  tensors.push_back(i32("batch.inputs", f.inputs));
  tensors.push_back(i32("batch.targets", f.targets));
  const fs::path in = dir / "in.safetensors", out = dir / "out.safetensors";
  WriteSafetensorsFile(in, tensors,
                       {{"bench.model", ReferenceModelJson(f.config).dump()}, {"bench.optim", optim.dump()}});
  RunReferenceParity(in, out, dtype);
  const SafetensorsFile file = SafetensorsFile::Open(out);
  TorchResult r;
  r.loss = std::stod(file.metadata().at("loss"));
  for (const auto& t : f.layout.tensors()) {
    r.grad[t.name] = ToF32(file.Get("grad." + t.name));
    r.step[t.name] = ToF32(file.Get("step." + t.name));
  }
  return r;
}

// max |a - b| / max |b| over one tensor (the error relative to the tensor's scale).
double RelInfError(std::span<const float> a, std::span<const float> b) {
  double diff = 0, scale = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    diff = std::max(diff, std::abs(double(a[i]) - double(b[i])));
    scale = std::max(scale, std::abs(double(b[i])));
  }
  return scale > 0 ? diff / scale : diff;
}

double MaxAbsError(std::span<const float> a, std::span<const float> b) {
  double diff = 0;
  for (size_t i = 0; i < a.size(); ++i) diff = std::max(diff, std::abs(double(a[i]) - double(b[i])));
  return diff;
}

// Compares one engine's loss, gradients (grads arena) and post-AdamW weights with the reference.
void ExpectParity(const char* label, const Fixture& f, const TorchResult& torch, double loss, std::span<const float> grads,
                  double loss_tol, double grad_tol, double step_tol) {
  EXPECT_NEAR(loss, torch.loss, loss_tol * std::abs(torch.loss)) << "loss";
  std::vector<float> stepped = f.params;
  AdamW adamw(f.layout.total(), kAdamW, DecaySegmentsFor(f.layout, DefaultDecayGroups()));
  adamw.Step(stepped, grads, kLr);
  double worst_grad = 0, worst_step = 0;
  for (const auto& t : f.layout.tensors()) {
    const auto g = grads.subspan(t.offset, t.size);
    const auto w = std::span<const float>(stepped).subspan(t.offset, t.size);
    const double eg = RelInfError(g, torch.grad.at(t.name)), ew = MaxAbsError(w, torch.step.at(t.name));
    EXPECT_LE(eg, grad_tol) << "gradient of " << t.name;
    EXPECT_LE(ew, step_tol) << "weights after one AdamW step, " << t.name;
    worst_grad = std::max(worst_grad, eg);
    worst_step = std::max(worst_step, ew);
  }
  std::printf("  %s: loss %.9f vs torch %.9f (rel %.2e); worst gradient error %.2e (rel. to tensor max); "
              "worst weight error after AdamW %.2e\n",
              label, loss, torch.loss, std::abs(loss - torch.loss) / std::abs(torch.loss), worst_grad, worst_step);
}

void RequireTorch() {
  try {
    CheckPythonTorch();
  } catch (const Error& e) {
    FAIL() << e.what();
  }
}

struct Variant {
  NormKind norm;
  bool tied;
};
class ParityTest : public ::testing::TestWithParam<Variant> {};

// One PyTorch run (in double) per variant, two engines against it:
// - the double-precision scalar reference (ReferenceDecoder<double>): both sides are exact up to rounding,
//   so this pins down that the two implementations are the same function; compared in float (the
//   reference's outputs are F32), hence tolerances at float epsilon.
// - the fast float32 Decoder (the one that trains), at the tolerances: loss 1e-5 relative;
//   gradients 1e-4 of each tensor's largest entry (float32 sums over 72 rows, 211 logits); weights after
//   one AdamW step (lr 1e-3) 1e-5 absolute.
TEST_P(ParityTest, LossGradientsAndAdamWStepMatchPyTorch) {
  RequireTorch();
  TempDir dir;
  const Fixture f = MakeFixture(SmallConfig(GetParam().norm, GetParam().tied), 7);
  const TorchResult torch = RunTorch(f, dir.path(), "float64");
  {
    SCOPED_TRACE("ReferenceDecoder<double>");
    ReferenceDecoder<double> ref(f.config);
    std::vector<double> p(f.params.begin(), f.params.end()), g(p.size(), 0.0);
    const double loss = ref.Forward(p.data(), f.inputs.data(), f.targets.data(), f.B, f.T);
    ref.Backward(p.data(), g.data());
    std::vector<float> gf(g.begin(), g.end());
    ExpectParity("reference (double)", f, torch, loss, gf, 1e-12, 1e-6, 1e-7);
  }
  {
    SCOPED_TRACE("Decoder (fast, float32)");
    Decoder decoder(f.config, f.B, f.T);
    std::vector<float> grads(f.params.size(), 0.0f);
    const double loss = decoder.Forward(f.params, f.inputs.data(), f.targets.data(), f.B, f.T);
    decoder.Backward(f.params, grads);
    ExpectParity("fast decoder (float32)", f, torch, loss, grads, 1e-5, 1e-4, 1e-5);
  }
}

INSTANTIATE_TEST_SUITE_P(Variants, ParityTest,
                         ::testing::Values(Variant{NormKind::kRmsNorm, true}, Variant{NormKind::kRmsNorm, false},
                                           Variant{NormKind::kLayerNorm, true},
                                           Variant{NormKind::kLayerNorm, false}),
                         [](const auto& info) {
                           return std::string(NormName(info.param.norm)) +
                                  (info.param.tied ? "_tied" : "_untied");
                         });

TEST(ParityHarness, MissingReferenceScriptIsAClearError) {
  setenv("OVERTRAIN_REFERENCE", "/nonexistent/reference.py", 1);
  try {
    FindReferenceScript();
    ADD_FAILURE() << "expected an Error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/reference.py"), std::string::npos) << e.what();
  }
  unsetenv("OVERTRAIN_REFERENCE");
}

TEST(ParityHarness, PythonWithoutTorchIsAClearError) {
  try {
    CheckPythonTorch("/bin/false");
    ADD_FAILURE() << "expected an Error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("scripts/setup.sh"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace ot
