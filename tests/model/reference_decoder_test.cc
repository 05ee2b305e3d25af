// Gradient-check ladder, rungs 2-3: one decoder block (L = 1) and the whole model (L = 2) in
// double, analytic (ReferenceDecoder::Backward) vs central differences of the loss, for
// RMSNorm/LayerNorm and tied/untied heads, with some ignored targets, and with z-loss; then one
// tiny config per imported family (llama GQA, olmo, olmo2, gpt_neox) and switch combinations,
// tensor by tensor. Also: ignored targets change nothing; neutral switches and GQA have exact
// oracles.
#include "model/reference_decoder.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "model/init.h"
#include "ops/grad_check.h"

namespace ot {
namespace {

ModelConfig Micro(int layers, NormKind norm, bool tied) {
  ModelConfig c;
  c.vocab_size = 11;
  c.d_model = 8;
  c.n_layers = layers;
  c.n_heads = 2;
  c.d_ff = 12;
  c.max_seq_len = 5;
  c.norm = norm;
  c.tied_head = tied;
  c.rope_theta = 100.0;  // small base so positions 0..4 rotate visibly
  return c;
}

std::vector<double> InitDouble(const ParamLayout& layout, uint64_t seed, double scale) {
  std::vector<float> f(layout.total());
  InitParams(layout, f, seed);
  std::vector<double> p(f.begin(), f.end());
  for (const auto& t : layout.tensors())  // larger weights than 0.02 so every path carries gradient
    for (int64_t i = 0; i < t.size; ++i)
      if (t.group != ParamGroup::kNorm) p[t.offset + i] *= scale / 0.02;
  for (const auto& t : layout.tensors())  // perturb the gains away from 1
    if (t.group == ParamGroup::kNorm)
      for (int64_t i = 0; i < t.size; ++i) p[t.offset + i] += 0.1 * ((i % 3) - 1);
  return p;
}

struct GradCase {
  int layers;
  NormKind norm;
  bool tied;
};

class ReferenceDecoderGrad : public ::testing::TestWithParam<GradCase> {};

TEST_P(ReferenceDecoderGrad, MatchesCentralDifferences) {
  const GradCase k = GetParam();
  const ModelConfig config = Micro(k.layers, k.norm, k.tied);
  ReferenceDecoder<double> model(config);
  const int B = 2, T = 5;
  const std::vector<int32_t> inputs = {1, 4, 4, 9, 0, 10, 2, 7, 3, 3};
  const std::vector<int32_t> targets = {4, 4, 9, -1, 2, 2, 7, -1, 3, 5};
  for (double scale : {0.1, 0.5}) {
    std::vector<double> params = InitDouble(model.layout(), 3, scale);
    std::vector<double> grads(params.size(), 0.0);
    model.Forward(params.data(), inputs.data(), targets.data(), B, T);
    EXPECT_EQ(model.count(), 8);
    model.Backward(params.data(), grads.data());
    auto loss = [&] { return model.Forward(params.data(), inputs.data(), targets.data(), B, T); };
    auto r = testing::CheckGradient(params, grads, loss);
    testing::PrintGradCheck(std::string("model L=") + std::to_string(k.layers) + " " +
                                NormName(k.norm) + (k.tied ? " tied" : " untied") +
                                " w=" + std::to_string(scale),
                            r);
    EXPECT_LT(r.max_err, 1e-6);  // grad_check.h: expected ~1e-9
    EXPECT_GT(r.cosine, 1 - 1e-9);
    // Per-tensor: every tensor receives gradient (no silently disconnected path).
    for (const auto& t : model.layout().tensors()) {
      double s = 0;
      for (int64_t i = 0; i < t.size; ++i) s += std::abs(grads[t.offset + i]);
      EXPECT_GT(s, 0) << t.name;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Ladder, ReferenceDecoderGrad,
                         ::testing::Values(GradCase{1, NormKind::kRmsNorm, true},
                                           GradCase{1, NormKind::kLayerNorm, false},
                                           GradCase{2, NormKind::kRmsNorm, true},
                                           GradCase{2, NormKind::kRmsNorm, false},
                                           GradCase{2, NormKind::kLayerNorm, true},
                                           GradCase{2, NormKind::kLayerNorm, false}));

// Rung 3 with z-loss: the whole model's objective (CE + z log^2 Z) against central differences, z =
// 0.1 (large so the term's gradient is a visible share of the total), and the term's value.
TEST(ReferenceDecoder, ZLossMatchesCentralDifferences) {
  for (bool tied : {true, false}) {
    const ModelConfig config = Micro(2, NormKind::kRmsNorm, tied);
    ReferenceDecoder<double> model(config);
    const int B = 2, T = 5;
    const std::vector<int32_t> inputs = {1, 4, 4, 9, 0, 10, 2, 7, 3, 3};
    const std::vector<int32_t> targets = {4, 4, 9, -1, 2, 2, 7, -1, 3, 5};
    std::vector<double> params = InitDouble(model.layout(), 4, 0.5);
    const double ce = model.Forward(params.data(), inputs.data(), targets.data(), B, T);
    model.set_z_loss(0.1);
    const double objective = model.Forward(params.data(), inputs.data(), targets.data(), B, T);
    double lz2 = 0;
    for (double lz : model.log_z()) lz2 += lz * lz;
    EXPECT_NEAR(objective, ce + 0.1 * lz2 / 8, 1e-14);
    EXPECT_NEAR(model.cross_entropy(), ce, 1e-14);
    EXPECT_GT(objective - ce, 1e-3);  // the term is not negligible here
    std::vector<double> grads(params.size(), 0.0);
    model.Backward(params.data(), grads.data());
    auto loss = [&] { return model.Forward(params.data(), inputs.data(), targets.data(), B, T); };
    auto r = testing::CheckGradient(params, grads, loss);
    testing::PrintGradCheck(std::string("model+z L=2 ") + (tied ? "tied" : "untied"), r);
    EXPECT_LT(r.max_err, 1e-6);  // grad_check.h: expected ~1e-9
    EXPECT_GT(r.cosine, 1 - 1e-9);
  }
}

TEST(ReferenceDecoder, IgnoredTargetValuesChangeNothing) {
  const ModelConfig config = Micro(2, NormKind::kRmsNorm, false);
  ReferenceDecoder<double> model(config);
  std::vector<double> params = InitDouble(model.layout(), 5, 0.3);
  const std::vector<int32_t> inputs = {1, 4, 4, 9, 0, 10, 2, 7, 3, 3};
  std::vector<int32_t> t1 = {4, -1, 9, -1, 2, -1, 7, 1, 3, 5}, t2 = t1;
  t2[1] = -7;
  t2[3] = -100;
  t2[5] = -2;
  std::vector<double> g1(params.size(), 0.0), g2(params.size(), 0.0);
  const double l1 = model.Forward(params.data(), inputs.data(), t1.data(), 2, 5);
  model.Backward(params.data(), g1.data());
  const double l2 = model.Forward(params.data(), inputs.data(), t2.data(), 2, 5);
  model.Backward(params.data(), g2.data());
  EXPECT_EQ(l1, l2);
  EXPECT_EQ(g1, g2);
  // And the mean is over counted targets: the loss equals -mean of the counted log-probs.
  double s = 0;
  for (double lp : model.logprobs()) s -= lp;
  EXPECT_NEAR(l2, s / 7, 1e-14);
}

// ---- Architecture switches (issue 13): one tiny config per imported family, and combinations.
// ----

constexpr double kOlmoClip = 0.5;  // between the projections' spreads at weight scales 0.1 and 0.5

// V 11, C 16, L 2, T 5, F 12, then the family's switches.
ModelConfig Family(const std::string& name) {
  ModelConfig c;
  c.vocab_size = 11;
  c.d_model = 16;
  c.n_layers = 2;
  c.n_heads = 4;
  c.d_ff = 12;
  c.max_seq_len = 5;
  c.rope_theta = 100.0;
  c.tied_head = false;
  if (name == "llama_gqa") {
    c.n_kv_heads = 2;
    c.attn_bias = c.mlp_bias = true;
  } else if (name == "olmo") {
    c.n_heads = 2;
    c.norm = NormKind::kLayerNorm;
    c.clip_qkv = kOlmoClip;
    c.tied_head = true;
  } else if (name == "olmo2") {
    c.norm_placement = NormPlacement::kPost;
    c.qk_norm = true;
    c.n_kv_heads = 2;
  } else if (name == "gpt_neox" || name == "gpt_neox_sequential") {
    c.n_heads = 2;  // HS 8: rotary_pct 0.5 rotates 4 dims, passes 4
    c.norm = NormKind::kLayerNormAffine;
    c.parallel_residual = name == "gpt_neox";
    c.mlp = MlpKind::kGelu;
    c.attn_bias = c.mlp_bias = true;
    c.rotary_pct = 0.5;
  } else if (name == "every_pre_switch") {  // all switches a pre-norm block can combine, at once
    // (clip_qkv with qk_norm is refused by ModelConfig: no family has both; olmo2 covers qk_norm)
    c.n_kv_heads = 2;
    c.norm = NormKind::kLayerNormAffine;
    c.clip_qkv = kOlmoClip;
    c.rotary_pct = 0.5;
    c.attn_bias = c.mlp_bias = true;
    c.mlp = MlpKind::kGelu;
    c.parallel_residual = true;
  } else {
    ADD_FAILURE() << "unknown family " << name;
  }
  return c;
}

// Every tensor random and away from its init, so a dropped term cannot hide behind a gain of 1 or a
// bias of 0: weights N(0, w); norm gains 1 + N(0, 0.2); norm and linear biases N(0, 0.2).
std::vector<double> RandomParams(const ParamLayout& layout, uint32_t seed, double w) {
  std::vector<double> p(layout.total());
  for (const auto& t : layout.tensors()) {
    const bool gain = t.init_std == 0 && t.init_const == 1;
    const std::vector<double> r = testing::RandomVector(t.size, t.init_std > 0 ? w : 0.2, seed++);
    for (int64_t i = 0; i < t.size; ++i) p[t.offset + i] = r[i] + (gain ? 1.0 : 0.0);
  }
  return p;
}

// clip_qkv: some but not all projection entries clip (else neither the clamp nor its pass-through
// would be exercised), and none lies within 2e-4 of a bound: a central-difference step (h = 1e-5
// max(1,|p|)) moves a projection entry by ~h |input| <= 1e-5 sqrt(C) = 4e-5 (a normalised row of
// width C = 16 has entries <= sqrt(C); upstream parameters reach it through a norm and a matmul of
// no larger gain), so with 5x margin no step crosses a bound.
void ExpectPartialClipping(const ReferenceDecoder<double>& model, const ModelConfig& c) {
  int64_t clipped = 0, total = 0;
  double margin = INFINITY;
  for (int l = 0; l < c.n_layers; ++l) {
    const auto& a = model.block_acts(l);
    for (const auto* proj : {&a.q_proj, &a.k_proj, &a.v_proj})
      for (double x : *proj) {
        ++total;
        clipped += std::abs(x) > c.clip_qkv;
        margin = std::min(margin, std::abs(std::abs(x) - c.clip_qkv));
      }
  }
  EXPECT_GT(clipped, 0);
  EXPECT_LT(clipped, total);
  EXPECT_GT(margin, 2e-4);
  std::printf("  clip_qkv %.2f: %lld of %lld projection entries clipped, margin %.1e\n", c.clip_qkv,
              (long long)clipped, (long long)total, margin);
}

class ReferenceDecoderArch : public ::testing::TestWithParam<std::string> {};

// Central differences tensor by tensor, at weight scales 0.1 and 0.5. Per tensor: max |analytic -
// numeric| < 1e-6 max(that tensor's max |numeric|, 1e-3): relative to the tensor's own scale,
// floored at an absolute 1e-9, 10x grad_check.h's ~1e-10 central-difference error at h = 1e-5 (at w
// = 0.1 the attention is nearly uniform and the q/k gradients are ~1e-4); cosine > 1 - 1e-9; and
// the tensor's max |gradient| > 1e-5 (10^4 x that absolute error), so no tensor passes by being
// disconnected.
TEST_P(ReferenceDecoderArch, EveryTensorMatchesCentralDifferences) {
  const ModelConfig config = Family(GetParam());
  ReferenceDecoder<double> model(config);
  const int B = 2, T = 5;
  const std::vector<int32_t> inputs = {1, 4, 4, 9, 0, 10, 2, 7, 3, 3};
  const std::vector<int32_t> targets = {4, 4, 9, -1, 2, 2, 7, -1, 3, 5};
  for (double w : {0.1, 0.5}) {
    std::vector<double> params = RandomParams(model.layout(), 7, w);
    std::vector<double> grads(params.size(), 0.0);
    model.Forward(params.data(), inputs.data(), targets.data(), B, T);
    EXPECT_EQ(model.count(), 8);
    if (config.clip_qkv > 0) ExpectPartialClipping(model, config);
    model.Backward(params.data(), grads.data());
    double worst = 0, worst_cos = 1, smallest = INFINITY;
    for (const auto& t : model.layout().tensors()) {
      std::vector<double> x(params.begin() + t.offset, params.begin() + t.offset + t.size);
      const std::vector<double> g(grads.begin() + t.offset, grads.begin() + t.offset + t.size);
      auto loss = [&] {
        std::copy(x.begin(), x.end(), params.begin() + t.offset);
        return model.Forward(params.data(), inputs.data(), targets.data(), B, T);
      };
      const auto r = testing::CheckGradient(x, g, loss);
      std::copy(x.begin(), x.end(), params.begin() + t.offset);  // CheckGradient restored x only
      const double err = r.max_err * std::max(r.max_abs, 1e-12) / std::max(r.max_abs, 1e-3);
      EXPECT_LT(err, 1e-6) << t.name << " w=" << w;
      EXPECT_GT(r.cosine, 1 - 1e-9) << t.name << " w=" << w;
      EXPECT_GT(r.max_abs, 1e-5) << t.name << " w=" << w;
      worst = std::max(worst, err);
      worst_cos = std::min(worst_cos, r.cosine);
      smallest = std::min(smallest, r.max_abs);
    }
    std::printf(
        "  gradcheck %-20s w=%.1f %zu tensors: worst err %.2e  |1-cosine| %.1e  "
        "smallest |grad|max %.2e\n",
        GetParam().c_str(), w, model.layout().tensors().size(), worst, 1 - worst_cos, smallest);
  }
}

INSTANTIATE_TEST_SUITE_P(Families, ReferenceDecoderArch,
                         ::testing::Values("llama_gqa", "olmo", "olmo2", "gpt_neox",
                                           "gpt_neox_sequential", "every_pre_switch"));

// The default architecture through the new code paths: switches at neutral values (clip_qkv far
// above every projection, so the clamp passes values and gradients; n_kv_heads = n_heads;
// rotary_pct = 1) give the default's loss and gradients bit for bit.
TEST(ReferenceDecoderArchDefault, NeutralSwitchesAreTheDefaultBitForBit) {
  const ModelConfig base = Micro(2, NormKind::kRmsNorm, false);
  ModelConfig neutral = base;
  neutral.clip_qkv = 1e6;
  neutral.n_kv_heads = base.n_heads;
  neutral.rotary_pct = 1.0;
  ReferenceDecoder<double> a(base), b(neutral);
  ASSERT_EQ(a.layout().total(), b.layout().total());
  const std::vector<double> params = InitDouble(a.layout(), 6, 0.5);
  const std::vector<int32_t> inputs = {1, 4, 4, 9, 0, 10, 2, 7, 3, 3};
  const std::vector<int32_t> targets = {4, 4, 9, -1, 2, 2, 7, -1, 3, 5};
  std::vector<double> ga(params.size(), 0.0), gb(params.size(), 0.0);
  EXPECT_EQ(a.Forward(params.data(), inputs.data(), targets.data(), 2, 5),
            b.Forward(params.data(), inputs.data(), targets.data(), 2, 5));
  a.Backward(params.data(), ga.data());
  b.Backward(params.data(), gb.data());
  EXPECT_EQ(ga, gb);
}

// Grouped-query attention against its multi-head expansion: the MHA model whose k_proj / v_proj
// (and their biases) repeat kv head j for query heads jG..(j+1)G-1 (G = NH/KH, transformers'
// repeat_kv) computes the same dot products in the same order, so the loss is equal bit for bit;
// its k/v gradients summed over a group are the GQA ones, and every other gradient is the GQA one,
// both up to the summation order (1e-12 relative: ~1e4 ulps, far above reordering noise, far below
// any bug).
TEST(ReferenceDecoderArchDefault, GroupedQueryEqualsRepeatedKvHeads) {
  const ModelConfig gqa = Family("llama_gqa");
  ModelConfig mha = gqa;
  mha.n_kv_heads = 0;
  ReferenceDecoder<double> mg(gqa), mm(mha);
  const int HS = gqa.head_size(), G = gqa.n_heads / gqa.kv_heads(), C = gqa.d_model;
  const std::vector<double> pg = RandomParams(mg.layout(), 8, 0.5);
  std::vector<double> pm(mm.layout().total());
  auto repeated = [&](const std::string& name) {
    return name.find("k_proj") != std::string::npos || name.find("v_proj") != std::string::npos;
  };
  for (const auto& t : mm.layout().tensors()) {
    const TensorInfo& s = mg.layout().Get(t.name);
    const int64_t row = t.shape.size() == 2 ? C : 1;  // elements per output channel
    for (int64_t i = 0; i < t.size; ++i) {
      const int64_t out = i / row, in = i % row;  // MHA output channel h*HS + d reads kv head h/G
      const int64_t src = repeated(t.name) ? (out / HS / G * HS + out % HS) * row + in : i;
      pm[t.offset + i] = pg[s.offset + src];
    }
  }
  const std::vector<int32_t> inputs = {1, 4, 4, 9, 0, 10, 2, 7, 3, 3};
  const std::vector<int32_t> targets = {4, 4, 9, -1, 2, 2, 7, -1, 3, 5};
  EXPECT_EQ(mg.Forward(pg.data(), inputs.data(), targets.data(), 2, 5),
            mm.Forward(pm.data(), inputs.data(), targets.data(), 2, 5));
  std::vector<double> gg(pg.size(), 0.0), gm(pm.size(), 0.0);
  mg.Backward(pg.data(), gg.data());
  mm.Backward(pm.data(), gm.data());
  std::vector<double> folded(pg.size(), 0.0);  // the MHA gradient summed back onto the GQA layout
  for (const auto& t : mm.layout().tensors()) {
    const TensorInfo& s = mg.layout().Get(t.name);
    const int64_t row = t.shape.size() == 2 ? C : 1;
    for (int64_t i = 0; i < t.size; ++i) {
      const int64_t out = i / row, in = i % row;
      const int64_t dst = repeated(t.name) ? (out / HS / G * HS + out % HS) * row + in : i;
      folded[s.offset + dst] += gm[t.offset + i];
    }
  }
  for (size_t i = 0; i < gg.size(); ++i)
    EXPECT_NEAR(gg[i], folded[i], 1e-12 * (1 + std::abs(gg[i]))) << i;
}
}  // namespace
}  // namespace ot
