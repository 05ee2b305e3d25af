// Parameter initialisation: N(0, std) truncated at 3 sigma per tensor (OLMo's "normal" init, no
// extra scaling of output projections), norm gains = 1, biases = 0 (TensorInfo::init_const). Keyed
// RNG: identical at any thread count. Entry point: InitParams.
#pragma once

#include <cstdint>
#include <span>

#include "model/layout.h"

namespace ot {

// Tensor k (in layout order) draws FillNormal(RngKey(seed, StreamId("init"), k), offset 0, std,
// trunc 3); norm gains (group kNorm, recorded std 0) are set to 1; other tensors with std 0 to 0.
void InitParams(const ParamLayout& layout, std::span<float> params, uint64_t seed);

}  // namespace ot
