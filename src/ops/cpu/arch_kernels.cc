// Fast float32 kernels of the architecture switches (model/config.h): affine LayerNorm, strided
// RMSNorm (QK-norm), biases, clamp (clip_qkv) and the exact GELU. Specification: ops/reference;
// conventions and determinism as in kernels.h (each output element owned by one thread, fixed
// summation order).
#include <algorithm>
#include <cmath>

#include "ops/cpu/kernels.h"
#include "ops/cpu/layernorm_row.h"

namespace ot::cpu {

namespace {
constexpr int kChannelBlock = 16;  // one 64-byte line of floats per (row, block) pair

// acc (O) += sum over rows n of f(n, c) for c in each channel block, rows in order (any thread
// count gives the same bits).
template <typename F>
void ColumnSums(float* acc, int N, int O, F f) {
  const int nb = (O + kChannelBlock - 1) / kChannelBlock;
#pragma omp parallel for schedule(static)
  for (int cb = 0; cb < nb; ++cb) {
    const int c0 = cb * kChannelBlock, c1 = std::min(O, c0 + kChannelBlock);
    float s[kChannelBlock] = {};
    for (int n = 0; n < N; ++n)
      for (int c = c0; c < c1; ++c) s[c - c0] += f(n, c);
    for (int c = c0; c < c1; ++c) acc[c] += s[c - c0];
  }
}
}  // namespace

void LayerNormAffineForward(float* out, float* mean, float* rstd, const float* x, const float* gain,
                            const float* bias, int N, int C, float eps) {
  LayerNormForward(out, mean, rstd, x, N, C, eps);
#pragma omp parallel for schedule(static)
  for (int n = 0; n < N; ++n) {
    float* o = out + (int64_t)n * C;
#pragma omp simd
    for (int c = 0; c < C; ++c) o[c] = o[c] * gain[c] + bias[c];
  }
}

void LayerNormAffineBackward(float* dx, float* dgain, float* dbias, const float* dout,
                             const float* x, const float* gain, const float* mean,
                             const float* rstd, int N, int C) {
  // dx: the non-parametric backward of dxhat = dout * gain; dgain = sum dout * xhat; dbias = sum
  // dout.
#pragma omp parallel for schedule(static)
  for (int n = 0; n < N; ++n) {
    const int64_t o = (int64_t)n * C;
    LayerNormBackwardRow<true>(dx + o, dout + o, gain, x + o, mean[n], rstd[n], C);
  }
  ColumnSums(dgain, N, C, [&](int n, int c) {
    return dout[(int64_t)n * C + c] * ((x[(int64_t)n * C + c] - mean[n]) * rstd[n]);
  });
  ColumnSums(dbias, N, C, [&](int n, int c) { return dout[(int64_t)n * C + c]; });
}

void RmsNormStridedForward(float* out, int64_t ldo, float* rstd, const float* x, int64_t ldx,
                           const float* gain, int N, int C, float eps) {
#pragma omp parallel for schedule(static)
  for (int n = 0; n < N; ++n) {
    const float* xr = x + n * ldx;
    float* o = out + n * ldo;
    float ss = 0;
#pragma omp simd reduction(+ : ss)
    for (int c = 0; c < C; ++c) ss += xr[c] * xr[c];
    const float r = 1.0f / std::sqrt(ss / C + eps);
    rstd[n] = r;
    for (int c = 0; c < C; ++c) o[c] = xr[c] * r * gain[c];
  }
}

void RmsNormStridedBackward(float* dx, int64_t lddx, float* dgain, const float* dout, int64_t ldd,
                            const float* x, int64_t ldx, const float* gain, const float* rstd,
                            int N, int C) {
  const float inv_c = 1.0f / C;
#pragma omp parallel for schedule(static)
  for (int n = 0; n < N; ++n) {
    const float* xr = x + n * ldx;
    const float* dy = dout + n * ldd;
    float* d = dx + n * lddx;
    const float r = rstd[n];
    float dot = 0;
#pragma omp simd reduction(+ : dot)
    for (int c = 0; c < C; ++c) dot += gain[c] * dy[c] * xr[c];
    const float k = r * r * r * dot * inv_c;
    for (int c = 0; c < C; ++c) d[c] = r * gain[c] * dy[c] - k * xr[c];
  }
  ColumnSums(dgain, N, C,
             [&](int n, int c) { return dout[n * ldd + c] * x[n * ldx + c] * rstd[n]; });
}

void BiasForward(float* out, const float* bias, int N, int O) {
#pragma omp parallel for schedule(static)
  for (int n = 0; n < N; ++n) {
    float* o = out + (int64_t)n * O;
#pragma omp simd
    for (int c = 0; c < O; ++c) o[c] += bias[c];
  }
}

void BiasBackward(float* dbias, const float* dout, int N, int O) {
  ColumnSums(dbias, N, O, [&](int n, int c) { return dout[(int64_t)n * O + c]; });
}

void ClampForward(float* out, const float* x, int64_t n, float c) {
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < n; ++i) out[i] = std::clamp(x[i], -c, c);
}

void ClampBackward(float* d, const float* x, int64_t n, float c) {
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < n; ++i)
    if (!(x[i] >= -c && x[i] <= c)) d[i] = 0;  // torch.clamp passes the gradient on [-c, c]
}

void GeluForward(float* h, const float* u, int N, int F) {
  const int64_t n = (int64_t)N * F;
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < n; ++i)
    h[i] = 0.5f * u[i] * (1.0f + std::erf(u[i] * 0.70710678118654752f));
}

void GeluBackward(float* du, const float* dh, const float* u, int N, int F) {
  // d/du [0.5 u (1 + erf(u/sqrt2))] = 0.5 (1 + erf(u/sqrt2)) + u * exp(-u^2/2) / sqrt(2 pi)
  const int64_t n = (int64_t)N * F;
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < n; ++i) {
    const float x = u[i];
    const float cdf = 0.5f * (1.0f + std::erf(x * 0.70710678118654752f));
    const float pdf = 0.39894228040143268f * std::exp(-0.5f * x * x);
    du[i] = dh[i] * (cdf + x * pdf);
  }
}

}  // namespace ot::cpu
