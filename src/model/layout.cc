// ParamLayout construction (see layout.h).
#include "model/layout.h"

#include <cmath>
#include <tuple>

#include "core/check.h"

namespace ot {

const char* GroupName(ParamGroup group) {
  switch (group) {
    case ParamGroup::kEmbed:
      return "embed";
    case ParamGroup::kAttn:
      return "attn";
    case ParamGroup::kMlp:
      return "mlp";
    case ParamGroup::kNorm:
      return "norm";
    case ParamGroup::kHead:
      return "head";
    case ParamGroup::kBias:
      return "bias";
  }
  return "?";
}

ParamLayout ParamLayout::ForModel(const ModelConfig& config) {
  config.Validate();
  ParamLayout p;
  const int64_t V = config.vocab_size, C = config.d_model, F = config.ff_dim(),
                KV = config.kv_dim();
  const float std = static_cast<float>(config.init_std);
  const bool gains = config.norm != NormKind::kLayerNorm,
             norm_bias = config.norm == NormKind::kLayerNormAffine;
  const bool swiglu = config.mlp == MlpKind::kSwiGlu,
             post = config.norm_placement == NormPlacement::kPost;
  auto add = [&](std::string name, std::vector<int64_t> shape, float init_std, ParamGroup group,
                 float init_const = 0) {
    TensorInfo t{std::move(name), std::move(shape), p.total_, 1, init_std, group, init_const};
    for (int64_t s : t.shape) t.size *= s;
    p.total_ += t.size;
    p.tensors_.push_back(std::move(t));
    return p.tensors_.back().offset;
  };
  auto weight = [&](const std::string& name, std::vector<int64_t> shape, ParamGroup group) {
    return add(name + ".weight", std::move(shape), std, group);
  };
  auto bias = [&](const std::string& name, int64_t n) {
    return add(name + ".bias", {n}, 0, ParamGroup::kBias);
  };
  // A norm's gain and bias (either may be absent): {gain offset, bias offset}.
  auto norm = [&](const std::string& name) {
    std::pair<int64_t, int64_t> o{-1, -1};
    if (gains) o.first = add(name + ".weight", {C}, 0, ParamGroup::kNorm, 1.0f);
    if (norm_bias) o.second = add(name + ".bias", {C}, 0, ParamGroup::kNorm, 0.0f);
    return o;
  };
  if (config.vision()) {
    p.embed_ = -1;
    p.patch_ = weight("patch_embed", {C, config.patch_dim()}, ParamGroup::kEmbed);
    p.patch_bias_ = bias("patch_embed", C);
    if (config.pool == "cls") p.cls_ = add("cls_token", {C}, std, ParamGroup::kEmbed);
    if (config.positions == "learned")
      p.pos_ = add("pos_embed", {config.image_tokens(), C}, std, ParamGroup::kEmbed);
  } else {
    p.embed_ = weight("model.embed_tokens", {V, C}, ParamGroup::kEmbed);
  }
  for (int i = 0; i < config.n_layers; ++i) {
    const std::string pre = "model.layers." + std::to_string(i) + ".";
    BlockOffsets b;
    if (!post) std::tie(b.attn_norm, b.attn_norm_bias) = norm(pre + "input_layernorm");
    b.q = weight(pre + "self_attn.q_proj", {C, C}, ParamGroup::kAttn);
    b.k = weight(pre + "self_attn.k_proj", {KV, C}, ParamGroup::kAttn);
    b.v = weight(pre + "self_attn.v_proj", {KV, C}, ParamGroup::kAttn);
    if (config.attn_bias) {
      b.qkv_bias = bias(pre + "self_attn.q_proj", C);
      const int64_t kb = bias(pre + "self_attn.k_proj", KV),
                    vb = bias(pre + "self_attn.v_proj", KV);
      OT_CHECK(kb == b.qkv_bias + C && vb == kb + KV) << "qkv bias adjacency";
    }
    if (config.qk_norm) {
      b.q_norm = add(pre + "self_attn.q_norm.weight", {C}, 0, ParamGroup::kNorm, 1.0f);
      b.k_norm = add(pre + "self_attn.k_norm.weight", {KV}, 0, ParamGroup::kNorm, 1.0f);
    }
    b.o = weight(pre + "self_attn.o_proj", {C, C}, ParamGroup::kAttn);
    if (config.attn_bias) b.o_bias = bias(pre + "self_attn.o_proj", C);
    if (post) {
      std::tie(b.attn_norm, b.attn_norm_bias) = norm(pre + "post_attention_layernorm");
    } else {
      std::tie(b.mlp_norm, b.mlp_norm_bias) = norm(pre + "post_attention_layernorm");
    }
    if (swiglu) b.gate = weight(pre + "mlp.gate_proj", {F, C}, ParamGroup::kMlp);
    b.up = weight(pre + "mlp.up_proj", {F, C}, ParamGroup::kMlp);
    if (config.mlp_bias) {
      b.mlp_in_bias = swiglu ? bias(pre + "mlp.gate_proj", F) : bias(pre + "mlp.up_proj", F);
      if (swiglu)
        OT_CHECK(bias(pre + "mlp.up_proj", F) == b.mlp_in_bias + F) << "gate/up bias adjacency";
    }
    b.down = weight(pre + "mlp.down_proj", {C, F}, ParamGroup::kMlp);
    if (config.mlp_bias) b.down_bias = bias(pre + "mlp.down_proj", C);
    if (post) std::tie(b.mlp_norm, b.mlp_norm_bias) = norm(pre + "post_feedforward_layernorm");
    OT_CHECK(b.k == b.q + C * C && b.v == b.k + KV * C && (!swiglu || b.up == b.gate + F * C))
        << "adjacency";
    p.blocks_.push_back(b);
  }
  std::tie(p.final_norm_, p.final_norm_bias_) = norm("model.norm");
  if (config.vision()) {
    p.head_ = weight("head", {config.head_dim(), C}, ParamGroup::kHead);
    p.class_bias_ = bias("head", config.head_dim());
    if (config.head == "projection") {  // SigLIP's initialisation (Zhai et al. 2023)
      p.siglip_ = add("siglip.t_log", {1}, 0, ParamGroup::kBias, std::log(10.0f));
      OT_CHECK(add("siglip.bias", {1}, 0, ParamGroup::kBias, -10.0f) == p.siglip_ + 1)
          << "adjacency";
    }
  } else {
    p.head_ = config.tied_head ? p.embed_ : weight("lm_head", {V, C}, ParamGroup::kHead);
  }
  return p;
}

const TensorInfo* ParamLayout::Find(std::string_view name) const {
  for (const auto& t : tensors_)
    if (t.name == name) return &t;
  return nullptr;
}

const TensorInfo& ParamLayout::Get(std::string_view name) const {
  const TensorInfo* t = Find(name);
  OT_CHECK(t != nullptr) << "no tensor named " << name;
  return *t;
}

}  // namespace ot
