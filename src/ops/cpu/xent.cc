// Fused LM head + log-softmax + NLL (+ its backward) over row blocks (see kernels.h): per block one
// GEMM for the logits, one fused pass (max, exp, sum, log-prob, softmax - onehot in place,
// optionally the z-loss term and bf16 rounding), then two GEMMs for dx and dW. The (N,V) logits and
// log-probs are never materialised; no fills.
#include <cblas.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "ops/cpu/kernels.h"

namespace ot::cpu {

float LmHeadXent(float* logprob, float* dx, float* dW, const float* x, const float* W,
                 const int32_t* targets, int N, int C, int V, float* scratch, int block_rows,
                 int64_t* count, bool dW_overwrite, const XentOptions& options) {
  int64_t cnt = 0;
  for (int n = 0; n < N; ++n) cnt += targets[n] >= 0;
  *count = cnt;
  const float inv = cnt ? 1.0f / static_cast<float>(cnt) : 0.0f;
  const float z = options.z_loss;
  float* const log_z = options.log_z;
  float* const max_logit = options.max_logit;
  for (int r0 = 0; r0 < N; r0 += block_rows) {
    const int m = std::min(block_rows, N - r0);
    // logits (m,V) = x[r0:r0+m] (m,C) @ W^T
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m, V, C, 1.0f, x + (int64_t)r0 * C, C, W,
                C, 0.0f, scratch, V);
#pragma omp parallel for schedule(static)
    for (int i = 0; i < m; ++i) {
      float* row = scratch + (int64_t)i * V;
      const int n = r0 + i, tgt = targets[n];
      if (tgt < 0) {
        logprob[n] = 0;
        if (log_z) log_z[n] = 0;
        if (max_logit) max_logit[n] = 0;
        if (dx) std::memset(row, 0, sizeof(float) * V);
        continue;
      }
      float mx = row[0];
      // Written as a compare (vmaxps): GCC 12 does not vectorise the std::max form of this
      // reduction.
#pragma omp simd reduction(max : mx)
      for (int j = 0; j < V; ++j) mx = mx > row[j] ? mx : row[j];
      const float target_logit = row[tgt];
      float sum = 0;
      if (dx) {
#pragma omp simd reduction(+ : sum)
        for (int j = 0; j < V; ++j) {
          row[j] = FastExp(row[j] - mx);
          sum += row[j];
        }
      } else {
#pragma omp simd reduction(+ : sum)
        for (int j = 0; j < V; ++j) sum += FastExp(row[j] - mx);
      }
      const float log_sum = std::log(sum), lz = mx + log_sum;  // log Z = logsumexp(logits)
      logprob[n] = target_logit - mx - log_sum;
      if (log_z) log_z[n] = lz;
      if (max_logit) max_logit[n] = mx;
      if (dx) {
        // d(mean objective)/d logits = ((1 + 2 z log Z) softmax - onehot) / count; z = 0 keeps the
        // plain NLL's bits (the branch, not a multiplication by 1, so no NaN from 0 * inf).
        const float k = (z != 0 ? inv * (1.0f + 2.0f * z * lz) : inv) / sum;
#pragma omp simd
        for (int j = 0; j < V; ++j) row[j] *= k;
        row[tgt] -= inv;
        if (options.bf16) {
#pragma omp simd
          for (int j = 0; j < V; ++j)
            row[j] = RoundToBf16(row[j]);  // an operand of both GEMMs below
        }
      }
    }
    if (dx) {
      // dx[r0:r0+m] = dlogits @ W ; dW += dlogits^T @ x[r0:r0+m]
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, C, V, 1.0f, scratch, V, W, C, 0.0f,
                  dx + (int64_t)r0 * C, C);
      const float beta = (r0 == 0 && dW_overwrite) ? 0.0f : 1.0f;
      cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, V, C, m, 1.0f, scratch, V,
                  x + (int64_t)r0 * C, C, beta, dW, C);
    }
  }
  double total = 0;  // row order, double: thread-count independent
  for (int n = 0; n < N; ++n) total -= logprob[n];
  if (z != 0) {
    double z_total = 0;
    for (int n = 0; n < N; ++n) z_total += static_cast<double>(log_z[n]) * log_z[n];
    total += z * z_total;
  }
  return cnt ? static_cast<float>(total / cnt) : 0.0f;
}

}  // namespace ot::cpu
