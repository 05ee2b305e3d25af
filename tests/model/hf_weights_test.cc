// Loading Hugging Face weights into our layout: for each family a tiny model written in the
// family's own tensor names (spelled out here, independently of layout.cc), in F32, BF16 and F16
// and sharded; every canonical tensor equals what was written (NeoX's per-head q|k|v split checked
// element-wise against an index computation of its own); header problems are listed together, ten
// of each kind; a truncated shard names its file; NaN/Inf is refused naming the tensor.
#include "model/hf_weights.h"

#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <limits>

#include "common/test_util.h"
#include "core/check.h"
#include "model/hf_config.h"
#include "model/hf_fixture.h"

namespace ot {
namespace {

using namespace ot::testing;
using Json = nlohmann::json;

Json Config(const std::string& type) {
  Json j = {{"model_type", type},
            {"vocab_size", 40},
            {"hidden_size", 16},
            {"intermediate_size", 24},
            {"num_hidden_layers", 2},
            {"num_attention_heads", 4},
            {"max_position_embeddings", 32},
            {"tie_word_embeddings", false}};
  if (type == "llama") {
    j["num_key_value_heads"] = 2;
    j["attention_bias"] = true;
    j["mlp_bias"] = true;
  } else if (type == "olmo") {
    j["clip_qkv"] = 4.0;
    j["tie_word_embeddings"] = true;
  } else if (type == "olmo2") {
    j["num_key_value_heads"] = 1;
  } else {
    j["intermediate_size"] = 64;
    j["rotary_pct"] = 0.5;
  }
  return j;
}

// The family's checkpoint as transformers names it (modeling_{llama,olmo,olmo2,gpt_neox}.py).
std::vector<HfTensor> HfTensors(const std::string& type, const ModelConfig& c) {
  const int64_t C = c.d_model, KV = c.kv_dim(), F = c.ff_dim(), V = c.vocab_size;
  std::vector<HfTensor> t;
  uint64_t salt = 0;
  auto add = [&](const std::string& name, std::vector<int64_t> shape) {
    t.push_back(MakeTensor(name, shape, ++salt));
  };
  if (type == "gpt_neox") {
    add("gpt_neox.embed_in.weight", {V, C});
    for (int i = 0; i < c.n_layers; ++i) {
      const std::string p = "gpt_neox.layers." + std::to_string(i) + ".";
      for (const char* n : {"input_layernorm", "post_attention_layernorm"}) {
        add(p + n + ".weight", {C});
        add(p + n + ".bias", {C});
      }
      add(p + "attention.query_key_value.weight", {3 * C, C});
      add(p + "attention.query_key_value.bias", {3 * C});
      add(p + "attention.dense.weight", {C, C});
      add(p + "attention.dense.bias", {C});
      add(p + "mlp.dense_h_to_4h.weight", {F, C});
      add(p + "mlp.dense_h_to_4h.bias", {F});
      add(p + "mlp.dense_4h_to_h.weight", {C, F});
      add(p + "mlp.dense_4h_to_h.bias", {C});
    }
    add("gpt_neox.final_layer_norm.weight", {C});
    add("gpt_neox.final_layer_norm.bias", {C});
    add("embed_out.weight", {V, C});
    return t;
  }
  const bool olmo = type == "olmo", olmo2 = type == "olmo2";
  add("model.embed_tokens.weight", {V, C});
  for (int i = 0; i < c.n_layers; ++i) {
    const std::string p = "model.layers." + std::to_string(i) + ".";
    if (!olmo && !olmo2) add(p + "input_layernorm.weight", {C});
    add(p + "self_attn.q_proj.weight", {C, C});
    add(p + "self_attn.k_proj.weight", {KV, C});
    add(p + "self_attn.v_proj.weight", {KV, C});
    add(p + "self_attn.o_proj.weight", {C, C});
    if (c.attn_bias)
      for (auto [n, d] : {std::pair{"q", C}, {"k", KV}, {"v", KV}, {"o", C}})
        add(p + "self_attn." + n + "_proj.bias", {d});
    if (olmo2) {
      add(p + "self_attn.q_norm.weight", {C});
      add(p + "self_attn.k_norm.weight", {KV});
    }
    if (!olmo) add(p + "post_attention_layernorm.weight", {C});
    add(p + "mlp.gate_proj.weight", {F, C});
    add(p + "mlp.up_proj.weight", {F, C});
    add(p + "mlp.down_proj.weight", {C, F});
    if (c.mlp_bias) {
      add(p + "mlp.gate_proj.bias", {F});
      add(p + "mlp.up_proj.bias", {F});
      add(p + "mlp.down_proj.bias", {C});
    }
    if (olmo2) add(p + "post_feedforward_layernorm.weight", {C});
  }
  if (!olmo) add("model.norm.weight", {C});
  if (!c.tied_head) add("lm_head.weight", {V, C});
  return t;
}

// Loads `dir` as model_type `type` into a NaN-filled arena (so an element no tensor wrote shows).
std::vector<float> Load(const fs::path& dir, const std::string& type, const ModelConfig& c) {
  const ParamLayout layout = ParamLayout::ForModel(c);
  const HfWeightFiles files = HfWeightFiles::Open(dir);
  const auto sources = HfTensorSources(c, type, layout);
  CheckHfWeights(files, sources, c.tied_head, "the model");
  std::vector<float> arena(layout.total(), std::numeric_limits<float>::quiet_NaN());
  LoadHfWeights(files, sources, arena);
  return arena;
}

// The canonical tensor (and element) an HF element lands in, computed here from the naming rules.
struct Where {
  std::string name;
  int64_t index;
};
Where Canonical(const std::string& hf, int64_t e, const ModelConfig& c) {
  if (hf.rfind("gpt_neox.layers.", 0) != 0) {
    if (hf == "gpt_neox.embed_in.weight") return {"model.embed_tokens.weight", e};
    if (hf == "embed_out.weight") return {"lm_head.weight", e};
    if (hf.rfind("gpt_neox.final_layer_norm.", 0) == 0) return {"model.norm." + hf.substr(26), e};
    return {hf, e};  // llama, olmo, olmo2: transformers' names are ours
  }
  const size_t dot = hf.find('.', 16);
  const std::string pre = "model.layers." + hf.substr(16, dot - 16) + ".",
                    rest = hf.substr(dot + 1);
  if (rest.rfind("attention.query_key_value.", 0) == 0) {
    const int64_t C = c.d_model, HS = c.head_size();
    const bool weight = rest.ends_with("weight");
    const int64_t row = weight ? e / C : e, col = weight ? e % C : 0;
    const int64_t head = row / (3 * HS), part = (row % (3 * HS)) / HS,
                  d = row % HS;  // view (NH, 3, HS)
    const std::string proj = part == 0 ? "q" : part == 1 ? "k" : "v";
    const int64_t out_row = head * HS + d;
    return {pre + "self_attn." + proj + "_proj." + (weight ? "weight" : "bias"),
            weight ? out_row * C + col : out_row};
  }
  const std::vector<std::pair<std::string, std::string>> renames = {
      {"input_layernorm.", "input_layernorm."},
      {"post_attention_layernorm.", "post_attention_layernorm."},
      {"attention.dense.", "self_attn.o_proj."},
      {"mlp.dense_h_to_4h.", "mlp.up_proj."},
      {"mlp.dense_4h_to_h.", "mlp.down_proj."}};
  for (const auto& [from, to] : renames)
    if (rest.rfind(from, 0) == 0) return {pre + to + rest.substr(from.size()), e};
  ADD_FAILURE() << "no canonical tensor for " << hf;
  return {hf, e};
}

void ExpectLoadedExactly(const std::string& type, DType dtype, int shards) {
  SCOPED_TRACE(type + " " + std::string(DTypeName(dtype)) + " shards " + std::to_string(shards));
  const Json config = Config(type);
  const ModelConfig c = FromHfConfig(config, "config.json");
  const std::vector<HfTensor> tensors = HfTensors(type, c);
  const fs::path dir = TempDir(type);
  WriteHfModel(dir, config, tensors, dtype, shards);
  const std::vector<float> arena = Load(dir, type, c);
  const ParamLayout layout = ParamLayout::ForModel(c);
  int64_t checked = 0;
  for (const auto& t : tensors)
    for (int64_t e = 0; e < static_cast<int64_t>(t.values.size()); ++e) {
      const Where w = Canonical(t.name, e, c);
      const TensorInfo* info = layout.Find(w.name);
      ASSERT_NE(info, nullptr) << w.name;
      ASSERT_LT(w.index, info->size);
      ASSERT_EQ(arena[info->offset + w.index], t.values[e])
          << t.name << "[" << e << "] -> " << w.name;
      ++checked;
    }
  EXPECT_EQ(checked,
            layout.total());  // each HF element lands once and the arena has no other element
  for (float v : arena) ASSERT_TRUE(std::isfinite(v));
  fs::remove_all(dir);
}

TEST(HfWeights, EveryFamilyLoadsExactlyInEveryDtypeAndSharded) {
  for (const char* type : kHfModelTypes)
    for (DType dtype : {DType::kF32, DType::kBF16, DType::kF16})
      ExpectLoadedExactly(type, dtype, 1);
  ExpectLoadedExactly("gpt_neox", DType::kBF16, 3);
  ExpectLoadedExactly("llama", DType::kF16, 2);
}

// The split against a second spelling of the rule: q_h = rows [3h HS, 3h HS + HS) of
// query_key_value.
TEST(HfWeights, NeoxQueryKeyValueSplitsPerHead) {
  const Json config = Config("gpt_neox");
  const ModelConfig c = FromHfConfig(config, "config.json");
  std::vector<HfTensor> tensors = HfTensors("gpt_neox", c);
  const int64_t C = c.d_model, HS = c.head_size(), NH = c.n_heads;
  for (auto& t : tensors)  // row-identifying values: weight row r col j = r + j/64, bias r = r
    if (t.name.find("query_key_value") != std::string::npos)
      for (int64_t e = 0; e < static_cast<int64_t>(t.values.size()); ++e)
        t.values[e] = t.shape.size() == 2
                          ? static_cast<float>(e / C) + static_cast<float>(e % C) / 64.0f
                          : static_cast<float>(e);
  const fs::path dir = TempDir("neox_split");
  WriteHfModel(dir, config, tensors, DType::kF32);
  const std::vector<float> arena = Load(dir, "gpt_neox", c);
  const ParamLayout layout = ParamLayout::ForModel(c);
  const char* parts[] = {"q", "k", "v"};
  for (int p = 0; p < 3; ++p) {
    const TensorInfo& w =
        layout.Get(std::string("model.layers.1.self_attn.") + parts[p] + "_proj.weight");
    const TensorInfo& b =
        layout.Get(std::string("model.layers.1.self_attn.") + parts[p] + "_proj.bias");
    for (int64_t h = 0; h < NH; ++h)
      for (int64_t d = 0; d < HS; ++d) {
        const float src_row = static_cast<float>(h * 3 * HS + p * HS + d);
        EXPECT_EQ(arena[b.offset + h * HS + d], src_row);
        for (int64_t j = 0; j < C; ++j)
          ASSERT_EQ(arena[w.offset + (h * HS + d) * C + j],
                    src_row + static_cast<float>(j) / 64.0f);
      }
  }
}

TEST(HfWeights, BuffersAndATiedLmHeadCopyAreIgnored) {
  Json config = Config("llama");
  config["tie_word_embeddings"] = true;
  const ModelConfig c = FromHfConfig(config, "config.json");
  std::vector<HfTensor> tensors = HfTensors("llama", c);
  tensors.push_back(MakeTensor("lm_head.weight", {c.vocab_size, c.d_model}, 99));
  tensors.push_back(MakeTensor("model.layers.0.self_attn.rotary_emb.inv_freq", {2}, 98));
  const fs::path dir = TempDir("buffers");
  WriteHfModel(dir, config, tensors, DType::kF32);
  const std::vector<float> arena = Load(dir, "llama", c);
  const ParamLayout layout = ParamLayout::ForModel(c);
  EXPECT_EQ(arena[layout.head_offset()], tensors[0].values[0]);  // the head is the embedding

  const Json neox_config = Config("gpt_neox");
  const ModelConfig n = FromHfConfig(neox_config, "config.json");
  std::vector<HfTensor> neox = HfTensors("gpt_neox", n);
  HfTensor mask = MakeTensor("gpt_neox.layers.0.attention.bias", {1, 1, 4, 4}, 97);
  mask.dtype = DType::kBool;
  neox.push_back(mask);
  neox.push_back(MakeTensor("gpt_neox.layers.0.attention.masked_bias", {}, 96));
  neox.push_back(MakeTensor("gpt_neox.layers.0.attention.rotary_emb.inv_freq", {1}, 95));
  const fs::path neox_dir = TempDir("neox_buffers");
  WriteHfModel(neox_dir, neox_config, neox, DType::kF16);
  EXPECT_NO_THROW(Load(neox_dir, "gpt_neox", n));
}

// docs/reliability.md cases 17-18: every problem in one error, ten names of each kind, the rest
// counted.
TEST(HfWeights, MissingUnexpectedWrongShapeAndDtypeAreListedTogetherTenOfEach) {
  Json config = Config("llama");
  config["num_hidden_layers"] = 12;
  const ModelConfig c = FromHfConfig(config, "config.json");
  std::vector<HfTensor> tensors, all = HfTensors("llama", c);
  for (auto& t : all) {
    if (t.name.ends_with("q_proj.weight")) continue;  // 12 missing
    if (t.name.ends_with("k_proj.weight"))
      t = MakeTensor(t.name, {c.d_model, 3}, 1);                // 12 wrong shapes
    if (t.name.ends_with("o_proj.bias")) t.dtype = DType::kI8;  // 12 wrong dtypes
    tensors.push_back(t);
  }
  for (int i = 0; i < 11; ++i)
    tensors.push_back(MakeTensor("extra." + std::to_string(i), {2}, 5));  // 11 unexpected
  const fs::path dir = TempDir("listing");
  WriteHfModel(dir, config, tensors, DType::kBF16);
  const std::string e = ErrorOf([&] { Load(dir, "llama", c); });
  const std::string file = (dir / "model.safetensors").string();
  ASSERT_EQ(e.rfind(file + ": its tensors do not match the model: 12 tensors missing: "
                           "'model.layers.0.self_attn.q_proj.weight', ",
                    0),
            0u)
      << e;
  for (const char* part :
       {"'model.layers.9.self_attn.q_proj.weight' and 2 more; 11 unexpected tensors: 'extra.0', ",
        "'extra.8' and 1 more; 12 tensors with the wrong shape: "
        "'model.layers.0.self_attn.k_proj.weight' is "
        "[16, 3], expected [8, 16], ",
        " and 2 more; 12 tensors not F32, BF16 or F16: 'model.layers.0.self_attn.o_proj.bias' is "
        "I8, "})
    EXPECT_NE(e.find(part), std::string::npos) << part << "\n" << e;
  EXPECT_EQ(e.find("model.layers.10.self_attn.q_proj.weight"),
            std::string::npos);  // the 11th is counted
  EXPECT_TRUE(e.ends_with(" and 2 more")) << e;
}

TEST(HfWeights, TruncatedOrCorruptShardIsNamed) {
  const Json config = Config("olmo2");
  const ModelConfig c = FromHfConfig(config, "config.json");
  const fs::path dir = TempDir("truncated");
  const auto files = WriteHfModel(dir, config, HfTensors("olmo2", c), DType::kBF16, 3);
  const fs::path shard = dir / files[1];
  fs::resize_file(shard, fs::file_size(shard) - 6);
  std::string e = ErrorOf([&] { HfWeightFiles::Open(dir); });
  EXPECT_NE(e.find((dir / "model.safetensors.index.json").string()), std::string::npos) << e;
  EXPECT_NE(e.find(shard.string()), std::string::npos) << e;
  EXPECT_NE(e.find("model-00002-of-00003.safetensors"), std::string::npos) << e;

  const fs::path single = TempDir("corrupt");
  WriteHfModel(single, config, HfTensors("olmo2", c), DType::kF32);
  std::string bytes = ReadFile(single / "model.safetensors");
  bytes[9] = '}';  // the header's JSON no longer parses
  WriteFileAtomic(single / "model.safetensors", bytes);
  e = ErrorOf([&] { HfWeightFiles::Open(single); });
  EXPECT_EQ(e.rfind((single / "model.safetensors").string() + ": ", 0), 0u) << e;

  const fs::path none = TempDir("none");
  e = ErrorOf([&] { HfWeightFiles::Open(none); });
  EXPECT_NE(e.find("no model.safetensors or model.safetensors.index.json"), std::string::npos) << e;
}

TEST(HfWeights, NonFiniteWeightsAreRefusedNamingTheTensor) {
  const Json config = Config("gpt_neox");
  const ModelConfig c = FromHfConfig(config, "config.json");
  std::vector<HfTensor> tensors = HfTensors("gpt_neox", c);
  for (auto& t : tensors) {
    if (t.name == "gpt_neox.layers.1.attention.query_key_value.weight")
      t.values[5] = std::numeric_limits<float>::infinity();
    if (t.name == "gpt_neox.final_layer_norm.bias") t.values[0] = t.values[1] = std::nanf("");
  }
  const fs::path dir = TempDir("nan");
  WriteHfModel(dir, config, tensors, DType::kBF16);  // BF16 keeps Inf and NaN
  EXPECT_EQ(ErrorOf([&] { Load(dir, "gpt_neox", c); }),
            (dir / "model.safetensors").string() +
                ": 2 tensors hold NaN or Inf: 'gpt_neox.layers.1.attention.query_key_value.weight' "
                "(1 of 768 "
                "values), 'gpt_neox.final_layer_norm.bias' (2 of 16 values)");
}

}  // namespace
}  // namespace ot
