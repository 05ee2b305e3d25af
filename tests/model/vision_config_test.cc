// The vision transformer's configuration (issue 23): presets and parameter counts, the layout's
// named tensors, the memory plan, Hugging Face export, the JSON and TOML round trips (a decoder's
// bytes unchanged), and the one-sentence refusals.
#include <gtest/gtest.h>
#include <omp.h>

#include <cmath>
#include <filesystem>
#include <string>
#include <vector>

#include "common/test_util.h"
#include "model/config.h"
#include "model/decoder.h"
#include "model/hf_config.h"
#include "model/layout.h"
#include "model/vit_fixture.h"

namespace ot {
namespace {

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

}  // namespace
}  // namespace ot
