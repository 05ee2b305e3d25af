// AdamW's elementwise arithmetic over one range of the arena, shared by AdamW (every tensor) and
// Muon (the tensors that are not hidden matrices), so both update a tensor bit-identically. The
// update rule is written out in optimizer.h. Entry points: AdamWScalars, AdamWUpdateRange.
#pragma once

#include <cstdint>

#include "optim/optimizer.h"

namespace ot {

// The per-step float constants of AdamW at learning rate `lr` and step `t` (1-based, after the
// increment).
struct AdamWScalars {
  float b1, b2, one_minus_b1, one_minus_b2, step_size, inv_sqrt_bc2, eps, decay_factor;
  static AdamWScalars For(const AdamWConfig& config, double lr, int64_t t);
};

// p, m, v updated on [begin, end) from g; `decay` applies p *= decay_factor first. Elementwise
// (OpenMP), so bit-identical at any thread count. Compiled once (adamw_update.cc) so every caller
// gets the same code.
void AdamWUpdateRange(const AdamWScalars& s, bool decay, int64_t begin, int64_t end, float* p,
                      const float* g, float* m, float* v);

}  // namespace ot
