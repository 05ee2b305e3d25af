// The scalar reference ops: the specification of every kernel, forward + backward, templated on the
// scalar R so gradient checks run in double. Plain loops, no threads, no cleverness.
// Convention (docs/design.md, style rule 3): outputs first, then inputs, then dims; every backward
// ACCUMULATES (+=) into all of its gradient outputs, input gradients as well as parameter
// gradients. Shapes: N rows (= B*T), C channels, V vocabulary, F MLP width, NH query heads, KH
// key/value heads, HS = C/NH head size. Entry points: Embedding*, RmsNorm*, LayerNorm*, Matmul*,
// Bias*, Rope*, Attention*, Clamp*, SwiGlu*, Gelu*, LmHeadXent*.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <numbers>
#include <vector>

namespace ot::ref {

// out[n,:] = table[ids[n],:]
template <typename R>
void EmbeddingForward(R* out, const int32_t* ids, const R* table, int N, int C) {
  // out (N,C), ids (N), table (V,C)
  for (int n = 0; n < N; ++n)
    for (int c = 0; c < C; ++c) out[(int64_t)n * C + c] = table[(int64_t)ids[n] * C + c];
}
template <typename R>
void EmbeddingBackward(R* dtable, const R* dout, const int32_t* ids, int N, int C) {
  // dtable (V,C), dout (N,C)
  for (int n = 0; n < N; ++n)
    for (int c = 0; c < C; ++c) dtable[(int64_t)ids[n] * C + c] += dout[(int64_t)n * C + c];
}

// RMSNorm: out = x * rstd * gain, rstd = 1/sqrt(mean(x^2) + eps). gain may be null (no gain).
template <typename R>
void RmsNormForward(R* out, R* rstd, const R* x, const R* gain, int N, int C, double eps) {
  // out (N,C), rstd (N), x (N,C), gain (C)
  for (int n = 0; n < N; ++n) {
    const R* xr = x + (int64_t)n * C;
    R ss = 0;
    for (int c = 0; c < C; ++c) ss += xr[c] * xr[c];
    const R r = R(1) / std::sqrt(ss / C + R(eps));
    rstd[n] = r;
    for (int c = 0; c < C; ++c) out[(int64_t)n * C + c] = xr[c] * r * (gain ? gain[c] : R(1));
  }
}
template <typename R>
void RmsNormBackward(R* dx, R* dgain, const R* dout, const R* x, const R* gain, const R* rstd,
                     int N, int C) {
  // dx (N,C), dgain (C) (null when gain is null), dout (N,C), x (N,C), gain (C), rstd (N)
  for (int n = 0; n < N; ++n) {
    const R* xr = x + (int64_t)n * C;
    const R* dy = dout + (int64_t)n * C;
    const R r = rstd[n];
    R dot = 0;  // sum_c g_c dy_c x_c
    for (int c = 0; c < C; ++c) dot += (gain ? gain[c] : R(1)) * dy[c] * xr[c];
    for (int c = 0; c < C; ++c) {
      const R g = gain ? gain[c] : R(1);
      dx[(int64_t)n * C + c] += r * g * dy[c] - r * r * r * xr[c] * dot / C;
      if (dgain) dgain[c] += dy[c] * xr[c] * r;
    }
  }
}

// LayerNorm: out = (x - mean) * rstd * gain + bias, rstd = 1/sqrt(var + eps) (biased variance, as
// torch.nn.LayerNorm). gain and bias may each be null (OLMo's non-parametric LayerNorm has neither;
// GPT-NeoX's has both).
template <typename R>
void LayerNormForward(R* out, R* mean, R* rstd, const R* x, const R* gain, const R* bias, int N,
                      int C, double eps) {
  // out (N,C), mean (N), rstd (N), x (N,C), gain (C), bias (C)
  for (int n = 0; n < N; ++n) {
    const R* xr = x + (int64_t)n * C;
    R m = 0;
    for (int c = 0; c < C; ++c) m += xr[c];
    m /= C;
    R v = 0;
    for (int c = 0; c < C; ++c) v += (xr[c] - m) * (xr[c] - m);
    const R r = R(1) / std::sqrt(v / C + R(eps));
    mean[n] = m;
    rstd[n] = r;
    for (int c = 0; c < C; ++c) {
      R y = (xr[c] - m) * r;
      if (gain) y *= gain[c];
      if (bias) y += bias[c];
      out[(int64_t)n * C + c] = y;
    }
  }
}
template <typename R>
void LayerNormBackward(R* dx, R* dgain, R* dbias, const R* dout, const R* x, const R* gain,
                       const R* mean, const R* rstd, int N, int C) {
  // dx (N,C), dgain (C), dbias (C) (each gradient null when its parameter is), dout (N,C).
  // With g = dout * gain and xhat = (x - mean) * rstd: dx = rstd * (g - mean(g) - xhat * mean(g *
  // xhat)).
  std::vector<R> g(C);
  for (int n = 0; n < N; ++n) {
    const R* xr = x + (int64_t)n * C;
    const R* dy = dout + (int64_t)n * C;
    R mdy = 0, mdyx = 0;
    for (int c = 0; c < C; ++c) {
      g[c] = gain ? dy[c] * gain[c] : dy[c];
      mdy += g[c];
      mdyx += g[c] * (xr[c] - mean[n]) * rstd[n];
      if (dgain) dgain[c] += dy[c] * (xr[c] - mean[n]) * rstd[n];
      if (dbias) dbias[c] += dy[c];
    }
    mdy /= C;
    mdyx /= C;
    for (int c = 0; c < C; ++c)
      dx[(int64_t)n * C + c] += rstd[n] * (g[c] - mdy - (xr[c] - mean[n]) * rstd[n] * mdyx);
  }
}
// Non-parametric LayerNorm (OLMo): no gain, no bias.
template <typename R>
void LayerNormForward(R* out, R* mean, R* rstd, const R* x, int N, int C, double eps) {
  LayerNormForward(out, mean, rstd, x, static_cast<const R*>(nullptr),
                   static_cast<const R*>(nullptr), N, C, eps);
}
template <typename R>
void LayerNormBackward(R* dx, const R* dout, const R* x, const R* mean, const R* rstd, int N,
                       int C) {
  LayerNormBackward(dx, static_cast<R*>(nullptr), static_cast<R*>(nullptr), dout, x,
                    static_cast<const R*>(nullptr), mean, rstd, N, C);
}

// out = in @ W^T (a bias-free linear layer, W stored [out, in] like torch).
template <typename R>
void MatmulForward(R* out, const R* in, const R* W, int N, int I, int O) {
  // out (N,O), in (N,I), W (O,I)
  for (int n = 0; n < N; ++n)
    for (int o = 0; o < O; ++o) {
      R s = 0;
      for (int i = 0; i < I; ++i) s += in[(int64_t)n * I + i] * W[(int64_t)o * I + i];
      out[(int64_t)n * O + o] = s;
    }
}
template <typename R>
void MatmulBackward(R* din, R* dW, const R* dout, const R* in, const R* W, int N, int I, int O) {
  // din (N,I), dW (O,I), dout (N,O)
  for (int n = 0; n < N; ++n)
    for (int o = 0; o < O; ++o) {
      const R d = dout[(int64_t)n * O + o];
      for (int i = 0; i < I; ++i) {
        din[(int64_t)n * I + i] += d * W[(int64_t)o * I + i];
        dW[(int64_t)o * I + i] += d * in[(int64_t)n * I + i];
      }
    }
}

// RoPE, rotate-half convention (Llama / HF GPT-NeoX) on the first `rot` dims of each head (rot
// even,
// <= HS; rot = HS is full rotary): for i < rot/2 with angle = t * theta^(-2i/rot),
//   y[i] = x[i] cos - x[i+rot/2] sin,  y[i+rot/2] = x[i+rot/2] cos + x[i] sin;  y[j] = x[j] for j
//   >= rot.
// Applied to x (B,T,NH*HS) laid out with row stride `stride` (so q and k inside a packed qkv buffer
// work).
template <typename R>
void RopeForward(R* out, const R* x, int B, int T, int NH, int HS, int64_t stride, double theta,
                 int rot) {
  const int h2 = rot / 2;
  for (int b = 0; b < B; ++b)
    for (int t = 0; t < T; ++t)
      for (int h = 0; h < NH; ++h) {
        const int64_t base = ((int64_t)b * T + t) * stride + (int64_t)h * HS;
        for (int i = 0; i < h2; ++i) {
          const double ang = t * std::pow(theta, -2.0 * i / rot);
          const R c = R(std::cos(ang)), s = R(std::sin(ang));
          const R x1 = x[base + i], x2 = x[base + i + h2];
          out[base + i] = x1 * c - x2 * s;
          out[base + i + h2] = x2 * c + x1 * s;
        }
        for (int j = rot; j < HS; ++j) out[base + j] = x[base + j];
      }
}
template <typename R>
void RopeBackward(R* dx, const R* dout, int B, int T, int NH, int HS, int64_t stride, double theta,
                  int rot) {
  const int h2 = rot / 2;
  for (int b = 0; b < B; ++b)
    for (int t = 0; t < T; ++t)
      for (int h = 0; h < NH; ++h) {
        const int64_t base = ((int64_t)b * T + t) * stride + (int64_t)h * HS;
        for (int i = 0; i < h2; ++i) {
          const double ang = t * std::pow(theta, -2.0 * i / rot);
          const R c = R(std::cos(ang)), s = R(std::sin(ang));
          const R d1 = dout[base + i], d2 = dout[base + i + h2];
          dx[base + i] += d1 * c + d2 * s;
          dx[base + i + h2] += d2 * c - d1 * s;
        }
        for (int j = rot; j < HS; ++j) dx[base + j] += dout[base + j];
      }
}
// Full rotary (rot = HS).
template <typename R>
void RopeForward(R* out, const R* x, int B, int T, int NH, int HS, int64_t stride, double theta) {
  RopeForward(out, x, B, T, NH, HS, stride, theta, HS);
}
template <typename R>
void RopeBackward(R* dx, const R* dout, int B, int T, int NH, int HS, int64_t stride,
                  double theta) {
  RopeBackward(dx, dout, B, T, NH, HS, stride, theta, HS);
}

// Causal grouped-query attention: query head h reads key/value head h / (NH/KH) (KH divides NH; KH
// = NH is multi-head attention). For head h, out_t = sum_{s<=t} P[t,s] v_s, P[t,:] = softmax_s(q_t
// . k_s / sqrt(HS)) over s <= t. q (B,T,NH*HS) has row stride q_stride, k and v (B,T,KH*HS) row
// stride kv_stride (separate tensors: C and KV; inside a packed (C+2KV) qkv buffer both are C+2KV);
// out (B,T,C) is dense. Head h occupies channels [h*HS, (h+1)*HS). probs (B,NH,T,T) is saved for
// the backward (zero above the diagonal). kCausal = false is the bidirectional attention of a
// vision transformer: every position reads all T keys (the sums run over s < T instead of s <= t;
// a compile-time switch, so the causal arithmetic is the same code as before it existed).
template <typename R, bool kCausal = true>
void AttentionForward(R* out, R* probs, const R* q, const R* k, const R* v, int B, int T, int NH,
                      int KH, int HS, int64_t q_stride, int64_t kv_stride) {
  const int C = NH * HS, group = NH / KH;
  const R scale = R(1) / std::sqrt(R(HS));
  for (int b = 0; b < B; ++b)
    for (int h = 0; h < NH; ++h) {
      R* P = probs + ((int64_t)b * NH + h) * T * T;
      const int64_t hk = (int64_t)(h / group) * HS;  // the kv head's channel offset
      for (int t = 0; t < T; ++t) {
        const R* qt = q + ((int64_t)b * T + t) * q_stride + h * HS;
        R mx = -INFINITY;
        for (int s = 0; s < (kCausal ? t + 1 : T); ++s) {
          const R* ks = k + ((int64_t)b * T + s) * kv_stride + hk;
          R dot = 0;
          for (int i = 0; i < HS; ++i) dot += qt[i] * ks[i];
          P[t * T + s] = dot * scale;
          mx = std::max(mx, P[t * T + s]);
        }
        R sum = 0;
        for (int s = 0; s < (kCausal ? t + 1 : T); ++s)
          sum += (P[t * T + s] = std::exp(P[t * T + s] - mx));
        for (int s = 0; s < (kCausal ? t + 1 : T); ++s) P[t * T + s] /= sum;
        if constexpr (kCausal)
          for (int s = t + 1; s < T; ++s) P[t * T + s] = 0;
        R* ot = out + ((int64_t)b * T + t) * C + h * HS;
        for (int i = 0; i < HS; ++i) {
          R acc = 0;
          for (int s = 0; s < (kCausal ? t + 1 : T); ++s)
            acc += P[t * T + s] * v[((int64_t)b * T + s) * kv_stride + hk + i];
          ot[i] = acc;
        }
      }
    }
}
template <typename R, bool kCausal = true>
void AttentionBackward(R* dq, R* dk, R* dv, const R* dout, const R* probs, const R* q, const R* k,
                       const R* v, int B, int T, int NH, int KH, int HS, int64_t q_stride,
                       int64_t kv_stride) {
  // dq, dk, dv: like q, k, v (same row strides); dout (B,T,C). dk, dv sum over the heads of a
  // group.
  const int C = NH * HS, group = NH / KH;
  const R scale = R(1) / std::sqrt(R(HS));
  std::vector<R> dp(T);
  for (int b = 0; b < B; ++b)
    for (int h = 0; h < NH; ++h) {
      const R* P = probs + ((int64_t)b * NH + h) * T * T;
      const int64_t hk = (int64_t)(h / group) * HS;
      for (int t = 0; t < T; ++t) {
        const R* dot = dout + ((int64_t)b * T + t) * C + h * HS;
        R sum = 0;  // sum_s P[t,s] dP[t,s]
        for (int s = 0; s < (kCausal ? t + 1 : T); ++s) {
          const int64_t vs = ((int64_t)b * T + s) * kv_stride + hk;
          R d = 0;
          for (int i = 0; i < HS; ++i) {
            d += dot[i] * v[vs + i];
            dv[vs + i] += P[t * T + s] * dot[i];
          }
          dp[s] = d;
          sum += P[t * T + s] * d;
        }
        const int64_t qt = ((int64_t)b * T + t) * q_stride + h * HS;
        for (int s = 0; s < (kCausal ? t + 1 : T); ++s) {
          const R ds = P[t * T + s] * (dp[s] - sum) * scale;  // d score (pre-softmax, pre-scale)
          const int64_t ks = ((int64_t)b * T + s) * kv_stride + hk;
          for (int i = 0; i < HS; ++i) {
            dq[qt + i] += ds * k[ks + i];
            dk[ks + i] += ds * q[qt + i];
          }
        }
      }
    }
}
// Multi-head attention (KH = NH), q, k, v all with row stride `stride` (C separate, 3C packed).
template <typename R>
void AttentionForward(R* out, R* probs, const R* q, const R* k, const R* v, int B, int T, int NH,
                      int HS, int64_t stride) {
  AttentionForward(out, probs, q, k, v, B, T, NH, NH, HS, stride, stride);
}
template <typename R>
void AttentionBackward(R* dq, R* dk, R* dv, const R* dout, const R* probs, const R* q, const R* k,
                       const R* v, int B, int T, int NH, int HS, int64_t stride) {
  AttentionBackward(dq, dk, dv, dout, probs, q, k, v, B, T, NH, NH, HS, stride, stride);
}

// SwiGLU: out = silu(gate) * up, silu(g) = g * sigmoid(g). gate/up rows have stride `stride` (F for
// separate tensors, 2F when packed [gate | up] per row).
template <typename R>
void SwiGluForward(R* out, const R* gate, const R* up, int N, int F, int64_t stride) {
  // out (N,F)
  for (int n = 0; n < N; ++n)
    for (int f = 0; f < F; ++f) {
      const R g = gate[(int64_t)n * stride + f];
      out[(int64_t)n * F + f] = g / (R(1) + std::exp(-g)) * up[(int64_t)n * stride + f];
    }
}
template <typename R>
void SwiGluBackward(R* dgate, R* dup, const R* dout, const R* gate, const R* up, int N, int F,
                    int64_t stride) {
  for (int n = 0; n < N; ++n)
    for (int f = 0; f < F; ++f) {
      const int64_t i = (int64_t)n * stride + f;
      const R g = gate[i], sg = R(1) / (R(1) + std::exp(-g)), d = dout[(int64_t)n * F + f];
      dgate[i] += d * up[i] * sg * (R(1) + g * (R(1) - sg));
      dup[i] += d * g * sg;
    }
}

// Exact GELU (torch's default, GPT-NeoX hidden_act "gelu"): out = x Phi(x) = x/2 (1 + erf(x/sqrt
// 2)).
template <typename R>
void GeluForward(R* out, const R* x, int N, int F) {
  // out (N,F), x (N,F)
  for (int64_t i = 0; i < (int64_t)N * F; ++i)
    out[i] = R(0.5) * x[i] * (R(1) + std::erf(x[i] / std::sqrt(R(2))));
}
template <typename R>
void GeluBackward(R* dx, const R* dout, const R* x, int N, int F) {
  // d/dx x Phi(x) = Phi(x) + x phi(x), phi the standard normal density.
  const R inv_sqrt_2pi = R(1) / std::sqrt(R(2) * R(std::numbers::pi));
  for (int64_t i = 0; i < (int64_t)N * F; ++i) {
    const R cdf = R(0.5) * (R(1) + std::erf(x[i] / std::sqrt(R(2))));
    dx[i] += dout[i] * (cdf + x[i] * inv_sqrt_2pi * std::exp(R(-0.5) * x[i] * x[i]));
  }
}

// Bias of a linear layer, broadcast over rows: out[n,o] += bias[o] (in place, after the Matmul).
template <typename R>
void BiasForward(R* out, const R* bias, int N, int O) {
  // out (N,O), bias (O)
  for (int n = 0; n < N; ++n)
    for (int o = 0; o < O; ++o) out[(int64_t)n * O + o] += bias[o];
}
template <typename R>
void BiasBackward(R* dbias, const R* dout, int N, int O) {
  // dbias (O) += sum over rows of dout (N,O); the input gradient is dout itself (identity).
  for (int n = 0; n < N; ++n)
    for (int o = 0; o < O; ++o) dbias[o] += dout[(int64_t)n * O + o];
}

// Clamp to [-c, c] (OLMo-1's clip_qkv), as torch.clamp: the gradient passes where -c <= x <= c (the
// bounds included) and is 0 outside.
template <typename R>
void ClampForward(R* out, const R* x, int N, int C, double c) {
  // out (N,C), x (N,C)
  for (int64_t i = 0; i < (int64_t)N * C; ++i) out[i] = std::min(std::max(x[i], R(-c)), R(c));
}
template <typename R>
void ClampBackward(R* dx, const R* dout, const R* x, int N, int C, double c) {
  for (int64_t i = 0; i < (int64_t)N * C; ++i)
    if (x[i] >= R(-c) && x[i] <= R(c)) dx[i] += dout[i];
}

// Fused LM head + softmax cross-entropy: logits = x @ W^T (V per row), logprob[n] = log
// softmax(logits) [target[n]]. Rows with target < 0 are ignored (logprob 0, no gradient). Returns
// the mean over the counted rows (0 if none) of NLL + z_loss * log^2 Z, log Z = logsumexp(logits)
// (z-loss, PaLM section 5; z_loss = 0: the mean NLL); *count receives their number; log_z (N), if
// given, receives log Z (0 where ignored).
template <typename R>
R LmHeadXentForward(R* logprob, const R* x, const R* W, const int32_t* targets, int N, int C, int V,
                    int64_t* count, R z_loss = 0, R* log_z = nullptr) {
  // logprob (N), x (N,C), W (V,C), targets (N)
  std::vector<R> logits(V);
  R total = 0;
  int64_t cnt = 0;
  for (int n = 0; n < N; ++n) {
    if (log_z) log_z[n] = 0;
    if (targets[n] < 0) {
      logprob[n] = 0;
      continue;
    }
    MatmulForward(logits.data(), x + (int64_t)n * C, W, 1, C, V);
    R mx = logits[0];
    for (int j = 1; j < V; ++j) mx = std::max(mx, logits[j]);
    R sum = 0;
    for (int j = 0; j < V; ++j) sum += std::exp(logits[j] - mx);
    const R lz = mx + std::log(sum);
    logprob[n] = logits[targets[n]] - mx - std::log(sum);
    if (log_z) log_z[n] = lz;
    total += -logprob[n] + z_loss * lz * lz;
    ++cnt;
  }
  *count = cnt;
  return cnt ? total / R(cnt) : R(0);
}
// Gradient of dloss * (the mean Forward returns, with the same z_loss) w.r.t. x and W
// (accumulated): d/d logits = (softmax * (1 + 2 z_loss log Z) - onehot) / count.
template <typename R>
void LmHeadXentBackward(R* dx, R* dW, R dloss, const R* x, const R* W, const int32_t* targets,
                        int N, int C, int V, R z_loss = 0) {
  // dx (N,C), dW (V,C)
  int64_t cnt = 0;
  for (int n = 0; n < N; ++n) cnt += targets[n] >= 0;
  if (cnt == 0) return;
  std::vector<R> logits(V);
  for (int n = 0; n < N; ++n) {
    if (targets[n] < 0) continue;
    MatmulForward(logits.data(), x + (int64_t)n * C, W, 1, C, V);
    R mx = logits[0];
    for (int j = 1; j < V; ++j) mx = std::max(mx, logits[j]);
    R sum = 0;
    for (int j = 0; j < V; ++j) sum += (logits[j] = std::exp(logits[j] - mx));
    const R zscale = R(1) + R(2) * z_loss * (mx + std::log(sum));
    for (int j = 0; j < V; ++j)
      logits[j] = (logits[j] / sum * zscale - (j == targets[n])) * dloss / R(cnt);
    MatmulBackward(dx + (int64_t)n * C, dW, logits.data(), x + (int64_t)n * C, W, 1, C, V);
  }
}

}  // namespace ot::ref
