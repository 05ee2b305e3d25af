// The decoder in ATen ops (see torch_model.h); the block reads as model/reference_decoder.h's.
#include "engine_torch/torch_model.h"

#include <torch/version.h>

#include <cmath>
#include <limits>
#include <vector>

namespace ot::torch_engine {

TorchModel::TorchModel(const ModelConfig& config, const ParamLayout& layout, at::Device device,
                       int max_seq)
    : config_(config), layout_(layout), device_(device) {
  // RoPE tables as the native engine builds them: angle t·θ^(−2i/R) in double, cos and sin rounded
  // to float.
  const int R = config.rotary_dims(), h2 = R / 2;
  if (h2 > 0) {
    std::vector<float> c(int64_t{max_seq} * h2), s(c.size());
    for (int t = 0; t < max_seq; ++t)
      for (int i = 0; i < h2; ++i) {
        const double ang = t * std::pow(config.rope_theta, -2.0 * i / R);
        c[int64_t{t} * h2 + i] = static_cast<float>(std::cos(ang));
        s[int64_t{t} * h2 + i] = static_cast<float>(std::sin(ang));
      }
    const auto opts = at::TensorOptions().dtype(at::kFloat);
    rope_cos_ = at::from_blob(c.data(), {max_seq, h2}, opts).to(device).clone();  // own the data
    rope_sin_ = at::from_blob(s.data(), {max_seq, h2}, opts).to(device).clone();
  }
}

at::Tensor TorchModel::View(const at::Tensor& theta, int64_t offset, at::IntArrayRef shape) const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return theta.narrow(0, offset, n).view(shape);
}

at::Tensor TorchModel::Linear(const at::Tensor& x, const at::Tensor& W, const at::Tensor& bias,
                              bool bf16) const {
  // out = x W^T (+ bias): fp32, or bf16 inputs with the product back in fp32 and the bias added
  // in fp32 (the native engine adds biases after the GEMM).
  at::Tensor y =
      bf16 ? at::linear(x.to(at::kBFloat16), W.to(at::kBFloat16)).to(at::kFloat) : at::linear(x, W);
  return bias.defined() ? y + bias : y;
}

at::Tensor TorchModel::Norm(const at::Tensor& theta, int64_t gain, int64_t bias,
                            const at::Tensor& x) const {
  const int64_t C = config_.d_model;
  const double eps = config_.norm_eps;
  const at::Tensor g = gain >= 0 ? View(theta, gain, {C}) : at::Tensor();
  if (config_.norm == NormKind::kRmsNorm) {
    const at::Tensor y = x * at::rsqrt(x.pow(2).mean(-1, /*keepdim=*/true) + eps);
    return g.defined() ? y * g : y;
  }
  const c10::optional<at::Tensor> w = g.defined() ? c10::optional<at::Tensor>(g) : c10::nullopt;
  const c10::optional<at::Tensor> b =
      bias >= 0 ? c10::optional<at::Tensor>(View(theta, bias, {C})) : c10::nullopt;
  return at::layer_norm(x, {C}, w, b, eps);
}

at::Tensor TorchModel::Rope(const at::Tensor& x, int T) const {
  // x (B,T,H,HS): rotate-half over the first R dims of each head, the rest passed through.
  const int64_t R = config_.rotary_dims(), h2 = R / 2, HS = config_.head_size();
  if (R == 0) return x;
  const at::Tensor c = rope_cos_.narrow(0, 0, T).view({1, T, 1, h2});
  const at::Tensor s = rope_sin_.narrow(0, 0, T).view({1, T, 1, h2});
  const at::Tensor x1 = x.narrow(-1, 0, h2), x2 = x.narrow(-1, h2, h2);
  std::vector<at::Tensor> parts = {x1 * c - x2 * s, x2 * c + x1 * s};
  if (R < HS) parts.push_back(x.narrow(-1, R, HS - R));
  return at::cat(parts, -1);
}

at::Tensor TorchModel::Attention(const at::Tensor& qkv, int B, int T, bool bf16) const {
  // qkv (B,T,C+2KV) after clip / QK-norm → causal grouped-query attention → (B,T,C).
  const int64_t C = config_.d_model, KV = config_.kv_dim(), NH = config_.n_heads,
                KH = config_.kv_heads(), HS = config_.head_size();
  at::Tensor q = Rope(qkv.narrow(-1, 0, C).reshape({B, T, NH, HS}), T).transpose(1, 2);
  at::Tensor k = Rope(qkv.narrow(-1, C, KV).reshape({B, T, KH, HS}), T).transpose(1, 2);
  at::Tensor v = qkv.narrow(-1, C + KV, KV).reshape({B, T, KH, HS}).transpose(1, 2);
  if (KH < NH) {  // query head h reads key/value head h / (NH/KH)
    k = k.repeat_interleave(NH / KH, 1);
    v = v.repeat_interleave(NH / KH, 1);
  }
  if (bf16) {
    q = q.to(at::kBFloat16);
    k = k.to(at::kBFloat16);
    v = v.to(at::kBFloat16);
  }
#if TORCH_VERSION_MAJOR >= 2
  at::Tensor out = at::scaled_dot_product_attention(q, k, v, {}, 0.0, /*is_causal=*/true);
#else
  // LibTorch 1.x: the explicit form (softmax in fp32, as the native engine and autocast do).
  const double scale = 1.0 / std::sqrt(static_cast<double>(HS));
  at::Tensor scores = at::matmul(q, k.transpose(-2, -1)).to(at::kFloat) * scale;
  const at::Tensor future =
      at::ones({T, T}, at::TensorOptions().dtype(at::kBool).device(q.device())).triu(1);
  scores = scores.masked_fill(future, -std::numeric_limits<float>::infinity());
  at::Tensor out = at::matmul(at::softmax(scores, -1).to(q.scalar_type()), v);
#endif
  return out.to(at::kFloat).transpose(1, 2).reshape({B, T, C});
}

at::Tensor TorchModel::Block(const at::Tensor& theta, const BlockOffsets& o, const at::Tensor& x,
                             bool bf16) const {
  const int B = static_cast<int>(x.size(0)), T = static_cast<int>(x.size(1));
  const int64_t C = config_.d_model, QKV = config_.qkv_dim(), KV = config_.kv_dim(),
                F = config_.ff_dim();
  const bool pre = config_.norm_placement == NormPlacement::kPre;
  const auto bias = [&](int64_t offset, int64_t n) {
    return offset >= 0 ? View(theta, offset, {n}) : at::Tensor();
  };
  // Attention branch: q|k|v is one (C+2KV, C) matrix (adjacent in the layout).
  const at::Tensor ain = pre ? Norm(theta, o.attn_norm, o.attn_norm_bias, x) : x;
  at::Tensor qkv = Linear(ain, View(theta, o.q, {QKV, C}), bias(o.qkv_bias, QKV), bf16);
  if (config_.clip_qkv > 0) qkv = qkv.clamp(-config_.clip_qkv, config_.clip_qkv);
  if (config_.qk_norm) {  // RMSNorm with gain over the whole q (C) and k (KV), whatever the norm
    const auto rms = [&](const at::Tensor& t) {
      return t * at::rsqrt(t.pow(2).mean(-1, true) + config_.norm_eps);
    };
    qkv = at::cat(
        {rms(qkv.narrow(-1, 0, C)) * View(theta, o.q_norm, {C}),
         rms(qkv.narrow(-1, C, KV)) * View(theta, o.k_norm, {KV}), qkv.narrow(-1, C + KV, KV)},
        -1);
  }
  const at::Tensor o_out =
      Linear(Attention(qkv, B, T, bf16), View(theta, o.o, {C, C}), bias(o.o_bias, C), bf16);
  const at::Tensor x_mid = x + (pre ? o_out : Norm(theta, o.attn_norm, o.attn_norm_bias, o_out));
  // MLP branch: gate|up is one (2F, C) matrix under SwiGLU.
  const at::Tensor min =
      pre ? Norm(theta, o.mlp_norm, o.mlp_norm_bias, config_.parallel_residual ? x : x_mid) : x_mid;
  at::Tensor h;
  if (config_.mlp == MlpKind::kSwiGlu) {
    const at::Tensor gu =
        Linear(min, View(theta, o.mlp_in(), {2 * F, C}), bias(o.mlp_in_bias, 2 * F), bf16);
    h = at::silu(gu.narrow(-1, 0, F)) * gu.narrow(-1, F, F);
  } else {
    h = at::gelu(Linear(min, View(theta, o.up, {F, C}), bias(o.mlp_in_bias, F), bf16));
  }
  const at::Tensor m_out = Linear(h, View(theta, o.down, {C, F}), bias(o.down_bias, C), bf16);
  return x_mid + (pre ? m_out : Norm(theta, o.mlp_norm, o.mlp_norm_bias, m_out));
}

at::Tensor TorchModel::Trunk(const at::Tensor& theta, const at::Tensor& inputs, bool bf16) const {
  const int64_t V = config_.vocab_size, C = config_.d_model;
  at::Tensor x = at::embedding(View(theta, layout_.embed_offset(), {V, C}), inputs);  // (B,T,C)
  for (int l = 0; l < config_.n_layers; ++l) x = Block(theta, layout_.block(l), x, bf16);
  x = Norm(theta, layout_.final_norm_offset(), layout_.final_norm_bias_offset(), x);
  return x.reshape({-1, C});
}

HeadOutput TorchModel::Head(const at::Tensor& theta, const at::Tensor& hidden,
                            const at::Tensor& targets, bool bf16) const {
  const int64_t V = config_.vocab_size, C = config_.d_model;
  HeadOutput h;
  h.logits = Linear(hidden, View(theta, layout_.head_offset(), {V, C}), at::Tensor(), bf16);
  h.log_z = at::logsumexp(h.logits, -1);
  h.mask = targets.ge(0).to(at::kFloat);
  h.target_logit = h.logits.gather(1, targets.clamp_min(0).unsqueeze(1)).squeeze(1) * h.mask;
  return h;
}

TorchModel::Objective TorchModel::Loss(const HeadOutput& head, double z_loss) {
  Objective o;
  o.count = head.mask.sum();
  const at::Tensor denom = o.count.clamp_min(1);
  o.cross_entropy = ((head.log_z - head.target_logit) * head.mask).sum() / denom;
  o.mean_log_z = (head.log_z * head.mask).sum() / denom;
  o.z = z_loss > 0 ? z_loss * (head.log_z.pow(2) * head.mask).sum() / denom
                   : at::zeros({}, head.log_z.options());
  o.loss = o.cross_entropy + o.z;
  return o;
}

}  // namespace ot::torch_engine
