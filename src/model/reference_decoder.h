// The reference decoder: the whole model composed from ops/reference (plain loops), templated on
// the scalar so it runs in double. It is the oracle for the fast Decoder and the subject of the
// whole-model gradient check. Slow; tests only.
// Entry point: ReferenceDecoder<R>::{Forward, Backward, set_z_loss}.
#pragma once

#include <cstdint>
#include <vector>

#include "core/check.h"
#include "model/config.h"
#include "model/layout.h"
#include "ops/reference/ops.h"

namespace ot {

template <typename R>
class ReferenceDecoder {
 public:
  explicit ReferenceDecoder(const ModelConfig& config)
      : config_(config), layout_(ParamLayout::ForModel(config)) {}

  // z-loss coefficient (DecoderNumerics::z_loss): Forward returns mean CE + z mean log^2 Z.
  void set_z_loss(R z_loss) { z_loss_ = z_loss; }

  // params: the flat arena (layout order) in R. inputs, targets (B,T); target < 0 ignored.
  // Returns the mean NLL (plus the z-loss term) over counted targets; keeps every activation for
  // Backward.
  R Forward(const R* params, const int32_t* inputs, const int32_t* targets, int B, int T) {
    const int C = config_.d_model, F = config_.ff_dim(), NH = config_.n_heads, HS = C / NH;
    const int N = B * T, L = config_.n_layers;
    B_ = B;
    T_ = T;
    inputs_.assign(inputs, inputs + N);
    targets_.assign(targets, targets + N);
    acts_.assign(L, {});
    x_.assign((int64_t)(L + 1) * N * C, 0);
    ref::EmbeddingForward(x_.data(), inputs, params + layout_.embed_offset(), N, C);
    for (int l = 0; l < L; ++l) {
      const BlockOffsets& o = layout_.block(l);
      Acts& a = acts_[l];
      const R* x = x_.data() + (int64_t)l * N * C;
      R* y = x_.data() + (int64_t)(l + 1) * N * C;
      Resize(a, N, C, F, B, NH, T);
      Norm(a.n1.data(), a.mean1.data(), a.rstd1.data(), x, Gain(params, o.attn_norm), N, C);
      ref::MatmulForward(a.q_pre.data(), a.n1.data(), params + o.q, N, C, C);
      ref::MatmulForward(a.k_pre.data(), a.n1.data(), params + o.k, N, C, C);
      ref::MatmulForward(a.v.data(), a.n1.data(), params + o.v, N, C, C);
      ref::RopeForward(a.q.data(), a.q_pre.data(), B, T, NH, HS, C, config_.rope_theta);
      ref::RopeForward(a.k.data(), a.k_pre.data(), B, T, NH, HS, C, config_.rope_theta);
      ref::AttentionForward(a.att.data(), a.probs.data(), a.q.data(), a.k.data(), a.v.data(), B, T, NH,
                            HS, C);
      ref::MatmulForward(a.x_mid.data(), a.att.data(), params + o.o, N, C, C);
      for (int64_t i = 0; i < (int64_t)N * C; ++i) a.x_mid[i] += x[i];
      Norm(a.n2.data(), a.mean2.data(), a.rstd2.data(), a.x_mid.data(), Gain(params, o.mlp_norm), N, C);
      ref::MatmulForward(a.g.data(), a.n2.data(), params + o.gate, N, C, F);
      ref::MatmulForward(a.u.data(), a.n2.data(), params + o.up, N, C, F);
      ref::SwiGluForward(a.h.data(), a.g.data(), a.u.data(), N, F, F);
      ref::MatmulForward(y, a.h.data(), params + o.down, N, F, C);
      for (int64_t i = 0; i < (int64_t)N * C; ++i) y[i] += a.x_mid[i];
    }
    nf_.assign((int64_t)N * C, 0);
    meanf_.assign(N, 0);
    rstdf_.assign(N, 0);
    Norm(nf_.data(), meanf_.data(), rstdf_.data(), x_.data() + (int64_t)L * N * C,
         Gain(params, layout_.final_norm_offset()), N, C);
    logprobs_.assign(N, 0);
    log_z_.assign(N, 0);
    return ref::LmHeadXentForward(logprobs_.data(), nf_.data(), params + layout_.head_offset(),
                                  targets, N, C, config_.vocab_size, &count_, z_loss_,
                                  log_z_.data());
  }

  // d(mean loss)/d(params) accumulated into grads (layout order). Must follow a Forward.
  void Backward(const R* params, R* grads) {
    const int C = config_.d_model, F = config_.ff_dim(), NH = config_.n_heads, HS = C / NH;
    const int B = B_, T = T_, N = B * T, L = config_.n_layers;
    std::vector<R> dx((int64_t)N * C, 0), dn((int64_t)N * C, 0);
    ref::LmHeadXentBackward(dn.data(), grads + layout_.head_offset(), R(1), nf_.data(),
                            params + layout_.head_offset(), targets_.data(), N, C,
                            config_.vocab_size, z_loss_);
    NormBack(dx.data(), GainGrad(grads, layout_.final_norm_offset()), dn.data(),
             x_.data() + (int64_t)L * N * C, Gain(params, layout_.final_norm_offset()), meanf_.data(),
             rstdf_.data(), N, C);
    for (int l = L - 1; l >= 0; --l) {
      const BlockOffsets& o = layout_.block(l);
      Acts& a = acts_[l];
      const R* x = x_.data() + (int64_t)l * N * C;
      // dx holds d(block output); the residual passes it to x_mid unchanged.
      std::vector<R> dmid = dx, dh((int64_t)N * F, 0), dg((int64_t)N * F, 0), du((int64_t)N * F, 0);
      ref::MatmulBackward(dh.data(), grads + o.down, dx.data(), a.h.data(), params + o.down, N, F, C);
      ref::SwiGluBackward(dg.data(), du.data(), dh.data(), a.g.data(), a.u.data(), N, F, F);
      std::vector<R> dn2((int64_t)N * C, 0);
      ref::MatmulBackward(dn2.data(), grads + o.gate, dg.data(), a.n2.data(), params + o.gate, N, C, F);
      ref::MatmulBackward(dn2.data(), grads + o.up, du.data(), a.n2.data(), params + o.up, N, C, F);
      NormBack(dmid.data(), GainGrad(grads, o.mlp_norm), dn2.data(), a.x_mid.data(),
               Gain(params, o.mlp_norm), a.mean2.data(), a.rstd2.data(), N, C);
      // dmid = d(x_mid); residual to x, and through o_proj / attention / rope / qkv / norm1.
      std::vector<R> datt((int64_t)N * C, 0), dq((int64_t)N * C, 0), dk((int64_t)N * C, 0),
          dv((int64_t)N * C, 0), dqp((int64_t)N * C, 0), dkp((int64_t)N * C, 0),
          dn1((int64_t)N * C, 0);
      ref::MatmulBackward(datt.data(), grads + o.o, dmid.data(), a.att.data(), params + o.o, N, C, C);
      ref::AttentionBackward(dq.data(), dk.data(), dv.data(), datt.data(), a.probs.data(), a.q.data(),
                             a.k.data(), a.v.data(), B, T, NH, HS, C);
      ref::RopeBackward(dqp.data(), dq.data(), B, T, NH, HS, C, config_.rope_theta);
      ref::RopeBackward(dkp.data(), dk.data(), B, T, NH, HS, C, config_.rope_theta);
      ref::MatmulBackward(dn1.data(), grads + o.q, dqp.data(), a.n1.data(), params + o.q, N, C, C);
      ref::MatmulBackward(dn1.data(), grads + o.k, dkp.data(), a.n1.data(), params + o.k, N, C, C);
      ref::MatmulBackward(dn1.data(), grads + o.v, dv.data(), a.n1.data(), params + o.v, N, C, C);
      dx = dmid;
      NormBack(dx.data(), GainGrad(grads, o.attn_norm), dn1.data(), x, Gain(params, o.attn_norm),
               a.mean1.data(), a.rstd1.data(), N, C);
    }
    ref::EmbeddingBackward(grads + layout_.embed_offset(), dx.data(), inputs_.data(), N, C);
  }

  const std::vector<R>& logprobs() const { return logprobs_; }  // (B,T) from the last Forward
  const std::vector<R>& log_z() const { return log_z_; }  // (B,T) log Z per row (0 where ignored)
  R cross_entropy() const {  // mean CE over counted targets of the last Forward (no z-loss)
    R s = 0;
    for (R lp : logprobs_) s -= lp;
    return count_ ? s / R(count_) : R(0);
  }
  int64_t count() const { return count_; }
  const ParamLayout& layout() const { return layout_; }

 private:
  struct Acts {
    std::vector<R> n1, mean1, rstd1, q_pre, k_pre, q, k, v, probs, att, x_mid, n2, mean2, rstd2, g, u, h;
  };
  static void Resize(Acts& a, int N, int C, int F, int B, int NH, int T) {
    for (auto* v : {&a.n1, &a.q_pre, &a.k_pre, &a.q, &a.k, &a.v, &a.att, &a.x_mid, &a.n2})
      v->assign((int64_t)N * C, 0);
    for (auto* v : {&a.mean1, &a.rstd1, &a.mean2, &a.rstd2}) v->assign(N, 0);
    for (auto* v : {&a.g, &a.u, &a.h}) v->assign((int64_t)N * F, 0);
    a.probs.assign((int64_t)B * NH * T * T, 0);
  }
  const R* Gain(const R* params, int64_t offset) const {
    return offset < 0 ? nullptr : params + offset;
  }
  R* GainGrad(R* grads, int64_t offset) const { return offset < 0 ? nullptr : grads + offset; }
  void Norm(R* out, R* mean, R* rstd, const R* x, const R* gain, int N, int C) const {
    if (config_.norm == NormKind::kRmsNorm) {
      ref::RmsNormForward(out, rstd, x, gain, N, C, config_.norm_eps);
    } else {
      ref::LayerNormForward(out, mean, rstd, x, N, C, config_.norm_eps);
    }
  }
  void NormBack(R* dx, R* dgain, const R* dout, const R* x, const R* gain, const R* mean, const R* rstd,
                int N, int C) const {
    if (config_.norm == NormKind::kRmsNorm) {
      ref::RmsNormBackward(dx, dgain, dout, x, gain, rstd, N, C);
    } else {
      ref::LayerNormBackward(dx, dout, x, mean, rstd, N, C);
    }
  }

  ModelConfig config_;
  ParamLayout layout_;
  int B_ = 0, T_ = 0;
  int64_t count_ = 0;
  R z_loss_ = 0;
  std::vector<int32_t> inputs_, targets_;
  std::vector<Acts> acts_;
  std::vector<R> x_, nf_, meanf_, rstdf_, logprobs_, log_z_;  // x_: (L+1, N, C) residual stream
};

}  // namespace ot
