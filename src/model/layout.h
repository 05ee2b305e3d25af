// ParamLayout: the named tensors of a decoder inside one flat float32 arena (HF/Llama-style names),
// with shape, offset, init std and group. Gradients, AdamW moments, noise and anchors share this
// layout. Entry points: ParamLayout::ForModel, Find, ForEachTensor, GroupName, BlockTensors.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "model/config.h"

namespace ot {

// kNorm: norm gains and biases; kBias: the biases of linear layers (init 0, not decayed by
// default).
enum class ParamGroup { kEmbed, kAttn, kMlp, kNorm, kHead, kBias };
const char* GroupName(ParamGroup group);  // "embed", "attn", "mlp", "norm", "head", "bias"
inline constexpr ParamGroup kAllParamGroups[] = {ParamGroup::kEmbed, ParamGroup::kAttn,
                                                 ParamGroup::kMlp,   ParamGroup::kNorm,
                                                 ParamGroup::kHead,  ParamGroup::kBias};

struct TensorInfo {
  std::string name;
  std::vector<int64_t> shape;
  int64_t offset = 0, size = 0;
  float init_std = 0;  // 0 for constant-initialised tensors
  ParamGroup group = ParamGroup::kEmbed;
  float init_const = 0;  // the constant when init_std == 0: 1 for norm gains, 0 for biases
};

// Offsets of one block's tensors (-1 where absent). attn_norm / mlp_norm are the norms of the
// attention and MLP branches: before the branch under pre-norm, after it under post-norm; their
// gains are absent under non-parametric LayerNorm, their biases unless layernorm_affine.
// q,k,v are adjacent (one (C+2KV, C) matrix, and their biases one (C+2KV) vector) and gate,up are
// adjacent (one (2F,C) matrix; gate = -1 under the GELU MLP, whose first linear is up alone): the
// fast decoder runs each pair/triple as one GEMM.
struct BlockOffsets {
  int64_t attn_norm = -1, attn_norm_bias = -1, q = 0, k = 0, v = 0, qkv_bias = -1, q_norm = -1,
          k_norm = -1, o = 0, o_bias = -1, mlp_norm = -1, mlp_norm_bias = -1, gate = -1, up = 0,
          mlp_in_bias = -1, down = 0, down_bias = -1;
  int64_t mlp_in() const { return gate >= 0 ? gate : up; }  // the first MLP GEMM's weights
};

class ParamLayout {
 public:
  // Order (Hugging Face Llama / OLMo-2 names, whatever family the model came from):
  // model.embed_tokens.weight (V,C); per layer i, prefix model.layers.{i}.:
  //   pre-norm:  input_layernorm.{weight,bias} (C) [gain unless layernorm; bias if
  //   layernorm_affine]; self_attn.q_proj.weight (C,C), k_proj.weight (KV,C), v_proj.weight (KV,C)
  //   [out,in]; self_attn.{q,k,v}_proj.bias (C),(KV),(KV) [attn_bias]; self_attn.q_norm.weight (C),
  //   self_attn.k_norm.weight (KV) [qk_norm]; self_attn.o_proj.weight (C,C), o_proj.bias
  //   [attn_bias]; post-norm: post_attention_layernorm.{weight,bias} (the attention branch's norm);
  //   pre-norm:  post_attention_layernorm.{weight,bias} (the MLP branch's norm, Llama's name);
  //   mlp.gate_proj.weight (F,C) [swiglu], mlp.up_proj.weight (F,C), mlp.{gate,up}_proj.bias
  //   [mlp_bias], mlp.down_proj.weight (C,F), mlp.down_proj.bias (C) [mlp_bias]; post-norm:
  //   post_feedforward_layernorm.{weight,bias} (the MLP branch's norm);
  // model.norm.{weight,bias} (C); lm_head.weight (V,C) [untied only].
  // input = patches (a ViT) replaces embed_tokens by patch_embed.weight (C,P) [out,in],
  // patch_embed.bias (C), cls_token (C) [pool = cls], pos_embed (T,C) [positions = learned],
  // and the LM head by head.weight (K,C), head.bias (K) after model.norm (K = n_classes, or
  // proj_dim under head = projection, which adds SigLIP's scalars siglip.t_log (init log 10) and
  // siglip.bias (init -10), group bias: not decayed by default, not perturbed). The
  // weights, CLS and position table draw from N(0, init_std) like every decoder weight (ViT's
  // trunc-normal 0.02 for all of them; timm zero-inits the class head, we do not, so a fresh
  // model's class gradient reaches the trunk).
  static ParamLayout ForModel(const ModelConfig& config);

  const std::vector<TensorInfo>& tensors() const { return tensors_; }
  int64_t total() const { return total_; }
  const TensorInfo* Find(std::string_view name) const;  // nullptr when absent
  const TensorInfo& Get(std::string_view name) const;   // OT_CHECKs presence

  // Offsets the decoders use (no string lookups in the hot path).
  int64_t embed_offset() const { return embed_; }
  int64_t final_norm_offset() const { return final_norm_; }            // -1 under LayerNorm
  int64_t final_norm_bias_offset() const { return final_norm_bias_; }  // -1 unless layernorm_affine
  int64_t head_offset() const { return head_; }  // == embed_offset() when tied
  const BlockOffsets& block(int layer) const { return blocks_[layer]; }
  // The ViT's tensors (-1 unless input = patches; cls / pos -1 where the switch is off).
  int64_t patch_offset() const { return patch_; }            // (C,P)
  int64_t patch_bias_offset() const { return patch_bias_; }  // (C)
  int64_t cls_offset() const { return cls_; }                // (C)
  int64_t pos_offset() const { return pos_; }                // (T,C)
  int64_t class_bias_offset() const { return class_bias_; }  // (K); the weight: head_offset()
  int64_t siglip_offset() const { return siglip_; }          // (2): t_log, bias [head = projection]

 private:
  std::vector<TensorInfo> tensors_;
  std::vector<BlockOffsets> blocks_;
  int64_t total_ = 0, embed_ = 0, final_norm_ = -1, final_norm_bias_ = -1, head_ = 0;
  int64_t patch_ = -1, patch_bias_ = -1, cls_ = -1, pos_ = -1, class_bias_ = -1, siglip_ = -1;
};

template <typename Fn>
void ForEachTensor(const ParamLayout& layout, Fn fn) {  // fn(const TensorInfo&)
  for (const auto& t : layout.tensors()) fn(t);
}

}  // namespace ot
