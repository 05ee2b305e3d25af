// The fast Decoder against the double ReferenceDecoder (loss, log-probs, every gradient element),
// plus determinism (same seed => same bits; 1 vs 2 threads), ignored targets, row independence of
// LogProbs, bad tokens, and the convergence rung: overfitting one batch with Adam written here.
#include "model/decoder.h"

#include <gtest/gtest.h>
#include <omp.h>

#include <cmath>
#include <vector>

#include "model/decoder_inputs.h"
#include "model/families.h"
#include "model/grad_parity.h"
#include "model/init.h"
#include "model/reference_decoder.h"

namespace ot {
namespace {

std::vector<float> ScaledParams(const ParamLayout& layout, uint64_t seed, float scale) {
  std::vector<float> p(layout.total());
  InitParams(layout, p, seed);
  // Gains 1 + pattern, biases pattern (away from their constant init, so every gradient matters).
  for (const auto& t : layout.tensors())
    for (int64_t i = 0; i < t.size; ++i)
      p[t.offset + i] =
          t.init_std == 0 ? t.init_const + 0.1f * ((i % 5) - 2) : p[t.offset + i] * scale;
  return p;
}

struct DecoderCase {
  std::string name;
  ModelConfig config;
};
void PrintTo(const DecoderCase& c, std::ostream* os) { *os << c.name; }
class DecoderParity : public ::testing::TestWithParam<DecoderCase> {};

TEST_P(DecoderParity, MatchesDoubleReference) {
  ModelConfig config = GetParam().config;
  const int B = 3, T = 70, N = B * T;
  // std 0.1 (5x the init) so activations, attention and logits are far from uniform.
  std::vector<float> p = ScaledParams(ParamLayout::ForModel(config), 11, 5.0f);
  std::vector<double> pd(p.begin(), p.end());
  const auto inputs = RandomTokens(N, config.vocab_size, 1),
             targets = RandomTokens(N, config.vocab_size, 2, 0.2);
  // clip_qkv at least 1e-5 from every one of the 40K projection entries: 10x the float32 forward's
  // typical error in them (~1e-6: K = 32 products of inputs <= ~3 and weights <= ~0.3, plus the
  // first layer's error carried into the second), so both decoders clamp the same entries on any
  // CPU. (1e-4 leaves no gap near 0.25 among 40K entries.)
  if (config.clip_qkv > 0)
    config.clip_qkv =
        ClipAwayFromProjections(config, p.data(), inputs.data(), targets.data(), B, T, 1e-5);
  Decoder fast(config, B, T);
  ReferenceDecoder<double> ref(config);
  std::vector<float> g(p.size(), 0.0f);
  std::vector<double> gd(p.size(), 0.0);
  const float loss = fast.Forward(p, inputs.data(), targets.data(), B, T);
  fast.Backward(p, g);
  const double loss_ref = ref.Forward(pd.data(), inputs.data(), targets.data(), B, T);
  ref.Backward(pd.data(), gd.data());
  EXPECT_EQ(fast.CountedTokensLast(), ref.count());
  ASSERT_GT(ref.ClipMargin(), 1e-5);  // ClipAwayFromProjections above
  // float32 forward through ~10 ops with K <= 70 reductions: relative error ~1e-6; 1e-5 leaves
  // margin.
  EXPECT_NEAR(loss, loss_ref, 1e-5 * loss_ref);
  std::vector<float> lp(N);
  fast.LogProbs(p, inputs.data(), targets.data(), B, T, lp.data());
  double max_lp = 0;
  for (int i = 0; i < N; ++i) max_lp = std::max(max_lp, std::abs(lp[i] - ref.logprobs()[i]));
  EXPECT_LT(max_lp, 1e-5 * std::log(37.0) * 4);  // |logprob| ~ log V; 1e-5 relative as above
  // Gradients per tensor: max |g - g_ref| <= 1e-5 * max |g_ref| (float32 backward accumulates over
  // N = 210 rows and V = 37 classes; FastExp adds < 3e-7 relative; measured 6.6e-7 .. 8.3e-7).
  const double worst = ExpectGradParity(fast.layout(), g, gd, 1e-5);
  std::printf("  parity %s: loss %.7f vs %.7f, max logprob err %.1e, worst grad err/scale %.1e\n",
              GetParam().name.c_str(), loss, loss_ref, max_lp, worst);
}

INSTANTIATE_TEST_SUITE_P(
    Architectures, DecoderParity,
    ::testing::Values(
        DecoderCase{"rmsnorm_tied", SmallDecoderConfig(NormKind::kRmsNorm, true)},
        DecoderCase{"rmsnorm_untied", SmallDecoderConfig(NormKind::kRmsNorm, false)},
        DecoderCase{"layernorm_tied", SmallDecoderConfig(NormKind::kLayerNorm, true)},
        DecoderCase{"layernorm_untied", SmallDecoderConfig(NormKind::kLayerNorm, false)},
        DecoderCase{"llama_gqa_bias",
                    WithFamily(SmallDecoderConfig(NormKind::kRmsNorm, false), "llama-gqa-bias")},
        DecoderCase{"olmo_clip",
                    WithFamily(SmallDecoderConfig(NormKind::kRmsNorm, false), "olmo-clip")},
        DecoderCase{"olmo2", WithFamily(SmallDecoderConfig(NormKind::kRmsNorm, false), "olmo2")},
        DecoderCase{"neox", WithFamily(SmallDecoderConfig(NormKind::kRmsNorm, false), "neox")},
        DecoderCase{"neox_sequential",
                    WithFamily(SmallDecoderConfig(NormKind::kRmsNorm, false), "neox-sequential")}),
    [](const auto& info) { return info.param.name; });

struct StepResult {
  float loss;
  std::vector<float> grads;
};
StepResult DecoderStep(const ModelConfig& config, const std::vector<float>& p,
                       const std::vector<int32_t>& in, const std::vector<int32_t>& tg, int B,
                       int T) {
  Decoder d(config, B, T);
  StepResult r{0, std::vector<float>(p.size(), 0.0f)};
  r.loss = d.Forward(p, in.data(), tg.data(), B, T);
  d.Backward(p, r.grads);
  return r;
}

TEST(Decoder, SameSeedSameBitsAndThreadCounts) {
  const ModelConfig config = ModelConfig::Nano();
  const int B = 4, T = 64;
  std::vector<float> p1(ParamLayout::ForModel(config).total()), p2(p1.size());
  InitParams(ParamLayout::ForModel(config), p1, 42);
  InitParams(ParamLayout::ForModel(config), p2, 42);
  ASSERT_EQ(p1, p2);
  const auto in = RandomTokens(B * T, config.vocab_size, 3),
             tg = RandomTokens(B * T, config.vocab_size, 4, 0.1);
  const StepResult a = DecoderStep(config, p1, in, tg, B, T),
                   b = DecoderStep(config, p1, in, tg, B, T);
  EXPECT_EQ(a.loss, b.loss);
  EXPECT_EQ(a.grads, b.grads);
  // 1 vs 2 threads. Our own loops are thread-count independent (tests/ops/cpu_parity_test.cc checks
  // each bit for bit), but OpenBLAS's threaded SGEMM is not: a row's result depends on its position
  // inside the kernel's 24-row tile, and the thread partition moves tile boundaries. Measured on
  // the nano step (B 4, T 64): loss identical, max |grad diff| 1.3e-8 (~1e-6 of the largest
  // gradient). Bound: 1e-5.
  const int saved = omp_get_max_threads();
  omp_set_num_threads(1);
  const StepResult one = DecoderStep(config, p1, in, tg, B, T);
  omp_set_num_threads(2);
  const StepResult two = DecoderStep(config, p1, in, tg, B, T);
  omp_set_num_threads(saved);
  double max_diff = 0, max_grad = 0;
  for (size_t i = 0; i < one.grads.size(); ++i) {
    max_diff = std::max(max_diff, (double)std::abs(one.grads[i] - two.grads[i]));
    max_grad = std::max(max_grad, (double)std::abs(one.grads[i]));
  }
  std::printf("  1 vs 2 threads: loss %.9g vs %.9g, max |grad diff| %.3g (max |grad| %.3g)\n",
              one.loss, two.loss, max_diff, max_grad);
  EXPECT_NEAR(one.loss, two.loss, 1e-6 * one.loss);
  EXPECT_LT(max_diff, 1e-5 * max_grad);
}

TEST(Decoder, IgnoredTargetsContributeNothing) {
  const ModelConfig config = SmallDecoderConfig(NormKind::kRmsNorm, false);
  const int B = 2, T = 33;
  std::vector<float> p = ScaledParams(ParamLayout::ForModel(config), 5, 3.0f);
  const auto in = RandomTokens(B * T, config.vocab_size, 5);
  auto tg = RandomTokens(B * T, config.vocab_size, 6, 0.3), tg2 = tg;
  for (auto& x : tg2)
    if (x < 0) x = -1000;
  const StepResult a = DecoderStep(config, p, in, tg, B, T),
                   b = DecoderStep(config, p, in, tg2, B, T);
  EXPECT_EQ(a.loss, b.loss);
  EXPECT_EQ(a.grads, b.grads);
  // Nothing counted: loss 0, no gradient.
  std::vector<int32_t> none(B * T, -1);
  const StepResult z = DecoderStep(config, p, in, none, B, T);
  EXPECT_EQ(z.loss, 0.0f);
  for (float x : z.grads) ASSERT_EQ(x, 0.0f);
}

TEST(Decoder, LogProbsRowsIndependentAndConsistentWithLoss) {
  const ModelConfig config = SmallDecoderConfig(NormKind::kLayerNorm, true);
  const int B = 3, T = 40;
  Decoder d(config, 8, T);
  std::vector<float> p = ScaledParams(d.layout(), 9, 4.0f);
  const auto in = RandomTokens(B * T, config.vocab_size, 7),
             tg = RandomTokens(B * T, config.vocab_size, 8, 0.2);
  std::vector<float> all(B * T), one(T);
  d.LogProbs(p, in.data(), tg.data(), B, T, all.data());
  // Rows are scored independently, but not bit-identically across batch shapes: OpenBLAS's result
  // for a row depends on its position in the kernel's 24-row tile (measured ~1e-7 relative on
  // log-probs).
  double max_diff = 0;
  for (int b = 0; b < B; ++b) {
    d.LogProbs(p, in.data() + b * T, tg.data() + b * T, 1, T, one.data());
    for (int t = 0; t < T; ++t) {
      EXPECT_NEAR(one[t], all[b * T + t], 1e-5 * (1 + std::abs(all[b * T + t]))) << b << "," << t;
      max_diff = std::max(max_diff, (double)std::abs(one[t] - all[b * T + t]));
    }
  }
  std::printf("  LogProbs batch 1 vs 3: max |diff| %.2g\n", max_diff);
  double s = 0;
  int n = 0;
  for (int i = 0; i < B * T; ++i) {
    s -= all[i];
    n += tg[i] >= 0;
    if (tg[i] < 0) {
      EXPECT_EQ(all[i], 0.0f);
    }
  }
  const float loss = d.Loss(p, in.data(), tg.data(), B, T);
  EXPECT_NEAR(loss, s / n, 1e-6 * loss);
  EXPECT_EQ(d.Forward(p, in.data(), tg.data(), B, T), loss);  // same shapes => same bits
}

TEST(Decoder, RejectsOutOfVocabularyTokens) {
  const ModelConfig config = SmallDecoderConfig(NormKind::kRmsNorm, true);
  Decoder d(config, 1, 4);
  std::vector<float> p(d.layout().total(), 0.0f);
  std::vector<int32_t> in = {1, 2, 37, 3}, tg = {1, 2, 3, 4};
  EXPECT_THROW(d.Forward(p, in.data(), tg.data(), 1, 4), Error);
  in[2] = 0;
  tg[3] = 99;
  EXPECT_THROW(d.Forward(p, in.data(), tg.data(), 1, 4), Error);
  EXPECT_THROW(Decoder(config, 1, 71), Error);  // longer than model.max_seq_len
}

// Convergence rung: a fixed batch of random tokens must be memorised (loss < 0.05 nats, from log 64
// = 4.16) within 100 Adam steps (lr 1e-2); takes 35 on this config.
TEST(Decoder, OverfitsOneBatch) {
  ModelConfig config = SmallDecoderConfig(NormKind::kRmsNorm, true);
  config.vocab_size = 64;
  const int B = 4, T = 16;
  Decoder d(config, B, T);
  std::vector<float> p(d.layout().total()), g(p.size()), m(p.size(), 0.0f), v(p.size(), 0.0f);
  InitParams(d.layout(), p, 1);
  const auto in = RandomTokens(B * T, config.vocab_size, 10);
  std::vector<int32_t> tg(in.begin() + 1, in.end());
  tg.push_back(3);
  float loss = 0;
  int step = 0;
  for (; step < 100; ++step) {
    std::fill(g.begin(), g.end(), 0.0f);
    loss = d.Forward(p, in.data(), tg.data(), B, T);
    if (step == 0) {
      EXPECT_NEAR(loss, std::log(64.0), 0.1);
    }
    if (loss < 0.05f) break;
    d.Backward(p, g);
    const float lr = 1e-2f, b1 = 0.9f, b2 = 0.999f;
    const float c1 = 1 - std::pow(b1, step + 1), c2 = 1 - std::pow(b2, step + 1);
    for (size_t i = 0; i < p.size(); ++i) {
      m[i] = b1 * m[i] + (1 - b1) * g[i];
      v[i] = b2 * v[i] + (1 - b2) * g[i] * g[i];
      p[i] -= lr * (m[i] / c1) / (std::sqrt(v[i] / c2) + 1e-8f);
    }
  }
  std::printf("  overfit: loss %.4f after %d steps\n", loss, step);
  EXPECT_LT(loss, 0.05f);
}

// LogitStats against an oracle derived from LogProbs: with head row v0 zeroed, logit_v0 = 0
// exactly, so log Z = −log p(v0); and max logit = log Z + max_v log p(v). Fails on a missing max
// shift, a wrong row block or a transposed head.
TEST(Decoder, LogitStatsMatchLogProbs) {
  const ModelConfig config = SmallDecoderConfig(NormKind::kRmsNorm, /*tied=*/false);
  const int B = 2, T = 30, V = config.vocab_size, v0 = 5;
  Decoder d(config, B, T);
  std::vector<float> p = ScaledParams(d.layout(), 11, 6.0f);  // scaled up: logits of a few units
  std::fill_n(p.begin() + d.layout().head_offset() + (int64_t)v0 * config.d_model, config.d_model,
              0.0f);
  const auto in = RandomTokens(B * T, V, 12);
  std::vector<double> max_logit(B * T), log_z(B * T);
  d.LogitStats(p, in.data(), B, T, max_logit.data(), log_z.data());
  std::vector<double> best(B * T, -INFINITY), z0(B * T);
  std::vector<float> lp(B * T);
  for (int v = 0; v < V; ++v) {
    std::vector<int32_t> tg(B * T, v);
    d.LogProbs(p, in.data(), tg.data(), B, T, lp.data());
    for (int i = 0; i < B * T; ++i) {
      best[i] = std::max(best[i], (double)lp[i]);
      if (v == v0) z0[i] = -lp[i];
    }
  }
  double spread = 0;
  for (int i = 0; i < B * T; ++i) {
    // Float logits through two GEMM paths (batched vs per-row) and FastExp: ~1e-6 relative; 1e-5
    // margin.
    EXPECT_NEAR(log_z[i], z0[i], 1e-5 * (1 + std::abs(z0[i]))) << i;
    EXPECT_NEAR(max_logit[i], z0[i] + best[i], 1e-5 * (1 + std::abs(max_logit[i]))) << i;
    EXPECT_LE(max_logit[i], log_z[i]);
    EXPECT_LE(log_z[i], max_logit[i] + std::log(V) + 1e-9);
    spread = std::max(spread, std::abs(max_logit[i]));
  }
  EXPECT_GT(spread, 0.5);  // the oracle is not vacuous: logits are not all ~0
}

}  // namespace
}  // namespace ot
