// ModelConfig presets, the field list ModelFields() and what derives from it (validation, JSON
// round trip), parameter count (see config.h).
#include "model/config.h"

#include <fmt/format.h>

#include <algorithm>
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

namespace {
// A ViT on 28x28 grey images (Fashion-MNIST, MNIST): patch 7 => 16 patches + CLS = T 17.
// vocab_size is unused under input = patches; the default is kept.
ModelConfig Vit(const char* preset, int d) {
  ModelConfig c = Make(preset, 4096, d, 2, 2, 17);
  c.input = "patches";
  c.image_size = 28;
  c.patch_size = 7;
  c.channels = 1;
  c.causal = false;
  c.positions = "learned";
  c.pool = "cls";
  c.head = "classes";
  c.n_classes = 10;
  return c;
}
}  // namespace

ModelConfig ModelConfig::VitPico() { return Vit("vit-pico", 32); }
ModelConfig ModelConfig::VitPico48() { return Vit("vit-pico-48", 48); }

namespace {
// The law's intermediate sizes (configs/law.toml): pico-16 … pico-48 in steps of 8 in width.
ModelConfig Pico24() { return Make("pico-24", 512, 24, 2, 2, 64); }
ModelConfig Pico40() { return Make("pico-40", 512, 40, 2, 2, 64); }

struct Preset {
  const char* name;
  ModelConfig (*make)();
};
// Every preset, once: its name and its constructor (PresetNames and FromPreset both read it).
constexpr Preset kPresets[] = {
    {"pico-16", ModelConfig::Pico16},   {"pico-24", Pico24},
    {"pico-32", ModelConfig::Pico32},   {"pico-40", Pico40},
    {"pico-48", ModelConfig::Pico48},   {"nano", ModelConfig::Nano},
    {"tiny", ModelConfig::Tiny},        {"small", ModelConfig::Small},
    {"medium", ModelConfig::Medium},    {"olmo-15m", ModelConfig::Olmo15M},
    {"olmo-30m", ModelConfig::Olmo30M}, {"olmo-90m", ModelConfig::Olmo90M},
    {"vit-pico", ModelConfig::VitPico}, {"vit-pico-48", ModelConfig::VitPico48},
};
}  // namespace

std::vector<std::string> ModelConfig::PresetNames() {
  std::vector<std::string> names;
  for (const Preset& p : kPresets) names.emplace_back(p.name);
  return names;
}

ModelConfig ModelConfig::FromPreset(const std::string& name) {
  for (const Preset& p : kPresets)
    if (name == p.name) return p.make();
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
  if (positions == "learned") return 0;  // the position table replaces the rotation
  // HF GPT-NeoX: int(head_size * rotary_pct); the small epsilon keeps 0.25 * 64 from flooring
  // to 15.
  return static_cast<int>(std::floor(rotary_pct * head_size() + 1e-9));
}

int ModelConfig::num_patches() const {
  if (!vision() || patch_size <= 0) return 0;
  const int side = image_size / patch_size;
  return side * side;
}
int ModelConfig::patch_dim() const { return patch_size * patch_size * channels; }
int ModelConfig::pixels() const { return image_size * image_size * channels; }
int ModelConfig::image_tokens() const { return num_patches() + (pool == "cls" ? 1 : 0); }
int ModelConfig::head_dim() const { return head == "projection" ? proj_dim : n_classes; }

bool ModelConfig::IsLlamaCompatible() const {
  return !vision() && causal && positions == "rope" && pool == "none" && head == "lm" &&
         norm == NormKind::kRmsNorm && norm_placement == NormPlacement::kPre &&
         mlp == MlpKind::kSwiGlu && !attn_bias && !mlp_bias && !qk_norm && !parallel_residual &&
         rotary_pct == 1.0 && clip_qkv == 0;
}

std::function<std::string(double)> ModelFieldRange::TomlCheck() const {
  if (std::isfinite(hi)) return Between(lo, hi);
  return lo_open ? Above(lo) : AtLeast(lo);
}

namespace {

// A field every config.json holds (FromJson refuses it missing).
ModelField Required(const char* name, ModelField::Member member, const char* help,
                    ModelFieldRange range = {}, std::vector<std::string> choices = {}) {
  ModelField f;
  f.name = name;
  f.member = member;
  f.help = help;
  f.range = range;
  f.choices = std::move(choices);
  return f;
}

// An architecture switch (n_kv_heads ... clip_qkv, the vision switches): checkpoints written
// before the switches have none in config.json, and FromJson then keeps the default.
ModelField Switch(const char* name, ModelField::Member member, const char* help,
                  ModelFieldRange range = {}, std::vector<std::string> choices = {}) {
  ModelField f = Required(name, member, help, range, std::move(choices));
  f.optional_in_json = true;
  return f;
}

}  // namespace

// The one declaration of ModelConfig's fields (config.h, ModelField). The order is the TOML order
// (--print-config) and the order in which FromJson reads and Validate checks them.
const std::vector<ModelField>& ModelFields() {
  using M = ModelConfig;
  static const std::vector<ModelField> fields = [] {
    std::vector<std::string> presets = {"custom"};
    for (const auto& n : M::PresetNames()) presets.push_back(n);
    constexpr double kUnbounded = std::numeric_limits<double>::infinity();
    const ModelFieldRange non_negative{0}, positive{0, kUnbounded, true};
    return std::vector<ModelField>{
        Required("preset", &M::preset,
                 "model preset the other [model] fields start from (custom = defaults)", {},
                 presets),
        Required("vocab_size", &M::vocab_size, "vocabulary size V", {1, kMaxVocabSize}),
        Required("d_model", &M::d_model, "residual width d (C)", {1, kMaxDModel}),
        Required("n_layers", &M::n_layers, "number of decoder blocks L", {1, kMaxLayers}),
        Required("n_heads", &M::n_heads, "attention heads NH (must divide d_model)",
                 {1, kMaxHeads}),
        Required("d_ff", &M::d_ff, "SwiGLU width per branch F; 0 = 8*d/3 rounded up to 16",
                 {0, kMaxFf}),
        Required("max_seq_len", &M::max_seq_len, "longest sequence T the model is built for",
                 {1, kMaxSeqLen}),
        Required("norm", &M::norm,
                 "rmsnorm (with gain), layernorm (OLMo's non-parametric) or layernorm_affine"),
        Switch("n_kv_heads", &M::n_kv_heads,
               "key/value heads KH for grouped-query attention; 0 = n_heads", {0, kMaxHeads}),
        Switch("norm_placement", &M::norm_placement,
               "pre (x + f(norm x)) or post (x + norm(f x), OLMo-2)"),
        Switch("mlp", &M::mlp, "swiglu or gelu (exact-erf GELU, GPT-NeoX)"),
        Switch("attn_bias", &M::attn_bias, "biases on the q, k, v and o projections"),
        Switch("mlp_bias", &M::mlp_bias, "biases on the MLP projections"),
        Switch("qk_norm", &M::qk_norm, "RMSNorm over the q and k projections before RoPE (OLMo-2)"),
        Switch("parallel_residual", &M::parallel_residual,
               "attention and MLP read the same block input (GPT-NeoX)"),
        Switch("rotary_pct", &M::rotary_pct, "fraction of each head's dims RoPE rotates", {0, 1}),
        Switch("clip_qkv", &M::clip_qkv, "clamp q, k, v projections to [-c, c] (OLMo-1); 0 = off",
               {0, kUnbounded, false, " (0 = off)"}),
        Required("tied_head", &M::tied_head, "LM head shares the embedding matrix"),
        Required("rope_theta", &M::rope_theta, "RoPE base", positive),
        Required("init_std", &M::init_std, "std of the truncated (3 sigma) normal init",
                 non_negative),
        Required("norm_eps", &M::norm_eps, "epsilon inside the norms", positive),
    };
  }();
  return fields;
}

const std::vector<ModelField>& VisionFields() {
  using M = ModelConfig;
  static const std::vector<ModelField> fields = {
      Switch("input", &M::input, "tokens (the decoder) or patches (a ViT over images)", {},
             {"tokens", "patches"}),
      Switch("image_size", &M::image_size, "image side in pixels [input = patches]",
             {1, kMaxImageSize}),
      Switch("patch_size", &M::patch_size, "patch side in pixels; divides image_size",
             {1, kMaxImageSize}),
      Switch("channels", &M::channels, "channels per pixel (1 grey, 3 RGB)", {1, kMaxChannels}),
      Switch("causal", &M::causal, "causal attention; false = bidirectional [input = patches]"),
      Switch("positions", &M::positions, "rope (1-D) or learned (a (T, C) table added)", {},
             {"rope", "learned", "rope2d"}),
      Switch("pool", &M::pool, "none (per position), cls (a learned first token) or mean", {},
             {"none", "cls", "mean"}),
      Switch("head", &M::head,
             "lm (next-token logits) or classes (a linear classifier on the pool)", {},
             {"lm", "classes", "projection"}),
      Switch("n_classes", &M::n_classes, "classes of head = classes", {1, kMaxClasses}),
      Switch("proj_dim", &M::proj_dim, "embedding width of head = projection (SigLIP)",
             {1, kMaxDModel}),
  };
  return fields;
}

namespace {

// "" or the sentence for field `f` of `c` alone (config.h, ModelFieldRange, for the wording).
std::string FieldProblem(const ModelField& f, const ModelConfig& c) {
  const ModelFieldRange& r = f.range;
  return std::visit(
      [&](auto member) -> std::string {
        const auto& v = c.*member;
        using T = std::remove_cvref_t<decltype(v)>;
        if constexpr (std::is_same_v<T, int>) {
          // Bounds printed as integers (kMax* are exact in a double).
          if (v < r.lo)
            return fmt::format("model.{} = {} must be >= {}", f.name, v,
                               static_cast<int64_t>(r.lo));
          if (v > r.hi)
            return fmt::format("model.{} = {} must be <= {} (the supported maximum)", f.name, v,
                               static_cast<int64_t>(r.hi));
        } else if constexpr (std::is_same_v<T, double>) {
          if (!std::isfinite(v))
            return fmt::format("model.{} = {} must be a finite number", f.name, v);
          if (std::isfinite(r.hi) && !(v >= r.lo && v <= r.hi))
            return fmt::format("model.{} = {} must be in [{}, {}]{}", f.name, v, r.lo, r.hi,
                               r.note);
          if (r.lo_open && !(v > r.lo))
            return fmt::format("model.{} = {} must be > {}{}", f.name, v, r.lo, r.note);
          if (!(v >= r.lo))
            return fmt::format("model.{} = {} must be >= {}{}", f.name, v, r.lo, r.note);
        } else if constexpr (std::is_same_v<T, std::string>) {
          if (f.choices.empty() ||
              std::find(f.choices.begin(), f.choices.end(), v) != f.choices.end())
            return "";
          std::string list;
          for (const auto& n : f.choices) list += (list.empty() ? "" : ", ") + n;
          return fmt::format("model.{} = '{}' is unknown; expected {}", f.name, v, list);
        }
        return "";
      },
      f.member);
}

}  // namespace

namespace {

// The vision switches' cross-field rules: a decoder keeps every default; a ViT classifies.
std::string VisionProblem(const ModelConfig& c) {
  if (!c.vision()) {
    if (!c.causal)
      return "model.causal = false needs model.input = patches (a token decoder predicts the next "
             "token, which bidirectional attention would see)";
    if (c.positions != "rope")
      return "model.positions = " + c.positions + " needs model.input = patches";
    if (c.pool != "none") return "model.pool = " + c.pool + " needs model.input = patches";
    if (c.head != "lm") return "model.head = " + c.head + " needs model.input = patches";
    return "";
  }
  if (c.image_size % c.patch_size != 0)
    return fmt::format("model.patch_size = {} must divide model.image_size = {}", c.patch_size,
                       c.image_size);
  if (c.head == "lm")
    return "model.head = " + c.head +
           " with model.input = patches is not supported; expected "
           "classes or projection";
  if (c.pool == "none")
    return "model.pool = none with model.input = patches leaves the head nothing to read; "
           "expected cls or mean";
  if (c.positions == "rope2d" && c.rotary_dims() % 4 != 0)
    return fmt::format(
        "model.positions = rope2d rotates {} dims of a head; 2-D RoPE gives half of "
        "the rotated pairs to rows and half to columns, so that count must be a "
        "multiple of 4",
        c.rotary_dims());
  if (c.causal && c.pool == "cls")
    return "model.pool = cls with model.causal = true reads the first token, which attends to no "
           "patch; expected causal = false or pool = mean";
  if (int64_t{c.patch_size} * c.patch_size * c.channels > kMaxDModel)
    return fmt::format(
        "model.patch_size = {} with model.channels = {} makes patches of {} floats; "
        "expected at most {}",
        c.patch_size, c.channels, int64_t{c.patch_size} * c.patch_size * c.channels, kMaxDModel);
  const int64_t side = c.image_size / c.patch_size, T = side * side + (c.pool == "cls" ? 1 : 0);
  if (T > c.max_seq_len)
    return fmt::format(
        "model.max_seq_len = {} must be >= the {} tokens of an image ((image_size / "
        "patch_size)^2{})",
        c.max_seq_len, T, c.pool == "cls" ? " + 1 CLS" : "");
  return "";
}

}  // namespace

std::string ModelConfigProblem(const ModelConfig& c) {
  for (const auto* list : {&ModelFields(), &VisionFields()})
    for (const ModelField& f : *list)
      if (std::string e = FieldProblem(f, c); !e.empty()) return e;
  // Cross-field rules (every field is in its own range here: n_heads >= 1, rotary_pct in [0, 1]).
  if (c.d_model % c.n_heads != 0)
    return fmt::format("model.n_heads = {} must divide model.d_model = {}", c.n_heads, c.d_model);
  if (c.n_kv_heads != 0 && c.n_heads % c.n_kv_heads != 0)
    return fmt::format("model.n_kv_heads = {} must divide model.n_heads = {}", c.n_kv_heads,
                       c.n_heads);
  if (c.rotary_dims() % 2 != 0)
    return fmt::format(
        "model.rotary_pct = {} rotates {} of the {} dims of a head; RoPE rotates pairs, so "
        "that count must be even",
        c.rotary_pct, c.rotary_dims(), c.head_size());
  if (c.clip_qkv > 0 && c.qk_norm)
    return "model.clip_qkv > 0 with model.qk_norm = true is not supported (no Hugging Face family "
           "uses both)";
  if (c.parallel_residual && c.norm_placement == NormPlacement::kPost)
    return "model.parallel_residual = true needs model.norm_placement = pre (a post-norm block has "
           "no shared normalised input)";
  return VisionProblem(c);
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
  if (vision()) {  // patch embedding + bias, CLS, position table, class head + bias (layout.h)
    const int64_t T = image_tokens(), K = head_dim();
    const int64_t input = int64_t{patch_dim()} * C + C + (pool == "cls" ? C : 0) +
                          (positions == "learned" ? T * C : 0);
    const int64_t siglip = head == "projection" ? 2 : 0;  // log-temperature and bias
    return input + n_layers * block + norm_per + K * C + K + siglip;
  }
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
  nlohmann::json j = nlohmann::json::object();  // keys sorted on dump: the order here is moot
  std::vector<const ModelField*> fields;
  for (const ModelField& f : ModelFields()) fields.push_back(&f);
  if (vision())  // a decoder's config.json keeps its bytes (VisionFields)
    for (const ModelField& f : VisionFields()) fields.push_back(&f);
  for (const ModelField* field : fields) {
    const ModelField& f = *field;
    std::visit(
        [&](auto member) {
          const auto& v = this->*member;
          using T = std::remove_cvref_t<decltype(v)>;
          if constexpr (std::is_enum_v<T>)
            j[f.name] = config_detail::EnumNames<T>::names[static_cast<int>(v)];
          else
            j[f.name] = v;
        },
        f.member);
  }
  return j;
}

namespace {

// Reads `key` of the JSON object `j` into `out`; throws Error naming the field.
template <typename T>
void ReadJsonField(const nlohmann::json& j, const char* key, T& out) {
  const std::string field = std::string("model config JSON: field '") + key + "'";
  if (!j.is_object() || !j.contains(key)) throw Error(field + " is missing");
  const nlohmann::json& v = j.at(key);
  if constexpr (std::is_same_v<T, int>) {
    // nlohmann narrows 1e10 (or 1e9 written as a float) to int silently: read integers only, in
    // range.
    if (!v.is_number_integer()) throw Error(field + " has the wrong type; expected an integer");
    const bool fits = v.is_number_unsigned()
                          ? v.get<uint64_t>() <= INT32_MAX
                          : v.get<int64_t>() >= INT32_MIN && v.get<int64_t>() <= INT32_MAX;
    if (!fits) throw Error(field + " = " + v.dump() + " is out of range for a 32-bit integer");
    out = v.get<int>();
  } else if constexpr (std::is_enum_v<T>) {
    std::string name;
    ReadJsonField(j, key, name);
    const auto& names = config_detail::EnumNames<T>::names;
    std::string list;
    for (size_t i = 0; i < std::size(names); ++i) {
      if (name == names[i]) {
        out = static_cast<T>(i);
        return;
      }
      list += (i ? " or " : "") + std::string(names[i]);
    }
    throw Error(field + " = '" + name + "'; expected " + list);
  } else {
    try {
      v.get_to(out);
    } catch (const nlohmann::json::exception&) {
      throw Error(field + " has the wrong type");
    }
  }
}

}  // namespace

ModelConfig ModelConfig::FromJson(const nlohmann::json& j) {
  ModelConfig c;
  std::vector<const ModelField*> fields;
  for (const auto* list : {&ModelFields(), &VisionFields()})
    for (const ModelField& f : *list) fields.push_back(&f);
  for (const ModelField* field : fields) {
    const ModelField& f = *field;
    if (f.optional_in_json && !(j.is_object() && j.contains(f.name))) continue;  // the default
    std::visit([&](auto member) { ReadJsonField(j, f.name, c.*member); }, f.member);
  }
  c.Validate();
  return c;
}

}  // namespace ot
