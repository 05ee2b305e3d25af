// Gradient-check ladder, rungs 2-3: one decoder block (L = 1) and the whole model (L = 2) in
// double, analytic (ReferenceDecoder::Backward) vs central differences of the loss, for
// RMSNorm/LayerNorm and tied/untied heads, with some ignored targets, and with z-loss. Also:
// ignored targets change nothing.
#include <gtest/gtest.h>

#include <vector>

#include "model/init.h"
#include "model/reference_decoder.h"
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

struct Case {
  int layers;
  NormKind norm;
  bool tied;
};

class ReferenceDecoderGrad : public ::testing::TestWithParam<Case> {};

TEST_P(ReferenceDecoderGrad, MatchesCentralDifferences) {
  const Case k = GetParam();
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
                         ::testing::Values(Case{1, NormKind::kRmsNorm, true},
                                           Case{1, NormKind::kLayerNorm, false},
                                           Case{2, NormKind::kRmsNorm, true},
                                           Case{2, NormKind::kRmsNorm, false},
                                           Case{2, NormKind::kLayerNorm, true},
                                           Case{2, NormKind::kLayerNorm, false}));

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

}  // namespace
}  // namespace ot
