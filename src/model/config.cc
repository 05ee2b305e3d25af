// ModelConfig presets, validation, parameter count and JSON round trip (see config.h).
#include "model/config.h"

#include <fmt/format.h>

#include <cmath>
#include <type_traits>

namespace ot {

const char* NormName(NormKind kind) {
  return config_detail::EnumNames<NormKind>::names[static_cast<int>(kind)];
}
const char* NormPlacementName(NormPlacement placement) {
  return config_detail::EnumNames<NormPlacement>::names[static_cast<int>(placement)];
}
const char* MlpName(MlpKind kind) {
  return config_detail::EnumNames<MlpKind>::names[static_cast<int>(kind)];
}

namespace {
ModelConfig Make(const char* preset, int V, int d, int L, int H, int T, int F = 0) {
  ModelConfig c;
  c.preset = preset;
  c.vocab_size = V;
  c.d_model = d;
  c.n_layers = L;
  c.n_heads = H;
  c.max_seq_len = T;
  c.d_ff = F;
  return c;
}
}  // namespace

ModelConfig ModelConfig::Nano() { return Make("nano", 4096, 64, 2, 2, 64); }
ModelConfig ModelConfig::Pico16() { return Make("pico-16", 512, 16, 2, 2, 64); }
ModelConfig ModelConfig::Pico32() { return Make("pico-32", 512, 32, 2, 2, 64); }
ModelConfig ModelConfig::Pico48() { return Make("pico-48", 512, 48, 2, 2, 64); }
ModelConfig ModelConfig::Tiny() { return Make("tiny", 4096, 64, 2, 2, 128); }
ModelConfig ModelConfig::Small() { return Make("small", 4096, 128, 4, 4, 128); }
ModelConfig ModelConfig::Medium() { return Make("medium", 8192, 256, 6, 8, 256); }
ModelConfig ModelConfig::Olmo15M() { return Make("olmo-15m", 32000, 256, 6, 8, 1024, 1024); }
ModelConfig ModelConfig::Olmo30M() { return Make("olmo-30m", 32000, 384, 8, 6, 1024, 1536); }
ModelConfig ModelConfig::Olmo90M() { return Make("olmo-90m", 32000, 640, 10, 10, 1024, 2560); }

std::vector<std::string> ModelConfig::PresetNames() {
  return {"pico-16", "pico-32", "pico-48",  "nano",     "tiny",
          "small",   "medium",  "olmo-15m", "olmo-30m", "olmo-90m"};
}

ModelConfig ModelConfig::FromPreset(const std::string& name) {
  if (name == "nano") return Nano();
  if (name == "pico-16") return Pico16();
  if (name == "pico-32") return Pico32();
  if (name == "pico-48") return Pico48();
  if (name == "tiny") return Tiny();
  if (name == "small") return Small();
  if (name == "medium") return Medium();
  if (name == "olmo-15m") return Olmo15M();
  if (name == "olmo-30m") return Olmo30M();
  if (name == "olmo-90m") return Olmo90M();
  std::string list;
  for (const auto& n : PresetNames()) list += (list.empty() ? "" : ", ") + n;
  throw Error("model.preset = '" + name + "' is unknown; expected one of: " + list);
}

int ModelConfig::ff_dim() const {
  if (d_ff > 0) return d_ff;
  if (mlp == MlpKind::kGelu) return 4 * d_model;  // GPT-2/NeoX's 4x (d_model <= 2^16: no overflow)
  const int64_t raw =
      (8 * int64_t{d_model} + 2) / 3;  // ceil(8d/3), in int64: 8d overflows int past 2^28
  return static_cast<int>((raw + 15) / 16 * 16);
}

int ModelConfig::head_size() const { return n_heads > 0 ? d_model / n_heads : 0; }
int ModelConfig::kv_heads() const { return n_kv_heads > 0 ? n_kv_heads : n_heads; }
int ModelConfig::kv_dim() const { return kv_heads() * head_size(); }
int ModelConfig::qkv_dim() const { return d_model + 2 * kv_dim(); }
int ModelConfig::rotary_dims() const {
  // HF GPT-NeoX: int(head_size * rotary_pct); the small epsilon keeps 0.25 * 64 from flooring
  // to 15.
  return static_cast<int>(std::floor(rotary_pct * head_size() + 1e-9));
}

bool ModelConfig::IsLlamaCompatible() const {
  return norm == NormKind::kRmsNorm && norm_placement == NormPlacement::kPre &&
         mlp == MlpKind::kSwiGlu && !attn_bias && !mlp_bias && !qk_norm && !parallel_residual &&
         rotary_pct == 1.0 && clip_qkv == 0;
}

std::string ModelConfigProblem(const ModelConfig& c) {
  auto in_range = [](const char* key, int64_t v, int64_t lo, int64_t hi) {
    if (v < lo) return fmt::format("model.{} = {} must be >= {}", key, v, lo);
    if (v > hi)
      return fmt::format("model.{} = {} must be <= {} (the supported maximum)", key, v, hi);
    return std::string();
  };
  auto finite = [](const char* key, double v) {
    return std::isfinite(v) ? std::string()
                            : fmt::format("model.{} = {} must be a finite number", key, v);
  };
  for (std::string e :
       {in_range("vocab_size", c.vocab_size, 1, kMaxVocabSize),
        in_range("d_model", c.d_model, 1, kMaxDModel),
        in_range("n_layers", c.n_layers, 1, kMaxLayers),
        in_range("n_heads", c.n_heads, 1, kMaxHeads), in_range("d_ff", c.d_ff, 0, kMaxFf),
        in_range("max_seq_len", c.max_seq_len, 1, kMaxSeqLen),
        in_range("n_kv_heads", c.n_kv_heads, 0, kMaxHeads), finite("rope_theta", c.rope_theta),
        finite("init_std", c.init_std), finite("norm_eps", c.norm_eps),
        finite("rotary_pct", c.rotary_pct), finite("clip_qkv", c.clip_qkv)})
    if (!e.empty()) return e;
  if (!(c.init_std >= 0)) return fmt::format("model.init_std = {} must be >= 0", c.init_std);
  if (c.d_model % c.n_heads != 0)
    return fmt::format("model.n_heads = {} must divide model.d_model = {}", c.n_heads, c.d_model);
  if (c.n_kv_heads != 0 && c.n_heads % c.n_kv_heads != 0)
    return fmt::format("model.n_kv_heads = {} must divide model.n_heads = {}", c.n_kv_heads,
                       c.n_heads);
  if (!(c.rotary_pct >= 0 && c.rotary_pct <= 1))
    return fmt::format("model.rotary_pct = {} must be in [0, 1]", c.rotary_pct);
  if (c.rotary_dims() % 2 != 0)
    return fmt::format(
        "model.rotary_pct = {} rotates {} of the {} dims of a head; RoPE rotates pairs, so "
        "that count must be even",
        c.rotary_pct, c.rotary_dims(), c.head_size());
  if (!(c.clip_qkv >= 0))
    return fmt::format("model.clip_qkv = {} must be >= 0 (0 = off)", c.clip_qkv);
  if (c.clip_qkv > 0 && c.qk_norm)
    return "model.clip_qkv > 0 with model.qk_norm = true is not supported (no Hugging Face family "
           "uses both)";
  if (c.parallel_residual && c.norm_placement == NormPlacement::kPost)
    return "model.parallel_residual = true needs model.norm_placement = pre (a post-norm block has "
           "no "
           "shared normalised input)";
  if (!(c.rope_theta > 0)) return fmt::format("model.rope_theta = {} must be > 0", c.rope_theta);
  if (!(c.norm_eps > 0)) return fmt::format("model.norm_eps = {} must be > 0", c.norm_eps);
  if (c.preset != "custom") {
    bool known = false;
    for (const auto& n : ModelConfig::PresetNames()) known |= n == c.preset;
    if (!known) {
      std::string list;
      for (const auto& n : ModelConfig::PresetNames()) list += ", " + n;
      return "model.preset = '" + c.preset + "' is unknown; expected custom" + list;
    }
  }
  return "";
}

void ModelConfig::Validate() const {
  std::string e = ModelConfigProblem(*this);
  if (!e.empty()) throw Error(e);
}

int64_t ModelConfig::NumParams() const {
  const int64_t C = d_model, F = ff_dim(), V = vocab_size, KV = kv_dim();
  const int64_t norm_per = norm == NormKind::kRmsNorm           ? C
                           : norm == NormKind::kLayerNormAffine ? 2 * C
                                                                : 0;
  const int64_t branches = mlp == MlpKind::kSwiGlu ? 3 : 2;
  int64_t block = 2 * norm_per + 2 * C * C + 2 * KV * C + branches * C * F;
  if (attn_bias) block += 2 * C + 2 * KV;
  if (mlp_bias) block += (branches - 1) * F + C;
  if (qk_norm) block += C + KV;
  return V * C + n_layers * block + norm_per + (tied_head ? 0 : V * C);
}

double ModelConfig::TrainFlopsPerToken(int T) const {
  const double C = d_model, F = ff_dim(), V = vocab_size, L = n_layers, KV = kv_dim();
  const double branches = mlp == MlpKind::kSwiGlu ? 3 : 2;
  // the head is a matmul even if tied
  const double matmul_params = L * (2 * C * C + 2 * KV * C + branches * C * F) + V * C;
  return 6 * matmul_params + 12 * L * T * C;
}

nlohmann::json ModelConfig::ToJson() const {
  return {{"preset", preset},
          {"vocab_size", vocab_size},
          {"d_model", d_model},
          {"n_layers", n_layers},
          {"n_heads", n_heads},
          {"d_ff", d_ff},
          {"max_seq_len", max_seq_len},
          {"norm", NormName(norm)},
          {"tied_head", tied_head},
          {"rope_theta", rope_theta},
          {"init_std", init_std},
          {"norm_eps", norm_eps},
          {"n_kv_heads", n_kv_heads},
          {"norm_placement", NormPlacementName(norm_placement)},
          {"mlp", MlpName(mlp)},
          {"attn_bias", attn_bias},
          {"mlp_bias", mlp_bias},
          {"qk_norm", qk_norm},
          {"parallel_residual", parallel_residual},
          {"rotary_pct", rotary_pct},
          {"clip_qkv", clip_qkv}};
}

ModelConfig ModelConfig::FromJson(const nlohmann::json& j) {
  ModelConfig c;
  auto get = [&](const char* key, auto& out) {
    const std::string field = std::string("model config JSON: field '") + key + "'";
    if (!j.is_object() || !j.contains(key)) throw Error(field + " is missing");
    const nlohmann::json& v = j.at(key);
    if constexpr (std::is_same_v<std::remove_reference_t<decltype(out)>, int>) {
      // nlohmann narrows 1e10 (or 1e9 written as a float) to int silently: read integers only, in
      // range.
      if (!v.is_number_integer()) throw Error(field + " has the wrong type; expected an integer");
      const bool fits = v.is_number_unsigned()
                            ? v.get<uint64_t>() <= INT32_MAX
                            : v.get<int64_t>() >= INT32_MIN && v.get<int64_t>() <= INT32_MAX;
      if (!fits) throw Error(field + " = " + v.dump() + " is out of range for a 32-bit integer");
      out = v.get<int>();
    } else {
      try {
        v.get_to(out);
      } catch (const nlohmann::json::exception&) {
        throw Error(field + " has the wrong type");
      }
    }
  };
  // The architecture switches came later: a checkpoint written before them has none and is the
  // default.
  auto get_optional = [&](const char* key, auto& out) {
    if (j.is_object() && j.contains(key)) get(key, out);
  };
  auto get_enum = [&](const char* key, auto& out, bool optional) {
    using E = std::remove_reference_t<decltype(out)>;
    std::string name;
    if (optional && !(j.is_object() && j.contains(key))) return;
    get(key, name);
    const auto& names = config_detail::EnumNames<E>::names;
    std::string list;
    for (size_t i = 0; i < std::size(names); ++i) {
      if (name == names[i]) {
        out = static_cast<E>(i);
        return;
      }
      list += (i ? " or " : "") + std::string(names[i]);
    }
    throw Error(std::string("model config JSON: field '") + key + "' = '" + name + "'; expected " +
                list);
  };
  get("preset", c.preset);
  get("vocab_size", c.vocab_size);
  get("d_model", c.d_model);
  get("n_layers", c.n_layers);
  get("n_heads", c.n_heads);
  get("d_ff", c.d_ff);
  get("max_seq_len", c.max_seq_len);
  get_enum("norm", c.norm, false);
  get("tied_head", c.tied_head);
  get("rope_theta", c.rope_theta);
  get("init_std", c.init_std);
  get("norm_eps", c.norm_eps);
  get_optional("n_kv_heads", c.n_kv_heads);
  get_enum("norm_placement", c.norm_placement, true);
  get_enum("mlp", c.mlp, true);
  get_optional("attn_bias", c.attn_bias);
  get_optional("mlp_bias", c.mlp_bias);
  get_optional("qk_norm", c.qk_norm);
  get_optional("parallel_residual", c.parallel_residual);
  get_optional("rotary_pct", c.rotary_pct);
  get_optional("clip_qkv", c.clip_qkv);
  c.Validate();
  return c;
}

}  // namespace ot
