// Causal multi-head attention, forward and backward (see kernels.h). One (batch, head) pair per OpenMP
// iteration; inside, single-threaded SGEMMs (OpenBLAS runs one thread when called in a parallel region) on
// row blocks of kBlock rows, so only the lower block triangle of Q K^T is computed (3/4 of the square at
// T = 128, 5/8 at T = 256). Fixed order per pair: identical results at any thread count.
#include <cblas.h>
#include <omp.h>

#include <algorithm>
#include <cmath>

#include "ops/cpu/kernels.h"

namespace ot::cpu {

constexpr int kBlock = 64;  // rows per block: large enough for an efficient GEMM, small enough to skip
                            // most of the upper triangle

int64_t AttentionScratchSize(int T, int HS) { return (int64_t)T * T; }

void AttentionForward(float* out, float* probs, const float* qkv, int B, int T, int NH, int HS,
                      bool bf16) {
  const int C = NH * HS, ld = 3 * C;
  const float scale = 1.0f / std::sqrt(static_cast<float>(HS));
#pragma omp parallel for schedule(static)
  for (int bh = 0; bh < B * NH; ++bh) {
    const int b = bh / NH, h = bh % NH;
    const float* q = qkv + (int64_t)b * T * ld + h * HS;  // (T,HS) with row stride ld
    const float* k = q + C;
    const float* v = q + 2 * C;
    float* P = probs + (int64_t)bh * T * T;  // (T,T)
    float* o = out + (int64_t)b * T * C + h * HS;
    for (int r0 = 0; r0 < T; r0 += kBlock) {
      const int r1 = std::min(T, r0 + kBlock), m = r1 - r0;
      // S[r0:r1, 0:r1] = scale * Q[r0:r1] K[0:r1]^T
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m, r1, HS, scale, q + (int64_t)r0 * ld, ld, k,
                  ld, 0.0f, P + (int64_t)r0 * T, T);
      for (int t = r0; t < r1; ++t) {
        float* p = P + (int64_t)t * T;
        float mx = p[0];
        // A compare (vmaxps): GCC 12 does not vectorise the std::max form of this reduction.
#pragma omp simd reduction(max : mx)
        for (int s = 1; s <= t; ++s) mx = mx > p[s] ? mx : p[s];
        float sum = 0;
#pragma omp simd reduction(+ : sum)
        for (int s = 0; s <= t; ++s) {
          p[s] = FastExp(p[s] - mx);
          sum += p[s];
        }
        const float inv = 1.0f / sum;
        for (int s = 0; s <= t; ++s) p[s] *= inv;
        if (bf16)
          for (int s = 0; s <= t; ++s) p[s] = RoundToBf16(p[s]);  // an operand of P V below
        for (int s = t + 1; s < r1; ++s) p[s] = 0;
      }
      // O[r0:r1] = P[r0:r1, 0:r1] V[0:r1]
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, HS, r1, 1.0f, P + (int64_t)r0 * T, T, v,
                  ld, 0.0f, o + (int64_t)r0 * C, C);
    }
  }
}

void AttentionBackward(float* dqkv, const float* dout, const float* probs, const float* qkv, int B,
                       int T, int NH, int HS, float* scratch, bool bf16) {
  const int C = NH * HS, ld = 3 * C;
  const float scale = 1.0f / std::sqrt(static_cast<float>(HS));
#pragma omp parallel for schedule(static)
  for (int bh = 0; bh < B * NH; ++bh) {
    const int b = bh / NH, h = bh % NH;
    float* dS = scratch + (int64_t)omp_get_thread_num() * AttentionScratchSize(T, HS);  // (T,T)
    const float* q = qkv + (int64_t)b * T * ld + h * HS;
    const float* k = q + C;
    const float* v = q + 2 * C;
    float* dq = dqkv + (int64_t)b * T * ld + h * HS;
    float* dk = dq + C;
    float* dv = dq + 2 * C;
    const float* P = probs + (int64_t)bh * T * T;
    const float* dO = dout + (int64_t)b * T * C + h * HS;  // (T,HS) with row stride C
    for (int r0 = 0; r0 < T; r0 += kBlock) {
      const int r1 = std::min(T, r0 + kBlock), m = r1 - r0;
      // dP[r0:r1, 0:r1] = dO[r0:r1] V[0:r1]^T
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m, r1, HS, 1.0f, dO + (int64_t)r0 * C, C, v,
                  ld, 0.0f, dS + (int64_t)r0 * T, T);
      for (int t = r0; t < r1; ++t) {
        const float* p = P + (int64_t)t * T;
        float* d = dS + (int64_t)t * T;
        float dot = 0;
#pragma omp simd reduction(+ : dot)
        for (int s = 0; s <= t; ++s) dot += p[s] * d[s];
        for (int s = 0; s <= t; ++s) d[s] = p[s] * (d[s] - dot) * scale;
        if (bf16)
          for (int s = 0; s <= t; ++s) d[s] = RoundToBf16(d[s]);  // an operand of dQ and dK
        for (int s = t + 1; s < r1; ++s) d[s] = 0;
      }
      // dQ[r0:r1] = dS[r0:r1, 0:r1] K[0:r1]
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, HS, r1, 1.0f, dS + (int64_t)r0 * T, T, k,
                  ld, 0.0f, dq + (int64_t)r0 * ld, ld);
    }
    for (int c0 = 0; c0 < T; c0 += kBlock) {
      const int c1 = std::min(T, c0 + kBlock), m = c1 - c0, rows = T - c0;
      // dK[c0:c1] = dS[c0:T, c0:c1]^T Q[c0:T];  dV[c0:c1] = P[c0:T, c0:c1]^T dO[c0:T]
      cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, m, HS, rows, 1.0f, dS + (int64_t)c0 * T + c0,
                  T, q + (int64_t)c0 * ld, ld, 0.0f, dk + (int64_t)c0 * ld, ld);
      cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, m, HS, rows, 1.0f, P + (int64_t)c0 * T + c0, T,
                  dO + (int64_t)c0 * C, C, 0.0f, dv + (int64_t)c0 * ld, ld);
    }
  }
}

}  // namespace ot::cpu
