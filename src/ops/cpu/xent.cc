// Fused LM head + log-softmax + NLL (+ its backward) over row blocks (see kernels.h): per block one GEMM
// for the logits, one fused pass (max, exp, sum, log-prob, softmax - onehot in place), then two GEMMs for
// dx and dW. The (N,V) logits and log-probs are never materialised; no fills.
#include <cblas.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "ops/cpu/kernels.h"

namespace ot::cpu {

float LmHeadXent(float* logprob, float* dx, float* dW, const float* x, const float* W,
                 const int32_t* targets, int N, int C, int V, float* scratch, int block_rows,
                 int64_t* count, bool dW_overwrite) {
  int64_t cnt = 0;
  for (int n = 0; n < N; ++n) cnt += targets[n] >= 0;
  *count = cnt;
  const float inv = cnt ? 1.0f / static_cast<float>(cnt) : 0.0f;
  for (int r0 = 0; r0 < N; r0 += block_rows) {
    const int m = std::min(block_rows, N - r0);
    // logits (m,V) = x[r0:r0+m] (m,C) @ W^T
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m, V, C, 1.0f, x + (int64_t)r0 * C, C, W, C,
                0.0f, scratch, V);
#pragma omp parallel for schedule(static)
    for (int i = 0; i < m; ++i) {
      float* row = scratch + (int64_t)i * V;
      const int n = r0 + i, tgt = targets[n];
      if (tgt < 0) {
        logprob[n] = 0;
        if (dx) std::memset(row, 0, sizeof(float) * V);
        continue;
      }
      float mx = row[0];
      // Written as a compare (vmaxps): GCC 12 does not vectorise the std::max form of this reduction.
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
        const float k = inv / sum;
#pragma omp simd
        for (int j = 0; j < V; ++j) row[j] *= k;
        row[tgt] -= inv;  // d(mean NLL)/d logits = (softmax - onehot) / count
      } else {
#pragma omp simd reduction(+ : sum)
        for (int j = 0; j < V; ++j) sum += FastExp(row[j] - mx);
      }
      logprob[n] = target_logit - mx - std::log(sum);
    }
    if (dx) {
      // dx[r0:r0+m] = dlogits @ W ; dW += dlogits^T @ x[r0:r0+m]
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, C, V, 1.0f, scratch, V, W, C, 0.0f,
                  dx + (int64_t)r0 * C, C);
      const float beta = (r0 == 0 && dW_overwrite) ? 0.0f : 1.0f;
      cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, V, C, m, 1.0f, scratch, V, x + (int64_t)r0 * C,
                  C, beta, dW, C);
    }
  }
  double total = 0;  // row order, double: thread-count independent
  for (int n = 0; n < N; ++n) total -= logprob[n];
  return cnt ? static_cast<float>(total / cnt) : 0.0f;
}

}  // namespace ot::cpu
