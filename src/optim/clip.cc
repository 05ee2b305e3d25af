// Fixed-order reductions for clipping (see clip.h).
#include "optim/clip.h"

#include <cmath>
#include <vector>

namespace ot {
namespace {
// Chunk size of the fixed-order reduction: the result depends on it, never on the thread count.
constexpr int64_t kChunk = 4096;
}  // namespace

double SumSquares(std::span<const float> x) {
  const int64_t n = static_cast<int64_t>(x.size());
  const int64_t chunks = (n + kChunk - 1) / kChunk;
  std::vector<double> partial(chunks, 0.0);
  const float* p = x.data();
#pragma omp parallel for schedule(static)
  for (int64_t c = 0; c < chunks; ++c) {
    const int64_t end = std::min(n, (c + 1) * kChunk);
    double s = 0.0;
    for (int64_t i = c * kChunk; i < end; ++i) s += static_cast<double>(p[i]) * p[i];
    partial[c] = s;
  }
  double total = 0.0;
  for (double s : partial) total += s;
  return total;
}

double GlobalNorm(std::span<const float> x) { return std::sqrt(SumSquares(x)); }

double ClipGradNorm(std::span<float> g, double max_norm) {
  const double norm = GlobalNorm(g);
  if (max_norm > 0 && std::isfinite(norm) && norm > max_norm) {
    const float scale = static_cast<float>(max_norm / (norm + 1e-6));
    const int64_t n = static_cast<int64_t>(g.size());
    float* p = g.data();
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < n; ++i) p[i] *= scale;
  }
  return norm;
}

bool AllFinite(std::span<const float> x) {
  const int64_t n = static_cast<int64_t>(x.size());
  const float* p = x.data();
  int bad = 0;
#pragma omp parallel for schedule(static) reduction(| : bad)
  for (int64_t i = 0; i < n; ++i) bad |= !std::isfinite(p[i]);
  return bad == 0;
}

}  // namespace ot
