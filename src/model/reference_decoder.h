// The reference decoder: the whole model composed from ops/reference (plain loops), templated on
// the scalar so it runs in double, for every architecture switch of ModelConfig. It is the oracle
// for the fast Decoder and the subject of the whole-model gradient check. Slow; tests only. Entry
// point: ReferenceDecoder<R>::{Forward, Backward, set_z_loss, block_acts, ClipMargin},
// ClipAwayFromProjections; for a ViT (model.input = patches) ReferenceDecoder<R>::{ForwardImages,
// ForwardPairs, Backward, logits, pooled}.
#pragma once

#include <cstdint>
#include <vector>

#include "core/check.h"
#include "model/config.h"
#include "model/layout.h"
#include "ops/reference/ops.h"
#include "ops/reference/vision_ops.h"

namespace ot {

// One block, as transformers' modeling files (na = the attention branch's norm, nm = the MLP's):
//   pre-norm, sequential:        h = x + attn(na(x));  y = h + mlp(nm(h))          (Llama, OLMo)
//   pre-norm, parallel_residual: h = x + attn(na(x));  y = h + mlp(nm(x))          (GPT-NeoX)
//   post-norm:                   h = x + na(attn(x));  y = h + nm(mlp(h))          (OLMo-2)
// attn(n): q|k|v = n W^T (+ bias); clamp each to [-clip_qkv, clip_qkv] (if > 0); q = RMSNorm_C(q)
// q_norm, k = RMSNorm_KV(k) k_norm (if qk_norm); RoPE on the first rotary_dims() dims of each head;
// grouped-query softmax attention, causal unless model.causal = false; o_proj (+ bias). mlp(n):
// down(silu(gate n) * up n) under swiglu, down(gelu(up n)) under gelu (+ biases under mlp_bias).
// Then final norm and LM head.
template <typename R>
class ReferenceDecoder {
 public:
  // One block's activations from the last Forward (N = B*T rows). A stage whose switch is off holds
  // a copy of its input (q_clip == q_proj without clip_qkv, q_normed == q_clip without qk_norm).
  struct BlockActs {
    std::vector<R> an, an_mean,
        an_rstd;  // (N,C),(N),(N) attention branch's norm: of x (pre), of o (post)
    std::vector<R> q_proj, k_proj,
        v_proj;                        // (N,C),(N,KV),(N,KV) projections + biases, before the clip
    std::vector<R> q_clip, k_clip, v;  // after clip_qkv (v's last stage)
    std::vector<R> q_normed, k_normed, q_rstd, k_rstd;  // after qk_norm; rstd (N)
    std::vector<R> q, k;                                // after RoPE
    std::vector<R> probs, att, o;  // (B,NH,T,T), (N,C) attention output, (N,C) o_proj(att) + o_bias
    std::vector<R> x_mid;          // (N,C) x + the attention branch
    std::vector<R> mn, mn_mean,
        mn_rstd;             // MLP branch's norm: of x_mid (pre), x (parallel), mlp_out (post)
    std::vector<R> g, u, h;  // (N,F) gate (swiglu only), up (+ biases), hidden
    std::vector<R> mlp_out;  // (N,C) down(h) + down bias
  };

  explicit ReferenceDecoder(const ModelConfig& config)
      : config_(config), layout_(ParamLayout::ForModel(config)) {}

  // z-loss coefficient (DecoderNumerics::z_loss): Forward returns mean CE + z mean log^2 Z.
  void set_z_loss(R z_loss) { z_loss_ = z_loss; }

  // params: the flat arena (layout order) in R. inputs, targets (B,T); target < 0 ignored.
  // Returns the mean NLL (plus the z-loss term) over counted targets; keeps every activation for
  // Backward.
  R Forward(const R* params, const int32_t* inputs, const int32_t* targets, int B, int T) {
    OT_CHECK(!config_.vision()) << "a ViT reads images: ForwardImages";
    const int C = config_.d_model, N = B * T, L = config_.n_layers;
    B_ = B;
    T_ = T;
    inputs_.assign(inputs, inputs + N);
    targets_.assign(targets, targets + N);
    acts_.assign(L, {});
    x_.assign((int64_t)(L + 1) * N * C, 0);
    ref::EmbeddingForward(x_.data(), inputs, params + layout_.embed_offset(), N, C);
    for (int l = 0; l < L; ++l)
      BlockForward(x_.data() + (int64_t)(l + 1) * N * C, acts_[l], x_.data() + (int64_t)l * N * C,
                   params, layout_.block(l));
    nf_.assign((int64_t)N * C, 0);
    meanf_.assign(N, 0);
    rstdf_.assign(N, 0);
    Norm(nf_.data(), meanf_.data(), rstdf_.data(), x_.data() + (int64_t)L * N * C,
         At(params, layout_.final_norm_offset()), At(params, layout_.final_norm_bias_offset()), N,
         C);
    logprobs_.assign(N, 0);
    log_z_.assign(N, 0);
    return ref::LmHeadXentForward(logprobs_.data(), nf_.data(), params + layout_.head_offset(),
                                  targets, N, C, config_.vocab_size, &count_, z_loss_,
                                  log_z_.data());
  }

  // The ViT (model.input = patches): pixels (B, config.pixels()), labels (B) in [0, n_classes).
  // tokens = [cls; patchify(pixels) W_patch^T + b_patch] + pos; the blocks; final norm; pool (CLS
  // token or mean); logits = pool W_head^T + b_head. Returns the mean cross-entropy over the B
  // images; keeps every activation for Backward.
  R ForwardImages(const R* params, const R* pixels, const int32_t* labels, int B) {
    OT_CHECK(config_.head == "classes") << "ForwardImages needs model.head = classes";
    ImageTrunk(params, pixels, B);
    targets_.assign(labels, labels + B);
    logprobs_.assign(B, 0);
    count_ = B;
    return ref::SoftmaxXentForward(logprobs_.data(), logits_.data(), labels, B, config_.n_classes);
  }
  // head = projection: views a and b (B images each) as one batch of 2B; returns SigLIP's loss
  // between the projections of a (rows 0..B-1) and b (rows B..2B-1), with t_log and bias the
  // parameters siglip.t_log, siglip.bias.
  R ForwardPairs(const R* params, const R* pixels_a, const R* pixels_b, int B) {
    OT_CHECK(config_.head == "projection") << "ForwardPairs needs model.head = projection";
    const int64_t n = (int64_t)B * config_.pixels(), K = config_.proj_dim;
    std::vector<R> both(pixels_a, pixels_a + n);
    both.insert(both.end(), pixels_b, pixels_b + n);
    ImageTrunk(params, both.data(), 2 * B);
    u_.assign(B * K, 0);
    w_.assign(B * K, 0);
    count_ = B;
    const int64_t s = layout_.siglip_offset();
    return ref::SigLipForward(u_.data(), w_.data(), logits_.data(), logits_.data() + B * K,
                              params[s], params[s + 1], B, static_cast<int>(K));
  }
  // (B,K) class logits or projections of the last ForwardImages / ForwardPairs (2B rows)
  const std::vector<R>& logits() const { return logits_; }
  const std::vector<R>& pooled() const { return pooled_; }  // (B,C) of the last ForwardImages

  // d(mean loss)/d(params) accumulated into grads (layout order). Must follow a Forward (or
  // ForwardImages).
  void Backward(const R* params, R* grads) {
    const int C = config_.d_model, N = B_ * T_, L = config_.n_layers;
    std::vector<R> dx((int64_t)N * C, 0), dn((int64_t)N * C, 0);
    if (config_.vision()) {
      ClassHeadBackward(dn.data(), params, grads);
    } else {
      ref::LmHeadXentBackward(dn.data(), grads + layout_.head_offset(), R(1), nf_.data(),
                              params + layout_.head_offset(), targets_.data(), N, C,
                              config_.vocab_size, z_loss_);
    }
    NormBack(dx.data(), At(grads, layout_.final_norm_offset()),
             At(grads, layout_.final_norm_bias_offset()), dn.data(), x_.data() + (int64_t)L * N * C,
             At(params, layout_.final_norm_offset()), meanf_.data(), rstdf_.data(), N, C);
    for (int l = L - 1; l >= 0; --l)
      BlockBackward(dx, grads, acts_[l], x_.data() + (int64_t)l * N * C, params, layout_.block(l));
    if (config_.vision()) {
      ImageInputBackward(dx.data(), params, grads);
    } else {
      ref::EmbeddingBackward(grads + layout_.embed_offset(), dx.data(), inputs_.data(), N, C);
    }
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
  const BlockActs& block_acts(int layer) const { return acts_[layer]; }  // from the last Forward
  // clip_qkv's distance from a decision in the last Forward: min over every q, k, v projection
  // entry of | |x| - clip_qkv | (infinity when clip_qkv is off). A float32 decoder clamps exactly
  // the entries this double one does when its rounding error in x is below this margin.
  R ClipMargin() const {
    R margin = INFINITY;
    if (!(config_.clip_qkv > 0)) return margin;
    for (const auto& a : acts_)
      for (const auto* proj : {&a.q_proj, &a.k_proj, &a.v_proj})
        for (R x : *proj) margin = std::min<R>(margin, std::abs(std::abs(x) - R(config_.clip_qkv)));
    return margin;
  }

 private:
  bool pre() const { return config_.norm_placement == NormPlacement::kPre; }

  // 2-D RoPE's angles (T, rotary_dims/2) of one image's tokens.
  std::vector<R> Rope2d() const {
    std::vector<R> ang((size_t)config_.image_tokens() * (config_.rotary_dims() / 2));
    ref::Rope2dAngles(ang.data(), config_.image_size / config_.patch_size, config_.pool == "cls",
                      config_.rotary_dims(), config_.rope_theta);
    return ang;
  }
  // tokens, blocks, final norm, pool and the head's linear map for B images: logits_ (B,K).
  void ImageTrunk(const R* params, const R* pixels, int B) {
    const ModelConfig& m = config_;
    OT_CHECK(m.vision()) << "the image entry points need model.input = patches";
    const int C = m.d_model, T = m.image_tokens(), N = B * T, L = m.n_layers;
    const int Np = m.num_patches(), P = m.patch_dim(), K = m.head_dim();
    B_ = B;
    T_ = T;
    acts_.assign(L, {});
    x_.assign((int64_t)(L + 1) * N * C, 0);
    patches_.assign((int64_t)B * Np * P, 0);
    ref::PatchifyForward(patches_.data(), pixels, B, m.image_size, m.patch_size, m.channels);
    std::vector<R> emb((int64_t)B * Np * C);
    Linear(emb.data(), patches_.data(), params + layout_.patch_offset(),
           params + layout_.patch_bias_offset(), B * Np, P, C);
    ref::ImageTokensForward(x_.data(), emb.data(), At(params, layout_.cls_offset()),
                            At(params, layout_.pos_offset()), B, Np, C);
    for (int l = 0; l < L; ++l)
      BlockForward(x_.data() + (int64_t)(l + 1) * N * C, acts_[l], x_.data() + (int64_t)l * N * C,
                   params, layout_.block(l));
    FinalNorm(params, N);
    pooled_.assign((int64_t)B * C, 0);
    ref::PoolForward(pooled_.data(), nf_.data(), B, T, C, m.pool == "cls");
    logits_.assign((int64_t)B * K, 0);
    Linear(logits_.data(), pooled_.data(), params + layout_.head_offset(),
           params + layout_.class_bias_offset(), B, C, K);
  }

  void FinalNorm(const R* params, int N) {
    const int C = config_.d_model;
    nf_.assign((int64_t)N * C, 0);
    meanf_.assign(N, 0);
    rstdf_.assign(N, 0);
    Norm(nf_.data(), meanf_.data(), rstdf_.data(), x_.data() + (int64_t)config_.n_layers * N * C,
         At(params, layout_.final_norm_offset()), At(params, layout_.final_norm_bias_offset()), N,
         C);
  }
  // The ViT's head: dn (N,C) += d loss / d nf through pool and class head; head grads accumulate.
  void ClassHeadBackward(R* dn, const R* p, R* g) {
    const int B = B_, C = config_.d_model, K = config_.head_dim();
    std::vector<R> dlogits((int64_t)B * K, 0), dpooled((int64_t)B * C, 0);
    if (config_.head == "projection") {  // SigLIP over the two halves
      const int pairs = B / 2;
      const int64_t s = layout_.siglip_offset(), half = (int64_t)pairs * K;
      ref::SigLipBackward(dlogits.data(), dlogits.data() + half, g + s, g + s + 1, R(1), u_.data(),
                          w_.data(), logits_.data(), logits_.data() + half, p[s], p[s + 1], pairs,
                          K);
    } else {
      ref::SoftmaxXentBackward(dlogits.data(), R(1), logits_.data(), targets_.data(), B, K);
    }
    LinearBack(dpooled.data(), g + layout_.head_offset(), g + layout_.class_bias_offset(),
               dlogits.data(), pooled_.data(), p + layout_.head_offset(), B, C, K);
    ref::PoolBackward(dn, dpooled.data(), B, T_, C, config_.pool == "cls");
  }
  // The ViT's input: d tokens dx (N,C) to the CLS token, positions and patch embedding.
  void ImageInputBackward(const R* dx, const R* p, R* g) {
    const ModelConfig& m = config_;
    const int C = m.d_model, Np = m.num_patches(), P = m.patch_dim(), rows = B_ * Np;
    std::vector<R> demb((int64_t)rows * C, 0), dpatches((int64_t)rows * P, 0);
    ref::ImageTokensBackward(demb.data(), At(g, layout_.cls_offset()), At(g, layout_.pos_offset()),
                             dx, B_, Np, C);
    LinearBack(dpatches.data(), g + layout_.patch_offset(), g + layout_.patch_bias_offset(),
               demb.data(), patches_.data(), p + layout_.patch_offset(), rows, P, C);
  }
  bool swiglu() const { return config_.mlp == MlpKind::kSwiGlu; }

  // y (N,C) = block(x (N,C)); fills a.
  void BlockForward(R* y, BlockActs& a, const R* x, const R* p, const BlockOffsets& o) {
    const int B = B_, T = T_, N = B * T, C = config_.d_model, KV = config_.kv_dim(),
              F = config_.ff_dim();
    const int NH = config_.n_heads, KH = config_.kv_heads(), HS = config_.head_size();
    Resize(a);
    // Attention branch.
    const R* ain = x;  // (N,C) the attention's input
    if (pre()) {
      Norm(a.an.data(), a.an_mean.data(), a.an_rstd.data(), x, At(p, o.attn_norm),
           At(p, o.attn_norm_bias), N, C);
      ain = a.an.data();
    }
    Linear(a.q_proj.data(), ain, p + o.q, At(p, o.qkv_bias), N, C, C);
    Linear(a.k_proj.data(), ain, p + o.k, At(p, o.qkv_bias, C), N, C, KV);
    Linear(a.v_proj.data(), ain, p + o.v, At(p, o.qkv_bias, C + KV), N, C, KV);
    Clip(a.q_clip, a.q_proj, N, C);
    Clip(a.k_clip, a.k_proj, N, KV);
    Clip(a.v, a.v_proj, N, KV);
    QkNorm(a.q_normed, a.q_rstd, a.q_clip, At(p, o.q_norm), N, C);
    QkNorm(a.k_normed, a.k_rstd, a.k_clip, At(p, o.k_norm), N, KV);
    if (config_.positions == "rope2d") {  // the image's angle table (Rope2dAngles)
      const std::vector<R> ang = Rope2d();
      ref::RopeAnglesForward(a.q.data(), a.q_normed.data(), ang.data(), B, T, NH, HS, C,
                             config_.rotary_dims());
      ref::RopeAnglesForward(a.k.data(), a.k_normed.data(), ang.data(), B, T, KH, HS, KV,
                             config_.rotary_dims());
    } else {
      ref::RopeForward(a.q.data(), a.q_normed.data(), B, T, NH, HS, C, config_.rope_theta,
                       config_.rotary_dims());
      ref::RopeForward(a.k.data(), a.k_normed.data(), B, T, KH, HS, KV, config_.rope_theta,
                       config_.rotary_dims());
    }
    if (config_.causal) {
      ref::AttentionForward(a.att.data(), a.probs.data(), a.q.data(), a.k.data(), a.v.data(), B, T,
                            NH, KH, HS, C, KV);
    } else {
      ref::BidirectionalAttentionForward(a.att.data(), a.probs.data(), a.q.data(), a.k.data(),
                                         a.v.data(), B, T, NH, KH, HS, C, KV);
    }
    Linear(a.o.data(), a.att.data(), p + o.o, At(p, o.o_bias), N, C, C);
    const R* attn = a.o.data();  // (N,C) what the residual adds
    if (!pre()) {
      Norm(a.an.data(), a.an_mean.data(), a.an_rstd.data(), a.o.data(), At(p, o.attn_norm),
           At(p, o.attn_norm_bias), N, C);
      attn = a.an.data();
    }
    for (int64_t i = 0; i < (int64_t)N * C; ++i) a.x_mid[i] = attn[i] + x[i];
    // MLP branch.
    const R* min = a.x_mid.data();  // (N,C) the MLP's input
    if (pre()) {
      Norm(a.mn.data(), a.mn_mean.data(), a.mn_rstd.data(),
           config_.parallel_residual ? x : a.x_mid.data(), At(p, o.mlp_norm),
           At(p, o.mlp_norm_bias), N, C);
      min = a.mn.data();
    }
    if (swiglu()) {
      Linear(a.g.data(), min, p + o.gate, At(p, o.mlp_in_bias), N, C, F);
      Linear(a.u.data(), min, p + o.up, At(p, o.mlp_in_bias, F), N, C, F);
      ref::SwiGluForward(a.h.data(), a.g.data(), a.u.data(), N, F, F);
    } else {
      Linear(a.u.data(), min, p + o.up, At(p, o.mlp_in_bias), N, C, F);
      ref::GeluForward(a.h.data(), a.u.data(), N, F);
    }
    Linear(a.mlp_out.data(), a.h.data(), p + o.down, At(p, o.down_bias), N, F, C);
    const R* mlp = a.mlp_out.data();
    if (!pre()) {
      Norm(a.mn.data(), a.mn_mean.data(), a.mn_rstd.data(), a.mlp_out.data(), At(p, o.mlp_norm),
           At(p, o.mlp_norm_bias), N, C);
      mlp = a.mn.data();
    }
    for (int64_t i = 0; i < (int64_t)N * C; ++i) y[i] = mlp[i] + a.x_mid[i];
  }

  // dx (N,C): d(block output) on entry, d(block input) on return; accumulates the block's grads.
  void BlockBackward(std::vector<R>& dx, R* g, const BlockActs& a, const R* x, const R* p,
                     const BlockOffsets& o) {
    const int B = B_, T = T_, N = B * T, C = config_.d_model, KV = config_.kv_dim(),
              F = config_.ff_dim();
    const int NH = config_.n_heads, KH = config_.kv_heads(), HS = config_.head_size();
    const int64_t NC = (int64_t)N * C, NKV = (int64_t)N * KV, NF = (int64_t)N * F;
    // MLP branch; the residual passes dx to x_mid unchanged.
    std::vector<R> dmid = dx, dmlp(NC, 0), dh(NF, 0), dgate(NF, 0), dup(NF, 0), dmin(NC, 0);
    if (pre()) {
      dmlp = dx;
    } else {
      NormBack(dmlp.data(), At(g, o.mlp_norm), At(g, o.mlp_norm_bias), dx.data(), a.mlp_out.data(),
               At(p, o.mlp_norm), a.mn_mean.data(), a.mn_rstd.data(), N, C);
    }
    LinearBack(dh.data(), g + o.down, At(g, o.down_bias), dmlp.data(), a.h.data(), p + o.down, N, F,
               C);
    const R* min = pre() ? a.mn.data() : a.x_mid.data();
    if (swiglu()) {
      ref::SwiGluBackward(dgate.data(), dup.data(), dh.data(), a.g.data(), a.u.data(), N, F, F);
      LinearBack(dmin.data(), g + o.gate, At(g, o.mlp_in_bias), dgate.data(), min, p + o.gate, N, C,
                 F);
      LinearBack(dmin.data(), g + o.up, At(g, o.mlp_in_bias, F), dup.data(), min, p + o.up, N, C,
                 F);
    } else {
      ref::GeluBackward(dup.data(), dh.data(), a.u.data(), N, F);
      LinearBack(dmin.data(), g + o.up, At(g, o.mlp_in_bias), dup.data(), min, p + o.up, N, C, F);
    }
    std::vector<R> dpar(config_.parallel_residual ? NC : 0, 0);  // d x through the parallel MLP
    if (pre()) {
      const bool par = config_.parallel_residual;
      NormBack(par ? dpar.data() : dmid.data(), At(g, o.mlp_norm), At(g, o.mlp_norm_bias),
               dmin.data(), par ? x : a.x_mid.data(), At(p, o.mlp_norm), a.mn_mean.data(),
               a.mn_rstd.data(), N, C);
    } else {
      for (int64_t i = 0; i < NC; ++i) dmid[i] += dmin[i];
    }
    // Attention branch: dmid = d(x_mid); the residual passes it to x.
    std::vector<R> dattn(NC, 0), datt(NC, 0), dq(NC, 0), dk(NKV, 0), dv(NKV, 0), dqn(NC, 0),
        dkn(NKV, 0), dqc(NC, 0), dkc(NKV, 0), dqp(NC, 0), dkp(NKV, 0), dvp(NKV, 0), dain(NC, 0);
    if (pre()) {
      dattn = dmid;
    } else {
      NormBack(dattn.data(), At(g, o.attn_norm), At(g, o.attn_norm_bias), dmid.data(), a.o.data(),
               At(p, o.attn_norm), a.an_mean.data(), a.an_rstd.data(), N, C);
    }
    LinearBack(datt.data(), g + o.o, At(g, o.o_bias), dattn.data(), a.att.data(), p + o.o, N, C, C);
    if (config_.causal) {
      ref::AttentionBackward(dq.data(), dk.data(), dv.data(), datt.data(), a.probs.data(),
                             a.q.data(), a.k.data(), a.v.data(), B, T, NH, KH, HS, C, KV);
    } else {
      ref::BidirectionalAttentionBackward(dq.data(), dk.data(), dv.data(), datt.data(),
                                          a.probs.data(), a.q.data(), a.k.data(), a.v.data(), B, T,
                                          NH, KH, HS, C, KV);
    }
    if (config_.positions == "rope2d") {
      const std::vector<R> ang = Rope2d();
      ref::RopeAnglesBackward(dqn.data(), dq.data(), ang.data(), B, T, NH, HS, C,
                              config_.rotary_dims());
      ref::RopeAnglesBackward(dkn.data(), dk.data(), ang.data(), B, T, KH, HS, KV,
                              config_.rotary_dims());
    } else {
      ref::RopeBackward(dqn.data(), dq.data(), B, T, NH, HS, C, config_.rope_theta,
                        config_.rotary_dims());
      ref::RopeBackward(dkn.data(), dk.data(), B, T, KH, HS, KV, config_.rope_theta,
                        config_.rotary_dims());
    }
    QkNormBack(dqc, At(g, o.q_norm), dqn, a.q_clip, At(p, o.q_norm), a.q_rstd, N, C);
    QkNormBack(dkc, At(g, o.k_norm), dkn, a.k_clip, At(p, o.k_norm), a.k_rstd, N, KV);
    ClipBack(dqp, dqc, a.q_proj, N, C);
    ClipBack(dkp, dkc, a.k_proj, N, KV);
    ClipBack(dvp, dv, a.v_proj, N, KV);
    const R* ain = pre() ? a.an.data() : x;
    LinearBack(dain.data(), g + o.q, At(g, o.qkv_bias), dqp.data(), ain, p + o.q, N, C, C);
    LinearBack(dain.data(), g + o.k, At(g, o.qkv_bias, C), dkp.data(), ain, p + o.k, N, C, KV);
    LinearBack(dain.data(), g + o.v, At(g, o.qkv_bias, C + KV), dvp.data(), ain, p + o.v, N, C, KV);
    dx = dmid;
    if (pre()) {
      NormBack(dx.data(), At(g, o.attn_norm), At(g, o.attn_norm_bias), dain.data(), x,
               At(p, o.attn_norm), a.an_mean.data(), a.an_rstd.data(), N, C);
    } else {
      for (int64_t i = 0; i < NC; ++i) dx[i] += dain[i];
    }
    for (int64_t i = 0; i < (int64_t)dpar.size(); ++i) dx[i] += dpar[i];
  }

  void Resize(BlockActs& a) const {
    const int64_t N = (int64_t)B_ * T_, C = config_.d_model, KV = config_.kv_dim(),
                  F = config_.ff_dim();
    for (auto* v : {&a.an, &a.q_proj, &a.q_clip, &a.q_normed, &a.q, &a.att, &a.o, &a.x_mid, &a.mn,
                    &a.mlp_out})
      v->assign(N * C, 0);
    for (auto* v : {&a.k_proj, &a.v_proj, &a.k_clip, &a.v, &a.k_normed, &a.k}) v->assign(N * KV, 0);
    for (auto* v : {&a.an_mean, &a.an_rstd, &a.q_rstd, &a.k_rstd, &a.mn_mean, &a.mn_rstd})
      v->assign(N, 0);
    for (auto* v : {&a.g, &a.u, &a.h}) v->assign(N * F, 0);
    a.probs.assign((int64_t)B_ * config_.n_heads * T_ * T_, 0);
  }
  // The tensor at `offset` (+ shift) of the arena, or null where the layout has none (offset -1).
  static const R* At(const R* arena, int64_t offset, int64_t shift = 0) {
    return offset < 0 ? nullptr : arena + offset + shift;
  }
  static R* At(R* arena, int64_t offset, int64_t shift = 0) {
    return offset < 0 ? nullptr : arena + offset + shift;
  }
  // out (N,O) = in (N,I) W^T (+ bias (O) when not null).
  static void Linear(R* out, const R* in, const R* W, const R* bias, int N, int I, int O) {
    ref::MatmulForward(out, in, W, N, I, O);
    if (bias) ref::BiasForward(out, bias, N, O);
  }
  static void LinearBack(R* din, R* dW, R* dbias, const R* dout, const R* in, const R* W, int N,
                         int I, int O) {
    ref::MatmulBackward(din, dW, dout, in, W, N, I, O);
    if (dbias) ref::BiasBackward(dbias, dout, N, O);
  }
  void Clip(std::vector<R>& out, const std::vector<R>& x, int N, int C) const {
    if (config_.clip_qkv > 0) {
      ref::ClampForward(out.data(), x.data(), N, C, config_.clip_qkv);
    } else {
      out = x;
    }
  }
  void ClipBack(std::vector<R>& dx, const std::vector<R>& dout, const std::vector<R>& x, int N,
                int C) const {
    if (config_.clip_qkv > 0) {
      ref::ClampBackward(dx.data(), dout.data(), x.data(), N, C, config_.clip_qkv);
    } else {
      dx = dout;
    }
  }
  // qk_norm: RMSNorm with gain over the whole projection (width C for q, KV for k), whatever the
  // norm.
  void QkNorm(std::vector<R>& out, std::vector<R>& rstd, const std::vector<R>& x, const R* gain,
              int N, int C) const {
    if (config_.qk_norm) {
      ref::RmsNormForward(out.data(), rstd.data(), x.data(), gain, N, C, config_.norm_eps);
    } else {
      out = x;
    }
  }
  void QkNormBack(std::vector<R>& dx, R* dgain, const std::vector<R>& dout, const std::vector<R>& x,
                  const R* gain, const std::vector<R>& rstd, int N, int C) const {
    if (config_.qk_norm) {
      ref::RmsNormBackward(dx.data(), dgain, dout.data(), x.data(), gain, rstd.data(), N, C);
    } else {
      dx = dout;
    }
  }
  // The block/final norm: gain and bias null where the layout has none.
  void Norm(R* out, R* mean, R* rstd, const R* x, const R* gain, const R* bias, int N,
            int C) const {
    if (config_.norm == NormKind::kRmsNorm) {
      OT_CHECK(bias == nullptr) << "RMSNorm has no bias";
      ref::RmsNormForward(out, rstd, x, gain, N, C, config_.norm_eps);
    } else {
      ref::LayerNormForward(out, mean, rstd, x, gain, bias, N, C, config_.norm_eps);
    }
  }
  void NormBack(R* dx, R* dgain, R* dbias, const R* dout, const R* x, const R* gain, const R* mean,
                const R* rstd, int N, int C) const {
    if (config_.norm == NormKind::kRmsNorm) {
      ref::RmsNormBackward(dx, dgain, dout, x, gain, rstd, N, C);
    } else {
      ref::LayerNormBackward(dx, dgain, dbias, dout, x, gain, mean, rstd, N, C);
    }
  }

  ModelConfig config_;
  ParamLayout layout_;
  int B_ = 0, T_ = 0;
  int64_t count_ = 0;
  R z_loss_ = 0;
  std::vector<int32_t> inputs_, targets_;
  std::vector<BlockActs> acts_;
  std::vector<R> x_, nf_, meanf_, rstdf_, logprobs_, log_z_;  // x_: (L+1, N, C) residual stream
  std::vector<R> patches_, pooled_, logits_;                  // the ViT's: (B*Np,P), (B,C), (B,K)
  std::vector<R> u_, w_;  // ForwardPairs' normalised projections, (B/2,K) each
};

// config.clip_qkv moved off the projections of one batch: the first of c, c (1 + 1/256), c (1 +
// 2/256), ... (64 tries) whose ClipMargin on (params, inputs, targets) exceeds `margin`. Tests
// comparing a float32 decoder with a float64 one use it so both clamp the same entries on any CPU
// (with thousands of entries, some lie within float32 rounding of a fixed c). OT_CHECKs success.
template <typename P>
double ClipAwayFromProjections(const ModelConfig& config, const P* params, const int32_t* inputs,
                               const int32_t* targets, int B, int T, double margin) {
  OT_CHECK(config.clip_qkv > 0) << "clip_qkv is off";
  ModelConfig c = config;
  std::vector<double> p(params, params + ParamLayout::ForModel(config).total());
  for (int k = 0; k < 64; ++k) {
    c.clip_qkv = config.clip_qkv * (1.0 + k / 256.0);
    ReferenceDecoder<double> ref(c);
    ref.Forward(p.data(), inputs, targets, B, T);
    if (ref.ClipMargin() > margin) return c.clip_qkv;
  }
  OT_CHECK(false) << "no clip_qkv near " << config.clip_qkv << " leaves a margin of " << margin;
  return 0;
}

}  // namespace ot
