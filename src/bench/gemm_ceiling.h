// The GEMM side of the benchmark: the matrix products one training step of the decoder performs (forward
// and backward, with the engine's M, N, K and transposes), timing them alone (the GEMM-bound ceiling), and
// the SGEMM peak of this machine (large square products). Entry points: StepGemms, GemmFlops,
// GemmTimer::{TimeStep, SgemmPeak}.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "model/config.h"

namespace ot {

// One row-major product C(M,N) (+)= op(A) op(B) with op(A) (M,K), op(B) (K,N), done `count` times per step.
struct GemmShape {
  std::string what;  // e.g. "L.qkv fwd", "head dW"
  bool trans_a = false, trans_b = false;
  int64_t m = 0, n = 0, k = 0;
  int64_t count = 1;
  float beta = 0.0f;  // 1 where the engine accumulates (weight gradients)
  double Flops() const { return 2.0 * m * n * k * count; }
};

// The products of one training step (zero-grad, forward, backward) of the fast decoder at batch (B, T),
// mirroring src/model's calls: per block one fused QKV product ((3C,C) weight), the attention output,
// one fused gate|up product ((2F,C) weight), the down projection; per (batch, head) the causal attention
// products QK^T and PV with their backward; the LM head (V,C). Each linear layer Y = X W^T has
// dX = dY W and dW += dY^T X.
std::vector<GemmShape> StepGemms(const ModelConfig& config, int B, int T);
double GemmFlops(const std::vector<GemmShape>& shapes);

// Times products with cblas_sgemm on buffers it owns (sized for the largest shape, filled with small
// values so no denormals appear). Uses whatever OpenMP thread count is current.
class GemmTimer {
 public:
  // Seconds of each of `reps` passes over `shapes` (each shape `count` times): the time a step would take
  // if everything but its GEMMs were free. No warm-up here; the caller discards what it wants.
  std::vector<double> TimeStep(const std::vector<GemmShape>& shapes, int reps);
  // GFLOP/s of a square n x n x n sgemm, best of `reps` after one warm-up.
  double SgemmPeak(int n, int reps);

 private:
  void Reserve(int64_t a, int64_t b, int64_t c);
  std::vector<float> a_, b_, c_;
};

}  // namespace ot
