// The vision transformer as switches of the same model (issue 23): its config rules, layout and
// parameter count; the gradient-check ladder's whole-model rung in double (ReferenceDecoder::
// ForwardImages vs central differences, tensor by tensor, for CLS / mean pool, learned / RoPE
// positions, bidirectional / causal attention, and the imported families' switches); the fast
// float model against that double reference (loss, logits, features, every gradient element); the
// bidirectional switch seen from the model's output; the refusals; and a convergence rung.
#include <gtest/gtest.h>
#include <omp.h>

#include <cmath>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "common/test_util.h"
#include "model/decoder.h"
#include "model/hf_config.h"
#include "model/init.h"
#include "model/layout.h"
#include "model/reference_decoder.h"
#include "ops/grad_check.h"

namespace ot {
namespace {

// 6x6 images x 2 channels, patch 3 (4 patches of 18 floats), C 8, L 2, NH 2, F 12, K 3; then the
// variant's switches. Small enough for central differences over every parameter.
ModelConfig VitMicro(const std::string& variant) {
  ModelConfig c;
  c.input = "patches";
  c.image_size = 6;
  c.patch_size = 3;
  c.channels = 2;
  c.d_model = 8;
  c.n_layers = 2;
  c.n_heads = 2;
  c.d_ff = 12;
  c.max_seq_len = 5;
  c.causal = false;
  c.positions = "learned";
  c.pool = "cls";
  c.head = "classes";
  c.n_classes = 3;
  c.rope_theta = 100.0;  // small base so positions 0..4 rotate visibly (rope variants)
  if (variant == "mean_rope") {
    c.pool = "mean";
    c.positions = "rope";
  } else if (variant == "cls_rope") {
    c.positions = "rope";
  } else if (variant == "cls_rope2d") {  // HS 4: one rotated pair per axis
    c.positions = "rope2d";
  } else if (variant == "causal_mean") {
    c.causal = true;
    c.pool = "mean";
  } else if (variant == "neox_switches") {  // GPT-NeoX's block under the ViT's ends
    // RoPE: under learned positions the key bias shifts each softmax row by a constant and has no
    // gradient at all (exactly 0), which the disconnection check below would rightly flag.
    c.positions = "rope";
    c.norm = NormKind::kLayerNormAffine;
    c.mlp = MlpKind::kGelu;
    c.attn_bias = c.mlp_bias = true;
    c.parallel_residual = true;
  } else if (variant == "gqa_post_norm") {
    c.n_heads = 4;
    c.n_kv_heads = 2;
    c.norm_placement = NormPlacement::kPost;
    c.qk_norm = true;
  } else if (variant == "projection_cls" || variant == "projection_mean") {  // SigLIP's head
    c.head = "projection";
    c.proj_dim = 4;
    if (variant == "projection_mean") {
      c.pool = "mean";
      c.positions = "rope";
    }
  } else if (variant != "cls_learned") {
    ADD_FAILURE() << "unknown variant " << variant;
  }
  return c;
}

// Every tensor random and away from its init (weights N(0, w), gains 1 + N(0, 0.2), biases N(0,
// 0.2)), so a dropped term cannot hide behind a gain of 1 or a bias of 0.
std::vector<double> VitRandomParams(const ParamLayout& layout, uint32_t seed, double w) {
  std::vector<double> p(layout.total());
  for (const auto& t : layout.tensors()) {
    const bool gain = t.init_std == 0 && t.init_const == 1;
    const std::vector<double> r = testing::RandomVector(t.size, t.init_std > 0 ? w : 0.2, seed++);
    for (int64_t i = 0; i < t.size; ++i) p[t.offset + i] = r[i] + (gain ? 1.0 : 0.0);
  }
  return p;
}

std::vector<double> VitPixels(const ModelConfig& c, int B, uint32_t seed) {
  return testing::RandomVector(static_cast<size_t>(B) * c.pixels(), 1.0, seed);
}

std::vector<float> VitScaledParams(const ParamLayout& layout, uint64_t seed, float scale) {
  std::vector<float> p(layout.total());
  InitParams(layout, p, seed);
  for (const auto& t : layout.tensors())
    for (int64_t i = 0; i < t.size; ++i)
      p[t.offset + i] =
          t.init_std == 0 ? t.init_const + 0.1f * ((i % 5) - 2) : p[t.offset + i] * scale;
  return p;
}

TEST(VisionConfig, PresetsAndSwitchesHaveTheirSizes) {
  const ModelConfig v = ModelConfig::FromPreset("vit-pico");
  EXPECT_TRUE(v.vision());
  EXPECT_EQ(v.num_patches(), 16);
  EXPECT_EQ(v.image_tokens(), 17);
  EXPECT_EQ(v.patch_dim(), 49);
  EXPECT_EQ(v.rotary_dims(), 0);  // learned positions: no rotation
  EXPECT_FALSE(v.IsLlamaCompatible());
  // By hand: patch 49*32 + 32, CLS 32, positions 17*32, blocks 2 * (2*32 (RMSNorm gains) + 4*32^2
  // + 3*32*96 (SwiGLU F = 96)), final norm 32, head 10*32 + 10.
  EXPECT_EQ(v.NumParams(),
            49 * 32 + 32 + 32 + 17 * 32 + 2 * (64 + 4 * 1024 + 3 * 32 * 96) + 32 + 10 * 32 + 10);
  for (const char* variant :
       {"cls_learned", "mean_rope", "cls_rope", "cls_rope2d", "causal_mean", "neox_switches",
        "gqa_post_norm", "projection_cls", "projection_mean"}) {
    const ModelConfig c = VitMicro(variant);
    EXPECT_NO_THROW(c.Validate()) << variant;
    EXPECT_EQ(ParamLayout::ForModel(c).total(), c.NumParams()) << variant;
  }
  EXPECT_EQ(VitMicro("mean_rope").image_tokens(), 4);  // no CLS
  // The projection head: (proj_dim, C) + bias, and SigLIP's two scalars.
  EXPECT_EQ(VitMicro("projection_cls").NumParams() - VitMicro("cls_learned").NumParams(),
            (4 - 3) * (8 + 1) + 2);
  const ParamLayout proj = ParamLayout::ForModel(VitMicro("projection_cls"));
  EXPECT_EQ(proj.Get("head.weight").shape, (std::vector<int64_t>{4, 8}));
  EXPECT_EQ(proj.Get("siglip.t_log").init_const, std::log(10.0f));  // Zhai et al.'s init
  EXPECT_EQ(proj.Get("siglip.bias").init_const, -10.0f);
  EXPECT_EQ(proj.Get("siglip.t_log").group, ParamGroup::kBias);  // not decayed by default
  EXPECT_EQ(proj.siglip_offset(), proj.Get("siglip.t_log").offset);
}

TEST(VisionConfig, LayoutNamesTheNewTensors) {
  const ModelConfig c = ModelConfig::VitPico();
  const ParamLayout layout = ParamLayout::ForModel(c);
  const int64_t C = c.d_model;
  struct Want {
    const char* name;
    std::vector<int64_t> shape;
    ParamGroup group;
    bool random;
  };
  for (const Want& w : {Want{"patch_embed.weight", {C, 49}, ParamGroup::kEmbed, true},
                        Want{"patch_embed.bias", {C}, ParamGroup::kBias, false},
                        Want{"cls_token", {C}, ParamGroup::kEmbed, true},
                        Want{"pos_embed", {17, C}, ParamGroup::kEmbed, true},
                        Want{"head.weight", {10, C}, ParamGroup::kHead, true},
                        Want{"head.bias", {10}, ParamGroup::kBias, false}}) {
    const TensorInfo* t = layout.Find(w.name);
    ASSERT_NE(t, nullptr) << w.name;
    EXPECT_EQ(t->shape, w.shape) << w.name;
    EXPECT_EQ(t->group, w.group) << w.name;
    EXPECT_EQ(t->init_std, w.random ? static_cast<float>(c.init_std) : 0.0f) << w.name;
  }
  EXPECT_EQ(layout.Find("model.embed_tokens.weight"), nullptr);
  EXPECT_EQ(layout.Find("lm_head.weight"), nullptr);
  EXPECT_EQ(layout.head_offset(), layout.Get("head.weight").offset);
  // Switches off: no CLS, no position table.
  const ParamLayout mean = ParamLayout::ForModel(VitMicro("mean_rope"));
  EXPECT_EQ(mean.Find("cls_token"), nullptr);
  EXPECT_EQ(mean.Find("pos_embed"), nullptr);
  EXPECT_EQ(mean.cls_offset(), -1);
  EXPECT_EQ(mean.pos_offset(), -1);
  // The decoder has none of them.
  const ParamLayout dec = ParamLayout::ForModel(ModelConfig::Nano());
  EXPECT_EQ(dec.Find("patch_embed.weight"), nullptr);
  EXPECT_EQ(dec.patch_offset(), -1);
}

// The memory plan is the allocation for a ViT too (one PlanBuffers for both), for each head.
TEST(VisionConfig, PlannedActivationBytesAreTheAllocation) {
  for (const char* head : {"classes", "projection"}) {
    ModelConfig c = ModelConfig::VitPico();
    c.head = head;
    Decoder d(c, 8, c.image_tokens());
    EXPECT_EQ(d.ActivationBytes(),
              Decoder::PlannedActivationBytes(c, 8, c.image_tokens(), omp_get_max_threads()))
        << head;
  }
}

// Hugging Face export: a ViT has no model_type (vit-pico's blocks alone would pass for Llama's).
TEST(VisionConfig, ExportNamesNoHuggingFaceType) {
  std::string why;
  EXPECT_EQ(HfExportType(ModelConfig::VitPico(), &why), "");
  EXPECT_NE(why.find("model.input = patches"), std::string::npos) << why;
  EXPECT_EQ(HfConfigJson(ModelConfig::VitPico()).count("model_type"), 0u);
  EXPECT_EQ(HfExportType(ModelConfig::Pico16()), "llama");
}

TEST(VisionConfig, JsonRoundTripsAndOldJsonIsTheDecoder) {
  const ModelConfig v = VitMicro("mean_rope");
  EXPECT_EQ(ModelConfig::FromJson(v.ToJson()), v);
  EXPECT_EQ(v.ToJson()["input"], "patches");
  // A config.json written before the vision switches: every one of them at the decoder's default.
  nlohmann::json old = ModelConfig::Nano().ToJson();
  for (const char* key : {"input", "image_size", "patch_size", "channels", "causal", "positions",
                          "pool", "head", "n_classes"})
    old.erase(key);
  EXPECT_EQ(ModelConfig::FromJson(old), ModelConfig::Nano());
}

struct VitRunConfig {
  ModelConfig model;
};
ConfigSchema<VitRunConfig> VitSchema() {
  ConfigSchema<VitRunConfig> s;
  DeclareModelFields(s, [](VitRunConfig& r) -> ModelConfig& { return r.model; });
  return s;
}

// The [model] keys: a decoder's printed config has no vision key (its text, and the study run ids
// hashed from it, are what they were before the switches); a ViT's has every one, and reading it
// back gives the same model; the keys load from TOML overrides with one-sentence errors.
TEST(VisionConfig, KeysPrintOnlyForAViTAndRoundTrip) {
  auto get = [](VitRunConfig& r) -> ModelConfig& { return r.model; };
  const std::string decoder = PrintConfig(VitSchema(), VitRunConfig{ModelConfig::Nano()});
  for (const ModelField& f : VisionFields())
    EXPECT_EQ(decoder.find(std::string("\n") + f.name + " = "), std::string::npos) << f.name;
  VitRunConfig vit{VitMicro("mean_rope")};
  const std::string text = PrintConfig(VitSchema(), vit);
  for (const ModelField& f : VisionFields())
    EXPECT_NE(text.find(std::string("\n") + f.name + " = "), std::string::npos) << f.name;
  const auto path = testing::WriteTempToml("vit_schema", text);
  EXPECT_EQ(LoadConfig(VitSchema(), path.string(), {}, VitRunConfig{}).model, vit.model);
  std::filesystem::remove(path);
  const VitRunConfig r = LoadConfigWithModelPreset(
      VitSchema(), "", {"model.preset=\"vit-pico\"", "model.pool=\"mean\""}, VitRunConfig{}, get);
  ModelConfig want = ModelConfig::VitPico();
  want.pool = "mean";
  EXPECT_EQ(r.model, want);
  EXPECT_NE(testing::ErrorOf([&] {
              LoadConfigWithModelPreset(VitSchema(), "", {"model.pool=\"max\""}, VitRunConfig{},
                                        get);
            }).find("model.pool"),
            std::string::npos);
}

std::string VitProblemOf(const ModelConfig& c) {
  return testing::ErrorOf([&] { c.Validate(); });
}

TEST(VisionConfig, InvalidCombinationsAreOneSentence) {
  ModelConfig c = ModelConfig::VitPico();
  c.patch_size = 5;
  EXPECT_EQ(VitProblemOf(c), "model.patch_size = 5 must divide model.image_size = 28");
  c = ModelConfig::VitPico();
  c.max_seq_len = 16;
  EXPECT_EQ(VitProblemOf(c),
            "model.max_seq_len = 16 must be >= the 17 tokens of an image ((image_size / "
            "patch_size)^2 + 1 CLS)");
  c = ModelConfig::VitPico();
  c.pool = "none";
  EXPECT_EQ(
      VitProblemOf(c),
      "model.pool = none with model.input = patches leaves the head nothing to read; expected "
      "cls or mean");
  c = ModelConfig::VitPico();
  c.head = "lm";
  EXPECT_EQ(VitProblemOf(c),
            "model.head = lm with model.input = patches is not supported; expected classes or "
            "projection");
  c = ModelConfig::VitPico();
  c.input = "pixels";
  EXPECT_EQ(VitProblemOf(c), "model.input = 'pixels' is unknown; expected tokens, patches");
  c = ModelConfig::VitPico();
  c.positions = "rope2d";
  c.d_model = 36;  // HS 18: rotates 18 dims, 9 pairs
  EXPECT_EQ(VitProblemOf(c),
            "model.positions = rope2d rotates 18 dims of a head; 2-D RoPE gives half of the "
            "rotated pairs to rows and half to columns, so that count must be a multiple of 4");
  c = ModelConfig::VitPico();
  c.causal = true;
  EXPECT_EQ(VitProblemOf(c),
            "model.pool = cls with model.causal = true reads the first token, which attends to no "
            "patch; expected causal = false or pool = mean");
  c = ModelConfig::VitPico();
  c.n_classes = 0;
  EXPECT_EQ(VitProblemOf(c), "model.n_classes = 0 must be >= 1");
  // The decoder keeps every vision switch at its default.
  c = ModelConfig::Nano();
  c.causal = false;
  EXPECT_EQ(VitProblemOf(c),
            "model.causal = false needs model.input = patches (a token decoder predicts the next "
            "token, which bidirectional attention would see)");
  c = ModelConfig::Nano();
  c.positions = "learned";
  EXPECT_EQ(VitProblemOf(c), "model.positions = learned needs model.input = patches");
  c = ModelConfig::Nano();
  c.pool = "mean";
  EXPECT_EQ(VitProblemOf(c), "model.pool = mean needs model.input = patches");
  c = ModelConfig::Nano();
  c.head = "classes";
  EXPECT_EQ(VitProblemOf(c), "model.head = classes needs model.input = patches");
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
    auto loss = [&] { return model.ForwardImages(params.data(), pixels.data(), labels.data(), B); };
    for (const auto& t : model.layout().tensors()) {
      std::vector<double> x(params.begin() + t.offset, params.begin() + t.offset + t.size);
      std::vector<double> g(grads.begin() + t.offset, grads.begin() + t.offset + t.size);
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
    for (const auto& t : model.layout().tensors()) {
      std::vector<double> x(params.begin() + t.offset, params.begin() + t.offset + t.size);
      const std::vector<double> g(grads.begin() + t.offset, grads.begin() + t.offset + t.size);
      auto tensor_loss = [&] {
        std::copy(x.begin(), x.end(), params.begin() + t.offset);
        return model.ForwardPairs(params.data(), a.data(), b.data(), B);
      };
      const auto r = testing::CheckGradient(x, g, tensor_loss);
      std::copy(x.begin(), x.end(), params.begin() + t.offset);
      const double err = r.max_err * std::max(r.max_abs, 1e-12) / std::max(r.max_abs, 1e-3);
      EXPECT_LT(err, 1e-6) << t.name << " w=" << w;
      EXPECT_GT(r.cosine, 1 - 1e-9) << t.name << " w=" << w;
      EXPECT_GT(r.max_abs, 1e-5) << t.name << " w=" << w << ": disconnected?";
      worst = std::max(worst, err);
    }
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
  double worst = 0;
  for (const auto& t : fast.layout().tensors()) {
    double scale = 0, err = 0;
    for (int64_t i = 0; i < t.size; ++i) {
      scale = std::max(scale, std::abs(gd[t.offset + i]));
      err = std::max(err, std::abs(g[t.offset + i] - gd[t.offset + i]));
    }
    ASSERT_GT(scale, 0) << t.name;
    EXPECT_LT(err / scale, 1e-5) << t.name;
    worst = std::max(worst, err / scale);
  }
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
  double worst = 0;
  for (const auto& t : fast.layout().tensors()) {
    double scale = 0, err = 0;
    for (int64_t i = 0; i < t.size; ++i) {
      scale = std::max(scale, std::abs(gd[t.offset + i]));
      err = std::max(err, std::abs(g[t.offset + i] - gd[t.offset + i]));
    }
    ASSERT_GT(scale, 0) << t.name;
    EXPECT_LT(err / scale, 1e-5) << t.name;
    worst = std::max(worst, err / scale);
  }
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
