// ModelConfig presets, validation, parameter count and JSON round trip (see config.h).
#include "model/config.h"

#include <fmt/format.h>

#include <cmath>
#include <type_traits>

namespace ot {

const char* NormName(NormKind kind) {
  return config_detail::EnumNames<NormKind>::names[static_cast<int>(kind)];
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
  return {"pico-16", "pico-32", "pico-48", "nano", "tiny", "small", "medium", "olmo-15m", "olmo-30m", "olmo-90m"};
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
  const int64_t raw = (8 * int64_t{d_model} + 2) / 3;  // ceil(8d/3), in int64: 8d overflows int past 2^28
  return static_cast<int>((raw + 15) / 16 * 16);
}

int ModelConfig::head_size() const { return n_heads > 0 ? d_model / n_heads : 0; }

std::string ModelConfigProblem(const ModelConfig& c) {
  auto in_range = [](const char* key, int64_t v, int64_t lo, int64_t hi) {
    if (v < lo) return fmt::format("model.{} = {} must be >= {}", key, v, lo);
    if (v > hi) return fmt::format("model.{} = {} must be <= {} (the supported maximum)", key, v, hi);
    return std::string();
  };
  auto finite = [](const char* key, double v) {
    return std::isfinite(v) ? std::string() : fmt::format("model.{} = {} must be a finite number", key, v);
  };
  for (std::string e :
       {in_range("vocab_size", c.vocab_size, 1, kMaxVocabSize), in_range("d_model", c.d_model, 1, kMaxDModel),
        in_range("n_layers", c.n_layers, 1, kMaxLayers), in_range("n_heads", c.n_heads, 1, kMaxHeads),
        in_range("d_ff", c.d_ff, 0, kMaxFf), in_range("max_seq_len", c.max_seq_len, 1, kMaxSeqLen),
        finite("rope_theta", c.rope_theta), finite("init_std", c.init_std), finite("norm_eps", c.norm_eps)})
    if (!e.empty()) return e;
  if (!(c.init_std >= 0)) return fmt::format("model.init_std = {} must be >= 0", c.init_std);
  if (c.d_model % c.n_heads != 0)
    return fmt::format("model.n_heads = {} must divide model.d_model = {}", c.n_heads, c.d_model);
  if (c.head_size() % 2 != 0)
    return fmt::format("model.d_model / model.n_heads = {} must be even (RoPE rotates pairs)",
                       c.head_size());
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
  const int64_t C = d_model, F = ff_dim(), V = vocab_size;
  const int64_t norm_per = norm == NormKind::kRmsNorm ? C : 0;
  const int64_t block = 2 * norm_per + 4 * C * C + 3 * C * F;
  return V * C + n_layers * block + norm_per + (tied_head ? 0 : V * C);
}

double ModelConfig::TrainFlopsPerToken(int T) const {
  const double C = d_model, F = ff_dim(), V = vocab_size, L = n_layers;
  const double matmul_params = L * (4 * C * C + 3 * C * F) + V * C;  // the head is a matmul even if tied
  return 6 * matmul_params + 12 * L * T * C;
}

nlohmann::json ModelConfig::ToJson() const {
  return {{"preset", preset},         {"vocab_size", vocab_size}, {"d_model", d_model},
          {"n_layers", n_layers},     {"n_heads", n_heads},       {"d_ff", d_ff},
          {"max_seq_len", max_seq_len}, {"norm", NormName(norm)},   {"tied_head", tied_head},
          {"rope_theta", rope_theta}, {"init_std", init_std},     {"norm_eps", norm_eps}};
}

ModelConfig ModelConfig::FromJson(const nlohmann::json& j) {
  ModelConfig c;
  auto get = [&](const char* key, auto& out) {
    const std::string field = std::string("model config JSON: field '") + key + "'";
    if (!j.is_object() || !j.contains(key)) throw Error(field + " is missing");
    const nlohmann::json& v = j.at(key);
    if constexpr (std::is_same_v<std::remove_reference_t<decltype(out)>, int>) {
      // nlohmann narrows 1e10 (or 1e9 written as a float) to int silently: read integers only, in range.
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
  std::string norm;
  get("preset", c.preset);
  get("vocab_size", c.vocab_size);
  get("d_model", c.d_model);
  get("n_layers", c.n_layers);
  get("n_heads", c.n_heads);
  get("d_ff", c.d_ff);
  get("max_seq_len", c.max_seq_len);
  get("norm", norm);
  get("tied_head", c.tied_head);
  get("rope_theta", c.rope_theta);
  get("init_std", c.init_std);
  get("norm_eps", c.norm_eps);
  if (norm == "rmsnorm") {
    c.norm = NormKind::kRmsNorm;
  } else if (norm == "layernorm") {
    c.norm = NormKind::kLayerNorm;
  } else {
    throw Error("model config JSON: field 'norm' = '" + norm + "'; expected rmsnorm or layernorm");
  }
  c.Validate();
  return c;
}

}  // namespace ot
