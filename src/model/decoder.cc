// Decoder (see decoder.h): the model's forward as a sequence of ops/cpu kernels, and its backward
// as the same sequence in reverse. q,k,v and gate,up are adjacent in the arena (layout.h), so each
// runs as one GEMM. bf16 emulation (DecoderNumerics) rounds each GEMM input where it is made:
// weights once per Forward into weights_bf16_, activations in place (every rounded buffer is read
// only by GEMMs), the residual-stream gradient into a free scratch (dn_) before the GEMMs that read
// it.
#include "model/decoder.h"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/check.h"
#include "ops/cpu/kernels.h"

namespace ot {

Decoder::Decoder(const ModelConfig& config, int max_batch, int max_seq)
    : config_(config), layout_(ParamLayout::ForModel(config)), max_b_(max_batch), max_t_(max_seq) {
  OT_CHECK(max_batch >= 1 && max_seq >= 1) << "max_batch " << max_batch << " max_seq " << max_seq;
  {
    ModelConfig plain = config;
    plain.norm = NormKind::kRmsNorm;
    if (config.norm == NormKind::kLayerNormAffine || !plain.IsLlamaCompatible() ||
        config.kv_heads() != config.n_heads)
      throw Error("decoder: the fast decoder does not run this architecture yet");  // TEMPORARY
  }
  if (max_seq > config.max_seq_len)
    throw Error("decoder: max_seq = " + std::to_string(max_seq) +
                " exceeds model.max_seq_len = " + std::to_string(config.max_seq_len));
  const int64_t C = config.d_model, F = config.ff_dim(), V = config.vocab_size, NH = config.n_heads;
  const int64_t HS = C / NH, L = config.n_layers, T = max_seq, N = (int64_t)max_batch * max_seq;
  // Head row block: ~4 MB of logits per block (L3-resident), at least 128 rows so the dW GEMM (K =
  // rows) stays efficient; 128-256 rows measured best at V 4096 (64 was 30% slower, 512 20%
  // slower).
  head_block_rows_ = static_cast<int>(std::clamp<int64_t>((1 << 20) / V, 128, 1024));
  // LogProbs' per-sequence head blocks: min(seq_head_rows_, T) rows, a function of V and T only.
  seq_head_rows_ = head_block_rows_;
  head_block_rows_ = static_cast<int>(std::min<int64_t>(head_block_rows_, N));
  const int threads = attn_threads_ = omp_get_max_threads();
  const int64_t seq_head = std::min<int64_t>(seq_head_rows_, T);

  // Plan every buffer as (pointer slot, floats), then allocate one arena.
  std::vector<std::pair<float**, int64_t>> plan;
  layers_.resize(L);
  for (auto& a : layers_) {
    plan.insert(plan.end(), {{&a.x, N * C},
                             {&a.n1, N * C},
                             {&a.mean1, N},
                             {&a.rstd1, N},
                             {&a.qkv, N * 3 * C},
                             {&a.probs, N * NH * T},
                             {&a.att, N * C},
                             {&a.x_mid, N * C},
                             {&a.n2, N * C},
                             {&a.mean2, N},
                             {&a.rstd2, N},
                             {&a.gu, N * 2 * F},
                             {&a.h, N * F}});
  }
  plan.insert(plan.end(), {{&x_final_, N * C},
                           {&nf_, N * C},
                           {&meanf_, N},
                           {&rstdf_, N},
                           {&logprob_, N},
                           {&log_z_, N},
                           {&max_logit_, N},
                           {&dnf_, N * C},
                           {&dhead_, V * C},
                           {&rope_cos_, T * HS / 2},
                           {&rope_sin_, T * HS / 2},
                           {&head_scratch_, (int64_t)head_block_rows_ * V},
                           {&attn_scratch_, threads * cpu::AttentionScratchSize(T, HS)},
                           {&dres_, N * C},
                           {&dn_, N * C},
                           {&dqkv_, N * 3 * C},
                           {&datt_, N * C},
                           {&dgu_, N * 2 * F},
                           {&dh_, N * F}});
  seq_.resize(threads);
  for (auto& s : seq_) {
    plan.insert(plan.end(), {{&s.x, T * C},
                             {&s.n, T * C},
                             {&s.mean, T},
                             {&s.rstd, T},
                             {&s.qkv, T * 3 * C},
                             {&s.probs, NH * T * T},
                             {&s.att, T * C},
                             {&s.gu, T * 2 * F},
                             {&s.h, T * F},
                             {&s.head, seq_head * V}});
  }
  int64_t total = 0;
  for (auto& [slot, n] : plan) total += (n + 15) / 16 * 16;  // 64-byte aligned offsets
  arena_.assign(total, 0.0f);
  int64_t off = 0;
  for (auto& [slot, n] : plan) {
    *slot = arena_.data() + off;
    off += (n + 15) / 16 * 16;
  }
  inputs_.resize(N);
  cpu::RopeTable(rope_cos_, rope_sin_, max_seq, HS, config.rope_theta);
}

int64_t Decoder::ActivationBytes() const {
  return static_cast<int64_t>((arena_.size() + weights_bf16_.size()) * sizeof(float) +
                              inputs_.size() * sizeof(int32_t));
}

void Decoder::set_numerics(const DecoderNumerics& numerics) {
  OT_CHECK(numerics.z_loss >= 0 && std::isfinite(numerics.z_loss)) << "z_loss " << numerics.z_loss;
  numerics_ = numerics;
  have_forward_ = false;
  if (numerics.bf16_matmul) {
    weights_bf16_.resize(layout_.total());
  } else {
    std::vector<float>().swap(weights_bf16_);
  }
}

int64_t Decoder::PlannedActivationBytes(const ModelConfig& config, int max_batch, int max_seq,
                                        int threads, const DecoderNumerics& numerics) {
  // The constructor's plan, buffer by buffer (each rounded up to 16 floats); a test keeps the two equal.
  const int64_t C = config.d_model, F = config.ff_dim(), V = config.vocab_size, NH = config.n_heads;
  const int64_t HS = C / NH, L = config.n_layers, T = max_seq, N = int64_t{max_batch} * max_seq;
  const int64_t seq_rows = std::clamp<int64_t>((1 << 20) / V, 128, 1024);
  const int64_t head_rows = std::min<int64_t>(seq_rows, N), seq_head = std::min<int64_t>(seq_rows, T);
  auto sum = [](std::initializer_list<int64_t> sizes) {
    int64_t total = 0;
    for (int64_t n : sizes) total += (n + 15) / 16 * 16;
    return total;
  };
  const int64_t layer = sum({N * C, N * C, N, N, N * 3 * C, N * NH * T, N * C, N * C, N * C, N, N,
                             N * 2 * F, N * F});
  const int64_t shared =
      sum({N * C, N * C, N, N, N, N, N, N * C, V * C, T * HS / 2, T * HS / 2, head_rows * V,
           threads * cpu::AttentionScratchSize(static_cast<int>(T), static_cast<int>(HS)), N * C,
           N * C, N * 3 * C, N * C, N * 2 * F, N * F});
  const int64_t per_thread =
      sum({T * C, T * C, T, T, T * 3 * C, NH * T * T, T * C, T * 2 * F, T * F, seq_head * V});
  const int64_t weights_bf16 = numerics.bf16_matmul ? ParamLayout::ForModel(config).total() : 0;
  const int64_t floats = L * layer + shared + threads * per_thread + weights_bf16;
  return floats * static_cast<int64_t>(sizeof(float)) + N * static_cast<int64_t>(sizeof(int32_t));
}

void Decoder::CheckArgs(std::span<const float> params, const int32_t* inputs,
                        const int32_t* targets, int B, int T) const {
  OT_CHECK(static_cast<int64_t>(params.size()) == layout_.total())
      << "params has " << params.size() << " floats, the layout " << layout_.total();
  OT_CHECK(B >= 1 && B <= max_b_ && T >= 1 && T <= max_t_)
      << "B=" << B << " T=" << T << " exceed the decoder's max " << max_b_ << "x" << max_t_;
  const int V = config_.vocab_size;
  for (int64_t i = 0; i < (int64_t)B * T; ++i) {
    if (inputs[i] < 0 || inputs[i] >= V)
      throw Error("decoder: input token " + std::to_string(inputs[i]) + " at position " +
                  std::to_string(i) + " is outside the vocabulary [0, " + std::to_string(V) + ")");
    if (targets[i] >= V)
      throw Error("decoder: target token " + std::to_string(targets[i]) + " at position " +
                  std::to_string(i) + " is outside the vocabulary [0, " + std::to_string(V) + ")");
  }
}

void Decoder::Norm(float* out, float* mean, float* rstd, const float* x, const float* gain,
                   int N) const {
  const float eps = static_cast<float>(config_.norm_eps);
  if (config_.norm == NormKind::kRmsNorm) {
    cpu::RmsNormForward(out, rstd, x, gain, N, config_.d_model, eps);
  } else {
    cpu::LayerNormForward(out, mean, rstd, x, N, config_.d_model, eps);
  }
}

void Decoder::NormBackward(float* dx, float* dgain, const float* dout, const float* x,
                           const float* gain, const float* mean, const float* rstd, int N) const {
  if (config_.norm == NormKind::kRmsNorm) {
    cpu::RmsNormBackward(dx, dgain, dout, x, gain, rstd, N, config_.d_model);
  } else {
    cpu::LayerNormBackward(dx, dout, x, mean, rstd, N, config_.d_model);
  }
}

void Decoder::RunTrunk(const float* p, const float* w, const int32_t* inputs, int B, int T, bool bf16) {
  const int C = config_.d_model, F = config_.ff_dim(), NH = config_.n_heads, HS = C / NH;
  const int N = B * T, L = config_.n_layers;
  auto gain = [&](int64_t off) { return off < 0 ? nullptr : p + off; };
  // bf16 emulation: rounds x (n floats), which only GEMMs read from here on.
  auto gemm_input = [&](float* x, int64_t n) {
    if (bf16) cpu::RoundToBf16(x, n);
  };
  cpu::EmbeddingForward(layers_[0].x, inputs, p + layout_.embed_offset(), N, C);
  for (int l = 0; l < L; ++l) {
    const BlockOffsets& o = layout_.block(l);
    LayerActs& a = layers_[l];
    float* y = l + 1 < L ? layers_[l + 1].x : x_final_;  // (N,C) block output
    Norm(a.n1, a.mean1, a.rstd1, a.x, gain(o.attn_norm), N);
    gemm_input(a.n1, (int64_t)N * C);
    cpu::MatmulForward(a.qkv, a.n1, w + o.q, N, C, 3 * C);  // W_qkv (3C,C): q,k,v adjacent
    cpu::RopeApply(a.qkv, rope_cos_, rope_sin_, B, T, 2 * NH, HS, 3 * C, false);
    gemm_input(a.qkv, (int64_t)N * 3 * C);
    cpu::AttentionForward(a.att, a.probs, a.qkv, B, T, NH, HS, bf16);
    gemm_input(a.att, (int64_t)N * C);
    std::memcpy(a.x_mid, a.x, sizeof(float) * N * C);
    cpu::MatmulForward(a.x_mid, a.att, w + o.o, N, C, C, 1.0f);  // x_mid = x + att W_o^T
    Norm(a.n2, a.mean2, a.rstd2, a.x_mid, gain(o.mlp_norm), N);
    gemm_input(a.n2, (int64_t)N * C);
    cpu::MatmulForward(a.gu, a.n2, w + o.gate, N, C, 2 * F);  // W_gu (2F,C): gate,up adjacent
    cpu::SwiGluForward(a.h, a.gu, N, F);
    gemm_input(a.h, (int64_t)N * F);
    std::memcpy(y, a.x_mid, sizeof(float) * N * C);
    cpu::MatmulForward(y, a.h, w + o.down, N, F, C, 1.0f);  // y = x_mid + h W_down^T
  }
  Norm(nf_, meanf_, rstdf_, x_final_, gain(layout_.final_norm_offset()), N);
}

float Decoder::RunForward(const float* p, const float* w, const int32_t* inputs,
                          const int32_t* targets, int B, int T, bool head_backward, double z_loss,
                          bool bf16, float* logprobs) {
  const int C = config_.d_model, N = B * T;
  RunTrunk(p, w, inputs, B, T, bf16);
  if (bf16) cpu::RoundToBf16(nf_, (int64_t)N * C);
  cpu::XentOptions xent{
      .z_loss = static_cast<float>(z_loss), .log_z = log_z_, .max_logit = max_logit_, .bf16 = bf16};
  const float objective = cpu::LmHeadXent(
      logprobs, head_backward ? dnf_ : nullptr, head_backward ? dhead_ : nullptr, nf_,
      w + layout_.head_offset(), targets, N, C, config_.vocab_size, head_scratch_,
      std::min(head_block_rows_, N), &count_, /*dW_overwrite=*/true, xent);
  // The split for logging, in the kernel's order (ignored rows hold 0), so cross_entropy has the
  // bits the objective has when z_loss = 0.
  double ce = 0, lz = 0, lz2 = 0, mx = 0;
  for (int n = 0; n < N; ++n) {
    ce -= logprobs[n];
    lz += log_z_[n];
    lz2 += static_cast<double>(log_z_[n]) * log_z_[n];
    mx += max_logit_[n];
  }
  const double inv = count_ ? 1.0 / static_cast<double>(count_) : 0.0;
  head_stats_ = {.cross_entropy = count_ ? static_cast<float>(ce / count_) : 0.0f,
                 .z_loss = static_cast<float>(xent.z_loss * lz2 * inv),
                 .mean_log_z = static_cast<float>(lz * inv),
                 .mean_max_logit = static_cast<float>(mx * inv)};
  return objective;
}

float Decoder::Forward(std::span<const float> params, const int32_t* inputs, const int32_t* targets,
                       int B, int T) {
  CheckArgs(params, inputs, targets, B, T);
  B_ = B;
  T_ = T;
  std::copy_n(inputs, (int64_t)B * T, inputs_.begin());
  const bool bf16 = numerics_.bf16_matmul;
  if (bf16) cpu::RoundToBf16(weights_bf16_.data(), params.data(), layout_.total());
  const float objective = RunForward(params.data(), bf16 ? weights_bf16_.data() : params.data(),
                                     inputs, targets, B, T, true, numerics_.z_loss, bf16, logprob_);
  have_forward_ = true;
  return objective;
}

float Decoder::Loss(std::span<const float> params, const int32_t* inputs, const int32_t* targets,
                    int B, int T) {
  CheckArgs(params, inputs, targets, B, T);
  have_forward_ = false;
  return RunForward(params.data(), params.data(), inputs, targets, B, T, false, 0.0, false,
                    logprob_);
}

void Decoder::LogitStats(std::span<const float> params, const int32_t* inputs, int B, int T,
                         double* max_logit, double* log_z) {
  CheckArgs(params, inputs, inputs, B, T);  // inputs are in-vocabulary targets too
  have_forward_ = false;
  const float* p = params.data();
  RunTrunk(p, p, inputs, B, T, /*bf16=*/false);
  const int C = config_.d_model, V = config_.vocab_size, N = B * T;
  const int rows = std::min(head_block_rows_, N);
  for (int r0 = 0; r0 < N; r0 += rows) {
    const int n = std::min(rows, N - r0);
    // (n,V) logits of rows r0..r0+n
    cpu::MatmulForward(head_scratch_, nf_ + (int64_t)r0 * C, p + layout_.head_offset(), n, C, V);
#pragma omp parallel for schedule(static)
    for (int r = 0; r < n; ++r) {
      const float* z = head_scratch_ + (int64_t)r * V;
      double m = z[0];
      for (int v = 1; v < V; ++v) m = std::max(m, static_cast<double>(z[v]));
      double sum = 0;
      for (int v = 0; v < V; ++v) sum += std::exp(z[v] - m);
      max_logit[r0 + r] = m;
      log_z[r0 + r] = m + std::log(sum);
    }
  }
}

int64_t Decoder::SequenceLogProbs(const float* p, const int32_t* inputs, const int32_t* targets,
                                  int T, const SeqScratch& s, float* logprobs) const {
  const int C = config_.d_model, F = config_.ff_dim(), NH = config_.n_heads, HS = C / NH;
  auto gain = [&](int64_t off) { return off < 0 ? nullptr : p + off; };
  // The ops below are those of RunForward with B = 1, the residual stream updated in place.
  cpu::EmbeddingForward(s.x, inputs, p + layout_.embed_offset(), T, C);
  for (int l = 0; l < config_.n_layers; ++l) {
    const BlockOffsets& o = layout_.block(l);
    Norm(s.n, s.mean, s.rstd, s.x, gain(o.attn_norm), T);
    cpu::MatmulForward(s.qkv, s.n, p + o.q, T, C, 3 * C);
    cpu::RopeApply(s.qkv, rope_cos_, rope_sin_, 1, T, 2 * NH, HS, 3 * C, false);
    cpu::AttentionForward(s.att, s.probs, s.qkv, 1, T, NH, HS);
    cpu::MatmulForward(s.x, s.att, p + o.o, T, C, C, 1.0f);  // x += att W_o^T
    Norm(s.n, s.mean, s.rstd, s.x, gain(o.mlp_norm), T);
    cpu::MatmulForward(s.gu, s.n, p + o.gate, T, C, 2 * F);
    cpu::SwiGluForward(s.h, s.gu, T, F);
    cpu::MatmulForward(s.x, s.h, p + o.down, T, F, C, 1.0f);  // x += h W_down^T
  }
  Norm(s.n, s.mean, s.rstd, s.x, gain(layout_.final_norm_offset()), T);
  int64_t count = 0;
  cpu::LmHeadXent(logprobs, nullptr, nullptr, s.n, p + layout_.head_offset(), targets, T, C,
                  config_.vocab_size, s.head, std::min(seq_head_rows_, T), &count);
  return count;
}

void Decoder::LogProbs(std::span<const float> params, const int32_t* inputs, const int32_t* targets,
                       int B, int T, float* logprobs) {
  CheckArgs(params, inputs, targets, B, T);
  have_forward_ = false;
  int64_t count = 0;
  const int threads = std::min({omp_get_max_threads(), static_cast<int>(seq_.size()), B});
  // Each thread first sets its own nthreads ICV to 1, so every kernel's nested parallel loop and
  // every OpenBLAS call (OpenMP build: it reads omp_get_max_threads()) in the row runs
  // single-threaded, whatever the team size or nesting settings: each row follows the same code
  // path at any B and thread count. Rows go to threads dynamically (padding rows are skipped).
#pragma omp parallel num_threads(threads) reduction(+ : count)
  {
    omp_set_num_threads(1);
    const SeqScratch& s = seq_[omp_get_thread_num()];
#pragma omp for schedule(dynamic, 1)
    for (int b = 0; b < B; ++b) {
      const int32_t* tg = targets + (int64_t)b * T;
      float* lp = logprobs + (int64_t)b * T;
      if (std::none_of(tg, tg + T, [](int32_t x) { return x >= 0; })) {
        std::fill(lp, lp + T, 0.0f);
        continue;
      }
      count += SequenceLogProbs(params.data(), inputs + (int64_t)b * T, tg, T, s, lp);
    }
  }
  count_ = count;
}

void Decoder::Backward(std::span<const float> params, std::span<float> grads) {
  OT_CHECK(have_forward_) << "Decoder::Backward must follow a Forward";
  OT_CHECK(static_cast<int64_t>(grads.size()) == layout_.total()) << "grads size " << grads.size();
  const float* p = params.data();
  const bool bf16 = numerics_.bf16_matmul;
  const float* w = bf16 ? weights_bf16_.data() : p;  // GEMM weights, as in the Forward
  float* g = grads.data();
  const int C = config_.d_model, F = config_.ff_dim(), NH = config_.n_heads, HS = C / NH;
  const int B = B_, T = T_, N = B * T, L = config_.n_layers, V = config_.vocab_size;
  auto gain = [&](int64_t off) { return off < 0 ? nullptr : p + off; };
  auto ggain = [&](int64_t off) { return off < 0 ? nullptr : g + off; };
  // bf16 emulation: rounds x (n floats), which only GEMMs read from here on.
  auto gemm_input = [&](float* x, int64_t n) {
    if (bf16) cpu::RoundToBf16(x, n);
  };
  // The residual-stream gradient keeps accumulating in float32: GEMMs read a rounded copy in dn_
  // (free at both uses: its last value was consumed by the NormBackward before).
  auto residual_gemm_input = [&]() -> const float* {
    if (!bf16) return dres_;
    cpu::RoundToBf16(dn_, dres_, (int64_t)N * C);
    return dn_;
  };
  OT_CHECK(omp_get_max_threads() <= attn_threads_)
      << "OpenMP threads grew from " << attn_threads_ << " after the Decoder was built";
  if (count_ == 0) return;  // nothing counted: the loss is the constant 0

  // Head: Forward left dnf_ = d loss / d nf and dhead_ = d loss / d W_head.
  float* gh = g + layout_.head_offset();
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < (int64_t)V * C; ++i) gh[i] += dhead_[i];
  std::memset(dres_, 0, sizeof(float) * N * C);
  NormBackward(dres_, ggain(layout_.final_norm_offset()), dnf_, x_final_,
               gain(layout_.final_norm_offset()), meanf_, rstdf_, N);
  for (int l = L - 1; l >= 0; --l) {
    const BlockOffsets& o = layout_.block(l);
    LayerActs& a = layers_[l];
    // dres_ = d block output; through the MLP branch (the residual passes dres_ to x_mid
    // unchanged).
    cpu::MatmulBackward(dh_, g + o.down, residual_gemm_input(), a.h, w + o.down, N, F, C, 0.0f);
    cpu::SwiGluBackward(dgu_, dh_, a.gu, N, F);
    gemm_input(dgu_, (int64_t)N * 2 * F);
    cpu::MatmulBackward(dn_, g + o.gate, dgu_, a.n2, w + o.gate, N, C, 2 * F, 0.0f);
    NormBackward(dres_, ggain(o.mlp_norm), dn_, a.x_mid, gain(o.mlp_norm), a.mean2, a.rstd2, N);
    // dres_ = d x_mid; through the attention branch.
    cpu::MatmulBackward(datt_, g + o.o, residual_gemm_input(), a.att, w + o.o, N, C, C, 0.0f);
    gemm_input(datt_, (int64_t)N * C);
    cpu::AttentionBackward(dqkv_, datt_, a.probs, a.qkv, B, T, NH, HS, attn_scratch_, bf16);
    cpu::RopeApply(dqkv_, rope_cos_, rope_sin_, B, T, 2 * NH, HS, 3 * C, true);
    gemm_input(dqkv_, (int64_t)N * 3 * C);
    cpu::MatmulBackward(dn_, g + o.q, dqkv_, a.n1, w + o.q, N, C, 3 * C, 0.0f);
    NormBackward(dres_, ggain(o.attn_norm), dn_, a.x, gain(o.attn_norm), a.mean1, a.rstd1, N);
  }
  cpu::EmbeddingBackward(g + layout_.embed_offset(), dres_, inputs_.data(), N, C);
  have_forward_ = false;
}

}  // namespace ot
