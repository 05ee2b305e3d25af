// Causal (or, causal = false, bidirectional) multi-head or grouped-query attention, forward and
// backward (see kernels.h). One (batch,
// head) pair per OpenMP iteration in the forward, one (batch, kv head) pair in the backward;
// inside, single-threaded SGEMMs (OpenBLAS runs one thread when called in a parallel region) on row
// blocks of kBlock rows, so only the lower block triangle of Q K^T is computed (3/4 of the square
// at T = 128, 5/8 at T = 256; bidirectional computes the whole square). Fixed order per pair:
// identical results at any thread count.
#include <cblas.h>
#include <omp.h>

#include <algorithm>
#include <cmath>

#include "ops/cpu/kernels.h"

namespace ot::cpu {

constexpr int kBlock = 64;  // rows per block: large enough for an efficient GEMM, small enough to
                            // skip most of the upper triangle

int64_t AttentionScratchSize(int T, int HS) { return (int64_t)T * T; }

void AttentionForward(float* out, float* probs, const float* qkv, int B, int T, int NH, int KH,
                      int HS, bool bf16, bool causal) {
  const int C = NH * HS, KV = KH * HS, ld = C + 2 * KV, group = NH / KH;
  const float scale = 1.0f / std::sqrt(static_cast<float>(HS));
#pragma omp parallel for schedule(static)
  for (int bh = 0; bh < B * NH; ++bh) {
    const int b = bh / NH, h = bh % NH;
    const float* q = qkv + (int64_t)b * T * ld + h * HS;  // (T,HS) with row stride ld
    const float* k = qkv + (int64_t)b * T * ld + C + (h / group) * HS;
    const float* v = k + KV;
    float* P = probs + (int64_t)bh * T * T;  // (T,T)
    float* o = out + (int64_t)b * T * C + h * HS;
    for (int r0 = 0; r0 < T; r0 += kBlock) {
      const int r1 = std::min(T, r0 + kBlock), m = r1 - r0;
      const int keys = causal ? r1 : T;  // the block's rows read keys [0, keys)
      // S[r0:r1, 0:keys] = scale * Q[r0:r1] K[0:keys]^T
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m, keys, HS, scale, q + (int64_t)r0 * ld,
                  ld, k, ld, 0.0f, P + (int64_t)r0 * T, T);
      for (int t = r0; t < r1; ++t) {
        float* p = P + (int64_t)t * T;
        // Row t reads keys s <= last. (Written `s <= last` as the causal kernel always was: the
        // loop form decides GCC's vectorisation, so the causal results keep their bits.)
        const int last = causal ? t : T - 1;
        float mx = p[0];
        // A compare (vmaxps): GCC 12 does not vectorise the std::max form of this reduction.
#pragma omp simd reduction(max : mx)
        for (int s = 1; s <= last; ++s) mx = mx > p[s] ? mx : p[s];
        float sum = 0;
#pragma omp simd reduction(+ : sum)
        for (int s = 0; s <= last; ++s) {
          p[s] = FastExp(p[s] - mx);
          sum += p[s];
        }
        const float inv = 1.0f / sum;
        for (int s = 0; s <= last; ++s) p[s] *= inv;
        if (bf16)
          for (int s = 0; s <= last; ++s) p[s] = RoundToBf16(p[s]);  // an operand of P V below
        for (int s = last + 1; s < keys; ++s) p[s] = 0;
      }
      // O[r0:r1] = P[r0:r1, 0:keys] V[0:keys]
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, HS, keys, 1.0f, P + (int64_t)r0 * T,
                  T, v, ld, 0.0f, o + (int64_t)r0 * C, C);
    }
  }
}

void AttentionBackward(float* dqkv, const float* dout, const float* probs, const float* qkv, int B,
                       int T, int NH, int KH, int HS, float* scratch, bool bf16, bool causal) {
  const int C = NH * HS, KV = KH * HS, ld = C + 2 * KV, group = NH / KH;
  const float scale = 1.0f / std::sqrt(static_cast<float>(HS));
#pragma omp parallel for schedule(static)
  for (int bg = 0; bg < B * KH; ++bg) {
    const int b = bg / KH, g = bg % KH;
    float* dS = scratch + (int64_t)omp_get_thread_num() * AttentionScratchSize(T, HS);  // (T,T)
    const float* k = qkv + (int64_t)b * T * ld + C + g * HS;  // (T,HS) with row stride ld
    const float* v = k + KV;
    float* dk = dqkv + (int64_t)b * T * ld + C + g * HS;
    float* dv = dk + KV;
    for (int j = 0; j < group; ++j) {  // the query heads reading kv head g, in order
      const int h = g * group + j;
      const float beta = j == 0 ? 0.0f : 1.0f;  // the first head writes dK, dV; the others add
      const float* q = qkv + (int64_t)b * T * ld + h * HS;
      float* dq = dqkv + (int64_t)b * T * ld + h * HS;
      const float* P = probs + ((int64_t)b * NH + h) * T * T;
      const float* dO = dout + (int64_t)b * T * C + h * HS;  // (T,HS) with row stride C
      for (int r0 = 0; r0 < T; r0 += kBlock) {
        const int r1 = std::min(T, r0 + kBlock), m = r1 - r0;
        const int keys = causal ? r1 : T;
        // dP[r0:r1, 0:keys] = dO[r0:r1] V[0:keys]^T
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m, keys, HS, 1.0f,
                    dO + (int64_t)r0 * C, C, v, ld, 0.0f, dS + (int64_t)r0 * T, T);
        for (int t = r0; t < r1; ++t) {
          const float* p = P + (int64_t)t * T;
          float* d = dS + (int64_t)t * T;
          const int last = causal ? t : T - 1;  // `s <= last`: as in the forward
          float dot = 0;
#pragma omp simd reduction(+ : dot)
          for (int s = 0; s <= last; ++s) dot += p[s] * d[s];
          for (int s = 0; s <= last; ++s) d[s] = p[s] * (d[s] - dot) * scale;
          if (bf16)
            for (int s = 0; s <= last; ++s) d[s] = RoundToBf16(d[s]);  // an operand of dQ and dK
          for (int s = last + 1; s < keys; ++s) d[s] = 0;
        }
        // dQ[r0:r1] = dS[r0:r1, 0:keys] K[0:keys]
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, HS, keys, 1.0f,
                    dS + (int64_t)r0 * T, T, k, ld, 0.0f, dq + (int64_t)r0 * ld, ld);
      }
      for (int c0 = 0; c0 < T; c0 += kBlock) {
        // Keys c0:c1 are read by rows c0:T (causal: the lower triangle) or by every row.
        const int c1 = std::min(T, c0 + kBlock), m = c1 - c0, first = causal ? c0 : 0;
        const int rows = T - first;
        // dK[c0:c1] (+)= dS[first:T, c0:c1]^T Q[first:T];  dV[c0:c1] (+)= P[first:T, c0:c1]^T
        // dO[first:T]
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, m, HS, rows, 1.0f,
                    dS + (int64_t)first * T + c0, T, q + (int64_t)first * ld, ld, beta,
                    dk + (int64_t)c0 * ld, ld);
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, m, HS, rows, 1.0f,
                    P + (int64_t)first * T + c0, T, dO + (int64_t)first * C, C, beta,
                    dv + (int64_t)c0 * ld, ld);
      }
    }
  }
}

}  // namespace ot::cpu
