// The vision tests' shared pieces (vision_test.cc, vision_config_test.cc): a micro ViT per switch
// combination, random parameters away from their init, random pixels. Entry points: VitMicro,
// VitRandomParams, VitScaledParams, VitPixels.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "model/config.h"
#include "model/init.h"
#include "model/layout.h"
#include "ops/grad_check.h"

namespace ot {

// 6x6 images x 2 channels, patch 3 (4 patches of 18 floats), C 8, L 2, NH 2, F 12, K 3; then the
// variant's switches. Small enough for central differences over every parameter.
inline ModelConfig VitMicro(const std::string& variant) {
  ModelConfig c;
  c.input = "patches";
  c.image_size = 6;
  c.patch_size = 3;
  c.channels = 2;
  c.d_model = 8;
  c.n_layers = 2;
  c.n_heads = 2;
  c.d_ff = 12;
  c.max_seq_len = 5;
  c.causal = false;
  c.positions = "learned";
  c.pool = "cls";
  c.head = "classes";
  c.n_classes = 3;
  c.rope_theta = 100.0;  // small base so positions 0..4 rotate visibly (rope variants)
  if (variant == "mean_rope") {
    c.pool = "mean";
    c.positions = "rope";
  } else if (variant == "cls_rope") {
    c.positions = "rope";
  } else if (variant == "cls_rope2d") {  // HS 4: one rotated pair per axis
    c.positions = "rope2d";
  } else if (variant == "causal_mean") {
    c.causal = true;
    c.pool = "mean";
  } else if (variant == "neox_switches") {  // GPT-NeoX's block under the ViT's ends
    // RoPE: under learned positions the key bias shifts each softmax row by a constant and has no
    // gradient at all (exactly 0), which the disconnection check below would rightly flag.
    c.positions = "rope";
    c.norm = NormKind::kLayerNormAffine;
    c.mlp = MlpKind::kGelu;
    c.attn_bias = c.mlp_bias = true;
    c.parallel_residual = true;
  } else if (variant == "gqa_post_norm") {
    c.n_heads = 4;
    c.n_kv_heads = 2;
    c.norm_placement = NormPlacement::kPost;
    c.qk_norm = true;
  } else if (variant == "projection_cls" || variant == "projection_mean") {  // SigLIP's head
    c.head = "projection";
    c.proj_dim = 4;
    if (variant == "projection_mean") {
      c.pool = "mean";
      c.positions = "rope";
    }
  } else if (variant != "cls_learned") {
    ADD_FAILURE() << "unknown variant " << variant;
  }
  return c;
}

// Every tensor random and away from its init (weights N(0, w), gains 1 + N(0, 0.2), biases N(0,
// 0.2)), so a dropped term cannot hide behind a gain of 1 or a bias of 0.
inline std::vector<double> VitRandomParams(const ParamLayout& layout, uint32_t seed, double w) {
  std::vector<double> p(layout.total());
  for (const auto& t : layout.tensors()) {
    const bool gain = t.init_std == 0 && t.init_const == 1;
    const std::vector<double> r = testing::RandomVector(t.size, t.init_std > 0 ? w : 0.2, seed++);
    for (int64_t i = 0; i < t.size; ++i) p[t.offset + i] = r[i] + (gain ? 1.0 : 0.0);
  }
  return p;
}

inline std::vector<double> VitPixels(const ModelConfig& c, int B, uint32_t seed) {
  return testing::RandomVector(static_cast<size_t>(B) * c.pixels(), 1.0, seed);
}

inline std::vector<float> VitScaledParams(const ParamLayout& layout, uint64_t seed, float scale) {
  std::vector<float> p(layout.total());
  InitParams(layout, p, seed);
  for (const auto& t : layout.tensors())
    for (int64_t i = 0; i < t.size; ++i)
      p[t.offset + i] =
          t.init_std == 0 ? t.init_const + 0.1f * ((i % 5) - 2) : p[t.offset + i] * scale;
  return p;
}

}  // namespace ot
