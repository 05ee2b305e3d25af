// `overtrain export`: the directory it writes (config.json completed from the model, the weights
// byte for byte, tokenizer files, export.json) and each refusal, one sentence naming the field.
#include "train/hf_export.h"

#include <gtest/gtest.h>

#include "analysis/checkpoint_fixture.h"
#include "core/check.h"
#include "core/fileio.h"
#include "data/tokenizer_fixture.h"
#include "model/hf_config.h"

namespace ot {
namespace {

using data::testing::SmallSentencePiece;
using ot::testing::ErrorOf;
using ot::testing::TempDir;

// V 512 (>= the fixture tokenizer's 360), d 32, L 1, 2 heads, T 16.
ModelConfig ExportModel() {
  ModelConfig m = testing::TinyModel();
  m.vocab_size = 512;
  return m;
}

fs::path Checkpoint(const ModelConfig& m) {
  const fs::path dir = TempDir("export_ckpt") / "tokens-1234";
  return testing::SaveModelCheckpoint(dir, m, m, testing::InitFor(m));
}

fs::path SentencePieceDataDir() {
  const fs::path d = TempDir("export_data");
  WriteFileAtomic(d / data::kSentencePieceFile, SmallSentencePiece().serialized());
  return d;
}

TEST(HfExport, WritesALlamaDirectory) {
  ModelConfig m = ExportModel();
  m.n_kv_heads = 1;  // GQA: config.json must say so even where the checkpoint's does not
  const fs::path ckpt = Checkpoint(m), out = TempDir("export_out") / "hf";
  const HfExportResult r = ExportHfModel(ckpt, SentencePieceDataDir(), out);
  EXPECT_EQ(r.family, "llama");
  EXPECT_EQ(r.tokenizer_kind, "sentencepiece");
  EXPECT_EQ(r.files, (std::vector<std::string>{"config.json", "model.safetensors",
                                               "tokenizer.model", "tokenizer_config.json",
                                               "special_tokens_map.json", "export.json"}));
  for (const auto& f : r.files) EXPECT_TRUE(fs::is_regular_file(out / f)) << f;
  EXPECT_FALSE(fs::exists(out.string() + ".tmp-" + std::to_string(getpid())));
  EXPECT_EQ(ReadFile(out / "model.safetensors"), ReadFile(ckpt / "model.safetensors"));
  const auto config = nlohmann::json::parse(ReadFile(out / "config.json"));
  EXPECT_FALSE(config.contains("overtrain"));
  EXPECT_EQ(config["architectures"], nlohmann::json::array({"LlamaForCausalLM"}));
  EXPECT_EQ(config["model_type"], "llama");
  EXPECT_EQ(config["vocab_size"], 512);
  EXPECT_EQ(config["hidden_size"], 32);
  EXPECT_EQ(config["intermediate_size"], m.ff_dim());
  EXPECT_EQ(config["num_attention_heads"], 2);
  EXPECT_EQ(config["num_key_value_heads"], 1);
  EXPECT_EQ(config["max_position_embeddings"], 16);
  EXPECT_EQ(config["tie_word_embeddings"], true);
  EXPECT_EQ(config["rms_norm_eps"], 1e-5);
  EXPECT_EQ(config["bos_token_id"], 1);
  EXPECT_EQ(config["eos_token_id"], 2);
  EXPECT_EQ(nlohmann::json::parse(ReadFile(out / "tokenizer_config.json"))["model_max_length"], 16);
  const auto provenance = nlohmann::json::parse(ReadFile(out / "export.json"));
  EXPECT_EQ(provenance["tokenizer_vocab_size"], 360);
  EXPECT_EQ(provenance["model_vocab_size"], 512);
}

TEST(HfExport, LayerNormModelsExportAsOlmo) {
  ModelConfig m = ExportModel();
  m.norm = NormKind::kLayerNorm;
  m.clip_qkv = 8;
  const fs::path out = TempDir("export_olmo") / "hf";
  EXPECT_EQ(ExportHfModel(Checkpoint(m), SentencePieceDataDir(), out).family, "olmo");
  const auto config = nlohmann::json::parse(ReadFile(out / "config.json"));
  EXPECT_EQ(config["model_type"], "olmo");
  EXPECT_EQ(config["architectures"], nlohmann::json::array({"OlmoForCausalLM"}));
  EXPECT_EQ(config["clip_qkv"], 8.0);
  EXPECT_FALSE(config.contains("rms_norm_eps"));
}

TEST(HfExport, FamilyOfEachSwitch) {
  std::string why;
  const ModelConfig base = ExportModel();
  EXPECT_EQ(HfExportType(base, &why), "llama");
  struct Case {
    std::function<void(ModelConfig&)> set;
    std::string family, why;
  };
  const std::vector<Case> cases = {
      {[](ModelConfig& m) { m.tied_head = false; }, "llama", ""},
      {[](ModelConfig& m) { m.norm = NormKind::kLayerNorm; }, "olmo", ""},
      {[](ModelConfig& m) { m.norm = NormKind::kLayerNorm, m.norm_eps = 1e-6; }, "",
       "model.norm_eps"},
      {[](ModelConfig& m) { m.norm = NormKind::kLayerNormAffine; }, "",
       "model.norm = layernorm_affine"},
      {[](ModelConfig& m) { m.norm_placement = NormPlacement::kPost; }, "",
       "model.norm_placement = post"},
      {[](ModelConfig& m) { m.norm_placement = NormPlacement::kPost, m.qk_norm = true; }, "olmo2",
       ""},
      {[](ModelConfig& m) { m.mlp = MlpKind::kGelu; }, "", "model.mlp = gelu"},
      {[](ModelConfig& m) { m.attn_bias = true; }, "llama", ""},  // LlamaConfig.attention_bias
      {[](ModelConfig& m) { m.mlp_bias = true; }, "llama", ""},   // LlamaConfig.mlp_bias
      {[](ModelConfig& m) { m.norm = NormKind::kLayerNorm, m.mlp_bias = true; }, "",
       "model.mlp_bias"},
      {[](ModelConfig& m) { m.qk_norm = true; }, "", "model.qk_norm"},
      {[](ModelConfig& m) { m.parallel_residual = true; }, "", "model.parallel_residual"},
      {[](ModelConfig& m) { m.rotary_pct = 0.5; }, "", "model.rotary_pct = 0.5"},
      {[](ModelConfig& m) { m.clip_qkv = 4; }, "", "model.clip_qkv = 4"},
      {[](ModelConfig& m) { m.norm = NormKind::kLayerNorm, m.qk_norm = true; }, "",
       "model.qk_norm"},
  };
  for (const Case& c : cases) {
    ModelConfig m = base;
    c.set(m);
    why.clear();
    EXPECT_EQ(HfExportType(m, &why), c.family) << c.why;
    if (!c.why.empty()) EXPECT_NE(why.find(c.why), std::string::npos) << why;
  }
}

TEST(HfExport, Refusals) {
  const fs::path data = SentencePieceDataDir();
  // A model whose vocabulary is smaller than the tokenizer's.
  ModelConfig small = ExportModel();
  small.vocab_size = 256;
  const fs::path out = TempDir("export_refuse") / "hf";
  std::string e = ErrorOf([&] { ExportHfModel(Checkpoint(small), data, out); });
  EXPECT_NE(e.find("the tokenizer's vocabulary 360 is larger than the model's vocab_size 256"),
            std::string::npos)
      << e;
  EXPECT_FALSE(fs::exists(out));
  EXPECT_FALSE(fs::exists(out.string() + ".tmp-" + std::to_string(getpid())));
  // An architecture transformers' Llama / OLMo cannot hold.
  ModelConfig gelu = ExportModel();
  gelu.mlp = MlpKind::kGelu;
  e = ErrorOf([&] { ExportHfModel(Checkpoint(gelu), data, out); });
  EXPECT_NE(e.find("cannot export: model.mlp = gelu"), std::string::npos) << e;
  // A damaged checkpoint.
  const fs::path ckpt = Checkpoint(ExportModel());
  std::string bytes = ReadFile(ckpt / "model.safetensors");
  bytes[bytes.size() - 1] ^= 1;
  WriteFileAtomic(ckpt / "model.safetensors", bytes);
  e = ErrorOf([&] { ExportHfModel(ckpt, data, out); });
  EXPECT_NE(e.find("not a valid checkpoint"), std::string::npos) << e;
  // An existing --out, and a data directory without a tokenizer.
  e = ErrorOf([&] { ExportHfModel(Checkpoint(ExportModel()), data, data); });
  EXPECT_NE(e.find("already exists"), std::string::npos) << e;
  e = ErrorOf([&] { ExportHfModel(Checkpoint(ExportModel()), TempDir("export_nodata"), out); });
  EXPECT_NE(e.find("expected tokenizer.model or tokenizer.json"), std::string::npos) << e;
  EXPECT_FALSE(fs::exists(out));
}

}  // namespace
}  // namespace ot
