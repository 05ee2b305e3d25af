// Imported models score like transformers would: for each family a tiny HF directory (its own
// tensor names and config keys) is loaded with LoadModel and scored by BackendScorer, and the
// log-probs are compared with `reference/reference.py --hf-logprobs`: reference/hf_families.py's
// float64 torch modules, written from the families' modeling files, reading config.json with
// transformers' defaults and the tensors by HF names (GPT-NeoX's fused q|k|v viewed per head as
// transformers does). This checks the config mapping, the tensor mapping and the decoder together
// against an oracle that shares none of them. Fails (never skips) without python3-torch, like the
// bench parity test.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>

#include "analysis/checkpoint_fixture.h"
#include "analysis/model_io.h"
#include "core/subprocess.h"
#include "model/hf_config.h"
#include "model/hf_fixture.h"

namespace ot {
namespace {

using namespace ot::testing;
using Json = nlohmann::json;

constexpr int kParityB = 2, kParityT = 8;

Json BaseConfig(const std::string& type) {
  return {{"model_type", type},
          {"vocab_size", 48},
          {"hidden_size", 32},
          {"intermediate_size", 48},
          {"num_hidden_layers", 2},
          {"num_attention_heads", 4},
          {"max_position_embeddings", kParityT},
          {"tie_word_embeddings", false}};
}

// The HF tensors of `config`: our layout's names for the Llama-named families; for gpt_neox the
// layout is only used for the count (the names below are transformers'). Weights ~ U{-1/4..1/4},
// norm gains 1 + U{-1/4..1/4}, so every path contributes and no activation saturates.
std::vector<HfTensor> Tensors(const std::string& type, const ModelConfig& c) {
  std::vector<HfTensor> t;
  uint64_t salt = 100;
  auto add = [&](const std::string& name, std::vector<int64_t> shape, bool gain = false) {
    HfTensor x = MakeTensor(name, shape, ++salt);
    for (float& v : x.values) v = (gain ? 1.0f : 0.0f) + 0.25f * v;
    t.push_back(std::move(x));
  };
  const int64_t C = c.d_model, F = c.ff_dim(), V = c.vocab_size;
  if (type != "gpt_neox") {
    const ParamLayout layout = ParamLayout::ForModel(c);
    for (const auto& info : layout.tensors())
      add(info.name, info.shape, info.group == ParamGroup::kNorm);
    return t;
  }
  add("gpt_neox.embed_in.weight", {V, C});
  for (int i = 0; i < c.n_layers; ++i) {
    const std::string p = "gpt_neox.layers." + std::to_string(i) + ".";
    for (const char* n : {"input_layernorm", "post_attention_layernorm"}) {
      add(p + n + ".weight", {C}, true);
      add(p + n + ".bias", {C});
    }
    add(p + "attention.query_key_value.weight", {3 * C, C});
    if (c.attn_bias) add(p + "attention.query_key_value.bias", {3 * C});
    add(p + "attention.dense.weight", {C, C});
    if (c.attn_bias) add(p + "attention.dense.bias", {C});
    add(p + "mlp.dense_h_to_4h.weight", {F, C});
    add(p + "mlp.dense_h_to_4h.bias", {F});
    add(p + "mlp.dense_4h_to_h.weight", {C, F});
    add(p + "mlp.dense_4h_to_h.bias", {C});
  }
  add("gpt_neox.final_layer_norm.weight", {C}, true);
  add("gpt_neox.final_layer_norm.bias", {C});
  if (!c.tied_head) add("embed_out.weight", {V, C});
  return t;
}

void ExpectParity(const std::string& label, const Json& config) {
  SCOPED_TRACE(label);
  const std::string type = config["model_type"];
  const ModelConfig c = FromHfConfig(config, "config.json");
  const fs::path dir = TempDir("parity_" + label);
  WriteHfModel(dir, config, Tensors(type, c), DType::kF32);
  const LoadedModel m = LoadModel(dir);
  ASSERT_EQ(m.hf_model_type, type);

  std::vector<int32_t> in(kParityB * kParityT), tg(kParityB * kParityT);
  Json io = {{"inputs", Json::array()}, {"targets", Json::array()}};
  for (int b = 0; b < kParityB; ++b) {
    Json ri = Json::array(), rt = Json::array();
    for (int t = 0; t < kParityT; ++t) {
      in[b * kParityT + t] = (11 * (b * kParityT + t) + 5) % c.vocab_size;
      tg[b * kParityT + t] = (7 * (b * kParityT + t) + 2) % c.vocab_size;
      ri.push_back(in[b * kParityT + t]);
      rt.push_back(tg[b * kParityT + t]);
    }
    io["inputs"].push_back(ri);
    io["targets"].push_back(rt);
  }
  const auto backend =
      MakeBackend(m.config, {}, {.eval_batch = kParityB, .eval_seq = kParityT}, m.params);
  BackendScorer scorer(*backend, kParityB, kParityT);
  std::vector<float> ours(kParityB * kParityT);
  scorer.LogProbs(in.data(), tg.data(), kParityB, kParityT, ours.data());

  const fs::path io_path = dir / "io.json";
  WriteFileAtomic(io_path, io.dump());
  // The source tree this test was compiled from (the analysis layer does not link bench's
  // FindReferenceScript).
  const fs::path script =
      fs::path(__FILE__).parent_path().parent_path().parent_path() / "reference" / "reference.py";
  RunChecked({.argv = {"/usr/bin/python3", script.string(), "--hf-logprobs", dir.string(),
                       io_path.string(), "--threads", "1"},
              .env = {"OMP_NUM_THREADS=1"}},
             300);
  const Json ref = Json::parse(ReadFile(io_path))["logprobs"];
  double max_err = 0;
  for (int b = 0; b < kParityB; ++b)
    for (int t = 0; t < kParityT; ++t) {
      const double r = ref[b][t].get<double>();
      ASSERT_TRUE(std::isfinite(ours[b * kParityT + t]));
      max_err = std::max(max_err, std::abs(ours[b * kParityT + t] - r));
      // float32 forward through ~2L+2 GEMMs with K <= 128 and log-softmax over V = 48: ~1e-6
      // relative per op (decoder_test's bound); |logprob| <~ 10 here, so 1e-4 leaves 10x margin.
      EXPECT_NEAR(ours[b * kParityT + t], r, 1e-4) << b << "," << t;
    }
  std::fprintf(stderr, "  %s: max |logprob - reference.py| = %.3g\n", label.c_str(), max_err);
  fs::remove_all(dir);
}

TEST(HfParity, EveryFamilyScoresLikeTheTransformersForward) {
  Json llama = BaseConfig("llama");
  llama["num_key_value_heads"] = 2;
  llama["attention_bias"] = true;
  llama["mlp_bias"] = true;
  llama["rope_theta"] = 500.0;
  ExpectParity("llama_gqa_bias", llama);

  Json tied = BaseConfig("llama");
  tied["tie_word_embeddings"] = true;
  ExpectParity("llama_tied", tied);

  Json olmo = BaseConfig("olmo");
  olmo["clip_qkv"] = 0.75;  // below the projections' spread, so the clamp bites
  ExpectParity("olmo_clip", olmo);

  Json olmo2 = BaseConfig("olmo2");
  olmo2["num_key_value_heads"] = 1;
  olmo2["rms_norm_eps"] = 1e-6;
  ExpectParity("olmo2_gqa", olmo2);

  Json neox = BaseConfig("gpt_neox");
  neox["intermediate_size"] = 128;
  neox["rotary_pct"] = 0.5;
  neox["rotary_emb_base"] = 100;
  ExpectParity("gpt_neox_parallel", neox);

  Json seq = neox;
  seq["use_parallel_residual"] = false;
  seq["attention_bias"] = false;
  seq["rotary_pct"] = 0.25;
  ExpectParity("gpt_neox_sequential", seq);
}

}  // namespace
}  // namespace ot
