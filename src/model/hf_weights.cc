// HF tensor names -> arena blocks, the header check and the mapped load (see hf_weights.h).
// GPT-NeoX names and the query_key_value view follow transformers' modeling_gpt_neox.py.
#include "model/hf_weights.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "core/check.h"
#include "core/listing.h"

namespace ot {
namespace {

bool EndsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

// GPT-NeoX: gpt_neox.embed_in, gpt_neox.layers.{i}.{input_layernorm, attention.query_key_value,
// attention.dense, post_attention_layernorm, mlp.dense_h_to_4h, mlp.dense_4h_to_h},
// gpt_neox.final_layer_norm, embed_out (untied). Norms are always pre-norm LayerNorm with a bias.
std::vector<HfTensorSource> NeoxSources(const ModelConfig& c, const ParamLayout& layout) {
  OT_CHECK(c.norm == NormKind::kLayerNormAffine && c.mlp == MlpKind::kGelu &&
           c.kv_heads() == c.n_heads && c.norm_placement == NormPlacement::kPre && !c.qk_norm)
      << "not a GPT-NeoX config";
  const int64_t C = c.d_model, F = c.ff_dim(), V = c.vocab_size;
  std::vector<HfTensorSource> s;
  s.push_back({"gpt_neox.embed_in.weight", {V, C}, layout.embed_offset()});
  for (int i = 0; i < c.n_layers; ++i) {
    const BlockOffsets& b = layout.block(i);
    const std::string pre = fmt::format("gpt_neox.layers.{}.", i);
    s.push_back({pre + "input_layernorm.weight", {C}, b.attn_norm});
    s.push_back({pre + "input_layernorm.bias", {C}, b.attn_norm_bias});
    s.push_back({pre + "attention.query_key_value.weight", {3 * C, C}, b.q, c.n_heads});
    if (c.attn_bias)
      s.push_back({pre + "attention.query_key_value.bias", {3 * C}, b.qkv_bias, c.n_heads});
    s.push_back({pre + "attention.dense.weight", {C, C}, b.o});
    if (c.attn_bias) s.push_back({pre + "attention.dense.bias", {C}, b.o_bias});
    s.push_back({pre + "post_attention_layernorm.weight", {C}, b.mlp_norm});
    s.push_back({pre + "post_attention_layernorm.bias", {C}, b.mlp_norm_bias});
    s.push_back({pre + "mlp.dense_h_to_4h.weight", {F, C}, b.up});
    if (c.mlp_bias) s.push_back({pre + "mlp.dense_h_to_4h.bias", {F}, b.mlp_in_bias});
    s.push_back({pre + "mlp.dense_4h_to_h.weight", {C, F}, b.down});
    if (c.mlp_bias) s.push_back({pre + "mlp.dense_4h_to_h.bias", {C}, b.down_bias});
  }
  s.push_back({"gpt_neox.final_layer_norm.weight", {C}, layout.final_norm_offset()});
  s.push_back({"gpt_neox.final_layer_norm.bias", {C}, layout.final_norm_bias_offset()});
  if (!c.tied_head) s.push_back({"embed_out.weight", {V, C}, layout.head_offset()});
  return s;
}

}  // namespace

std::vector<HfTensorSource> HfTensorSources(const ModelConfig& config,
                                            const std::string& model_type,
                                            const ParamLayout& layout) {
  std::vector<HfTensorSource> s;
  if (model_type == "gpt_neox") {
    s = NeoxSources(config, layout);
  } else {
    OT_CHECK(model_type == "llama" || model_type == "olmo" || model_type == "olmo2") << model_type;
    for (const TensorInfo& t : layout.tensors()) s.push_back({t.name, t.shape, t.offset});
  }
  // Every arena value is written exactly once: the blocks tile [0, total).
  std::vector<std::pair<int64_t, int64_t>> blocks;
  for (const auto& t : s) {
    int64_t n = 1;
    for (int64_t d : t.shape) n *= d;
    OT_CHECK(t.offset >= 0) << t.name << " has no arena block";
    blocks.push_back({t.offset, n});
  }
  std::sort(blocks.begin(), blocks.end());
  int64_t cursor = 0;
  for (auto [offset, n] : blocks) {
    OT_CHECK(offset == cursor) << "HF tensor blocks leave a gap or overlap at " << offset;
    cursor += n;
  }
  OT_CHECK(cursor == layout.total())
      << "HF tensor blocks cover " << cursor << " of " << layout.total();
  return s;
}

bool IsHfBuffer(std::string_view name) {
  return EndsWith(name, ".attention.bias") || EndsWith(name, ".attention.masked_bias") ||
         EndsWith(name, ".rotary_emb.inv_freq");
}

HfWeightFiles HfWeightFiles::Open(const std::filesystem::path& dir) {
  HfWeightFiles f;
  const auto index = dir / "model.safetensors.index.json", single = dir / "model.safetensors";
  if (std::filesystem::exists(index)) {
    f.what_ = index.string();
    f.sharded_ = std::make_unique<ShardedSafetensors>(ShardedSafetensors::Open(index));
    f.tensors_ = f.sharded_->tensors();
  } else if (std::filesystem::exists(single)) {
    f.what_ = single.string();
    f.single_ = std::make_unique<SafetensorsFile>(SafetensorsFile::Open(single));
    for (const TensorView& t : f.single_->tensors()) f.tensors_[t.name] = &t;
  } else {
    throw Error(
        dir.string() +
        ": no model.safetensors or model.safetensors.index.json; expected a Hugging Face model "
        "directory with safetensors weights (pytorch_model.bin is not read)");
  }
  return f;
}

std::vector<std::string> HfWeightMismatches(std::span<const HfTensorSource> sources,
                                            const std::map<std::string, const TensorView*>& tensors,
                                            bool tied_head) {
  std::map<std::string, const HfTensorSource*> expected;
  for (const auto& s : sources) expected[s.name] = &s;
  TensorMismatches m;
  for (const auto& s : sources) {
    auto it = tensors.find(s.name);
    if (it == tensors.end()) {
      m.missing.push_back("'" + s.name + "'");
      continue;
    }
    const TensorView& t = *it->second;
    if (t.dtype != DType::kF32 && t.dtype != DType::kBF16 && t.dtype != DType::kF16)
      m.dtypes.push_back(fmt::format("'{}' is {}", s.name, DTypeName(t.dtype)));
    if (t.shape != s.shape)
      m.shapes.push_back(fmt::format("'{}' is {}, expected {}", s.name, BracketedShape(t.shape),
                                     BracketedShape(s.shape)));
  }
  for (const auto& [name, view] : tensors) {
    // Tied: transformers overwrites a saved lm_head.weight with the embedding after loading.
    const bool tied_copy = tied_head && name == "lm_head.weight";
    if (!expected.count(name) && !IsHfBuffer(name) && !tied_copy)
      m.unexpected.push_back("'" + name + "'");
  }
  return m.Sentences("F32, BF16 or F16");
}

void CheckHfWeights(const HfWeightFiles& files, std::span<const HfTensorSource> sources,
                    bool tied_head, const std::string& model_source) {
  const std::vector<std::string> problems = HfWeightMismatches(sources, files.tensors(), tied_head);
  if (problems.empty()) return;
  std::string all;
  for (const auto& p : problems) all += (all.empty() ? "" : "; ") + p;
  throw Error(fmt::format("{}: its tensors do not match {}: {}", files.what(), model_source, all));
}

void LoadHfWeights(const HfWeightFiles& files, std::span<const HfTensorSource> sources,
                   std::span<float> arena) {
  std::vector<std::string> bad;
  for (const auto& s : sources) {
    const TensorView& t = *files.tensors().at(s.name);
    OT_CHECK(t.shape == s.shape) << s.name << ": CheckHfWeights first";
    const int64_t n = t.NumElements();
    std::span<float> block = arena.subspan(s.offset, n);
    if (s.qkv_heads == 0) {
      ToF32(t, block);
    } else {
      // (NH, 3, HS) rows -> [q; k; v]: each source row converts straight into its destination row.
      const int64_t rows = s.shape[0], cols = n / rows, C = rows / 3, HS = C / s.qkv_heads;
      const size_t row_bytes = static_cast<size_t>(cols) * DTypeSize(t.dtype);
      for (int64_t r = 0; r < rows; ++r) {
        const int64_t h = r / (3 * HS), p = (r / HS) % 3, d = r % HS;
        const TensorView row{t.name, t.dtype, {cols}, t.bytes.subspan(r * row_bytes, row_bytes)};
        ToF32(row, block.subspan((p * C + h * HS + d) * cols, cols));
      }
    }
    int64_t count = 0;
    for (float v : block) count += !std::isfinite(v);
    if (count > 0) bad.push_back(fmt::format("'{}' ({} of {} values)", s.name, count, n));
  }
  if (!bad.empty())
    throw Error(files.what() + ": " +
                ListedNames("tensor holds NaN or Inf", "tensors hold NaN or Inf", bad));
}

}  // namespace ot
