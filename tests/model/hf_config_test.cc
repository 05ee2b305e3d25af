// The Hugging Face config mapping both ways: each family's config.json (real key names,
// transformers 4.x and 5.x RoPE spellings, absent keys taking the family defaults) maps to the
// expected ModelConfig; every unsupported feature is refused in one sentence naming the key; export
// writes the family that computes our tensors (num_key_value_heads = kv_heads()) and round-trips
// through the import.
#include "model/hf_config.h"

#include <gtest/gtest.h>

#include <functional>
#include <string>

#include "common/test_util.h"
#include "core/check.h"

namespace ot {
namespace {

using Json = nlohmann::json;
using ot::testing::ErrorOf;

Json LlamaJson() {  // a TinyLlama-like config.json, shrunk
  return Json::parse(R"({
    "architectures": ["LlamaForCausalLM"], "model_type": "llama", "vocab_size": 48, "hidden_size": 16,
    "intermediate_size": 24, "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
    "max_position_embeddings": 32, "rms_norm_eps": 1e-06, "rope_theta": 500000.0, "rope_scaling": null,
    "tie_word_embeddings": false, "attention_bias": true, "mlp_bias": true, "hidden_act": "silu",
    "initializer_range": 0.02, "head_dim": 4, "pretraining_tp": 1, "torch_dtype": "bfloat16",
    "bos_token_id": 1, "eos_token_id": 2, "use_cache": true, "attention_dropout": 0.0})");
}
Json OlmoJson() {  // OLMo-1B-hf's keys
  return Json::parse(R"({
    "architectures": ["OlmoForCausalLM"], "model_type": "olmo", "vocab_size": 40, "hidden_size": 16,
    "intermediate_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2, "num_key_value_heads": 2,
    "max_position_embeddings": 64, "rope_theta": 10000.0, "rope_scaling": null, "clip_qkv": 8.0,
    "tie_word_embeddings": true, "attention_bias": false, "hidden_act": "silu",
    "initializer_range": 0.02, "pad_token_id": 1, "eos_token_id": 50279, "torch_dtype": "float32"})");
}
Json Olmo2Json() {
  return Json::parse(R"({
    "architectures": ["Olmo2ForCausalLM"], "model_type": "olmo2", "vocab_size": 40, "hidden_size": 16,
    "intermediate_size": 24, "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
    "max_position_embeddings": 64, "rope_theta": 500000, "rope_scaling": null, "rms_norm_eps": 1e-06,
    "tie_word_embeddings": false, "attention_bias": false, "hidden_act": "silu",
    "initializer_range": 0.02})");
}
Json NeoxJson() {  // Pythia's keys
  return Json::parse(R"({
    "architectures": ["GPTNeoXForCausalLM"], "model_type": "gpt_neox", "vocab_size": 48, "hidden_size": 32,
    "intermediate_size": 128, "num_hidden_layers": 2, "num_attention_heads": 4,
    "max_position_embeddings": 64, "rotary_pct": 0.25, "rotary_emb_base": 10000, "layer_norm_eps": 1e-05,
    "use_parallel_residual": true, "tie_word_embeddings": false, "hidden_act": "gelu",
    "initializer_range": 0.02, "bos_token_id": 0, "eos_token_id": 0, "use_cache": true,
    "attention_dropout": 0.0, "hidden_dropout": 0.0, "classifier_dropout": 0.1, "torch_dtype": "float16"})");
}

TEST(FromHfConfig, LlamaMapsEveryKey) {
  const ModelConfig c = FromHfConfig(LlamaJson(), "cfg");
  EXPECT_EQ(c.preset, "custom");
  EXPECT_EQ(c.vocab_size, 48);
  EXPECT_EQ(c.d_model, 16);
  EXPECT_EQ(c.d_ff, 24);
  EXPECT_EQ(c.n_layers, 2);
  EXPECT_EQ(c.n_heads, 4);
  EXPECT_EQ(c.n_kv_heads, 2);
  EXPECT_EQ(c.max_seq_len, 32);
  EXPECT_EQ(c.norm, NormKind::kRmsNorm);
  EXPECT_EQ(c.norm_placement, NormPlacement::kPre);
  EXPECT_EQ(c.norm_eps, 1e-6);
  EXPECT_EQ(c.rope_theta, 500000.0);
  EXPECT_FALSE(c.tied_head);
  EXPECT_TRUE(c.attn_bias);
  EXPECT_TRUE(c.mlp_bias);
  EXPECT_EQ(c.mlp, MlpKind::kSwiGlu);
  EXPECT_FALSE(c.qk_norm || c.parallel_residual);
  EXPECT_EQ(c.rotary_pct, 1.0);
  EXPECT_EQ(c.clip_qkv, 0.0);
  EXPECT_EQ(c.init_std, 0.02);
}

TEST(FromHfConfig, OlmoIsNonParametricLayerNormWithFixedEpsAndClip) {
  Json j = OlmoJson();
  j["rms_norm_eps"] = 0.5;  // not a key OLMo reads: OlmoLayerNorm's eps is fixed
  const ModelConfig c = FromHfConfig(j, "cfg");
  EXPECT_EQ(c.norm, NormKind::kLayerNorm);
  EXPECT_EQ(c.norm_eps, 1e-5);
  EXPECT_EQ(c.clip_qkv, 8.0);
  EXPECT_TRUE(c.tied_head);
  EXPECT_EQ(c.n_kv_heads, 0);  // num_key_value_heads == num_attention_heads is plain MHA
  EXPECT_EQ(c.kv_heads(), 2);
  EXPECT_FALSE(c.attn_bias || c.mlp_bias || c.qk_norm);
  j["clip_qkv"] = nullptr;
  EXPECT_EQ(FromHfConfig(j, "cfg").clip_qkv, 0.0);
}

TEST(FromHfConfig, Olmo2IsPostNormWithQkNorm) {
  const ModelConfig c = FromHfConfig(Olmo2Json(), "cfg");
  EXPECT_EQ(c.norm, NormKind::kRmsNorm);
  EXPECT_EQ(c.norm_placement, NormPlacement::kPost);
  EXPECT_TRUE(c.qk_norm);
  EXPECT_EQ(c.norm_eps, 1e-6);
  EXPECT_EQ(c.n_kv_heads, 2);
  EXPECT_EQ(c.rope_theta, 500000.0);
  EXPECT_FALSE(c.parallel_residual || c.attn_bias || c.mlp_bias);
}

TEST(FromHfConfig, GptNeoxIsParallelAffineLayerNormGeluWithBiasesAndPartialRotary) {
  const ModelConfig c = FromHfConfig(NeoxJson(), "cfg");
  EXPECT_EQ(c.norm, NormKind::kLayerNormAffine);
  EXPECT_EQ(c.norm_eps, 1e-5);
  EXPECT_EQ(c.mlp, MlpKind::kGelu);
  EXPECT_EQ(c.d_ff, 128);
  EXPECT_TRUE(c.attn_bias);  // GPTNeoXConfig.attention_bias defaults to true
  EXPECT_TRUE(c.mlp_bias);
  EXPECT_TRUE(c.parallel_residual);
  EXPECT_EQ(c.rotary_pct, 0.25);
  EXPECT_EQ(c.rotary_dims(), 2);  // int(8 * 0.25)
  EXPECT_EQ(c.rope_theta, 10000.0);
  EXPECT_EQ(c.kv_heads(), 4);
  EXPECT_FALSE(c.tied_head);
  Json j = NeoxJson();
  j["use_parallel_residual"] = false;
  j["attention_bias"] = false;
  const ModelConfig s = FromHfConfig(j, "cfg");
  EXPECT_FALSE(s.parallel_residual);
  EXPECT_FALSE(s.attn_bias);
  EXPECT_TRUE(s.mlp_bias);
}

TEST(FromHfConfig, AbsentKeysTakeTheFamilyDefaults) {
  Json neox = NeoxJson();
  for (const char* k :
       {"rotary_pct", "rotary_emb_base", "layer_norm_eps", "use_parallel_residual",
        "tie_word_embeddings", "hidden_act", "max_position_embeddings", "initializer_range"})
    neox.erase(k);
  const ModelConfig n = FromHfConfig(neox, "cfg");
  EXPECT_EQ(n.rotary_pct, 0.25);
  EXPECT_EQ(n.rope_theta, 10000.0);
  EXPECT_EQ(n.norm_eps, 1e-5);
  EXPECT_TRUE(n.parallel_residual);
  EXPECT_FALSE(n.tied_head);
  EXPECT_EQ(n.mlp, MlpKind::kGelu);
  EXPECT_EQ(n.max_seq_len, 2048);
  EXPECT_EQ(n.init_std, 0.02);
  Json llama = LlamaJson();
  for (const char* k : {"num_key_value_heads", "rms_norm_eps", "rope_theta", "attention_bias",
                        "mlp_bias", "head_dim", "tie_word_embeddings"})
    llama.erase(k);
  const ModelConfig l = FromHfConfig(llama, "cfg");
  EXPECT_EQ(l.kv_heads(), 4);
  EXPECT_EQ(l.norm_eps, 1e-6);
  EXPECT_EQ(l.rope_theta, 10000.0);
  EXPECT_FALSE(l.attn_bias || l.mlp_bias || l.tied_head);
  Json olmo2 = Olmo2Json();
  olmo2.erase("rms_norm_eps");
  EXPECT_EQ(FromHfConfig(olmo2, "cfg").norm_eps, 1e-5);
}

TEST(FromHfConfig, ReadsTransformers5RopeParameters) {
  Json neox = NeoxJson();
  neox.erase("rotary_pct");
  neox.erase("rotary_emb_base");
  neox["rope_parameters"] = {
      {"rope_type", "default"}, {"rope_theta", 20000.0}, {"partial_rotary_factor", 0.5}};
  const ModelConfig n = FromHfConfig(neox, "cfg");
  EXPECT_EQ(n.rope_theta, 20000.0);
  EXPECT_EQ(n.rotary_pct, 0.5);
  Json llama = LlamaJson();
  llama.erase("rope_theta");
  llama["rope_parameters"] = {{"rope_type", "default"}, {"rope_theta", 123.0}};
  EXPECT_EQ(FromHfConfig(llama, "cfg").rope_theta, 123.0);
  llama["rope_parameters"]["rope_type"] = "llama3";
  EXPECT_EQ(ErrorOf([&] { FromHfConfig(llama, "cfg"); }),
            "cfg: rope_parameters.rope_type = \"llama3\" is not supported (overtrain runs unscaled "
            "RoPE); "
            "expected \"default\"");
  llama["rope_parameters"] = {{"rope_type", "default"}, {"partial_rotary_factor", 0.5}};
  EXPECT_NE(ErrorOf([&] {
              FromHfConfig(llama, "cfg");
            }).find("rope_parameters.partial_rotary_factor = 0.5"),
            std::string::npos);
}

// Each refusal is one sentence that starts with the file and names the key.
TEST(FromHfConfig, UnsupportedFeaturesAreRefusedNamingTheKey) {
  struct Case {
    std::function<Json()> base;
    std::function<void(Json&)> edit;
    std::string expected;
  };
  const std::vector<Case> cases = {
      {LlamaJson, [](Json& j) { j["model_type"] = "mistral"; },
       "cfg: model_type = 'mistral' is not supported; expected one of llama, olmo, olmo2, "
       "gpt_neox"},
      {LlamaJson, [](Json& j) { j.erase("model_type"); },
       "cfg: model_type is missing; expected one of llama, olmo, olmo2, gpt_neox"},
      {LlamaJson,
       [](Json& j) {
         j["rope_scaling"] = {{"rope_type", "linear"}, {"factor", 2.0}};
       },
       "cfg: rope_scaling = {\"factor\":2.0,\"rope_type\":\"linear\"} is not supported (overtrain "
       "runs "
       "unscaled RoPE); expected null"},
      {LlamaJson, [](Json& j) { j["sliding_window"] = 4096; },
       "cfg: sliding_window = 4096 is not supported (overtrain attends over the whole causal "
       "prefix); "
       "expected null"},
      {LlamaJson, [](Json& j) { j["use_sliding_window"] = true; },
       "cfg: use_sliding_window = true is not supported (overtrain attends over the whole causal "
       "prefix)"},
      {LlamaJson, [](Json& j) { j["num_local_experts"] = 8; },
       "cfg: num_local_experts = 8 is not supported (mixture-of-experts MLPs are not implemented)"},
      {LlamaJson, [](Json& j) { j["head_dim"] = 8; },
       "cfg: head_dim = 8 is not supported; overtrain needs hidden_size / num_attention_heads = 4"},
      {LlamaJson, [](Json& j) { j["hidden_act"] = "relu"; },
       "cfg: hidden_act = 'relu' is not supported for model_type 'llama'; expected 'silu (the "
       "SwiGLU MLP)'"},
      {NeoxJson, [](Json& j) { j["hidden_act"] = "gelu_new"; },
       "cfg: hidden_act = 'gelu_new' is not supported for model_type 'gpt_neox'; expected 'gelu "
       "(the exact "
       "erf GELU)'"},
      {OlmoJson, [](Json& j) { j["mlp_bias"] = true; },
       "cfg: mlp_bias = true is not supported for model_type 'olmo' (its MLP has no biases)"},
      {LlamaJson, [](Json& j) { j["clip_qkv"] = 4; },
       "cfg: clip_qkv = 4 is not supported for model_type 'llama' (only olmo clamps q, k, v)"},
      {OlmoJson, [](Json& j) { j["clip_qkv"] = -1.0; }, "cfg: clip_qkv = -1 must be > 0 or null"},
      {LlamaJson, [](Json& j) { j["num_attention_heads"] = 3; },
       "cfg: num_attention_heads = 3 must divide hidden_size = 16"},
      {LlamaJson, [](Json& j) { j["num_key_value_heads"] = 3; },
       "cfg: num_key_value_heads = 3 must divide num_attention_heads = 4"},
      {LlamaJson, [](Json& j) { j.erase("hidden_size"); },
       "cfg: hidden_size is missing; expected a positive integer"},
      // Zero sizes (issue 19: 0 heads divided by zero; a 0-wide MLP loaded silently).
      {LlamaJson, [](Json& j) { j["num_attention_heads"] = 0; },
       "cfg: num_attention_heads = 0 must be a positive 32-bit integer"},
      {LlamaJson, [](Json& j) { j["num_key_value_heads"] = 0; },
       "cfg: num_key_value_heads = 0 must be a positive 32-bit integer"},
      {LlamaJson, [](Json& j) { j["intermediate_size"] = 0; },
       "cfg: intermediate_size = 0 must be a positive 32-bit integer"},
      {LlamaJson, [](Json& j) { j["vocab_size"] = 4.5; },
       "cfg: vocab_size = 4.5 must be an integer"},
      {LlamaJson, [](Json& j) { j["tie_word_embeddings"] = "yes"; },
       "cfg: tie_word_embeddings = \"yes\" must be true or false"},
      {NeoxJson, [](Json& j) { j["rotary_pct"] = 0.375; },
       "cfg: as a model: model.rotary_pct = 0.375 rotates 3 of the 8 dims of a head; RoPE rotates "
       "pairs, so "
       "that count must be even"},
  };
  for (const auto& c : cases) {
    Json j = c.base();
    c.edit(j);
    EXPECT_EQ(ErrorOf([&] { FromHfConfig(j, "cfg"); }), c.expected);
  }
  // Switched-off features are not refused.
  Json off = LlamaJson();
  off["use_sliding_window"] = false;
  off["sliding_window"] = 4096;  // Qwen-style: a window that use_sliding_window switches off
  off["num_experts"] = 0;
  EXPECT_NO_THROW(FromHfConfig(off, "cfg"));
}

// Our default architecture's config.json, exactly as train/pretrain.cc wrote it before the move.
TEST(HfConfigJson, DefaultArchitectureIsUnchanged) {
  const ModelConfig m = ModelConfig::Nano();
  const Json expected = {{"architectures", {"LlamaForCausalLM"}},
                         {"model_type", "llama"},
                         {"vocab_size", m.vocab_size},
                         {"hidden_size", m.d_model},
                         {"intermediate_size", m.ff_dim()},
                         {"num_hidden_layers", m.n_layers},
                         {"num_attention_heads", m.n_heads},
                         {"num_key_value_heads", m.n_heads},
                         {"max_position_embeddings", m.max_seq_len},
                         {"rope_theta", m.rope_theta},
                         {"tie_word_embeddings", m.tied_head},
                         {"initializer_range", m.init_std},
                         {"hidden_act", "silu"},
                         {"attention_bias", false},
                         {"torch_dtype", "float32"},
                         {"overtrain", m.ToJson()},
                         {"rms_norm_eps", m.norm_eps}};
  EXPECT_EQ(HfConfigJson(m).dump(), expected.dump());
  ModelConfig olmo = m;
  olmo.norm = NormKind::kLayerNorm;
  Json e2 = expected;
  e2["architectures"] = {"OlmoForCausalLM"};
  e2["model_type"] = "olmo";
  e2.erase("rms_norm_eps");
  e2["clip_qkv"] = nullptr;
  e2["overtrain"] = olmo.ToJson();
  EXPECT_EQ(HfConfigJson(olmo).dump(), e2.dump());
}

// Export then import gives the model back (d_ff resolved, preset custom): every exportable family.
TEST(HfConfigJson, ExportableArchitecturesRoundTripThroughTheImport) {
  ModelConfig gqa = ModelConfig::Nano();
  gqa.n_heads = 4;
  gqa.n_kv_heads = 2;
  gqa.attn_bias = gqa.mlp_bias = true;
  gqa.tied_head = false;
  gqa.norm_eps = 1e-6;
  ModelConfig olmo = ModelConfig::Nano();
  olmo.norm = NormKind::kLayerNorm;
  olmo.clip_qkv = 6;
  ModelConfig olmo2 = gqa;
  olmo2.mlp_bias = false;
  olmo2.norm_placement = NormPlacement::kPost;
  olmo2.qk_norm = true;
  for (const auto& [m, type] : std::vector<std::pair<ModelConfig, std::string>>{
           {ModelConfig::Nano(), "llama"}, {gqa, "llama"}, {olmo, "olmo"}, {olmo2, "olmo2"}}) {
    const Json j = HfConfigJson(m);
    EXPECT_EQ(j["model_type"], type);
    EXPECT_EQ(j["num_key_value_heads"], m.kv_heads());
    ModelConfig expected = m;
    expected.preset = "custom";
    expected.d_ff = m.ff_dim();
    if (expected.n_kv_heads == expected.n_heads) expected.n_kv_heads = 0;
    EXPECT_EQ(FromHfConfig(j, "cfg"), expected) << type << "\n" << j.dump(2);
  }
}

TEST(HfConfigJson, ArchitecturesNoFamilyComputesFromOurNamesCarryOnlyTheOvertrainBlock) {
  ModelConfig neox = FromHfConfig(NeoxJson(), "cfg");
  EXPECT_EQ(HfExportType(neox), "");
  const Json j = HfConfigJson(neox);
  EXPECT_FALSE(j.contains("model_type"));
  EXPECT_EQ(ModelConfig::FromJson(j["overtrain"]), neox);
  EXPECT_TRUE(j.contains("overtrain_export"));
  ModelConfig eps = ModelConfig::Nano();
  eps.norm = NormKind::kLayerNorm;
  eps.norm_eps = 1e-6;  // transformers' OLMo would use 1e-5
  EXPECT_EQ(HfExportType(eps), "");
  ModelConfig clipped = ModelConfig::Nano();
  clipped.clip_qkv = 2;  // Llama does not clamp
  EXPECT_EQ(HfExportType(clipped), "");
}

}  // namespace
}  // namespace ot
