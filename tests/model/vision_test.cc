// The vision transformer as switches of the same model (issue 23), proven as the decoder is: the
// gradient-check ladder's whole-model rung in double (ReferenceDecoder::ForwardImages and
// ForwardPairs vs central differences, tensor by tensor, for CLS / mean pool, learned / RoPE / 2-D
// RoPE positions, bidirectional / causal attention, the imported families' switches, the class and
// the SigLIP projection heads); the fast float model against that double reference (loss, logits,
// features, embeddings, every gradient element); the bidirectional switch seen from the model's
// output; the refusals; and a convergence rung. The configuration: vision_config_test.cc.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "common/test_util.h"
#include "model/decoder.h"
#include "model/grad_parity.h"
#include "model/init.h"
#include "model/layout.h"
#include "model/reference_decoder.h"
#include "model/vit_fixture.h"
#include "ops/grad_check.h"

namespace ot {
namespace {

// Each tensor's analytic gradient `grads` against central differences of `loss` (which reads
// `params`, restored after each tensor): error ≤ 1e-6 (relative above |g| = 1e-3), cosine within
// 1e-9 of 1, and a gradient that is not zero (a disconnected tensor). Returns the worst error.
template <typename Loss>
double ExpectCentralDifferences(const ParamLayout& layout, std::vector<double>& params,
                                const std::vector<double>& grads, double w, Loss loss) {
  double worst = 0;
  for (const auto& t : layout.tensors()) {
    std::vector<double> x(params.begin() + t.offset, params.begin() + t.offset + t.size);
    const std::vector<double> g(grads.begin() + t.offset, grads.begin() + t.offset + t.size);
    auto tensor_loss = [&] {
      std::copy(x.begin(), x.end(), params.begin() + t.offset);
      return loss();
    };
    const auto r = testing::CheckGradient(x, g, tensor_loss);
    std::copy(x.begin(), x.end(), params.begin() + t.offset);
    const double err = r.max_err * std::max(r.max_abs, 1e-12) / std::max(r.max_abs, 1e-3);
    EXPECT_LT(err, 1e-6) << t.name << " w=" << w;
    EXPECT_GT(r.cosine, 1 - 1e-9) << t.name << " w=" << w;
    EXPECT_GT(r.max_abs, 1e-5) << t.name << " w=" << w << ": disconnected?";
    worst = std::max(worst, err);
  }
  return worst;
}

class VisionReferenceGrad : public ::testing::TestWithParam<std::string> {};

// The whole ViT in double against central differences, tensor by tensor, at weight scales 0.1 and
// 0.5: per tensor max |analytic - numeric| < 1e-6 max(that tensor's max |numeric|, 1e-3) (as
// reference_decoder_test.cc's family check: grad_check.h's ~1e-10 central-difference error with
// two decades of margin), cosine > 1 - 1e-9, and max |gradient| > 1e-5 so no tensor passes by
// being disconnected.
TEST_P(VisionReferenceGrad, EveryTensorMatchesCentralDifferences) {
  const ModelConfig config = VitMicro(GetParam());
  ReferenceDecoder<double> model(config);
  const int B = 3;
  const std::vector<int32_t> labels = {2, 0, 1};
  std::vector<double> pixels = VitPixels(config, B, 41);
  double worst = 0;
  for (double w : {0.1, 0.5}) {
    std::vector<double> params = VitRandomParams(model.layout(), 7, w);
    std::vector<double> grads(params.size(), 0.0);
    model.ForwardImages(params.data(), pixels.data(), labels.data(), B);
    model.Backward(params.data(), grads.data());
    worst = std::max(worst, ExpectCentralDifferences(model.layout(), params, grads, w, [&] {
                       return model.ForwardImages(params.data(), pixels.data(), labels.data(), B);
                     }));
  }
  std::printf("  gradcheck vit %-14s every tensor: worst max_err %.2e\n", GetParam().c_str(),
              worst);
}

INSTANTIATE_TEST_SUITE_P(Switches, VisionReferenceGrad,
                         ::testing::Values("cls_learned", "mean_rope", "cls_rope", "cls_rope2d",
                                           "causal_mean", "neox_switches", "gqa_post_norm"));

class VisionPairsGrad : public ::testing::TestWithParam<std::string> {};

// The SigLIP objective end to end in double: ForwardPairs' loss over B pairs of views against
// central differences, every tensor (SigLIP's log-temperature and bias included), with the bounds
// of EveryTensorMatchesCentralDifferences.
TEST_P(VisionPairsGrad, EveryTensorMatchesCentralDifferences) {
  const ModelConfig config = VitMicro(GetParam());
  ReferenceDecoder<double> model(config);
  const int B = 3;
  const std::vector<double> a = VitPixels(config, B, 42);
  std::vector<double> b = VitPixels(config, B, 43);
  for (size_t i = 0; i < b.size(); ++i) b[i] = 0.5 * b[i] + a[i];  // the views of one image alike
  double worst = 0;
  for (double w : {0.1, 0.5}) {
    std::vector<double> params = VitRandomParams(model.layout(), 9, w);
    const int64_t s = model.layout().siglip_offset();
    params[s] = std::log(10.0);  // the paper's temperature and bias, so z spans both signs
    params[s + 1] = -5.0;
    std::vector<double> grads(params.size(), 0.0);
    model.ForwardPairs(params.data(), a.data(), b.data(), B);
    model.Backward(params.data(), grads.data());
    worst = std::max(worst, ExpectCentralDifferences(model.layout(), params, grads, w, [&] {
                       return model.ForwardPairs(params.data(), a.data(), b.data(), B);
                     }));
  }
  std::printf("  gradcheck vit siglip %-16s every tensor: worst max_err %.2e\n", GetParam().c_str(),
              worst);
}

INSTANTIATE_TEST_SUITE_P(Switches, VisionPairsGrad,
                         ::testing::Values("projection_cls", "projection_mean"));

// The fast SigLIP model against the double reference at vit-pico's shape with a projection head
// (proj_dim 16, B 4 pairs = 8 images): loss, embeddings and every gradient, the bounds of
// FastMatchesDoubleReference (the SigLIP kernel adds B^2 terms of float exp/log1p, ~1e-7 each).
TEST(VisionModel, PairsFastMatchesDoubleReference) {
  ModelConfig c = ModelConfig::VitPico();
  c.head = "projection";
  c.proj_dim = 16;
  const int B = 4, K = c.proj_dim;
  std::vector<float> p = VitScaledParams(ParamLayout::ForModel(c), 13, 5.0f);
  const int64_t s = ParamLayout::ForModel(c).siglip_offset();
  p[s] = std::log(10.0f);
  p[s + 1] = -5.0f;
  std::vector<double> pd(p.begin(), p.end());
  const std::vector<double> ad = VitPixels(c, B, 14), bd = VitPixels(c, B, 15);
  const std::vector<float> a(ad.begin(), ad.end()), b(bd.begin(), bd.end());
  Decoder fast(c, 2 * B, c.image_tokens());
  ReferenceDecoder<double> ref(c);
  std::vector<float> g(p.size(), 0.0f);
  std::vector<double> gd(p.size(), 0.0);
  const float loss = fast.ForwardPairs(p, a.data(), b.data(), B);
  fast.Backward(p, g);
  const double loss_ref = ref.ForwardPairs(pd.data(), ad.data(), bd.data(), B);
  ref.Backward(pd.data(), gd.data());
  EXPECT_NEAR(loss, loss_ref, 1e-5 * loss_ref);
  std::vector<float> emb(B * K);
  fast.Embeddings(p, a.data(), B, emb.data());
  double emax = 0, eerr = 0;
  for (int i = 0; i < B * K; ++i) {  // view a's projections: the reference's first B rows
    emax = std::max(emax, std::abs(ref.logits()[i]));
    eerr = std::max(eerr, std::abs(emb[i] - ref.logits()[i]));
  }
  EXPECT_LT(eerr, 1e-5 * emax);
  const double worst = ExpectGradParity(fast.layout(), g, gd, 1e-5);
  std::printf(
      "  vit siglip parity: loss %.7f vs %.7f, embeddings err %.1e, worst grad err/scale "
      "%.1e\n",
      loss, loss_ref, eerr / emax, worst);
  // The class entry points refuse a projection head, and the pair entry points a class head.
  EXPECT_EQ(testing::ErrorOf([&] { fast.ForwardImages(p, a.data(), nullptr, B); }),
            "decoder: this entry point needs model.head = classes; the model has head = "
            "projection");
}

// The bidirectional switch seen from the model. Fast model: vit-pico's CLS token sits at position
// 0, so its pooled feature depends on the last patch's pixels (and image 1's feature on nothing of
// image 0). Reference, mean pool: the last block's residual stream (x_mid) at position 0, the
// first patch, changes with the last patch when causal = false and stays bit-identical when causal
// = true.
TEST(VisionModel, PositionZeroReadsTheLastPatchOnlyWhenBidirectional) {
  ModelConfig c = ModelConfig::VitPico();
  const int B = 2, C = c.d_model;
  std::vector<float> p(ParamLayout::ForModel(c).total());
  InitParams(ParamLayout::ForModel(c), p, 5);
  std::vector<double> pixd = VitPixels(c, B, 6), movedd = pixd;
  for (int y = 21; y < 28; ++y)  // the last patch (bottom right 7x7) of image 0
    for (int x = 21; x < 28; ++x) movedd[y * 28 + x] += 1.0;
  const std::vector<float> pix(pixd.begin(), pixd.end()), moved(movedd.begin(), movedd.end());
  Decoder d(c, B, c.image_tokens());
  std::vector<float> f1(B * C), f2(B * C);
  d.Features(p, pix.data(), B, f1.data());
  d.Features(p, moved.data(), B, f2.data());
  double change = 0;
  for (int i = 0; i < C; ++i) change = std::max(change, (double)std::abs(f2[i] - f1[i]));
  for (int i = C; i < B * C; ++i) EXPECT_EQ(f1[i], f2[i]);  // image 1 untouched
  EXPECT_GT(change, 1e-5);
  std::printf("  bidirectional: CLS feature change from the last patch %.2e\n", change);
  for (bool causal : {false, true}) {
    c.causal = causal;
    c.pool = "mean";
    ReferenceDecoder<double> ref(c);
    std::vector<float> pm(ParamLayout::ForModel(c).total());  // no CLS token: its own layout
    InitParams(ParamLayout::ForModel(c), pm, 7);
    const std::vector<double> pd(pm.begin(), pm.end());
    const std::vector<int32_t> labels = {1, 2};
    ref.ForwardImages(pd.data(), pixd.data(), labels.data(), B);
    const std::vector<double> before = ref.block_acts(c.n_layers - 1).x_mid;
    ref.ForwardImages(pd.data(), movedd.data(), labels.data(), B);
    const std::vector<double>& after = ref.block_acts(c.n_layers - 1).x_mid;
    double first = 0;  // position 0 of image 0
    for (int i = 0; i < C; ++i) first = std::max(first, std::abs(after[i] - before[i]));
    if (causal) {
      EXPECT_EQ(first, 0.0);
    } else {
      EXPECT_GT(first, 1e-5);
    }
    std::printf("  reference causal=%d: position 0 change from the last patch %.2e\n", causal,
                first);
  }
}

class VisionParity : public ::testing::TestWithParam<std::string> {};

// The fast float32 ViT against the double reference at vit-pico's shape (T 17, B 5). Tolerances
// as the decoder's parity (decoder_test.cc): the float32 forward runs ~10 ops per block with
// reductions of K <= 96 terms, each adding ~K * 6e-8 relative in the worst case and ~sqrt(K) *
// 6e-8 typically (~1e-6 over the depth), so loss, logits and features within 1e-5 relative; the
// backward per tensor within 1e-5 of the tensor's largest gradient element.
TEST_P(VisionParity, FastMatchesDoubleReference) {
  ModelConfig c = ModelConfig::VitPico();
  if (GetParam() == "mean_rope") {
    c.pool = "mean";
    c.positions = "rope";
  } else if (GetParam() == "rope2d") {
    c.positions = "rope2d";
  } else if (GetParam() == "neox_causal") {  // causal needs the mean pool (Validate)
    c.norm = NormKind::kLayerNormAffine;
    c.mlp = MlpKind::kGelu;
    c.attn_bias = c.mlp_bias = true;
    c.causal = true;
    c.pool = "mean";
    c.positions = "rope";  // the key bias has a gradient only under RoPE (VitMicro)
  }
  const int B = 5, K = c.n_classes, C = c.d_model;
  std::vector<float> p = VitScaledParams(ParamLayout::ForModel(c), 11, 5.0f);
  std::vector<double> pd(p.begin(), p.end());
  const std::vector<double> pixd = VitPixels(c, B, 12);
  const std::vector<float> pix(pixd.begin(), pixd.end());
  const std::vector<int32_t> labels = {3, 0, 9, 3, 7};
  Decoder fast(c, B, c.image_tokens());
  ReferenceDecoder<double> ref(c);
  std::vector<float> g(p.size(), 0.0f);
  std::vector<double> gd(p.size(), 0.0);
  const float loss = fast.ForwardImages(p, pix.data(), labels.data(), B);
  fast.Backward(p, g);
  const double loss_ref = ref.ForwardImages(pd.data(), pixd.data(), labels.data(), B);
  ref.Backward(pd.data(), gd.data());
  EXPECT_NEAR(loss, loss_ref, 1e-5 * loss_ref);
  EXPECT_EQ(fast.LossImages(p, pix.data(), labels.data(), B), loss);  // same forward, same bits
  std::vector<float> logits(B * K), feats(B * C);
  fast.ClassLogits(p, pix.data(), B, logits.data());
  fast.Features(p, pix.data(), B, feats.data());
  double lmax = 0, lerr = 0, fmax = 0, ferr = 0;
  for (int i = 0; i < B * K; ++i) {
    lmax = std::max(lmax, std::abs(ref.logits()[i]));
    lerr = std::max(lerr, std::abs(logits[i] - ref.logits()[i]));
  }
  for (int i = 0; i < B * C; ++i) {
    fmax = std::max(fmax, std::abs(ref.pooled()[i]));
    ferr = std::max(ferr, std::abs(feats[i] - ref.pooled()[i]));
  }
  EXPECT_LT(lerr, 1e-5 * lmax);
  EXPECT_LT(ferr, 1e-5 * fmax);
  const double worst = ExpectGradParity(fast.layout(), g, gd, 1e-5);
  std::printf(
      "  vit parity %s: loss %.7f vs %.7f, logits err %.1e, features err %.1e, worst grad "
      "err/scale %.1e\n",
      GetParam().c_str(), loss, loss_ref, lerr / lmax, ferr / fmax, worst);
}

INSTANTIATE_TEST_SUITE_P(Switches, VisionParity,
                         ::testing::Values("cls_learned", "mean_rope", "rope2d", "neox_causal"));

TEST(VisionModel, EntryPointsRefuseTheOtherInputInOneSentence) {
  const ModelConfig v = ModelConfig::VitPico();
  std::vector<float> p(ParamLayout::ForModel(v).total(), 0.0f), pix(v.pixels(), 0.0f);
  Decoder vit(v, 1, v.image_tokens());
  const std::vector<int32_t> tokens(17, 0);
  EXPECT_EQ(testing::ErrorOf([&] { vit.Forward(p, tokens.data(), tokens.data(), 1, 17); }),
            "decoder: model.input = patches reads images; call ForwardImages, LossImages, "
            "ClassLogits or Features, not the token entry points");
  const int32_t bad = 10;
  EXPECT_EQ(testing::ErrorOf([&] { vit.ForwardImages(p, pix.data(), &bad, 1); }),
            "decoder: label 10 of image 0 is outside the classes [0, 10)");
  EXPECT_EQ(testing::ErrorOf([&] { Decoder short_seq(v, 1, 16); }),
            "decoder: max_seq = 16 is below the 17 tokens of an image");
  const ModelConfig n = ModelConfig::Pico16();
  std::vector<float> pn(ParamLayout::ForModel(n).total(), 0.0f);
  Decoder dec(n, 1, 8);
  const int32_t label = 0;
  EXPECT_EQ(testing::ErrorOf([&] { dec.ForwardImages(pn, pix.data(), &label, 1); }),
            "decoder: the image entry points need model.input = patches; this model reads tokens");
}

// The convergence rung: vit-pico overfits 16 random images with arbitrary labels with Adam (lr
// 1e-2, betas 0.9 / 0.999, written here): the loss falls from ~log 10 = 2.3 to below 0.05 within
// 150 steps.
TEST(VisionModel, OverfitsOneBatch) {
  const ModelConfig c = ModelConfig::VitPico();
  const int B = 16;
  std::vector<float> p(ParamLayout::ForModel(c).total());
  InitParams(ParamLayout::ForModel(c), p, 3);
  const std::vector<double> pixd = VitPixels(c, B, 4);
  const std::vector<float> pix(pixd.begin(), pixd.end());
  std::vector<int32_t> labels(B);
  for (int b = 0; b < B; ++b) labels[b] = (b * 7) % 10;
  Decoder d(c, B, c.image_tokens());
  std::vector<float> g(p.size()), m(p.size(), 0.0f), v(p.size(), 0.0f);
  float first = 0, loss = 0;
  int step = 0;
  for (; step < 150; ++step) {
    std::fill(g.begin(), g.end(), 0.0f);
    loss = d.ForwardImages(p, pix.data(), labels.data(), B);
    if (step == 0) first = loss;
    if (loss < 0.05f) break;
    d.Backward(p, g);
    const float b1 = 0.9f, b2 = 0.999f, lr = 1e-2f;
    const float c1 = 1 - std::pow(b1, step + 1), c2 = 1 - std::pow(b2, step + 1);
    for (size_t i = 0; i < p.size(); ++i) {
      m[i] = b1 * m[i] + (1 - b1) * g[i];
      v[i] = b2 * v[i] + (1 - b2) * g[i] * g[i];
      p[i] -= lr * (m[i] / c1) / (std::sqrt(v[i] / c2) + 1e-8f);
    }
  }
  std::printf("  vit-pico overfit: loss %.3f -> %.4f in %d steps\n", first, loss, step);
  EXPECT_NEAR(first, std::log(10.0f), 0.5f);
  EXPECT_LT(loss, 0.05f);
}

}  // namespace
}  // namespace ot
