// The scalar reference of the vision transformer's ops (model/config.h, input = patches), in the
// conventions of ops.h (outputs, inputs, dims; every backward ACCUMULATES). The patch embedding is
// Patchify then ops.h's Matmul and Bias; the non-causal attention is ops.h's Attention with causal
// = false. Shapes: B images, Np patches per image, P = p*p*channels floats per patch, T tokens per
// image (Np, + 1 with a CLS token), C channels, K classes. Entry points: Patchify*, ImageTokens*,
// Pool*, SoftmaxXent*, BidirectionalAttention*, SigLip*, Rope2dAngles, RopeAngles*.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <tuple>
#include <utility>
#include <vector>

#include "ops/reference/ops.h"

namespace ot::ref {

// Cuts each image (row-major (S, S, channels), S = image side) into (S/p)^2 patches of p x p in
// raster order (patch row, then patch column); a patch's P = p*p*channels floats are ordered (dy,
// dx, channel): out[(b*Np + py*(S/p) + px), (dy*p + dx)*ch + c] = image[b][(py*p+dy, px*p+dx, c)].
// A permutation of the pixels (p divides S).
template <typename R>
void PatchifyForward(R* out, const R* pixels, int B, int S, int p, int channels) {
  // out (B*Np, P), pixels (B, S*S*channels)
  const int side = S / p, P = p * p * channels;
  const int64_t image = (int64_t)S * S * channels;
  for (int b = 0; b < B; ++b)
    for (int py = 0; py < side; ++py)
      for (int px = 0; px < side; ++px) {
        R* row = out + ((int64_t)b * side * side + py * side + px) * P;
        for (int dy = 0; dy < p; ++dy)
          for (int dx = 0; dx < p; ++dx)
            for (int c = 0; c < channels; ++c)
              row[(dy * p + dx) * channels + c] =
                  pixels[b * image + ((int64_t)(py * p + dy) * S + px * p + dx) * channels + c];
      }
}
template <typename R>
void PatchifyBackward(R* dpixels, const R* dout, int B, int S, int p, int channels) {
  // dpixels (B, S*S*channels), dout (B*Np, P)
  const int side = S / p, P = p * p * channels;
  const int64_t image = (int64_t)S * S * channels;
  for (int b = 0; b < B; ++b)
    for (int py = 0; py < side; ++py)
      for (int px = 0; px < side; ++px) {
        const R* row = dout + ((int64_t)b * side * side + py * side + px) * P;
        for (int dy = 0; dy < p; ++dy)
          for (int dx = 0; dx < p; ++dx)
            for (int c = 0; c < channels; ++c)
              dpixels[b * image + ((int64_t)(py * p + dy) * S + px * p + dx) * channels + c] +=
                  row[(dy * p + dx) * channels + c];
      }
}

// The token sequence of each image: x[b] = [cls; emb[b]] + pos (ViT, Dosovitskiy et al. 2021, eq.
// 1). cls (C) may be null (no CLS token: T = Np), pos (T,C) may be null (no learned positions).
template <typename R>
void ImageTokensForward(R* x, const R* emb, const R* cls, const R* pos, int B, int Np, int C) {
  // x (B,T,C), emb (B,Np,C)
  const int T = Np + (cls ? 1 : 0), first = cls ? 1 : 0;
  for (int b = 0; b < B; ++b)
    for (int t = 0; t < T; ++t)
      for (int c = 0; c < C; ++c) {
        R v = t < first ? cls[c] : emb[((int64_t)b * Np + t - first) * C + c];
        if (pos) v += pos[(int64_t)t * C + c];
        x[((int64_t)b * T + t) * C + c] = v;
      }
}
template <typename R>
void ImageTokensBackward(R* demb, R* dcls, R* dpos, const R* dx, int B, int Np, int C) {
  // demb (B,Np,C); dcls (C) [null: no CLS]; dpos (T,C) [null: no positions]; dx (B,T,C)
  const int T = Np + (dcls ? 1 : 0), first = dcls ? 1 : 0;
  for (int b = 0; b < B; ++b)
    for (int t = 0; t < T; ++t)
      for (int c = 0; c < C; ++c) {
        const R d = dx[((int64_t)b * T + t) * C + c];
        if (t < first) {
          dcls[c] += d;
        } else {
          demb[((int64_t)b * Np + t - first) * C + c] += d;
        }
        if (dpos) dpos[(int64_t)t * C + c] += d;
      }
}

// The pooled representation of each image: its first token (cls = true: the CLS token) or the
// mean of its T tokens.
template <typename R>
void PoolForward(R* out, const R* x, int B, int T, int C, bool cls) {
  // out (B,C), x (B,T,C)
  for (int b = 0; b < B; ++b)
    for (int c = 0; c < C; ++c) {
      R s = 0;
      for (int t = 0; t < (cls ? 1 : T); ++t) s += x[((int64_t)b * T + t) * C + c];
      out[(int64_t)b * C + c] = cls ? s : s / R(T);
    }
}
template <typename R>
void PoolBackward(R* dx, const R* dout, int B, int T, int C, bool cls) {
  // dx (B,T,C), dout (B,C)
  for (int b = 0; b < B; ++b)
    for (int c = 0; c < C; ++c)
      for (int t = 0; t < (cls ? 1 : T); ++t)
        dx[((int64_t)b * T + t) * C + c] +=
            cls ? dout[(int64_t)b * C + c] : dout[(int64_t)b * C + c] / R(T);
}

// Softmax cross-entropy of N rows of K logits against labels in [0, K): logprob[n] = log
// softmax(logits[n])[labels[n]]; returns the mean NLL over the N rows.
template <typename R>
R SoftmaxXentForward(R* logprob, const R* logits, const int32_t* labels, int N, int K) {
  // logprob (N), logits (N,K), labels (N)
  R total = 0;
  for (int n = 0; n < N; ++n) {
    const R* z = logits + (int64_t)n * K;
    const R mx = *std::max_element(z, z + K);
    R sum = 0;
    for (int k = 0; k < K; ++k) sum += std::exp(z[k] - mx);
    logprob[n] = z[labels[n]] - mx - std::log(sum);
    total -= logprob[n];
  }
  return N ? total / R(N) : R(0);
}
// dlogits (N,K) += dloss * (softmax - onehot) / N: the gradient of dloss * the mean.
template <typename R>
void SoftmaxXentBackward(R* dlogits, R dloss, const R* logits, const int32_t* labels, int N,
                         int K) {
  std::vector<R> e(K);
  for (int n = 0; n < N; ++n) {
    const R* z = logits + (int64_t)n * K;
    const R mx = *std::max_element(z, z + K);
    R sum = 0;
    for (int k = 0; k < K; ++k) sum += (e[k] = std::exp(z[k] - mx));
    for (int k = 0; k < K; ++k)
      dlogits[(int64_t)n * K + k] += dloss * (e[k] / sum - (k == labels[n])) / R(N);
  }
}

// Bidirectional grouped-query attention: ops.h's attention with every position reading every
// position, out_t = sum_s P[t,s] v_s, P[t,:] = softmax_s(q_t . k_s / sqrt(HS)) over all T keys.
// Same layouts and strides; probs (B,NH,T,T) is saved for the backward.
template <typename R>
void BidirectionalAttentionForward(R* out, R* probs, const R* q, const R* k, const R* v, int B,
                                   int T, int NH, int KH, int HS, int64_t q_stride,
                                   int64_t kv_stride) {
  AttentionForward<R, false>(out, probs, q, k, v, B, T, NH, KH, HS, q_stride, kv_stride);
}
template <typename R>
void BidirectionalAttentionBackward(R* dq, R* dk, R* dv, const R* dout, const R* probs, const R* q,
                                    const R* k, const R* v, int B, int T, int NH, int KH, int HS,
                                    int64_t q_stride, int64_t kv_stride) {
  AttentionBackward<R, false>(dq, dk, dv, dout, probs, q, k, v, B, T, NH, KH, HS, q_stride,
                              kv_stride);
}

// 2-D RoPE's angles (T, rot/2) for the tokens of one image: a patch at grid (py, px) sits at
// (row, col) = (py + 1, px + 1) and the CLS token (cls = true, token 0) at (0, 0). The first rot/4
// rotated pairs turn with the row, the other rot/4 with the column, each half at the 1-D RoPE
// frequencies of rot/2 dims: angle(t, i) = row(t) theta^(-4i/rot) for i < rot/4, and
// col(t) theta^(-4(i - rot/4)/rot) after. rot divisible by 4. Since a rotation by a and one by b
// give q . k a dependence on b - a only, attention then sees the offset in rows and in columns.
template <typename R>
void Rope2dAngles(R* angles, int side, bool cls, int rot, double theta) {
  const int T = side * side + (cls ? 1 : 0), q = rot / 4;
  for (int t = 0; t < T; ++t) {
    const int k = t - (cls ? 1 : 0);
    const double row = k < 0 ? 0 : k / side + 1, col = k < 0 ? 0 : k % side + 1;
    for (int i = 0; i < q; ++i) {
      const double freq = std::pow(theta, -4.0 * i / rot);
      angles[(int64_t)t * (rot / 2) + i] = R(row * freq);
      angles[(int64_t)t * (rot / 2) + q + i] = R(col * freq);
    }
  }
}

// ops.h's rotate-half RoPE with the angle of pair i at position t read from angles (T, rot/2)
// instead of computed from t (Rope2dAngles' table; any table).
template <typename R>
void RopeAnglesForward(R* out, const R* x, const R* angles, int B, int T, int NH, int HS,
                       int64_t stride, int rot) {
  const int h2 = rot / 2;
  for (int b = 0; b < B; ++b)
    for (int t = 0; t < T; ++t)
      for (int h = 0; h < NH; ++h) {
        const int64_t base = ((int64_t)b * T + t) * stride + (int64_t)h * HS;
        for (int i = 0; i < h2; ++i) {
          const R ang = angles[(int64_t)t * h2 + i], c = std::cos(ang), s = std::sin(ang);
          const R x1 = x[base + i], x2 = x[base + i + h2];
          out[base + i] = x1 * c - x2 * s;
          out[base + i + h2] = x2 * c + x1 * s;
        }
        for (int j = rot; j < HS; ++j) out[base + j] = x[base + j];
      }
}
template <typename R>
void RopeAnglesBackward(R* dx, const R* dout, const R* angles, int B, int T, int NH, int HS,
                        int64_t stride, int rot) {
  const int h2 = rot / 2;
  for (int b = 0; b < B; ++b)
    for (int t = 0; t < T; ++t)
      for (int h = 0; h < NH; ++h) {
        const int64_t base = ((int64_t)b * T + t) * stride + (int64_t)h * HS;
        for (int i = 0; i < h2; ++i) {
          const R ang = angles[(int64_t)t * h2 + i], c = std::cos(ang), s = std::sin(ang);
          const R d1 = dout[base + i], d2 = dout[base + i + h2];
          dx[base + i] += d1 * c + d2 * s;
          dx[base + i + h2] += d2 * c - d1 * s;
        }
        for (int j = rot; j < HS; ++j) dx[base + j] += dout[base + j];
      }
}

// SigLIP's pairwise sigmoid loss (Zhai et al. 2023, Algorithm 1) over B pairs of embeddings x_i,
// y_i (B,D): with u = x / |x|, w = y / |y| (L2 rows), t = exp(t_log) and z_ij = t u_i . w_j + bias,
// loss = -1/B sum_i sum_j log sigmoid(l_ij z_ij), l_ij = 1 if i == j else -1 (the paper's
// initialisation: t_log = log 10, bias = -10). log sigmoid(a) = min(a, 0) - log1p(exp(-|a|)),
// exact for either sign. u, w (B,D) are written for the backward.
template <typename R>
R SigLipForward(R* u, R* w, const R* x, const R* y, R t_log, R bias, int B, int D) {
  for (int i = 0; i < B; ++i)
    for (auto [out, in] : {std::pair{u, x}, std::pair{w, y}}) {
      R ss = 0;
      for (int d = 0; d < D; ++d) ss += in[(int64_t)i * D + d] * in[(int64_t)i * D + d];
      const R inv = R(1) / std::sqrt(ss);
      for (int d = 0; d < D; ++d) out[(int64_t)i * D + d] = in[(int64_t)i * D + d] * inv;
    }
  const R t = std::exp(t_log);
  R total = 0;
  for (int i = 0; i < B; ++i)
    for (int j = 0; j < B; ++j) {
      R dot = 0;
      for (int d = 0; d < D; ++d) dot += u[(int64_t)i * D + d] * w[(int64_t)j * D + d];
      const R a = (i == j ? R(1) : R(-1)) * (t * dot + bias);
      total += std::min(a, R(0)) - std::log1p(std::exp(-std::abs(a)));
    }
  return -total / R(B);
}
// dx, dy (B,D), dt_log, dbias accumulate dloss * the gradient of SigLipForward's loss. u, w from
// the forward; x, y for their norms. With g_ij = d loss / d z_ij = -l_ij sigmoid(-l_ij z_ij) / B:
// d t_log = sum g_ij t u_i . w_j, d bias = sum g_ij, d u_i = t sum_j g_ij w_j, and through the
// normalisation dx_i = (du_i - u_i (u_i . du_i)) / |x_i| (likewise y).
template <typename R>
void SigLipBackward(R* dx, R* dy, R* dt_log, R* dbias, R dloss, const R* u, const R* w, const R* x,
                    const R* y, R t_log, R bias, int B, int D) {
  const R t = std::exp(t_log);
  std::vector<R> du((int64_t)B * D, 0), dw((int64_t)B * D, 0);
  for (int i = 0; i < B; ++i)
    for (int j = 0; j < B; ++j) {
      R dot = 0;
      for (int d = 0; d < D; ++d) dot += u[(int64_t)i * D + d] * w[(int64_t)j * D + d];
      const R l = i == j ? R(1) : R(-1), z = t * dot + bias;
      const R g = -l / (R(1) + std::exp(l * z)) / R(B) * dloss;  // -l sigmoid(-l z) / B
      *dt_log += g * t * dot;
      *dbias += g;
      for (int d = 0; d < D; ++d) {
        du[(int64_t)i * D + d] += g * t * w[(int64_t)j * D + d];
        dw[(int64_t)j * D + d] += g * t * u[(int64_t)i * D + d];
      }
    }
  for (auto [dout, din, n, in] : {std::tuple{dx, du.data(), u, x}, std::tuple{dy, dw.data(), w, y}})
    for (int i = 0; i < B; ++i) {
      R ss = 0, proj = 0;
      for (int d = 0; d < D; ++d) {
        ss += in[(int64_t)i * D + d] * in[(int64_t)i * D + d];
        proj += n[(int64_t)i * D + d] * din[(int64_t)i * D + d];
      }
      const R inv = R(1) / std::sqrt(ss);
      for (int d = 0; d < D; ++d)
        dout[(int64_t)i * D + d] += (din[(int64_t)i * D + d] - n[(int64_t)i * D + d] * proj) * inv;
    }
}

}  // namespace ot::ref
