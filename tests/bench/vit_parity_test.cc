// The vision transformer (model.input = patches, issue 23) against an independent PyTorch ViT:
// reference/vit.py, written from the ViT, 2-D RoPE and SigLIP papers with the Hugging Face family
// blocks of reference/hf_families.py, run in float64 by reference.py --parity on the weights and
// images we write. Per switch combination, the double reference model (ReferenceDecoder<double>,
// the path vision_test.cc proves against central differences) and the fast float32 Decoder must
// match its loss and every gradient, and their AdamW steps the bound their gradient error implies
// (parity_harness.h). Fails (never skips) without torch.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "bench/parity_harness.h"
#include "model/vit_fixture.h"

namespace ot {
namespace {

using namespace parity;

// vit-pico's shape (28x28 grey, patch 7: 16 patches, C 32, L 2, NH 2) with one variant's switches.
ModelConfig VitParityModel(const std::string& variant) {
  ModelConfig c = ModelConfig::VitPico();
  if (variant == "cls_learned_classes") return c;  // the preset itself
  if (variant == "mean_rope2d_classes") {
    c.pool = "mean";
    c.positions = "rope2d";  // HS 16: 4 rotated pairs per axis
  } else if (variant == "cls_rope_siglip") {
    c.positions = "rope";
    c.head = "projection";
    c.proj_dim = 16;
  } else if (variant == "cls_rope2d_siglip") {
    c.positions = "rope2d";
    c.head = "projection";
    c.proj_dim = 16;
  } else if (variant == "neox_causal_mean") {  // GPT-NeoX's block, causal (needs the mean pool)
    c.norm = NormKind::kLayerNormAffine;
    c.mlp = MlpKind::kGelu;
    c.attn_bias = c.mlp_bias = true;
    c.parallel_residual = true;
    c.rotary_pct = 0.5;  // RoPE on 8 of a head's 16 dims: the pass-through dims too
    c.causal = true;
    c.pool = "mean";
    c.positions = "rope";
  } else if (variant == "olmo2_gqa_cls_learned") {  // OLMo-2's block: post-norm, qk-norm, GQA
    c.n_heads = 4;
    c.n_kv_heads = 2;
    c.norm_placement = NormPlacement::kPost;
    c.qk_norm = true;
  } else {
    ADD_FAILURE() << "unknown variant " << variant;
  }
  return c;
}

struct VitBatch {
  int B = 0;                            // images (class head) or pairs of views (projection head)
  std::vector<float> pixels, pixels_b;  // (B, pixels()) each; pixels_b only for pairs
  std::vector<int32_t> labels;          // (B) for the class head
};

// Weights away from init (vit_fixture.h: matrices x5, gains and biases off their constants) so no
// term hides behind a gain of 1 or a bias of 0; SigLIP's temperature and bias at the paper's t = 10
// and b = -5, so the pair logits span both signs.
Fixture VitParityFixture(const ModelConfig& c, VitBatch* batch) {
  Fixture f{c, ParamLayout::ForModel(c), {}, {}, {}};
  f.params = VitScaledParams(f.layout, 11, 5.0f);
  if (const int64_t s = f.layout.siglip_offset(); s >= 0) {
    f.params[s] = std::log(10.0f);
    f.params[s + 1] = -5.0f;
  }
  const bool pairs = c.head == "projection";
  batch->B = pairs ? 4 : 5;
  const std::vector<double> a = VitPixels(c, batch->B, 12), b = VitPixels(c, batch->B, 13);
  batch->pixels.assign(a.begin(), a.end());
  if (pairs)
    for (size_t i = 0; i < b.size(); ++i) batch->pixels_b.push_back(float(a[i] + 0.5 * b[i]));
  else
    batch->labels = {3, 0, 9, 3, 7};
  return f;
}

// reference.py --parity on a ViT (it dispatches on model.input): the parameters, batch.pixels and
// batch.labels (or batch.pixels_b), the AdamW settings of parity_harness.h's RunTorch.
TorchResult RunVitTorch(const Fixture& f, const VitBatch& batch, const fs::path& dir) {
  const int64_t P = f.config.pixels();
  std::vector<TensorToWrite> tensors{F32Tensor("batch.pixels", {batch.B, P}, batch.pixels)};
  if (!batch.pixels_b.empty())
    tensors.push_back(F32Tensor("batch.pixels_b", {batch.B, P}, batch.pixels_b));
  if (!batch.labels.empty())
    tensors.push_back(TensorToWrite{"batch.labels",
                                    DType::kI32,
                                    {batch.B},
                                    std::as_bytes(std::span<const int32_t>(batch.labels))});
  return RunTorchParity(f, tensors, dir, "float64");
}

class VitParityTest : public ::testing::TestWithParam<std::string> {};

// One PyTorch float64 run per variant, two engines against it. Tolerances (loss relative; gradients
// as max |error| over a tensor / that tensor's max |torch gradient|), by the triangle inequality:
// - ReferenceDecoder<double>: the same function up to double rounding (~1e-15); torch's gradients
//   reach us rounded to float32 (2^-24 ~ 6e-8 of each element) and ours are rounded the same way
//   before the comparison, so 1e-6 of the tensor's max is float32 transport with a 16x margin; the
//   loss comes as double text: 1e-12 relative (parity_harness.h's ExpectReferenceDecoderParity).
// - the fast float32 Decoder: vision_test.cc's VisionParity bound against the double reference at
//   this shape (1e-5 relative, from ~10 float32 ops per block with reductions of K <= 96 terms)
//   plus the 1e-6 above: 1.1e-5 for the loss and for every gradient.
// AdamW steps: parity_harness.h's per-element AdamStepBound + StepRounding, from each engine's own
// gradient error.
TEST_P(VitParityTest, LossGradientsAndAdamWStepMatchPyTorch) {
  RequireTorch();
  ScopedTempDir dir;
  const ModelConfig c = VitParityModel(GetParam());
  VitBatch batch;
  const Fixture f = VitParityFixture(c, &batch);
  const TorchResult torch = RunVitTorch(f, batch, dir.path());
  EXPECT_EQ(torch.family.rfind("vit+", 0), 0u) << torch.family;
  const bool pairs = c.head == "projection";
  const int images = pairs ? 2 * batch.B : batch.B;
  {
    SCOPED_TRACE("ReferenceDecoder<double>");
    ReferenceDecoder<double> ref(c);
    const std::vector<double> p(f.params.begin(), f.params.end());
    const std::vector<double> a(batch.pixels.begin(), batch.pixels.end()),
        b(batch.pixels_b.begin(), batch.pixels_b.end());
    std::vector<double> g(p.size(), 0.0);
    const double loss = pairs ? ref.ForwardPairs(p.data(), a.data(), b.data(), batch.B)
                              : ref.ForwardImages(p.data(), a.data(), batch.labels.data(), batch.B);
    ref.Backward(p.data(), g.data());
    const std::vector<float> gf(g.begin(), g.end());
    ExpectParity(("vit reference (double) " + GetParam()).c_str(), f, torch, loss, gf, 1e-12, 1e-6);
  }
  {
    SCOPED_TRACE("Decoder (fast, float32)");
    Decoder fast(c, images, c.image_tokens());
    std::vector<float> g(f.params.size(), 0.0f);
    const double loss =
        pairs ? fast.ForwardPairs(f.params, batch.pixels.data(), batch.pixels_b.data(), batch.B)
              : fast.ForwardImages(f.params, batch.pixels.data(), batch.labels.data(), batch.B);
    fast.Backward(f.params, g);
    ExpectParity(("vit fast (float32) " + GetParam()).c_str(), f, torch, loss, g, 1.1e-5, 1.1e-5);
  }
}

INSTANTIATE_TEST_SUITE_P(Switches, VitParityTest,
                         ::testing::Values("cls_learned_classes", "mean_rope2d_classes",
                                           "cls_rope_siglip", "cls_rope2d_siglip",
                                           "neox_causal_mean", "olmo2_gqa_cls_learned"));

}  // namespace
}  // namespace ot
