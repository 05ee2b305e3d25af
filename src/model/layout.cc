// ParamLayout construction (see layout.h).
#include "model/layout.h"

#include "core/check.h"

namespace ot {

const char* GroupName(ParamGroup group) {
  switch (group) {
    case ParamGroup::kEmbed: return "embed";
    case ParamGroup::kAttn: return "attn";
    case ParamGroup::kMlp: return "mlp";
    case ParamGroup::kNorm: return "norm";
    case ParamGroup::kHead: return "head";
  }
  return "?";
}

ParamLayout ParamLayout::ForModel(const ModelConfig& config) {
  config.Validate();
  ParamLayout p;
  const int64_t V = config.vocab_size, C = config.d_model, F = config.ff_dim();
  const float std = static_cast<float>(config.init_std);
  const bool gains = config.norm == NormKind::kRmsNorm;
  auto add = [&](std::string name, std::vector<int64_t> shape, float init_std, ParamGroup group) {
    TensorInfo t{std::move(name), std::move(shape), p.total_, 1, init_std, group};
    for (int64_t s : t.shape) t.size *= s;
    p.total_ += t.size;
    p.tensors_.push_back(std::move(t));
    return p.tensors_.back().offset;
  };
  p.embed_ = add("model.embed_tokens.weight", {V, C}, std, ParamGroup::kEmbed);
  for (int i = 0; i < config.n_layers; ++i) {
    const std::string pre = "model.layers." + std::to_string(i) + ".";
    BlockOffsets b;
    if (gains) b.attn_norm = add(pre + "input_layernorm.weight", {C}, 0, ParamGroup::kNorm);
    b.q = add(pre + "self_attn.q_proj.weight", {C, C}, std, ParamGroup::kAttn);
    b.k = add(pre + "self_attn.k_proj.weight", {C, C}, std, ParamGroup::kAttn);
    b.v = add(pre + "self_attn.v_proj.weight", {C, C}, std, ParamGroup::kAttn);
    b.o = add(pre + "self_attn.o_proj.weight", {C, C}, std, ParamGroup::kAttn);
    if (gains) b.mlp_norm = add(pre + "post_attention_layernorm.weight", {C}, 0, ParamGroup::kNorm);
    b.gate = add(pre + "mlp.gate_proj.weight", {F, C}, std, ParamGroup::kMlp);
    b.up = add(pre + "mlp.up_proj.weight", {F, C}, std, ParamGroup::kMlp);
    b.down = add(pre + "mlp.down_proj.weight", {C, F}, std, ParamGroup::kMlp);
    OT_CHECK(b.k == b.q + C * C && b.v == b.k + C * C && b.up == b.gate + F * C) << "adjacency";
    p.blocks_.push_back(b);
  }
  if (gains) p.final_norm_ = add("model.norm.weight", {C}, 0, ParamGroup::kNorm);
  p.head_ = config.tied_head ? p.embed_ : add("lm_head.weight", {V, C}, std, ParamGroup::kHead);
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
