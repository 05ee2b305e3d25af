// The architecture families the ModelConfig switches describe, applied to a test's own sizes, so
// the decoder tests run every family on one shape: llama-gqa-bias, olmo-clip, olmo2, neox,
// neox-sequential. Entry points: kFamilies, WithFamily.
#pragma once

#include <string>

#include "core/check.h"
#include "model/config.h"

namespace ot {

inline constexpr const char* kFamilies[] = {"llama-gqa-bias", "olmo-clip", "olmo2", "neox",
                                            "neox-sequential"};

// `base` (any sizes with n_heads divisible by 2 and head size >= 8) turned into `family`.
inline ModelConfig WithFamily(ModelConfig c, const std::string& family) {
  if (family ==
      "llama-gqa-bias") {  // Llama with grouped-query attention and attention/MLP biases, untied
    c.n_kv_heads = c.n_heads / 2;
    c.attn_bias = c.mlp_bias = true;
    c.tied_head = false;
  } else if (family == "olmo-clip") {  // OLMo-1: non-parametric LayerNorm, clip_qkv, tied
    c.norm = NormKind::kLayerNorm;
    c.tied_head = true;
    c.clip_qkv =
        0.25;  // projections of scaled-up test weights (std ~0.5) clip often, but not always
  } else if (family == "olmo2") {  // OLMo-2: post-norm, QK-norm, GQA (one kv head), untied
    c.norm_placement = NormPlacement::kPost;
    c.qk_norm = true;
    c.n_kv_heads = 1;
    c.tied_head = false;
  } else if (family ==
             "neox") {  // Pythia: affine LayerNorm, parallel residual, GELU, biases, rotary 1/4
    c.norm = NormKind::kLayerNormAffine;
    c.parallel_residual = true;
    c.mlp = MlpKind::kGelu;
    c.attn_bias = c.mlp_bias = true;
    c.rotary_pct = 0.25;
    c.tied_head = false;
  } else if (family ==
             "neox-sequential") {  // GPT-NeoX with use_parallel_residual = false, rotary 1/2
    c.norm = NormKind::kLayerNormAffine;
    c.mlp = MlpKind::kGelu;
    c.attn_bias = c.mlp_bias = true;
    c.rotary_pct = 0.5;
    c.tied_head = false;
  } else {
    OT_CHECK(false) << "unknown family " << family;
  }
  c.Validate();
  return c;
}

}  // namespace ot
