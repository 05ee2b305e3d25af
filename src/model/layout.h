// ParamLayout: the named tensors of a decoder inside one flat float32 arena (HF/Llama-style names), with
// shape, offset, init std and group. Gradients, AdamW moments, noise and anchors share this layout.
// Entry points: ParamLayout::ForModel, Find, ForEachTensor, GroupName, BlockTensors.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "model/config.h"

namespace ot {

enum class ParamGroup { kEmbed, kAttn, kMlp, kNorm, kHead };
const char* GroupName(ParamGroup group);  // "embed", "attn", "mlp", "norm", "head"

struct TensorInfo {
  std::string name;
  std::vector<int64_t> shape;
  int64_t offset = 0, size = 0;
  float init_std = 0;  // 0 for constant-initialised tensors (norm gains = 1)
  ParamGroup group = ParamGroup::kEmbed;
};

// Offsets of one block's tensors (-1 where absent: norm gains under non-parametric LayerNorm).
// q,k,v are adjacent (one (3C,C) matrix) and gate,up are adjacent (one (2F,C) matrix): the fast decoder
// runs each pair/triple as one GEMM.
struct BlockOffsets {
  int64_t attn_norm = -1, q = 0, k = 0, v = 0, o = 0, mlp_norm = -1, gate = 0, up = 0, down = 0;
};

class ParamLayout {
 public:
  // Order: model.embed_tokens.weight (V,C); per layer i: model.layers.{i}.input_layernorm.weight (C)
  // [RMSNorm only], self_attn.{q,k,v,o}_proj.weight (C,C) [out,in], post_attention_layernorm.weight (C)
  // [RMSNorm only], mlp.{gate,up}_proj.weight (F,C), mlp.down_proj.weight (C,F); model.norm.weight (C)
  // [RMSNorm only]; lm_head.weight (V,C) [untied only].
  static ParamLayout ForModel(const ModelConfig& config);

  const std::vector<TensorInfo>& tensors() const { return tensors_; }
  int64_t total() const { return total_; }
  const TensorInfo* Find(std::string_view name) const;  // nullptr when absent
  const TensorInfo& Get(std::string_view name) const;   // OT_CHECKs presence

  // Offsets the decoders use (no string lookups in the hot path).
  int64_t embed_offset() const { return embed_; }
  int64_t final_norm_offset() const { return final_norm_; }  // -1 under LayerNorm
  int64_t head_offset() const { return head_; }              // == embed_offset() when tied
  const BlockOffsets& block(int layer) const { return blocks_[layer]; }

 private:
  std::vector<TensorInfo> tensors_;
  std::vector<BlockOffsets> blocks_;
  int64_t total_ = 0, embed_ = 0, final_norm_ = -1, head_ = 0;
};

template <typename Fn>
void ForEachTensor(const ParamLayout& layout, Fn fn) {  // fn(const TensorInfo&)
  for (const auto& t : layout.tensors()) fn(t);
}

}  // namespace ot
