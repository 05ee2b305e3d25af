// ModelConfig: the blueprint of an OLMo-style decoder (a plain struct), its named presets, and its
// fields declared once (ModelFields: key, help, range, JSON optionality) from which validation, the
// JSON round trip and DeclareModelFields (the [model] section of any config schema) derive. Entry
// points: ModelConfig::{FromPreset, Validate, NumParams, ToJson, FromJson}, ModelFields,
// DeclareModelFields, LoadConfigWithModelPreset.
#pragma once

#include <cstdint>
#include <functional>
#include <limits>
#include <nlohmann/json.hpp>
#include <string>
#include <type_traits>
#include <variant>
#include <vector>

#include "core/config.h"

namespace ot {

// layernorm is OLMo's non-parametric LayerNorm (no gain, no bias); rmsnorm has a gain (init 1);
// layernorm_affine has a gain (init 1) and a bias (init 0), as torch.nn.LayerNorm
// (GPT-NeoX/Pythia).
enum class NormKind { kRmsNorm, kLayerNorm, kLayerNormAffine };
const char* NormName(NormKind kind);  // "rmsnorm", "layernorm", "layernorm_affine"

template <>
struct config_detail::EnumNames<NormKind> {
  static constexpr const char* names[] = {"rmsnorm", "layernorm", "layernorm_affine"};
};

// Where a block's norms sit. pre: x + f(norm(x)) (Llama, OLMo, GPT-NeoX). post: x + norm(f(x)), the
// block input un-normalised (OLMo-2's "reordered norm": post_attention_layernorm and
// post_feedforward_layernorm).
enum class NormPlacement { kPre, kPost };
const char* NormPlacementName(NormPlacement placement);  // "pre", "post"

template <>
struct config_detail::EnumNames<NormPlacement> {
  static constexpr const char* names[] = {"pre", "post"};
};

// The MLP. swiglu: down(silu(gate x) * up x) (Llama, OLMo). gelu: down(gelu(up x)) with the exact
// (erf) GELU, torch's default (GPT-NeoX hidden_act "gelu").
enum class MlpKind { kSwiGlu, kGelu };
const char* MlpName(MlpKind kind);  // "swiglu", "gelu"

template <>
struct config_detail::EnumNames<MlpKind> {
  static constexpr const char* names[] = {"swiglu", "gelu"};
};

// Upper bounds of the size fields. They catch a misplaced digit before anything is allocated and
// keep every derived size in range (8*d_model and B*T fit in int, which the kernels and CBLAS index
// with); whether a config that is within them fits this machine is checked separately
// (model/memory_plan.h).
inline constexpr int kMaxVocabSize =
    1 << 20;                                // 1,048,576: 4x the largest published vocabulary (256K)
inline constexpr int kMaxDModel = 1 << 16;  // 65,536: 2.5x the widest published decoder
inline constexpr int kMaxLayers = 1024;     // 8x the deepest published decoder (126)
inline constexpr int kMaxHeads = 1024;      // head size >= 2 (RoPE pairs) already implies <= d/2
inline constexpr int kMaxFf = 1 << 18;      // 262,144 = 4 * kMaxDModel
inline constexpr int kMaxSeqLen = 1 << 20;  // 1,048,576 tokens
inline constexpr int kMaxImageSize = 4096;  // pixels per side: 4x the largest ViT input (1024)
inline constexpr int kMaxChannels = 64;     // 16x RGBA
inline constexpr int kMaxClasses = 1 << 20;  // as kMaxVocabSize (ImageNet-21K has 21,841)
inline constexpr int kMaxBatchSize =
    1 << 16;  // sequences per step or forward pass (any stage's batch)

// Shape letters used in every comment of ops/ and model/: B batch, T time, C = d_model, NH heads,
// HS = C / NH head size, KH key/value heads (KH divides NH; KH = NH is plain multi-head attention),
// KV = KH * HS, F = d_ff (MLP width; per branch under SwiGLU), V vocabulary, L layers, N = B*T
// rows. Each field has one entry in ModelFields() (config.cc), or for the vision switches in
// VisionFields(): its key, help, range and whether config.json may lack it; the TOML schema,
// Validate and the JSON round trip derive from those lists.
struct ModelConfig {
  std::string preset = "custom";
  int vocab_size = 4096, d_model = 64, n_layers = 2, n_heads = 2;
  // SwiGLU hidden width per branch (gate and up are each (F,C)). 0 => derived: 8*d/3 rounded up to
  // a multiple of 16 (Llama's choice: the MLP then has 8*d^2 weights like a GPT-2 4x GELU MLP, so
  // the docs/performance.md shapes keep their FLOPs). The olmo-* presets set F = 4d explicitly
  // (OLMo's mlp_ratio 8, which counts both branches).
  int d_ff = 0;
  int max_seq_len = 128;
  NormKind norm = NormKind::kRmsNorm;
  bool tied_head = true;
  double rope_theta = 10000.0, init_std = 0.02, norm_eps = 1e-5;

  // Architecture switches: the defaults are the OLMo-style decoder overtrain pre-trains; the other
  // values describe the imported Hugging Face families (llama, olmo, olmo2, gpt_neox) as data, one
  // forward and backward for all of them.
  int n_kv_heads = 0;  // KH; 0 => n_heads. Grouped-query attention when < NH
  NormPlacement norm_placement = NormPlacement::kPre;
  MlpKind mlp = MlpKind::kSwiGlu;
  bool attn_bias = false;          // biases on q, k, v and o (GPT-NeoX; Llama attention_bias)
  bool mlp_bias = false;           // biases on every MLP linear (GPT-NeoX; Llama mlp_bias)
  bool qk_norm = false;            // RMSNorm with gain over the whole q (C) and k (KV)
                                   // projections before RoPE (OLMo-2)
  bool parallel_residual = false;  // x + attn(norm1 x) + mlp(norm2 x) (GPT-NeoX)
  double rotary_pct = 1.0;         // RoPE rotates the first rotary_pct * HS dims of each
                                   // head (GPT-NeoX rotary_pct), rotate-half within them
  double clip_qkv = 0;             // clamp the q, k, v projections to [-c, c] (OLMo-1); 0 off

  // Vision switches (a ViT as the same blocks; docs/backends.md "Vision transformer"). The
  // defaults are the decoder; every other value needs input = "patches". An image of
  // image_size^2 pixels x channels (row-major (H, W, channels)) is cut into (image_size /
  // patch_size)^2 patches in raster order, each flattened as (dy, dx, channel) and embedded by
  // patch_embed (C, P) + bias, P = patch_size^2 * channels; with pool = "cls" a learned token
  // leads the sequence (T = patches + 1).
  std::string input = "tokens";  // tokens | patches
  int image_size = 28, patch_size = 7, channels = 1;
  bool causal = true;              // false: every position attends to every position
  std::string positions = "rope";  // rope (1-D over the sequence order) | learned (T, C) table
                                   // | rope2d (patch row and column; ref::Rope2dAngles)
  std::string pool = "none";       // none (per position, the LM) | cls | mean, after the final norm
  std::string head = "lm";         // lm (vocab_size logits per position) | classes | projection
  int n_classes = 10;              // head = classes: (n_classes, C) weight + bias on the pool
  int proj_dim = 32;  // head = projection: (proj_dim, C) weight + bias, SigLIP's embedding
                      // (with a learned log-temperature and bias)

  // nano: V 4096, d 64, L 2, H 2, T 64, tied (0.36M parameters, 0.26M of them the embedding: the
  // quick study's SentencePiece vocabulary is 4096, which sets the floor). tiny/small/medium:
  // docs/performance.md's shapes with SwiGLU. olmo-15m/30m/90m: d 256/384/640, L 6/8/10, F = 4d, V
  // 32000 tied, T 1024 (the paper's sizes counting the embedding; for GPU runs later).
  // pico-16/32/48: V 512, d 16/32/48, L 2, H 2, T 64, tied (15K / 43K / 80K parameters). With a
  // 512-token vocabulary the default registry corpus holds ≈ 44M training tokens, so these reach
  // 500+ tokens per parameter inside one epoch: the deep-overtraining regime on a CPU
  // (docs/science.md §7).
  static ModelConfig Pico16();
  static ModelConfig Pico32();
  static ModelConfig Pico48();
  static ModelConfig Nano();
  static ModelConfig Tiny();
  static ModelConfig Small();
  static ModelConfig Medium();
  static ModelConfig Olmo15M();
  static ModelConfig Olmo30M();
  static ModelConfig Olmo90M();
  // vit-pico / vit-pico-48: 28x28x1 images, patch 7 (16 patches + CLS = T 17), d 32 / 48, L 2,
  // H 2, bidirectional, learned positions, CLS pool, 10 classes (Fashion-MNIST / MNIST).
  static ModelConfig VitPico();
  static ModelConfig VitPico48();
  static ModelConfig FromPreset(const std::string& name);  // throws Error listing the valid names
  static std::vector<std::string> PresetNames();

  int ff_dim() const;       // d_ff, or the derived width when d_ff == 0 (4d under gelu)
  int head_size() const;    // d_model / n_heads
  int kv_heads() const;     // n_kv_heads, or n_heads when 0
  int kv_dim() const;       // KV = kv_heads() * head_size()
  int qkv_dim() const;      // C + 2 KV: the width of the fused q|k|v projection
  int rotary_dims() const;  // int(rotary_pct * head_size()) (HF's int() truncation), even;
                            // 0 under positions = learned (no rotation)
  bool vision() const { return input == "patches"; }
  int num_patches() const;   // (image_size / patch_size)^2 (0 unless vision())
  int patch_dim() const;     // P = patch_size^2 * channels
  int pixels() const;        // image_size^2 * channels: the floats of one image
  int image_tokens() const;  // T of an image: num_patches() + 1 under pool = cls
  int head_dim() const;      // the vision head's width: n_classes, or proj_dim under projection
  // The model's default architecture apart from sizes: what overtrain pre-trains and exports as
  // Llama.
  bool IsLlamaCompatible() const;
  // Throws Error with one sentence naming the field and the expectation, e.g.
  // "model.n_heads = 3 must divide model.d_model = 64".
  void Validate() const;
  int64_t NumParams() const;
  // Matmul FLOPs of one training step per token, 6*N_matmul + 12*L*T*d for causal attention
  // (fwd+bwd, docs/performance.md's count), at sequence length T.
  double TrainFlopsPerToken(int T) const;

  nlohmann::json ToJson() const;
  static ModelConfig FromJson(const nlohmann::json& j);  // throws Error on missing/invalid fields
  bool operator==(const ModelConfig&) const = default;
};

// Returns "" when `c` is valid, else the sentence Validate() would throw (used by schema rules):
// first each field's own check (ModelFields(): range, finiteness, choices), then the cross-field
// rules (n_heads divides d_model, even rotary dims, ...).
std::string ModelConfigProblem(const ModelConfig& c);

// The range of a numeric field, the one source of both its TOML check and its Validate sentence:
// lo <= v (lo < v when lo_open) and v <= hi.
//   TOML: Between(lo, hi) when hi is finite, else Above(lo) / AtLeast(lo).
//   Validate, int fields: "model.<name> = v must be >= lo" / "... must be <= hi (the supported
//   maximum)" (every int field has an upper bound, kMax* above). double fields: first "... must be
//   a finite number", then "... must be in [lo, hi]" when hi is finite, else "... must be > lo" /
//   "... must be >= lo"; `note` is appended (e.g. " (0 = off)").
struct ModelFieldRange {
  double lo = 0, hi = std::numeric_limits<double>::infinity();
  bool lo_open = false;
  const char* note = "";
  std::function<std::string(double)> TomlCheck() const;
};

// One field of ModelConfig, declared once in the list ModelFields() (config.cc), in the order
// --print-config shows them. DeclareModelFields (TOML key "model.<name>"), ModelConfigProblem's
// per-field checks, ToJson and FromJson all walk that list; adding a field to ModelConfig means
// adding one entry there.
struct ModelField {
  using Member = std::variant<std::string ModelConfig::*, int ModelConfig::*, double ModelConfig::*,
                              bool ModelConfig::*, NormKind ModelConfig::*,
                              NormPlacement ModelConfig::*, MlpKind ModelConfig::*>;
  const char* name = "";  // the JSON key; the TOML key is "model.<name>"
  Member member;
  const char* help = "";
  ModelFieldRange range;             // int and double fields
  std::vector<std::string> choices;  // string fields: the accepted values (empty: any)
  // Absent from the config.json of checkpoints written before the architecture switches
  // (n_kv_heads ... clip_qkv): FromJson keeps the default (the OLMo-style decoder) when missing.
  bool optional_in_json = false;
};
const std::vector<ModelField>& ModelFields();
// The vision switches (input ... n_classes), declared like ModelFields() but kept out of a token
// decoder's config.json and printed config (ToJson writes them, and DeclareModelFields' keys print,
// only when input = patches): a decoder's files and the study run ids hashed from its printed
// config keep the bytes they had before the switches. A missing key reads as its default.
const std::vector<ModelField>& VisionFields();

// Declares the [model] section (model.preset, model.vocab_size, ...) into a schema whose struct S
// holds a ModelConfig reachable as get_model(S&), one key per ModelFields() entry, plus the
// cross-field rule. The preset field only names the base; to start from the named preset's values
// use LoadConfigWithModelPreset (explicit fields override the preset).
template <typename S, typename Get>
void DeclareModelFields(ConfigSchema<S>& schema, Get get_model) {
  auto m = [get_model](S& s) -> ModelConfig& { return get_model(s); };
  auto declare = [&](const ModelField& f) {
    std::visit(
        [&](auto member) {
          using T = std::remove_reference_t<decltype(std::declval<ModelConfig&>().*member)>;
          auto get = [m, member](S& s) -> T& { return m(s).*member; };
          const std::string key = std::string("model.") + f.name;
          if constexpr (std::is_same_v<T, int> || std::is_same_v<T, double>) {
            schema.Field(key, f.help, get, f.range.TomlCheck());
          } else if constexpr (std::is_same_v<T, std::string>) {
            if (f.choices.empty())
              schema.Field(key, f.help, get);
            else
              schema.Field(key, f.help, get, OneOf(f.choices));
          } else {  // bool; enums (Set refuses a name outside EnumNames)
            schema.Field(key, f.help, get);
          }
        },
        f.member);
  };
  for (const ModelField& f : ModelFields()) declare(f);
  for (const ModelField& f : VisionFields()) {
    declare(f);
    schema.PrintedWhen([m](const S& s) { return m(const_cast<S&>(s)).vision(); });
  }
  schema.Rule({"model.n_heads", "model.d_model", "model.n_kv_heads", "model.rotary_pct"},
              [m](const S& s) { return ModelConfigProblem(m(const_cast<S&>(s))); });
}

// LoadConfig where the [model] fields start from model.preset's values: a first pass reads the
// preset name (file, then overrides), a second loads file and overrides over defaults whose model
// is that preset.
template <typename S, typename Get>
S LoadConfigWithModelPreset(const ConfigSchema<S>& schema, const std::string& path,
                            const std::vector<std::string>& overrides, S defaults, Get get_model) {
  S probe = defaults;
  ConfigOrigins origins;
  if (!path.empty()) ApplyFile(schema, path, probe, origins);
  for (const auto& o : overrides) ApplyOverride(schema, o, probe, origins);
  const std::string preset = get_model(probe).preset;
  if (preset != "custom") {
    ModelConfig base = ModelConfig::FromPreset(preset);  // throws naming the valid presets
    get_model(defaults) = base;
  }
  return LoadConfig(schema, path, overrides, std::move(defaults));
}

}  // namespace ot
