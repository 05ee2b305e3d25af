// The torch backend's model on this CPU against the double ReferenceDecoder and the native engine,
// for the default architecture and every family (tests/model/families.h): loss, log-probs and
// every gradient element, with the bounds the native fast decoder meets (tests/model/
// decoder_test.cc derives them: float32 through ~10 ops with reductions of K <= 70 terms gives
// ~1e-6 relative; 1e-5 leaves margin). Also bf16 against fp32 with a derived bound, and the
// logit statistics.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <random>
#include <vector>

#include "engine/backend.h"
#include "engine_torch/torch_backend.h"
#include "model/families.h"
#include "model/init.h"
#include "model/reference_decoder.h"

namespace ot {
namespace {

ModelConfig TorchSmall() {
  ModelConfig c;
  c.vocab_size = 37;
  c.d_model = 32;
  c.n_layers = 2;
  c.n_heads = 4;  // HS 8
  c.d_ff = 48;
  c.max_seq_len = 70;
  return c;
}

// Weights at 5x the init std, gains and biases away from their constants (every gradient matters).
std::vector<float> TorchParams(const ParamLayout& layout, uint64_t seed, float scale) {
  std::vector<float> p(layout.total());
  InitParams(layout, p, seed);
  for (const auto& t : layout.tensors())
    for (int64_t i = 0; i < t.size; ++i)
      p[t.offset + i] =
          t.init_std == 0 ? t.init_const + 0.1f * ((i % 5) - 2) : p[t.offset + i] * scale;
  return p;
}

std::vector<int32_t> TorchTokens(int n, int V, uint32_t seed, double ignore_frac = 0) {
  std::mt19937 gen(seed);
  std::vector<int32_t> t(n);
  for (auto& x : t) x = static_cast<int32_t>(gen() % V);
  for (auto& x : t)
    if (ignore_frac > 0 && (gen() % 1000) < ignore_frac * 1000) x = -1;
  return t;
}

// The device under test: cpu here; scripts/gpu-check.sh sets OVERTRAIN_TEST_DEVICE=cuda on a GPU
// machine, where the same bounds hold (fp32 GEMMs without TF32, LibTorch's default).
std::string TestDevice() {
  const char* d = std::getenv("OVERTRAIN_TEST_DEVICE");
  return d != nullptr && *d != '\0' ? d : "cpu";
}

std::unique_ptr<Backend> Torch(const ModelConfig& c, const BackendPlan& plan,
                               std::vector<float> p) {
  return torch_engine::MakeTorchBackend(c, {.backend = "torch", .device = TestDevice()}, plan,
                                        std::move(p));
}

class TorchModelParity : public ::testing::TestWithParam<std::string> {};

TEST_P(TorchModelParity, MatchesDoubleReferenceAndNative) {
  ModelConfig config =
      GetParam() == "default" ? TorchSmall() : WithFamily(TorchSmall(), GetParam());
  const int B = 3, T = 70, N = B * T;
  const std::vector<float> p = TorchParams(ParamLayout::ForModel(config), 11, 5.0f);
  const std::vector<double> pd(p.begin(), p.end());
  const auto inputs = TorchTokens(N, config.vocab_size, 1),
             targets = TorchTokens(N, config.vocab_size, 2, 0.2);
  if (config.clip_qkv > 0)  // clamp decisions 1e-5 away from every entry (decoder_test.cc's why)
    config.clip_qkv =
        ClipAwayFromProjections(config, p.data(), inputs.data(), targets.data(), B, T, 1e-5);
  const BackendPlan plan{.train_batch = B, .train_seq = T, .eval_batch = B, .eval_seq = T};
  auto torch = Torch(config, plan, p);
  auto native = MakeBackend(config, {}, plan, p);
  ReferenceDecoder<double> ref(config);
  const double loss_ref = ref.Forward(pd.data(), inputs.data(), targets.data(), B, T);
  std::vector<double> gd(p.size(), 0.0);
  ref.Backward(pd.data(), gd.data());
  std::vector<float> g(p.size()), gn(p.size());
  const double loss = torch->Gradient(inputs.data(), targets.data(), B, T, g);
  native->Gradient(inputs.data(), targets.data(), B, T, gn);
  EXPECT_NEAR(loss, loss_ref, 1e-5 * loss_ref);
  EXPECT_NEAR(torch->Loss(inputs.data(), targets.data(), B, T), loss_ref, 1e-5 * loss_ref);
  std::vector<float> lp(N), lpn(N);
  torch->LogProbs(inputs.data(), targets.data(), B, T, lp.data());
  native->LogProbs(inputs.data(), targets.data(), B, T, lpn.data());
  double max_lp = 0, max_lpn = 0;
  for (int i = 0; i < N; ++i) {
    max_lp = std::max(max_lp, std::abs(lp[i] - ref.logprobs()[i]));
    max_lpn = std::max(max_lpn, std::abs(double(lp[i]) - lpn[i]));
  }
  EXPECT_LT(max_lp, 1e-5 * std::log(37.0) * 4);   // |logprob| ~ log V; 1e-5 relative
  EXPECT_LT(max_lpn, 2e-5 * std::log(37.0) * 4);  // two engines, each within the bound above
  double worst = 0, worst_native = 0;
  for (const auto& t : ParamLayout::ForModel(config).tensors()) {
    double scale = 0, err = 0, err_n = 0;
    for (int64_t i = 0; i < t.size; ++i) {
      scale = std::max(scale, std::abs(gd[t.offset + i]));
      err = std::max(err, std::abs(g[t.offset + i] - gd[t.offset + i]));
      err_n = std::max(err_n, std::abs(double(g[t.offset + i]) - gn[t.offset + i]));
    }
    ASSERT_GT(scale, 0) << t.name;
    EXPECT_LT(err / scale, 1e-5) << t.name;
    EXPECT_LT(err_n / scale, 2e-5) << t.name;
    worst = std::max(worst, err / scale);
    worst_native = std::max(worst_native, err_n / scale);
  }
  std::printf(
      "  torch %s: loss %.7f vs %.7f, max logprob err %.1e, worst grad err/scale %.1e "
      "(vs native %.1e)\n",
      GetParam().c_str(), loss, loss_ref, max_lp, worst, worst_native);
}

INSTANTIATE_TEST_SUITE_P(Families, TorchModelParity,
                         ::testing::Values("default", "llama-gqa-bias", "olmo-clip", "olmo2",
                                           "neox", "neox-sequential"),
                         [](const auto& info) {
                           std::string n = info.param;
                           for (char& ch : n)
                             if (ch == '-') ch = '_';
                           return n;
                         });

TEST(TorchModel, LogitStatsMatchTheNativeEngine) {
  const ModelConfig config = TorchSmall();
  const int B = 2, T = 40;
  const std::vector<float> p = TorchParams(ParamLayout::ForModel(config), 3, 6.0f);
  const auto inputs = TorchTokens(B * T, config.vocab_size, 5);
  const BackendPlan plan{.train_batch = B, .train_seq = T};
  auto torch = Torch(config, plan, p);
  auto native = MakeBackend(config, {}, plan, p);
  std::vector<double> mt(B * T), zt(B * T), mn(B * T), zn(B * T);
  torch->LogitStats(inputs.data(), B, T, mt.data(), zt.data());
  native->LogitStats(inputs.data(), B, T, mn.data(), zn.data());
  for (int i = 0; i < B * T; ++i) {  // float logits of a few units: 1e-5 relative (as above)
    EXPECT_NEAR(mt[i], mn[i], 1e-5 * (1 + std::abs(mn[i]))) << i;
    EXPECT_NEAR(zt[i], zn[i], 1e-5 * (1 + std::abs(zn[i]))) << i;
  }
}

// bf16 GEMMs (torch: real bf16 products; native: fp32 products of bf16-rounded inputs) against the
// fp32 objective. Bound: each GEMM input rounded to bf16 (unit roundoff 2^-9) perturbs its output
// by <= 2·2^-9 relative; the model has 2 blocks x 7 GEMM stages (qkv, QK^T, PV, o, gate|up, down,
// and their order) + the head = 15 stages, and in the worst case their first-order errors align:
// 15·2^-8 ≈ 0.059 of the loss. Torch also rounds each product's output to bf16 (one more 2^-9
// per stage): 2x for the difference of the two engines.
TEST(TorchModel, Bf16ObjectiveWithinItsRoundingBound) {
  const ModelConfig config = TorchSmall();
  const int B = 3, T = 64;
  const std::vector<float> p = TorchParams(ParamLayout::ForModel(config), 11, 5.0f);
  const auto inputs = TorchTokens(B * T, config.vocab_size, 1),
             targets = TorchTokens(B * T, config.vocab_size, 2);
  OptimConfig bf16{.lr = 1e-3, .precision = "bf16"};
  const BackendPlan plan{.train_batch = B, .train_seq = T, .optim = bf16};
  auto torch = Torch(config, plan, p);
  auto native = MakeBackend(config, {}, plan, p);
  const double fp32 = native->Loss(inputs.data(), targets.data(), B, T);
  const double lt = torch->TrainStep(inputs.data(), targets.data(), B, T, 1e-3, {}).loss;
  const double ln = native->TrainStep(inputs.data(), targets.data(), B, T, 1e-3, {}).loss;
  const double bound = 15 * 0x1p-8 * fp32;
  std::printf("  bf16 loss: torch %.6f, native %.6f, fp32 %.6f (bound %.4f)\n", lt, ln, fp32,
              bound);
  EXPECT_NEAR(lt, fp32, bound);
  EXPECT_NEAR(ln, fp32, bound);
  EXPECT_NEAR(lt, ln, 2 * bound);
  EXPECT_NE(lt, fp32) << "bf16 made no difference: the casts are not happening";
}

TEST(TorchModel, CpuOnlyLibTorchRefusesCudaInOneSentence) {
  if (at::hasCUDA()) GTEST_SKIP() << "this LibTorch has CUDA";
  std::string message;
  try {
    torch_engine::MakeTorchBackend(TorchSmall(), {.backend = "torch", .device = "cuda"},
                                   {.eval_batch = 1, .eval_seq = 4},
                                   std::vector<float>(ParamLayout::ForModel(TorchSmall()).total()));
  } catch (const Error& e) {
    message = e.what();
  }
  EXPECT_EQ(message.rfind("compute.device = 'cuda': no CUDA device", 0), 0u) << message;
}

}  // namespace
}  // namespace ot
