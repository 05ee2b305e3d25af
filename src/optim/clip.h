// Global gradient-norm clipping with a fixed-order reduction: the sum of squares is taken per
// fixed-size chunk (in double) and the chunk sums are added in index order, so the norm is
// bit-identical at any thread count. Entry points: SumSquares, GlobalNorm, ClipGradNorm, AllFinite.
#pragma once

#include <cstdint>
#include <span>

namespace ot {

// Σ x_i² in double; NaN/Inf in x propagate to the result.
double SumSquares(std::span<const float> x);

// sqrt(SumSquares(x)).
double GlobalNorm(std::span<const float> x);

// Returns the norm before clipping. If max_norm > 0 and norm > max_norm, scales g by
// max_norm / (norm + 1e-6) (torch.nn.utils.clip_grad_norm_'s coefficient). A non-finite norm leaves
// g untouched (the caller's NaN policy decides).
double ClipGradNorm(std::span<float> g, double max_norm);

// True when every element is finite.
bool AllFinite(std::span<const float> x);

}  // namespace ot
