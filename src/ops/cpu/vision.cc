// The vision transformer's kernels (see vision.h): gathers, a scatter-free backward (channel
// loops, images in order) and a plain softmax over the few classes. Small next to the blocks'
// GEMMs, so plain loops.
#include "ops/cpu/vision.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "ops/reference/vision_ops.h"

namespace ot::cpu {

void Patchify(float* out, const float* pixels, int B, int S, int p, int channels) {
  const int side = S / p, Np = side * side, P = p * p * channels;
  const int64_t image = (int64_t)S * S * channels;
#pragma omp parallel for schedule(static)
  for (int64_t row = 0; row < (int64_t)B * Np; ++row) {
    const int64_t b = row / Np;
    const int py = static_cast<int>(row % Np) / side, px = static_cast<int>(row % Np) % side;
    float* o = out + row * P;
    for (int dy = 0; dy < p; ++dy)  // one patch row: p*channels contiguous pixels
      std::memcpy(o + (int64_t)dy * p * channels,
                  pixels + b * image + ((int64_t)(py * p + dy) * S + px * p) * channels,
                  sizeof(float) * p * channels);
  }
}

void ImageTokensForward(float* x, const float* emb, const float* cls, const float* pos, int B,
                        int Np, int C) {
  const int T = Np + (cls ? 1 : 0), first = cls ? 1 : 0;
#pragma omp parallel for schedule(static)
  for (int64_t row = 0; row < (int64_t)B * T; ++row) {
    const int64_t b = row / T;
    const int t = static_cast<int>(row % T);
    float* o = x + row * C;
    const float* src = t < first ? cls : emb + (b * Np + t - first) * C;
    for (int c = 0; c < C; ++c) o[c] = pos ? src[c] + pos[(int64_t)t * C + c] : src[c];
  }
}

void ImageTokensBackward(float* demb, float* dcls, float* dpos, const float* dx, int B, int Np,
                         int C) {
  const int T = Np + (dcls ? 1 : 0), first = dcls ? 1 : 0;
  for (int b = 0; b < B; ++b)
    std::memcpy(demb + (int64_t)b * Np * C, dx + ((int64_t)b * T + first) * C,
                sizeof(float) * Np * C);
    // Per channel, the images in order: the sum has one order at any thread count.
#pragma omp parallel for schedule(static)
  for (int c = 0; c < C; ++c)
    for (int b = 0; b < B; ++b) {
      const float* d = dx + (int64_t)b * T * C + c;
      if (dcls) dcls[c] += d[0];
      if (dpos)
        for (int t = 0; t < T; ++t) dpos[(int64_t)t * C + c] += d[(int64_t)t * C];
    }
}

void PoolForward(float* out, const float* x, int B, int T, int C, bool cls) {
#pragma omp parallel for schedule(static)
  for (int b = 0; b < B; ++b) {
    const float* xb = x + (int64_t)b * T * C;
    float* o = out + (int64_t)b * C;
    if (cls) {
      std::memcpy(o, xb, sizeof(float) * C);
      continue;
    }
    for (int c = 0; c < C; ++c) {
      float s = 0;
      for (int t = 0; t < T; ++t) s += xb[(int64_t)t * C + c];
      o[c] = s / static_cast<float>(T);
    }
  }
}

void PoolBackward(float* dx, const float* dout, int B, int T, int C, bool cls) {
  const float inv = 1.0f / static_cast<float>(T);
#pragma omp parallel for schedule(static)
  for (int b = 0; b < B; ++b) {
    float* d = dx + (int64_t)b * T * C;
    const float* g = dout + (int64_t)b * C;
    for (int t = 0; t < T; ++t)
      for (int c = 0; c < C; ++c) d[(int64_t)t * C + c] = cls ? (t == 0 ? g[c] : 0.0f) : g[c] * inv;
  }
}

float SoftmaxXent(float* logprob, float* dlogits, const float* logits, const int32_t* labels, int N,
                  int K) {
  const float inv = N ? 1.0f / static_cast<float>(N) : 0.0f;
#pragma omp parallel for schedule(static)
  for (int n = 0; n < N; ++n) {
    const float* z = logits + (int64_t)n * K;
    const float mx = *std::max_element(z, z + K);
    float sum = 0;
    for (int k = 0; k < K; ++k) sum += std::exp(z[k] - mx);
    logprob[n] = z[labels[n]] - mx - std::log(sum);
    if (dlogits) {
      float* d = dlogits + (int64_t)n * K;
      for (int k = 0; k < K; ++k) d[k] = std::exp(z[k] - mx) / sum * inv;
      d[labels[n]] -= inv;
    }
  }
  double total = 0;  // row order, double: thread-count independent
  for (int n = 0; n < N; ++n) total -= logprob[n];
  return N ? static_cast<float>(total / N) : 0.0f;
}

namespace {
// out (n,D) = rows of in divided by their L2 norm; inv_norm (n) the divisors' inverses if not null.
void NormaliseRows(float* out, const float* in, int n, int D) {
  for (int i = 0; i < n; ++i) {
    float ss = 0;
    for (int d = 0; d < D; ++d) ss += in[(int64_t)i * D + d] * in[(int64_t)i * D + d];
    const float inv = 1.0f / std::sqrt(ss);
    for (int d = 0; d < D; ++d) out[(int64_t)i * D + d] = in[(int64_t)i * D + d] * inv;
  }
}
// dx (n,D): du on entry, (du - u (u . du)) / |x| on return (the normalisation's backward).
void NormaliseRowsBackward(float* dx, const float* u, const float* x, int n, int D) {
  for (int i = 0; i < n; ++i) {
    float ss = 0, proj = 0;
    for (int d = 0; d < D; ++d) {
      ss += x[(int64_t)i * D + d] * x[(int64_t)i * D + d];
      proj += u[(int64_t)i * D + d] * dx[(int64_t)i * D + d];
    }
    const float inv = 1.0f / std::sqrt(ss);
    for (int d = 0; d < D; ++d)
      dx[(int64_t)i * D + d] = (dx[(int64_t)i * D + d] - u[(int64_t)i * D + d] * proj) * inv;
  }
}
}  // namespace

float SigLip(float* u, float* w, float* dx, float* dy, float* dt_log, float* dbias, const float* x,
             const float* y, float t_log, float bias, int B, int D) {
  NormaliseRows(u, x, B, D);
  NormaliseRows(w, y, B, D);
  const float t = std::exp(t_log);
  if (dx) {
    std::memset(dx, 0, sizeof(float) * B * D);
    std::memset(dy, 0, sizeof(float) * B * D);
  }
  double total = 0, dt = 0, db = 0;
  for (int i = 0; i < B; ++i)
    for (int j = 0; j < B; ++j) {
      const float* ui = u + (int64_t)i * D;
      const float* wj = w + (int64_t)j * D;
      float dot = 0;
      for (int d = 0; d < D; ++d) dot += ui[d] * wj[d];
      const float l = i == j ? 1.0f : -1.0f, z = t * dot + bias, a = l * z;
      total += std::min(a, 0.0f) - std::log1p(std::exp(-std::abs(a)));  // log sigmoid(a)
      if (!dx) continue;
      const float g = -l / (1.0f + std::exp(a)) / static_cast<float>(B);  // d loss / d z
      dt += static_cast<double>(g) * t * dot;
      db += g;
      for (int d = 0; d < D; ++d) {
        dx[(int64_t)i * D + d] += g * t * wj[d];
        dy[(int64_t)j * D + d] += g * t * ui[d];
      }
    }
  if (dx) {
    NormaliseRowsBackward(dx, u, x, B, D);
    NormaliseRowsBackward(dy, w, y, B, D);
    *dt_log = static_cast<float>(dt);
    *dbias = static_cast<float>(db);
  }
  return static_cast<float>(-total / B);
}

void Rope2dTable(float* cos, float* sin, int side, bool cls, int R, double theta) {
  const int T = side * side + (cls ? 1 : 0), h2 = R / 2;
  std::vector<double> angles((size_t)T * h2);
  ref::Rope2dAngles(angles.data(), side, cls, R, theta);
  for (int64_t i = 0; i < (int64_t)T * h2; ++i) {
    cos[i] = static_cast<float>(std::cos(angles[i]));
    sin[i] = static_cast<float>(std::sin(angles[i]));
  }
}

}  // namespace ot::cpu
