// Fast float32 CPU kernels (the reference in ops/reference/ops.h is their specification): GEMMs
// through OpenBLAS (OpenMP build: BLAS and our loops share one pool), everything else fused OpenMP
// loops over rows. Determinism: every loop of ours gives each output element to one thread with a
// fixed summation order, so results are bit-identical at any thread count (BLAS may differ; see
// tests/ops/cpu_parity_test.cc). Conventions as in the reference (outputs, inputs, dims; shapes N,
// C, F, V, T, NH, HS), except that input gradients say whether they overwrite or accumulate (named
// below), to avoid zero fills. Entry points: Matmul*, Embedding*, RmsNorm*, LayerNorm*,
// RopeTable/RopeApply, Attention*, SwiGlu*, LmHeadXent, FastExp, RoundToBf16.
#pragma once

#include <bit>
#include <cstdint>

namespace ot::cpu {

// exp(x) for float, vectorisable (Cephes expf: range reduction by ln 2, degree-6 polynomial);
// relative error < 3e-7 on [-87, 88]; inputs below -87.3 return ~1e-38 (not 0), above 88.3 saturate
// (2e38).
inline float FastExp(float x) {
  x = x < -87.3f ? -87.3f : x;
  x = x > 88.3f ? 88.3f : x;  // keeps 2^k finite (k <= 127)
  const float k = __builtin_floorf(x * 1.44269504088896341f + 0.5f);
  const float r = x - k * 0.693359375f + k * 2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  return p * std::bit_cast<float>((static_cast<int32_t>(k) + 127) << 23);
}

// x rounded to the nearest bfloat16 (8 significant bits; ties to even), returned as the float with
// the same value (its low 16 bits zero). Finite values beyond the largest bf16 round to +-Inf as in
// IEEE RNE; Inf stays Inf; NaN stays NaN (quieted, sign and high payload kept). Branch-free, so
// loops of it vectorise.
inline float RoundToBf16(float x) {
  const uint32_t u = std::bit_cast<uint32_t>(x);
  // Adding 0x7fff plus the kept part's lowest bit rounds half to even; a carry into the exponent is
  // the correct rounding up (to the next binade, or from the largest finite to Inf).
  const uint32_t rounded = (u + 0x7fffu + ((u >> 16) & 1u)) & 0xffff0000u;
  const uint32_t nan = (u | 0x00400000u) & 0xffff0000u;  // quiet bit: a low-payload NaN stays NaN
  return std::bit_cast<float>((u & 0x7fffffffu) > 0x7f800000u ? nan : rounded);
}
// In place x[i] = RoundToBf16(x[i]), or out[i] = RoundToBf16(in[i]), for i < n (OpenMP chunks).
void RoundToBf16(float* x, int64_t n);
void RoundToBf16(float* out, const float* in, int64_t n);

// out = in @ W^T: out (N,O) (overwritten), in (N,I), W (O,I). beta = 1 adds to out instead.
void MatmulForward(float* out, const float* in, const float* W, int N, int I, int O,
                   float beta = 0);
// din (N,I) = dout @ W (+= if din_beta = 1; skipped if din == nullptr); dW (O,I) += dout^T @ in.
void MatmulBackward(float* din, float* dW, const float* dout, const float* in, const float* W,
                    int N, int I, int O, float din_beta);

// out (N,C) = table[ids] ; dtable (V,C) += scatter of dout (parallel over channel blocks:
// deterministic).
void EmbeddingForward(float* out, const int32_t* ids, const float* table, int N, int C);
void EmbeddingBackward(float* dtable, const float* dout, const int32_t* ids, int N, int C);

// RMSNorm with optional gain (null = none). Backward: dx (N,C) ACCUMULATES (it is the residual
// stream's gradient); dgain (C) accumulates (parallel over channel blocks, rows in order).
void RmsNormForward(float* out, float* rstd, const float* x, const float* gain, int N, int C,
                    float eps);
void RmsNormBackward(float* dx, float* dgain, const float* dout, const float* x, const float* gain,
                     const float* rstd, int N, int C);
// Non-parametric LayerNorm; dx ACCUMULATES.
void LayerNormForward(float* out, float* mean, float* rstd, const float* x, int N, int C,
                      float eps);
void LayerNormBackward(float* dx, const float* dout, const float* x, const float* mean,
                       const float* rstd, int N, int C);

// cos/sin tables (T, R/2) for RoPE over R rotated dims, computed in double: angle(t, i) = t *
// theta^(-2i/R). R = HS for full rotary.
void RopeTable(float* cos, float* sin, int T, int R, double theta);
// In-place rotate-half RoPE of the first R dims of `heads` consecutive heads of size HS at the
// start of each row of x (B*T rows of `stride` floats; row b*T+t has position t); dims R..HS pass
// through. inverse = true applies the transpose (the backward). For a packed (B,T,C+2KV) qkv
// buffer, heads = NH + KH covers q and k in one call. Tables from RopeTable(.., R, ..).
void RopeApply(float* x, const float* cos, const float* sin, int B, int T, int heads, int HS, int R,
               int64_t stride, bool inverse);
inline void RopeApply(float* x, const float* cos, const float* sin, int B, int T, int heads, int HS,
                      int64_t stride, bool inverse) {
  RopeApply(x, cos, sin, B, T, heads, HS, HS, stride, inverse);
}

// Causal (causal = false: bidirectional, every row a softmax over all T keys) attention over a
// packed qkv (B,T,C+2KV) buffer ([q | k | v] per row, heads contiguous
// inside each; q has NH heads, k and v KH heads, KH divides NH, query head h reads kv head h /
// (NH/KH)). out (B,T,C) overwritten; probs (B,NH,T,T) saved (entries above the diagonal are not all
// written and must not be read). Parallel over (b,h) pairs; each pair runs single-threaded GEMMs on
// row blocks of the lower triangle. scratch: AttentionScratchSize floats per OpenMP thread
// (omp_get_max_threads()). bf16 = true rounds the operands the kernel itself makes for its GEMMs to
// bf16 (RoundToBf16): the probabilities before P V (so probs holds the rounded values) and, in the
// backward, d scores before dQ and dK; q, k, v and dout are the caller's to round (bf16 emulation,
// model/decoder.h).
int64_t AttentionScratchSize(int T, int HS);
void AttentionForward(float* out, float* probs, const float* qkv, int B, int T, int NH, int KH,
                      int HS, bool bf16 = false, bool causal = true);
// dqkv (B,T,C+2KV) overwritten from dout (B,T,C), probs, qkv. Parallel over (b, kv head) pairs; a
// kv head's dK, dV sum its query heads in head order (fixed: thread-count independent).
void AttentionBackward(float* dqkv, const float* dout, const float* probs, const float* qkv, int B,
                       int T, int NH, int KH, int HS, float* scratch, bool bf16 = false,
                       bool causal = true);

// --- Architecture switches (model/config.h): arch_kernels.cc ---

// LayerNorm with gain and bias (torch.nn.LayerNorm): out = (x - mean) * rstd * gain + bias.
// Backward: dx (N,C) ACCUMULATES; dgain, dbias (C) accumulate (channel blocks, rows in order).
void LayerNormAffineForward(float* out, float* mean, float* rstd, const float* x, const float* gain,
                            const float* bias, int N, int C, float eps);
void LayerNormAffineBackward(float* dx, float* dgain, float* dbias, const float* dout,
                             const float* x, const float* gain, const float* mean,
                             const float* rstd, int N, int C);
// RMSNorm with gain over the first C floats of rows with strides: x rows ldx apart, out ldo, dout
// ldd, dx ldx_out (QK-norm over the q or k part of a packed qkv row). Same arithmetic as
// RmsNormForward. Backward: dx OVERWRITTEN; dgain accumulates.
void RmsNormStridedForward(float* out, int64_t ldo, float* rstd, const float* x, int64_t ldx,
                           const float* gain, int N, int C, float eps);
void RmsNormStridedBackward(float* dx, int64_t lddx, float* dgain, const float* dout, int64_t ldd,
                            const float* x, int64_t ldx, const float* gain, const float* rstd,
                            int N, int C);
// out (N,O) += bias (O) per row; dbias (O) += column sums of dout (N,O) (channel blocks, rows in
// order).
void BiasForward(float* out, const float* bias, int N, int O);
void BiasBackward(float* dbias, const float* dout, int N, int O);
// out = clamp(x, -c, c) (n floats); backward: d[i] = 0 where |x[i]| > c (in place), as torch.clamp.
void ClampForward(float* out, const float* x, int64_t n, float c);
void ClampBackward(float* d, const float* x, int64_t n, float c);
// Exact GELU, 0.5 u (1 + erf(u / sqrt 2)): h (N,F) from u (N,F); du (N,F) overwritten from dh.
void GeluForward(float* h, const float* u, int N, int F);
void GeluBackward(float* du, const float* dh, const float* u, int N, int F);

// SwiGLU on a packed gu (N,2F) buffer ([gate | up] per row): h (N,F) = silu(gate) * up.
void SwiGluForward(float* h, const float* gu, int N, int F);
// dgu (N,2F) overwritten.
void SwiGluBackward(float* dgu, const float* dh, const float* gu, int N, int F);

// Options of LmHeadXent beyond the plain mean NLL; the defaults change nothing (same bits).
struct XentOptions {
  // z-loss (PaLM, Chowdhery et al. 2022, section 5): the objective per counted row becomes
  // NLL + z_loss * log^2 Z, log Z = logsumexp of the row's logits; its logits gradient adds
  // 2 z_loss log Z softmax. Requires log_z.
  float z_loss = 0;
  float* log_z = nullptr;      // (N) out: log Z per row (0 where target < 0)
  float* max_logit = nullptr;  // (N) out: max logit per row (0 where target < 0)
  bool bf16 = false;  // round d logits to bf16 before the dx and dW GEMMs (x, W: the caller's)
};

// Fused LM head + log-softmax + NLL in blocks of `block_rows` rows, so the (N,V) logits never
// exist: per block, logits = x W^T (one GEMM into `scratch` (block_rows, V)), then per row max /
// sum-exp / log-prob. logprob (N): log p(target) (0 where target < 0). Returns the mean over
// counted rows of NLL + z_loss log^2 Z (summed in row order, in double; the mean NLL when z_loss =
// 0); *count gets their number. If dx != nullptr, also the backward of that mean: dx (N,C)
// overwritten, dW (V,C) += (its first block overwrites when dW_overwrite is true).
float LmHeadXent(float* logprob, float* dx, float* dW, const float* x, const float* W,
                 const int32_t* targets, int N, int C, int V, float* scratch, int block_rows,
                 int64_t* count, bool dW_overwrite = false, const XentOptions& options = {});

}  // namespace ot::cpu
