// One decoder block, forward and backward, for every architecture the ModelConfig switches describe
// (see decoder.h): the backward is the forward in reverse. q,k,v and gate,up are adjacent in the
// arena (layout.h), so each runs as one GEMM. bf16 emulation (DecoderNumerics) rounds each GEMM
// input where it is made: activations in place (every rounded buffer is read only by GEMMs), the
// residual-stream gradient into a free scratch (dn) before the GEMMs that read it.
#include <cstring>

#include "core/check.h"
#include "model/decoder.h"
#include "ops/cpu/kernels.h"

namespace ot {

void Decoder::BlockForward(const BlockActs& a, const BlockOffsets& o, const float* p,
                           const float* w, int B, int T, bool bf16) const {
  const ModelConfig& m = config_;
  const int C = m.d_model, F = m.ff_dim(), NH = m.n_heads, KH = m.kv_heads(), HS = C / NH;
  const int KV = m.kv_dim(), QKV = m.qkv_dim(), G = m.mlp == MlpKind::kSwiGlu ? 2 * F : F;
  const int N = B * T;
  const int64_t NC = (int64_t)N * C;
  const bool post = m.norm_placement == NormPlacement::kPost;
  const float eps = static_cast<float>(m.norm_eps);
  auto at = [&](int64_t off) { return off < 0 ? nullptr : p + off; };
  // bf16 emulation: rounds x (n floats), which only GEMMs read from here on.
  auto gemm_input = [&](float* x, int64_t n) {
    if (bf16) cpu::RoundToBf16(x, n);
  };
  // A GEMM input the block must keep in float32 (the residual stream under post-norm): its rounded
  // copy in `copy` under bf16, else itself.
  auto gemm_copy = [&](float* copy, const float* x) -> const float* {
    if (!bf16) return x;
    cpu::RoundToBf16(copy, x, NC);
    return copy;
  };

  // Attention branch.
  const float* ain;  // (N,C) the qkv GEMM's input
  if (post) {
    ain = gemm_copy(a.n1, a.x);
  } else {
    Norm(a.n1, a.mean1, a.rstd1, a.x, at(o.attn_norm), at(o.attn_norm_bias), N);
    gemm_input(a.n1, NC);
    ain = a.n1;
  }
  float* proj = a.qkv_raw ? a.qkv_raw : a.qkv;        // (N,QKV)
  cpu::MatmulForward(proj, ain, w + o.q, N, C, QKV);  // W_qkv (QKV,C): q,k,v adjacent
  if (o.qkv_bias >= 0) cpu::BiasForward(proj, p + o.qkv_bias, N, QKV);
  if (m.clip_qkv > 0)
    cpu::ClampForward(a.qkv, a.qkv_raw, (int64_t)N * QKV, static_cast<float>(m.clip_qkv));
  if (m.qk_norm) {  // over the whole q (C) and k (KV) widths of each row; v passes through
    cpu::RmsNormStridedForward(a.qkv, QKV, a.qk_rstd, a.qkv_raw, QKV, p + o.q_norm, N, C, eps);
    cpu::RmsNormStridedForward(a.qkv + C, QKV, a.qk_rstd + N, a.qkv_raw + C, QKV, p + o.k_norm, N,
                               KV, eps);
    for (int n = 0; n < N; ++n)
      std::memcpy(a.qkv + (int64_t)n * QKV + C + KV, a.qkv_raw + (int64_t)n * QKV + C + KV,
                  sizeof(float) * KV);
  }
  cpu::RopeApply(a.qkv, buf_.rope_cos, buf_.rope_sin, B, T, NH + KH, HS, m.rotary_dims(), QKV,
                 false);
  gemm_input(a.qkv, (int64_t)N * QKV);
  cpu::AttentionForward(a.att, a.probs, a.qkv, B, T, NH, KH, HS, bf16, m.causal);
  gemm_input(a.att, NC);
  // x_mid = x + att W_o^T + b_o, or x + norm_a(att W_o^T + b_o) under post-norm
  ResidualBranch(a.x_mid, a.x, a.att, w + o.o, at(o.o_bias), N, C, post ? a.o_out : nullptr,
                 a.mean1, a.rstd1, at(o.attn_norm), at(o.attn_norm_bias));

  // MLP branch.
  const float* min;  // (N,C) the first MLP GEMM's input
  if (post) {
    min = gemm_copy(a.n2, a.x_mid);
  } else {
    Norm(a.n2, a.mean2, a.rstd2, m.parallel_residual ? a.x : a.x_mid, at(o.mlp_norm),
         at(o.mlp_norm_bias), N);
    gemm_input(a.n2, NC);
    min = a.n2;
  }
  cpu::MatmulForward(a.gu, min, w + o.mlp_in(), N, C, G);  // SwiGLU: W_gu (2F,C), gate,up adjacent
  if (o.mlp_in_bias >= 0) cpu::BiasForward(a.gu, p + o.mlp_in_bias, N, G);
  if (m.mlp == MlpKind::kSwiGlu) {
    cpu::SwiGluForward(a.h, a.gu, N, F);
  } else {
    cpu::GeluForward(a.h, a.gu, N, F);
  }
  gemm_input(a.h, (int64_t)N * F);
  // y = x_mid + h W_down^T + b_down, or x_mid + norm_m(h W_down^T + b_down) under post-norm
  ResidualBranch(a.y, a.x_mid, a.h, w + o.down, at(o.down_bias), N, F, post ? a.m_out : nullptr,
                 a.mean2, a.rstd2, at(o.mlp_norm), at(o.mlp_norm_bias));
}

void Decoder::ResidualBranch(float* out, const float* residual, const float* in, const float* W,
                             const float* bias, int N, int I, float* pre_norm, float* mean,
                             float* rstd, const float* gain, const float* norm_bias) const {
  const int C = config_.d_model;
  const int64_t NC = (int64_t)N * C;
  if (pre_norm) {  // out = residual + norm(in W^T + bias), the branch kept in pre_norm for the
                   // backward
    cpu::MatmulForward(pre_norm, in, W, N, I, C);
    if (bias) cpu::BiasForward(pre_norm, bias, N, C);
    Norm(out, mean, rstd, pre_norm, gain, norm_bias, N);
    for (int64_t i = 0; i < NC; ++i) out[i] += residual[i];
  } else {  // out = residual + in W^T + bias, the GEMM accumulating onto the copied residual
    std::memcpy(out, residual, sizeof(float) * NC);
    cpu::MatmulForward(out, in, W, N, I, C, 1.0f);
    if (bias) cpu::BiasForward(out, bias, N, C);
  }
}

void Decoder::BlockBackward(const BlockActs& a, const BlockOffsets& o, const float* p,
                            const float* w, float* g, int B, int T, bool bf16) {
  const ModelConfig& m = config_;
  const int C = m.d_model, F = m.ff_dim(), NH = m.n_heads, KH = m.kv_heads(), HS = C / NH;
  const int KV = m.kv_dim(), QKV = m.qkv_dim(), G = m.mlp == MlpKind::kSwiGlu ? 2 * F : F;
  const int N = B * T;
  const int64_t NC = (int64_t)N * C;
  const bool post = m.norm_placement == NormPlacement::kPost;
  Buffers& b = buf_;
  auto at = [&](int64_t off) { return off < 0 ? nullptr : p + off; };
  auto grad_at = [&](int64_t off) { return off < 0 ? nullptr : g + off; };
  auto gemm_input = [&](float* x, int64_t n) {
    if (bf16) cpu::RoundToBf16(x, n);
  };
  // The d(output) a GEMM backward reads: the residual-stream gradient stays float32 (GEMMs read a
  // rounded copy in dn, free at both uses: its last value was consumed by the NormBackward before);
  // a branch gradient is rounded in place (its bias gradient was taken first).
  auto gemm_dout = [&](float* d) -> const float* {
    if (!bf16) return d;
    if (d != b.dres) {
      cpu::RoundToBf16(d, NC);
      return d;
    }
    cpu::RoundToBf16(b.dn, b.dres, NC);
    return b.dn;
  };
  // The GEMM inputs the forward used (post-norm: the residual stream, or its bf16 copy).
  const float* ain = post && !bf16 ? a.x : a.n1;
  const float* min = post && !bf16 ? a.x_mid : a.n2;

  // MLP branch. dres = d(block output) = d x_mid through the residual.
  float* dmo = b.dres;  // d(down_proj output)
  if (post) {           // y = x_mid + norm_m(m_out)
    std::memset(b.dbranch, 0, sizeof(float) * NC);
    NormBackward(b.dbranch, grad_at(o.mlp_norm), grad_at(o.mlp_norm_bias), b.dres, a.m_out,
                 at(o.mlp_norm), a.mean2, a.rstd2, N);
    dmo = b.dbranch;
  }
  if (o.down_bias >= 0) cpu::BiasBackward(g + o.down_bias, dmo, N, C);
  cpu::MatmulBackward(b.dh, g + o.down, gemm_dout(dmo), a.h, w + o.down, N, F, C, 0.0f);
  if (m.mlp == MlpKind::kSwiGlu) {
    cpu::SwiGluBackward(b.dgu, b.dh, a.gu, N, F);
  } else {
    cpu::GeluBackward(b.dgu, b.dh, a.gu, N, F);
  }
  if (o.mlp_in_bias >= 0) cpu::BiasBackward(g + o.mlp_in_bias, b.dgu, N, G);
  gemm_input(b.dgu, (int64_t)N * G);
  cpu::MatmulBackward(b.dn, g + o.mlp_in(), b.dgu, min, w + o.mlp_in(), N, C, G,
                      0.0f);  // d(MLP input)
  if (post) {
    for (int64_t i = 0; i < NC; ++i) b.dres[i] += b.dn[i];
  } else if (m.parallel_residual) {  // the MLP read norm_m(x): its d x waits until the attention's
                                     // is in
    std::memset(b.dpar, 0, sizeof(float) * NC);
    NormBackward(b.dpar, grad_at(o.mlp_norm), grad_at(o.mlp_norm_bias), b.dn, a.x, at(o.mlp_norm),
                 a.mean2, a.rstd2, N);
  } else {
    NormBackward(b.dres, grad_at(o.mlp_norm), grad_at(o.mlp_norm_bias), b.dn, a.x_mid,
                 at(o.mlp_norm), a.mean2, a.rstd2, N);
  }

  // Attention branch. dres = d x_mid, which the residual passes to x.
  float* dao = b.dres;  // d(o_proj output)
  if (post) {           // x_mid = x + norm_a(o_out)
    std::memset(b.dbranch, 0, sizeof(float) * NC);
    NormBackward(b.dbranch, grad_at(o.attn_norm), grad_at(o.attn_norm_bias), b.dres, a.o_out,
                 at(o.attn_norm), a.mean1, a.rstd1, N);
    dao = b.dbranch;
  }
  if (o.o_bias >= 0) cpu::BiasBackward(g + o.o_bias, dao, N, C);
  cpu::MatmulBackward(b.datt, g + o.o, gemm_dout(dao), a.att, w + o.o, N, C, C, 0.0f);
  gemm_input(b.datt, NC);
  cpu::AttentionBackward(b.dqkv, b.datt, a.probs, a.qkv, B, T, NH, KH, HS, b.attn_scratch, bf16,
                         m.causal);
  cpu::RopeApply(b.dqkv, b.rope_cos, b.rope_sin, B, T, NH + KH, HS, m.rotary_dims(), QKV, true);
  float* dproj = b.dqkv;  // d(projections + bias), (N,QKV)
  if (m.clip_qkv > 0)
    cpu::ClampBackward(b.dqkv, a.qkv_raw, (int64_t)N * QKV, static_cast<float>(m.clip_qkv));
  if (m.qk_norm) {
    cpu::RmsNormStridedBackward(b.dqkv_raw, QKV, g + o.q_norm, b.dqkv, QKV, a.qkv_raw, QKV,
                                p + o.q_norm, a.qk_rstd, N, C);
    cpu::RmsNormStridedBackward(b.dqkv_raw + C, QKV, g + o.k_norm, b.dqkv + C, QKV, a.qkv_raw + C,
                                QKV, p + o.k_norm, a.qk_rstd + N, N, KV);
    for (int n = 0; n < N; ++n)
      std::memcpy(b.dqkv_raw + (int64_t)n * QKV + C + KV, b.dqkv + (int64_t)n * QKV + C + KV,
                  sizeof(float) * KV);
    dproj = b.dqkv_raw;
  }
  if (o.qkv_bias >= 0) cpu::BiasBackward(g + o.qkv_bias, dproj, N, QKV);
  gemm_input(dproj, (int64_t)N * QKV);
  cpu::MatmulBackward(b.dn, g + o.q, dproj, ain, w + o.q, N, C, QKV, 0.0f);  // d(attention input)
  if (post) {
    for (int64_t i = 0; i < NC; ++i) b.dres[i] += b.dn[i];
  } else {
    NormBackward(b.dres, grad_at(o.attn_norm), grad_at(o.attn_norm_bias), b.dn, a.x,
                 at(o.attn_norm), a.mean1, a.rstd1, N);
  }
  if (m.parallel_residual)
    for (int64_t i = 0; i < NC; ++i) b.dres[i] += b.dpar[i];
}

}  // namespace ot
