// The small decoder shape and the token draws that decoder_test.cc and numerics_test.cc share.
// Entry points: SmallDecoderConfig, RandomTokens.
#pragma once

#include <cstdint>
#include <random>
#include <vector>

#include "model/config.h"

namespace ot {

// V 37, d 32, L 2, 4 heads (HS 8), F 48, T 70 (> 64: two attention row blocks).
inline ModelConfig SmallDecoderConfig(NormKind norm, bool tied) {
  ModelConfig c;
  c.vocab_size = 37;
  c.d_model = 32;
  c.n_layers = 2;
  c.n_heads = 4;
  c.d_ff = 48;
  c.max_seq_len = 70;
  c.norm = norm;
  c.tied_head = tied;
  return c;
}

// n tokens uniform in [0, V) from `seed`; about `ignore_frac` of them then set to -1 (ignored
// targets).
inline std::vector<int32_t> RandomTokens(int n, int V, uint32_t seed, double ignore_frac = 0) {
  std::mt19937 gen(seed);
  std::vector<int32_t> t(n);
  for (auto& x : t) x = static_cast<int32_t>(gen() % V);
  for (auto& x : t)
    if (ignore_frac > 0 && (gen() % 1000) < ignore_frac * 1000) x = -1;
  return t;
}

}  // namespace ot
