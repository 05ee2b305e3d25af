// Decoder (see decoder.h): the buffer plan, the embedding, the final norm and the LM head, and the
// passes over the blocks (whose forward and backward live in decoder_block.cc). bf16 emulation
// (DecoderNumerics) rounds the weights once per Forward into weights_bf16_.
#include "model/decoder.h"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/check.h"
#include "ops/cpu/kernels.h"
#include "ops/cpu/vision.h"

namespace ot {

template <typename Slot>
void Decoder::PlanBuffers(const ModelConfig& config, int max_batch, int max_seq, int threads,
                          Buffers& b, Slot slot) {
  const int64_t C = config.d_model, F = config.ff_dim(), V = config.vocab_size, NH = config.n_heads;
  const int64_t HS = C / NH, L = config.n_layers, T = max_seq, N = int64_t{max_batch} * max_seq;
  const int64_t QKV = config.qkv_dim(), G = config.mlp == MlpKind::kSwiGlu ? 2 * F : F;
  const int64_t R = config.rotary_dims();
  const bool post = config.norm_placement == NormPlacement::kPost, qk_norm = config.qk_norm;
  const bool raw = config.clip_qkv > 0 || qk_norm, vision = config.vision();
  // Head row block: ~4 MB of logits per block (L3-resident), at least 128 rows so the dW GEMM (K =
  // rows) stays efficient; 128-256 rows measured best at V 4096 (64 was 30% slower, 512 20%
  // slower). LogProbs' per-sequence head blocks: min(seq_rows, T) rows, a function of V and T only.
  const int64_t seq_rows = std::clamp<int64_t>((1 << 20) / V, 128, 1024);
  const int64_t head_rows = std::min<int64_t>(seq_rows, N),
                seq_head = std::min<int64_t>(seq_rows, T);
  auto when = [&](bool present, float*& ptr, int64_t n) {
    ptr = nullptr;
    if (present) slot(ptr, n);
  };
  // One block's buffers for `rows` rows of sequences of length t.
  auto block = [&](BlockActs& a, int64_t rows, int64_t t, bool with_x) {
    when(with_x, a.x, rows * C);
    slot(a.n1, rows * C);  // post-norm: only its bf16 copy of x uses it
    slot(a.mean1, rows);
    slot(a.rstd1, rows);
    when(raw, a.qkv_raw, rows * QKV);
    when(qk_norm, a.qk_rstd, 2 * rows);
    slot(a.qkv, rows * QKV);
    slot(a.probs, rows * NH * t);
    slot(a.att, rows * C);
    when(post, a.o_out, rows * C);
    slot(a.x_mid, rows * C);
    slot(a.n2, rows * C);
    slot(a.mean2, rows);
    slot(a.rstd2, rows);
    slot(a.gu, rows * G);
    slot(a.h, rows * F);
    when(post, a.m_out, rows * C);
    a.y = nullptr;
  };
  b.layers.resize(L);
  for (auto& a : b.layers) block(a, N, T, true);
  slot(b.x_final, N * C);
  slot(b.nf, N * C);
  slot(b.meanf, N);
  slot(b.rstdf, N);
  slot(b.logprob, N);
  slot(b.log_z, N);
  slot(b.max_logit, N);
  slot(b.dnf, N * C);
  when(!vision, b.dhead, V * C);
  when(R > 0, b.rope_cos, T * R / 2);
  when(R > 0, b.rope_sin, T * R / 2);
  when(!vision, b.head_scratch, head_rows * V);
  slot(b.attn_scratch,
       threads * cpu::AttentionScratchSize(static_cast<int>(T), static_cast<int>(HS)));
  slot(b.dres, N * C);
  slot(b.dn, N * C);
  slot(b.dqkv, N * QKV);
  slot(b.datt, N * C);
  slot(b.dgu, N * G);
  slot(b.dh, N * F);
  when(post, b.dbranch, N * C);
  when(config.parallel_residual, b.dpar, N * C);
  when(qk_norm, b.dqkv_raw, N * QKV);
  // The ViT's buffers (decoder.h, Buffers).
  const int64_t Np = int64_t{max_batch} * config.num_patches(), K = config.head_dim();
  when(vision, b.patches, Np * config.patch_dim());
  when(vision, b.pemb, Np * C);
  when(vision, b.pooled, max_batch * C);
  when(vision, b.logits, max_batch * K);
  when(vision, b.dlogits, max_batch * K);
  when(vision && config.head == "projection", b.siglip_uw, max_batch * K);
  when(vision, b.dpooled, max_batch * C);
  b.seq.resize(vision ? 0 : threads);  // LogProbs' scratch: a ViT has no LogProbs
  for (auto& s : b.seq) {
    block(s.block, T, T, false);
    slot(s.x_a, T * C);
    slot(s.x_b, T * C);
    slot(s.nf, T * C);
    slot(s.meanf, T);
    slot(s.rstdf, T);
    slot(s.head, seq_head * V);
  }
}

Decoder::Decoder(const ModelConfig& config, int max_batch, int max_seq)
    : config_(config), layout_(ParamLayout::ForModel(config)), max_b_(max_batch), max_t_(max_seq) {
  OT_CHECK(max_batch >= 1 && max_seq >= 1) << "max_batch " << max_batch << " max_seq " << max_seq;
  if (max_seq > config.max_seq_len)
    throw Error("decoder: max_seq = " + std::to_string(max_seq) +
                " exceeds model.max_seq_len = " + std::to_string(config.max_seq_len));
  if (config.vision() && max_seq < config.image_tokens())
    throw Error("decoder: max_seq = " + std::to_string(max_seq) + " is below the " +
                std::to_string(config.image_tokens()) + " tokens of an image");
  const int64_t V = config.vocab_size, N = (int64_t)max_batch * max_seq;
  seq_head_rows_ =
      static_cast<int>(std::clamp<int64_t>((1 << 20) / V, 128, 1024));  // as PlanBuffers
  head_block_rows_ = static_cast<int>(std::min<int64_t>(seq_head_rows_, N));
  const int threads = attn_threads_ = omp_get_max_threads();
  // Plan every buffer as (pointer slot, floats), then allocate one arena.
  std::vector<std::pair<float**, int64_t>> plan;
  PlanBuffers(config, max_batch, max_seq, threads, buf_,
              [&](float*& ptr, int64_t n) { plan.emplace_back(&ptr, n); });
  int64_t total = 0;
  for (auto& [slot, n] : plan) total += (n + 15) / 16 * 16;  // 64-byte aligned offsets
  arena_.assign(total, 0.0f);
  int64_t off = 0;
  for (auto& [slot, n] : plan) {
    *slot = arena_.data() + off;
    off += (n + 15) / 16 * 16;
  }
  for (int l = 0; l + 1 < config.n_layers; ++l) buf_.layers[l].y = buf_.layers[l + 1].x;
  buf_.layers.back().y = buf_.x_final;
  inputs_.resize(N);
  if (config.positions == "rope2d") {  // the image's tokens: T = image_tokens() <= max_seq rows
    cpu::Rope2dTable(buf_.rope_cos, buf_.rope_sin, config.image_size / config.patch_size,
                     config.pool == "cls", config.rotary_dims(), config.rope_theta);
  } else if (config.rotary_dims() > 0) {
    cpu::RopeTable(buf_.rope_cos, buf_.rope_sin, max_seq, config.rotary_dims(), config.rope_theta);
  }
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
  // The constructor's plan, buffer by buffer (each rounded up to 16 floats), in int64.
  Buffers unused;
  int64_t floats = 0;
  PlanBuffers(config, max_batch, max_seq, threads, unused,
              [&](float*&, int64_t n) { floats += (n + 15) / 16 * 16; });
  if (numerics.bf16_matmul) floats += ParamLayout::ForModel(config).total();
  return floats * static_cast<int64_t>(sizeof(float)) +
         int64_t{max_batch} * max_seq * static_cast<int64_t>(sizeof(int32_t));
}

void Decoder::CheckArgs(std::span<const float> params, const int32_t* inputs,
                        const int32_t* targets, int B, int T) const {
  OT_CHECK(static_cast<int64_t>(params.size()) == layout_.total())
      << "params has " << params.size() << " floats, the layout " << layout_.total();
  OT_CHECK(B >= 1 && B <= max_b_ && T >= 1 && T <= max_t_)
      << "B=" << B << " T=" << T << " exceed the decoder's max " << max_b_ << "x" << max_t_;
  if (config_.vision())
    throw Error(
        "decoder: model.input = patches reads images; call ForwardImages, LossImages, "
        "ClassLogits or Features, not the token entry points");
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
                   const float* bias, int N) const {
  const float eps = static_cast<float>(config_.norm_eps);
  switch (config_.norm) {
    case NormKind::kRmsNorm:
      cpu::RmsNormForward(out, rstd, x, gain, N, config_.d_model, eps);
      break;
    case NormKind::kLayerNorm:
      cpu::LayerNormForward(out, mean, rstd, x, N, config_.d_model, eps);
      break;
    case NormKind::kLayerNormAffine:
      cpu::LayerNormAffineForward(out, mean, rstd, x, gain, bias, N, config_.d_model, eps);
      break;
  }
}

void Decoder::NormBackward(float* dx, float* dgain, float* dbias, const float* dout, const float* x,
                           const float* gain, const float* mean, const float* rstd, int N) const {
  switch (config_.norm) {
    case NormKind::kRmsNorm:
      cpu::RmsNormBackward(dx, dgain, dout, x, gain, rstd, N, config_.d_model);
      break;
    case NormKind::kLayerNorm:
      cpu::LayerNormBackward(dx, dout, x, mean, rstd, N, config_.d_model);
      break;
    case NormKind::kLayerNormAffine:
      cpu::LayerNormAffineBackward(dx, dgain, dbias, dout, x, gain, mean, rstd, N, config_.d_model);
      break;
  }
}

void Decoder::RunTrunk(const float* p, const float* w, const int32_t* inputs, int B, int T,
                       bool bf16) {
  const int C = config_.d_model, N = B * T;
  auto at = [&](int64_t off) { return off < 0 ? nullptr : p + off; };
  cpu::EmbeddingForward(buf_.layers[0].x, inputs, p + layout_.embed_offset(), N, C);
  for (int l = 0; l < config_.n_layers; ++l)
    BlockForward(buf_.layers[l], layout_.block(l), p, w, B, T, bf16);
  Norm(buf_.nf, buf_.meanf, buf_.rstdf, buf_.x_final, at(layout_.final_norm_offset()),
       at(layout_.final_norm_bias_offset()), N);
}

float Decoder::RunForward(const float* p, const float* w, const int32_t* inputs,
                          const int32_t* targets, int B, int T, bool head_backward, double z_loss,
                          bool bf16, float* logprobs) {
  const int C = config_.d_model, N = B * T;
  RunTrunk(p, w, inputs, B, T, bf16);
  if (bf16) cpu::RoundToBf16(buf_.nf, (int64_t)N * C);
  cpu::XentOptions xent{.z_loss = static_cast<float>(z_loss),
                        .log_z = buf_.log_z,
                        .max_logit = buf_.max_logit,
                        .bf16 = bf16};
  const float objective = cpu::LmHeadXent(
      logprobs, head_backward ? buf_.dnf : nullptr, head_backward ? buf_.dhead : nullptr, buf_.nf,
      w + layout_.head_offset(), targets, N, C, config_.vocab_size, buf_.head_scratch,
      std::min(head_block_rows_, N), &count_, /*dW_overwrite=*/true, xent);
  // The split for logging, in the kernel's order (ignored rows hold 0), so cross_entropy has the
  // bits the objective has when z_loss = 0.
  double ce = 0, lz = 0, lz2 = 0, mx = 0;
  for (int n = 0; n < N; ++n) {
    ce -= logprobs[n];
    lz += buf_.log_z[n];
    lz2 += static_cast<double>(buf_.log_z[n]) * buf_.log_z[n];
    mx += buf_.max_logit[n];
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
  const float objective =
      RunForward(params.data(), bf16 ? weights_bf16_.data() : params.data(), inputs, targets, B, T,
                 true, numerics_.z_loss, bf16, buf_.logprob);
  have_forward_ = true;
  return objective;
}

float Decoder::Loss(std::span<const float> params, const int32_t* inputs, const int32_t* targets,
                    int B, int T) {
  CheckArgs(params, inputs, targets, B, T);
  have_forward_ = false;
  return RunForward(params.data(), params.data(), inputs, targets, B, T, false, 0.0, false,
                    buf_.logprob);
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
    cpu::MatmulForward(buf_.head_scratch, buf_.nf + (int64_t)r0 * C, p + layout_.head_offset(), n,
                       C, V);
#pragma omp parallel for schedule(static)
    for (int r = 0; r < n; ++r) {
      const float* z = buf_.head_scratch + (int64_t)r * V;
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
                                  int T, SeqScratch& s, float* logprobs) const {
  const int C = config_.d_model;
  auto at = [&](int64_t off) { return off < 0 ? nullptr : p + off; };
  // The ops of RunTrunk with B = 1, the residual stream alternating between two buffers.
  cpu::EmbeddingForward(s.x_a, inputs, p + layout_.embed_offset(), T, C);
  BlockActs a = s.block;
  a.x = s.x_a;
  a.y = s.x_b;
  for (int l = 0; l < config_.n_layers; ++l) {
    BlockForward(a, layout_.block(l), p, p, 1, T, /*bf16=*/false);
    std::swap(a.x, a.y);
  }
  Norm(s.nf, s.meanf, s.rstdf, a.x, at(layout_.final_norm_offset()),
       at(layout_.final_norm_bias_offset()), T);
  int64_t count = 0;
  cpu::LmHeadXent(logprobs, nullptr, nullptr, s.nf, p + layout_.head_offset(), targets, T, C,
                  config_.vocab_size, s.head, std::min(seq_head_rows_, T), &count);
  return count;
}

void Decoder::LogProbs(std::span<const float> params, const int32_t* inputs, const int32_t* targets,
                       int B, int T, float* logprobs) {
  CheckArgs(params, inputs, targets, B, T);
  have_forward_ = false;
  int64_t count = 0;
  const int threads = std::min({omp_get_max_threads(), static_cast<int>(buf_.seq.size()), B});
  // Each thread first sets its own nthreads ICV to 1, so every kernel's nested parallel loop and
  // every OpenBLAS call (OpenMP build: it reads omp_get_max_threads()) in the row runs
  // single-threaded, whatever the team size or nesting settings: each row follows the same code
  // path at any B and thread count. Rows go to threads dynamically (padding rows are skipped).
#pragma omp parallel num_threads(threads) reduction(+ : count)
  {
    omp_set_num_threads(1);
    SeqScratch& s = buf_.seq[omp_get_thread_num()];
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
  const int C = config_.d_model, N = B_ * T_, V = config_.vocab_size;
  auto at = [&](int64_t off) { return off < 0 ? nullptr : p + off; };
  auto grad_at = [&](int64_t off) { return off < 0 ? nullptr : g + off; };
  OT_CHECK(omp_get_max_threads() <= attn_threads_)
      << "OpenMP threads grew from " << attn_threads_ << " after the Decoder was built";
  if (count_ == 0) return;  // nothing counted: the loss is the constant 0

  if (config_.vision()) {
    ClassHeadBackward(p, g);  // dnf = d loss / d nf
  } else {
    // Head: Forward left dnf = d loss / d nf and dhead = d loss / d W_head.
    float* gh = g + layout_.head_offset();
    const float* dhead = buf_.dhead;
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < (int64_t)V * C; ++i) gh[i] += dhead[i];
  }
  std::memset(buf_.dres, 0, sizeof(float) * N * C);
  NormBackward(buf_.dres, grad_at(layout_.final_norm_offset()),
               grad_at(layout_.final_norm_bias_offset()), buf_.dnf, buf_.x_final,
               at(layout_.final_norm_offset()), buf_.meanf, buf_.rstdf, N);
  for (int l = config_.n_layers - 1; l >= 0; --l)
    BlockBackward(buf_.layers[l], layout_.block(l), p, w, g, B_, T_, bf16);
  if (config_.vision()) {
    ImageInputBackward(p, g);
  } else {
    cpu::EmbeddingBackward(g + layout_.embed_offset(), buf_.dres, inputs_.data(), N, C);
  }
  have_forward_ = false;
}

}  // namespace ot
