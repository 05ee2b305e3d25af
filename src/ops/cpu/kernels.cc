// Fast float32 kernels: GEMM wrappers, bf16 rounding, embedding, norms, RoPE, SwiGLU (see
// kernels.h). Attention and the fused LM-head cross-entropy live in attention.cc and xent.cc.
#include "ops/cpu/kernels.h"

#include <cblas.h>

#include <algorithm>
#include <cmath>

#include "ops/cpu/layernorm_row.h"

namespace ot::cpu {

void MatmulForward(float* out, const float* in, const float* W, int N, int I, int O, float beta) {
  // out (N,O) = in (N,I) @ W^T (W is (O,I))
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, N, O, I, 1.0f, in, I, W, I, beta, out, O);
}

void MatmulBackward(float* din, float* dW, const float* dout, const float* in, const float* W,
                    int N, int I, int O, float din_beta) {
  // din (N,I) = dout (N,O) @ W (O,I);  dW (O,I) += dout^T (O,N) @ in (N,I)
  if (din)
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, I, O, 1.0f, dout, O, W, I, din_beta,
                din, I);
  cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, O, I, N, 1.0f, dout, O, in, I, 1.0f, dW, I);
}

// Elementwise and memory-bound: chunks of 4096 floats per iteration amortise the scheduling.
void RoundToBf16(float* x, int64_t n) { RoundToBf16(x, x, n); }

void RoundToBf16(float* out, const float* in, int64_t n) {
  constexpr int64_t kChunk = 4096;
#pragma omp parallel for schedule(static) if (n > 4 * kChunk)
  for (int64_t i0 = 0; i0 < n; i0 += kChunk) {
    const int64_t i1 = std::min(n, i0 + kChunk);
#pragma omp simd
    for (int64_t i = i0; i < i1; ++i) out[i] = RoundToBf16(in[i]);
  }
}

void EmbeddingForward(float* out, const int32_t* ids, const float* table, int N, int C) {
#pragma omp parallel for schedule(static)
  for (int n = 0; n < N; ++n) std::copy_n(table + (int64_t)ids[n] * C, C, out + (int64_t)n * C);
}

// Channel blocks of 16 floats (one 64-byte line): each (row, block) pair belongs to exactly one
// thread, rows are visited in order, so scatter-adds are race-free and thread-count independent.
constexpr int kChannelBlock = 16;

void EmbeddingBackward(float* dtable, const float* dout, const int32_t* ids, int N, int C) {
  const int nb = (C + kChannelBlock - 1) / kChannelBlock;
#pragma omp parallel for schedule(static)
  for (int cb = 0; cb < nb; ++cb) {
    const int c0 = cb * kChannelBlock, c1 = std::min(C, c0 + kChannelBlock);
    for (int n = 0; n < N; ++n) {
      float* d = dtable + (int64_t)ids[n] * C;
      const float* g = dout + (int64_t)n * C;
      for (int c = c0; c < c1; ++c) d[c] += g[c];
    }
  }
}

void RmsNormForward(float* out, float* rstd, const float* x, const float* gain, int N, int C,
                    float eps) {
#pragma omp parallel for schedule(static)
  for (int n = 0; n < N; ++n) {
    const float* xr = x + (int64_t)n * C;
    float* o = out + (int64_t)n * C;
    float ss = 0;
#pragma omp simd reduction(+ : ss)
    for (int c = 0; c < C; ++c) ss += xr[c] * xr[c];
    const float r = 1.0f / std::sqrt(ss / C + eps);
    rstd[n] = r;
    if (gain) {
      for (int c = 0; c < C; ++c) o[c] = xr[c] * r * gain[c];
    } else {
      for (int c = 0; c < C; ++c) o[c] = xr[c] * r;
    }
  }
}

void RmsNormBackward(float* dx, float* dgain, const float* dout, const float* x, const float* gain,
                     const float* rstd, int N, int C) {
  const float inv_c = 1.0f / C;
#pragma omp parallel
  {
#pragma omp for schedule(static)
    for (int n = 0; n < N; ++n) {
      const float* xr = x + (int64_t)n * C;
      const float* dy = dout + (int64_t)n * C;
      float* d = dx + (int64_t)n * C;
      const float r = rstd[n];
      float dot = 0;
      if (gain) {
#pragma omp simd reduction(+ : dot)
        for (int c = 0; c < C; ++c) dot += gain[c] * dy[c] * xr[c];
        const float k = r * r * r * dot * inv_c;
        for (int c = 0; c < C; ++c) d[c] += r * gain[c] * dy[c] - k * xr[c];
      } else {
#pragma omp simd reduction(+ : dot)
        for (int c = 0; c < C; ++c) dot += dy[c] * xr[c];
        const float k = r * r * r * dot * inv_c;
        for (int c = 0; c < C; ++c) d[c] += r * dy[c] - k * xr[c];
      }
    }
    if (dgain) {
      const int nb = (C + kChannelBlock - 1) / kChannelBlock;
#pragma omp for schedule(static)
      for (int cb = 0; cb < nb; ++cb) {
        const int c0 = cb * kChannelBlock, c1 = std::min(C, c0 + kChannelBlock);
        float acc[kChannelBlock] = {};
        for (int n = 0; n < N; ++n) {
          const float* xr = x + (int64_t)n * C;
          const float* dy = dout + (int64_t)n * C;
          for (int c = c0; c < c1; ++c) acc[c - c0] += dy[c] * xr[c] * rstd[n];
        }
        for (int c = c0; c < c1; ++c) dgain[c] += acc[c - c0];
      }
    }
  }
}

void LayerNormForward(float* out, float* mean, float* rstd, const float* x, int N, int C,
                      float eps) {
#pragma omp parallel for schedule(static)
  for (int n = 0; n < N; ++n) {
    const float* xr = x + (int64_t)n * C;
    float* o = out + (int64_t)n * C;
    float m = 0;
#pragma omp simd reduction(+ : m)
    for (int c = 0; c < C; ++c) m += xr[c];
    m /= C;
    float v = 0;
#pragma omp simd reduction(+ : v)
    for (int c = 0; c < C; ++c) v += (xr[c] - m) * (xr[c] - m);
    const float r = 1.0f / std::sqrt(v / C + eps);
    mean[n] = m;
    rstd[n] = r;
    for (int c = 0; c < C; ++c) o[c] = (xr[c] - m) * r;
  }
}

void LayerNormBackward(float* dx, const float* dout, const float* x, const float* mean,
                       const float* rstd, int N, int C) {
#pragma omp parallel for schedule(static)
  for (int n = 0; n < N; ++n) {
    const int64_t o = (int64_t)n * C;
    LayerNormBackwardRow<false>(dx + o, dout + o, nullptr, x + o, mean[n], rstd[n], C);
  }
}

void RopeTable(float* cos, float* sin, int T, int R, double theta) {
  const int h2 = R / 2;
  for (int t = 0; t < T; ++t)
    for (int i = 0; i < h2; ++i) {
      const double ang = t * std::pow(theta, -2.0 * i / R);
      cos[(int64_t)t * h2 + i] = static_cast<float>(std::cos(ang));
      sin[(int64_t)t * h2 + i] = static_cast<float>(std::sin(ang));
    }
}

void RopeApply(float* x, const float* cos, const float* sin, int B, int T, int heads, int HS, int R,
               int64_t stride, bool inverse) {
  const int h2 = R / 2;
  if (h2 == 0) return;
  const float sign = inverse ? -1.0f : 1.0f;
#pragma omp parallel for schedule(static)
  for (int64_t row = 0; row < (int64_t)B * T; ++row) {
    const int t = static_cast<int>(row % T);
    const float* cr = cos + (int64_t)t * h2;
    const float* sr = sin + (int64_t)t * h2;
    for (int h = 0; h < heads; ++h) {
      float* p = x + row * stride + (int64_t)h * HS;
      for (int i = 0; i < h2; ++i) {
        const float x1 = p[i], x2 = p[i + h2], c = cr[i], s = sign * sr[i];
        p[i] = x1 * c - x2 * s;
        p[i + h2] = x2 * c + x1 * s;
      }
    }
  }
}

void SwiGluForward(float* h, const float* gu, int N, int F) {
#pragma omp parallel for schedule(static)
  for (int n = 0; n < N; ++n) {
    const float* g = gu + (int64_t)n * 2 * F;
    const float* u = g + F;
    float* o = h + (int64_t)n * F;
    for (int f = 0; f < F; ++f) o[f] = g[f] / (1.0f + FastExp(-g[f])) * u[f];
  }
}

void SwiGluBackward(float* dgu, const float* dh, const float* gu, int N, int F) {
#pragma omp parallel for schedule(static)
  for (int n = 0; n < N; ++n) {
    const float* g = gu + (int64_t)n * 2 * F;
    const float* u = g + F;
    const float* d = dh + (int64_t)n * F;
    float* dg = dgu + (int64_t)n * 2 * F;
    float* du = dg + F;
    for (int f = 0; f < F; ++f) {
      const float sg = 1.0f / (1.0f + FastExp(-g[f]));
      dg[f] = d[f] * u[f] * sg * (1.0f + g[f] * (1.0f - sg));
      du[f] = d[f] * g[f] * sg;
    }
  }
}

}  // namespace ot::cpu
