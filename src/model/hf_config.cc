// Hugging Face config.json <-> ModelConfig (see hf_config.h). Key names and defaults follow
// transformers' configuration_{llama,olmo,olmo2,gpt_neox}.py (4.x keys and 5.x rope_parameters).
#include "model/hf_config.h"

#include <fmt/format.h>

#include <cmath>
#include <cstdint>
#include <optional>

#include "core/check.h"

namespace ot {
namespace {

using Json = nlohmann::json;

// Reads keys of one config.json: absent and null both mean "the family's default" (HF writes
// `"clip_qkv": null`, `"num_key_value_heads": null`); a present value of the wrong type is refused.
class HfKeys {
 public:
  HfKeys(const Json& j, const std::string& what) : j_(j), what_(what) {}

  const Json* Get(const std::string& key) const {
    auto it = j_.find(key);
    return it == j_.end() || it->is_null() ? nullptr : &*it;
  }
  [[noreturn]] void Fail(const std::string& sentence) const {
    throw Error(what_ + ": " + sentence);
  }

  std::optional<int> Int(const std::string& key) const {
    const Json* v = Get(key);
    if (!v) return std::nullopt;
    // nlohmann narrows 1e10 or 2048.0 silently: integers only, within int.
    if (!v->is_number_integer()) Fail(fmt::format("{} = {} must be an integer", key, v->dump()));
    // Every size this reads is a count of something: 0 would divide by zero (heads) or build an
    // empty layer (intermediate_size), so zero is refused like a negative.
    const bool fits = v->is_number_unsigned()
                          ? v->get<uint64_t>() >= 1 && v->get<uint64_t>() <= INT32_MAX
                          : v->get<int64_t>() >= 1 && v->get<int64_t>() <= INT32_MAX;
    if (!fits) Fail(fmt::format("{} = {} must be a positive 32-bit integer", key, v->dump()));
    return v->get<int>();
  }
  int RequiredInt(const std::string& key) const {
    std::optional<int> v = Int(key);
    if (!v) Fail(fmt::format("{} is missing; expected a positive integer", key));
    return *v;
  }
  std::optional<double> Number(const std::string& key) const { return NumberIn(j_, key, key); }
  std::optional<double> NumberIn(const Json& obj, const std::string& key,
                                 const std::string& path) const {
    auto it = obj.find(key);
    if (it == obj.end() || it->is_null()) return std::nullopt;
    if (!it->is_number() || !std::isfinite(it->get<double>()))
      Fail(fmt::format("{} = {} must be a finite number", path, it->dump()));
    return it->get<double>();
  }
  std::optional<bool> Bool(const std::string& key) const {
    const Json* v = Get(key);
    if (!v) return std::nullopt;
    if (!v->is_boolean()) Fail(fmt::format("{} = {} must be true or false", key, v->dump()));
    return v->get<bool>();
  }
  std::optional<std::string> String(const std::string& key) const {
    const Json* v = Get(key);
    if (!v) return std::nullopt;
    if (!v->is_string()) Fail(fmt::format("{} = {} must be a string", key, v->dump()));
    return v->get<std::string>();
  }
  // A key whose presence with a value that is not null, false or 0 means a feature we do not run.
  bool Set(const std::string& key) const {
    const Json* v = Get(key);
    return v && !(v->is_boolean() && !v->get<bool>()) && !(v->is_number() && v->get<double>() == 0);
  }

 private:
  const Json& j_;
  const std::string& what_;
};

bool IsFamily(const std::string& type) {
  for (const char* t : kHfModelTypes)
    if (type == t) return true;
  return false;
}

// Refuses what none of the four forwards computes: RoPE scaling, sliding windows, experts.
void RefuseUnsupported(const HfKeys& k) {
  if (const Json* v = k.Get("rope_scaling"))
    k.Fail(fmt::format(
        "rope_scaling = {} is not supported (overtrain runs unscaled RoPE); expected null",
        v->dump()));
  const std::optional<bool> use_window = k.Bool("use_sliding_window");
  if (use_window.value_or(false))
    k.Fail(
        "use_sliding_window = true is not supported (overtrain attends over the whole causal "
        "prefix)");
  if (use_window.value_or(true) &&
      k.Get("sliding_window"))  // a window that use_sliding_window does not switch off
    k.Fail(fmt::format(
        "sliding_window = {} is not supported (overtrain attends over the whole causal prefix); "
        "expected null",
        k.Get("sliding_window")->dump()));
  for (const char* key : {"num_experts", "num_local_experts", "n_routed_experts",
                          "num_experts_per_tok", "moe_intermediate_size", "router_aux_loss_coef"})
    if (k.Set(key))
      k.Fail(fmt::format("{} = {} is not supported (mixture-of-experts MLPs are not implemented)",
                         key, k.Get(key)->dump()));
}

}  // namespace

ModelConfig FromHfConfig(const Json& hf, const std::string& what) {
  if (!hf.is_object()) throw Error(what + ": expected a JSON object (a Hugging Face config.json)");
  const HfKeys k(hf, what);
  const std::optional<std::string> type = k.String("model_type");
  std::string types;
  for (const char* t : kHfModelTypes) types += (types.empty() ? "" : ", ") + std::string(t);
  if (!type) k.Fail("model_type is missing; expected one of " + types);
  if (!IsFamily(*type))
    k.Fail("model_type = '" + *type + "' is not supported; expected one of " + types);
  const bool llama = *type == "llama", olmo = *type == "olmo", olmo2 = *type == "olmo2",
             neox = *type == "gpt_neox";
  RefuseUnsupported(k);

  ModelConfig c;
  c.preset = "custom";
  c.vocab_size = k.RequiredInt("vocab_size");
  c.d_model = k.RequiredInt("hidden_size");
  c.d_ff = k.RequiredInt("intermediate_size");
  c.n_layers = k.RequiredInt("num_hidden_layers");
  c.n_heads = k.RequiredInt("num_attention_heads");
  if (c.d_model % c.n_heads != 0)
    k.Fail(
        fmt::format("num_attention_heads = {} must divide hidden_size = {}", c.n_heads, c.d_model));
  // GPT-NeoX has no grouped-query attention: its modeling file never reads num_key_value_heads.
  if (!neox) {
    c.n_kv_heads = k.Int("num_key_value_heads").value_or(c.n_heads);
    if (c.n_heads % c.n_kv_heads != 0)
      k.Fail(fmt::format("num_key_value_heads = {} must divide num_attention_heads = {}",
                         c.n_kv_heads, c.n_heads));
    if (c.n_kv_heads == c.n_heads) c.n_kv_heads = 0;  // our spelling of plain multi-head attention
  }
  if (std::optional<int> hd = k.Int("head_dim"); hd && *hd != c.d_model / c.n_heads)
    k.Fail(fmt::format(
        "head_dim = {} is not supported; overtrain needs hidden_size / num_attention_heads = {}",
        *hd, c.d_model / c.n_heads));
  c.max_seq_len = k.Int("max_position_embeddings").value_or(2048);
  c.init_std = k.Number("initializer_range").value_or(0.02);
  c.tied_head = k.Bool("tie_word_embeddings").value_or(false);  // every family's default is untied

  // RoPE: 4.x keys, then 5.x's rope_parameters {rope_type, rope_theta, partial_rotary_factor}.
  c.rope_theta =
      neox ? k.Number("rotary_emb_base").value_or(k.Number("rope_theta").value_or(10000.0))
           : k.Number("rope_theta").value_or(10000.0);
  c.rotary_pct = neox ? k.Number("rotary_pct").value_or(0.25) : 1.0;
  if (const Json* rp = k.Get("rope_parameters")) {
    if (!rp->is_object()) k.Fail(fmt::format("rope_parameters = {} must be an object", rp->dump()));
    for (const char* key : {"rope_type", "type"}) {
      auto it = rp->find(key);
      if (it != rp->end() && !it->is_null() && *it != "default")
        k.Fail(fmt::format(
            "rope_parameters.{} = {} is not supported (overtrain runs unscaled RoPE); expected "
            "\"default\"",
            key, it->dump()));
    }
    c.rope_theta =
        k.NumberIn(*rp, "rope_theta", "rope_parameters.rope_theta").value_or(c.rope_theta);
    const std::optional<double> partial =
        k.NumberIn(*rp, "partial_rotary_factor", "rope_parameters.partial_rotary_factor");
    if (partial && !neox && *partial != 1.0)
      k.Fail(fmt::format(
          "rope_parameters.partial_rotary_factor = {} is not supported for model_type '{}' "
          "(its attention rotates every dim)",
          *partial, *type));
    if (partial) c.rotary_pct = *partial;
  }

  const std::string act = k.String("hidden_act").value_or(neox ? "gelu" : "silu");
  if (act != (neox ? "gelu" : "silu"))
    k.Fail(fmt::format("hidden_act = '{}' is not supported for model_type '{}'; expected '{}'", act,
                       *type, neox ? "gelu (the exact erf GELU)" : "silu (the SwiGLU MLP)"));
  // Keys that only some families' modeling files read: elsewhere a value that would change the
  // model means the config and the weights may disagree with what transformers computes.
  if (!llama && k.Bool("mlp_bias").value_or(false))
    k.Fail(
        fmt::format("mlp_bias = true is not supported for model_type '{}' (its MLP has {} biases)",
                    *type, neox ? "fixed" : "no"));
  if (!olmo && k.Set("clip_qkv"))
    k.Fail(
        fmt::format("clip_qkv = {} is not supported for model_type '{}' (only olmo clamps q, k, v)",
                    k.Get("clip_qkv")->dump(), *type));

  c.attn_bias =
      k.Bool("attention_bias").value_or(neox);  // NeoX's default is true, the others' false
  if (llama || olmo || olmo2) {
    c.mlp = MlpKind::kSwiGlu;
    c.mlp_bias = llama && k.Bool("mlp_bias").value_or(false);
  }
  if (llama) {
    c.norm = NormKind::kRmsNorm;
    c.norm_eps = k.Number("rms_norm_eps").value_or(1e-6);
  } else if (olmo) {
    c.norm = NormKind::kLayerNorm;
    c.norm_eps = 1e-5;  // OlmoLayerNorm hard-codes eps=1e-5 and reads no key
    if (std::optional<double> clip = k.Number("clip_qkv")) {
      if (!(*clip > 0)) k.Fail(fmt::format("clip_qkv = {} must be > 0 or null", *clip));
      c.clip_qkv = *clip;
    }
  } else if (olmo2) {
    c.norm = NormKind::kRmsNorm;
    c.norm_eps = k.Number("rms_norm_eps").value_or(1e-5);
    c.norm_placement = NormPlacement::kPost;
    c.qk_norm = true;
  } else {
    c.norm = NormKind::kLayerNormAffine;
    c.norm_eps = k.Number("layer_norm_eps").value_or(1e-5);
    c.mlp = MlpKind::kGelu;
    c.mlp_bias = true;  // dense_h_to_4h and dense_4h_to_h always carry biases
    c.parallel_residual = k.Bool("use_parallel_residual").value_or(true);
  }
  const std::string problem = ModelConfigProblem(c);
  if (!problem.empty()) k.Fail("as a model: " + problem);
  return c;
}

std::string HfExportType(const ModelConfig& m, std::string* why) {
  if (m.vision()) {  // the Llama/OLMo names would describe a decoder this model is not
    if (why)
      *why =
          "model.input = patches: a vision transformer (patch embedding, class or projection "
          "head) has no transformers model_type with overtrain's tensor names";
    return "";
  }
  const bool common = m.mlp == MlpKind::kSwiGlu && !m.parallel_residual && m.rotary_pct == 1.0;
  const bool pre = m.norm_placement == NormPlacement::kPre;
  if (common) {
    if (m.norm == NormKind::kRmsNorm && pre && !m.qk_norm && m.clip_qkv == 0) return "llama";
    // OLMo's LayerNorm eps is fixed at 1e-5 in transformers; another eps would compute another
    // model.
    if (m.norm == NormKind::kLayerNorm && pre && !m.qk_norm && !m.mlp_bias && m.norm_eps == 1e-5)
      return "olmo";
    if (m.norm == NormKind::kRmsNorm && !pre && m.qk_norm && !m.mlp_bias && m.clip_qkv == 0)
      return "olmo2";
  }
  if (why) {  // the switches away from Llama's, each as "model.<key> = <value>"
    const ModelConfig d;
    std::vector<std::string> off;
    if (m.norm != d.norm) off.push_back(fmt::format("model.norm = {}", NormName(m.norm)));
    if (m.norm == NormKind::kLayerNorm && m.norm_eps != 1e-5)
      off.push_back(fmt::format("model.norm_eps = {} (OlmoLayerNorm's is 1e-5)", m.norm_eps));
    if (!pre) off.push_back("model.norm_placement = post");
    if (m.mlp != d.mlp) off.push_back(fmt::format("model.mlp = {}", MlpName(m.mlp)));
    if (m.mlp_bias) off.push_back("model.mlp_bias = true");
    if (m.qk_norm) off.push_back("model.qk_norm = true");
    if (m.parallel_residual) off.push_back("model.parallel_residual = true");
    if (m.rotary_pct != d.rotary_pct)
      off.push_back(fmt::format("model.rotary_pct = {}", m.rotary_pct));
    if (m.clip_qkv > 0) off.push_back(fmt::format("model.clip_qkv = {}", m.clip_qkv));
    std::string list;
    for (const auto& o : off) list += (list.empty() ? "" : ", ") + o;
    *why = list +
           ": no transformers model_type computes this from the Llama/OLMo-2 tensor names (llama: "
           "rmsnorm, pre-norm, swiglu; olmo: layernorm with eps 1e-5, optional clip_qkv; olmo2: "
           "rmsnorm, post-norm, qk_norm)";
  }
  return "";
}

Json HfConfigJson(const ModelConfig& m) {
  const std::string type = HfExportType(m);
  if (type.empty())
    return {
        {"overtrain_export",
         "no Hugging Face model_type computes this architecture from the Llama/OLMo-2 tensor names "
         "overtrain saves; load it with overtrain"},
        {"overtrain", m.ToJson()}};
  const char* arch = type == "llama"  ? "LlamaForCausalLM"
                     : type == "olmo" ? "OlmoForCausalLM"
                                      : "Olmo2ForCausalLM";
  Json j = {{"architectures", {arch}},
            {"model_type", type},
            {"vocab_size", m.vocab_size},
            {"hidden_size", m.d_model},
            {"intermediate_size", m.ff_dim()},
            {"num_hidden_layers", m.n_layers},
            {"num_attention_heads", m.n_heads},
            {"num_key_value_heads", m.kv_heads()},
            {"max_position_embeddings", m.max_seq_len},
            {"rope_theta", m.rope_theta},
            {"tie_word_embeddings", m.tied_head},
            {"initializer_range", m.init_std},
            {"hidden_act", "silu"},
            {"attention_bias", m.attn_bias},
            {"torch_dtype", "float32"},
            {"overtrain", m.ToJson()}};
  if (type == "llama" && m.mlp_bias)
    j["mlp_bias"] = true;  // written only when set: older configs stay as they were
  if (type == "olmo") {
    j["clip_qkv"] = m.clip_qkv > 0 ? Json(m.clip_qkv) : Json(nullptr);
  } else {
    j["rms_norm_eps"] = m.norm_eps;
  }
  return j;
}

}  // namespace ot
