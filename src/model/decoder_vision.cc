// The vision transformer's ends of the Decoder (model.input = patches; see decoder.h): patch
// embedding, CLS token and learned positions before the blocks; pool and the head (classes, or
// SigLIP's projection) after the final norm. The blocks, the norm and Backward's block loop are
// the decoder's own.
#include <cmath>
#include <cstring>
#include <string>

#include "core/check.h"
#include "model/decoder.h"
#include "ops/cpu/kernels.h"
#include "ops/cpu/vision.h"

namespace ot {

void Decoder::CheckImageArgs(std::span<const float> params, const float* pixels,
                             const int32_t* labels, int B, const char* head) const {
  if (!config_.vision())
    throw Error(
        "decoder: the image entry points need model.input = patches; this model reads "
        "tokens");
  if (head && config_.head != head)
    throw Error(std::string("decoder: this entry point needs model.head = ") + head +
                "; the model has head = " + config_.head);
  OT_CHECK(static_cast<int64_t>(params.size()) == layout_.total())
      << "params has " << params.size() << " floats, the layout " << layout_.total();
  OT_CHECK(B >= 1 && B <= max_b_) << "B=" << B << " exceeds the decoder's max " << max_b_;
  OT_CHECK(pixels != nullptr) << "no pixels";
  if (labels)
    for (int b = 0; b < B; ++b)
      if (labels[b] < 0 || labels[b] >= config_.n_classes)
        throw Error("decoder: label " + std::to_string(labels[b]) + " of image " +
                    std::to_string(b) + " is outside the classes [0, " +
                    std::to_string(config_.n_classes) + ")");
}

void Decoder::CheckImageNumerics() const {
  if (numerics_.z_loss != 0 || numerics_.bf16_matmul)
    throw Error(
        "decoder: model.input = patches trains in plain float32; z-loss and bf16 "
        "emulation are not supported");
}

void Decoder::Patchify(const float* pixels, int B, int first) {
  const ModelConfig& m = config_;
  cpu::Patchify(buf_.patches + (int64_t)first * m.num_patches() * m.patch_dim(), pixels, B,
                m.image_size, m.patch_size, m.channels);  // (B*Np,P) from image `first` on
}

void Decoder::RunImageTrunk(const float* p, int B) {
  const ModelConfig& m = config_;
  const int C = m.d_model, T = m.image_tokens(), N = B * T;
  const int rows = B * m.num_patches(), P = m.patch_dim();
  auto at = [&](int64_t off) { return off < 0 ? nullptr : p + off; };
  cpu::MatmulForward(buf_.pemb, buf_.patches, p + layout_.patch_offset(), rows, P, C);
  cpu::BiasForward(buf_.pemb, p + layout_.patch_bias_offset(), rows, C);  // (B*Np,C)
  cpu::ImageTokensForward(buf_.layers[0].x, buf_.pemb, at(layout_.cls_offset()),
                          at(layout_.pos_offset()), B, m.num_patches(), C);  // (B,T,C)
  for (int l = 0; l < m.n_layers; ++l)
    BlockForward(buf_.layers[l], layout_.block(l), p, p, B, T, /*bf16=*/false);
  Norm(buf_.nf, buf_.meanf, buf_.rstdf, buf_.x_final, at(layout_.final_norm_offset()),
       at(layout_.final_norm_bias_offset()), N);
  cpu::PoolForward(buf_.pooled, buf_.nf, B, T, C, m.pool == "cls");  // (B,C)
}

void Decoder::ClassHead(const float* p, int B) {
  const int C = config_.d_model, K = config_.head_dim();
  cpu::MatmulForward(buf_.logits, buf_.pooled, p + layout_.head_offset(), B, C, K);
  cpu::BiasForward(buf_.logits, p + layout_.class_bias_offset(), B, K);  // (B,K)
}

float Decoder::ForwardImages(std::span<const float> params, const float* pixels,
                             const int32_t* labels, int B) {
  CheckImageArgs(params, pixels, labels, B, "classes");
  OT_CHECK(labels != nullptr) << "ForwardImages needs labels";
  CheckImageNumerics();
  B_ = B;
  T_ = config_.image_tokens();
  Patchify(pixels, B, 0);
  RunImageTrunk(params.data(), B);
  ClassHead(params.data(), B);
  const float loss =
      cpu::SoftmaxXent(buf_.logprob, buf_.dlogits, buf_.logits, labels, B, config_.n_classes);
  count_ = B;
  head_stats_ = {.cross_entropy = loss};
  have_forward_ = true;
  return loss;
}

float Decoder::LossImages(std::span<const float> params, const float* pixels, const int32_t* labels,
                          int B) {
  CheckImageArgs(params, pixels, labels, B, "classes");
  OT_CHECK(labels != nullptr) << "LossImages needs labels";
  have_forward_ = false;
  Patchify(pixels, B, 0);
  RunImageTrunk(params.data(), B);
  ClassHead(params.data(), B);
  const float loss =
      cpu::SoftmaxXent(buf_.logprob, nullptr, buf_.logits, labels, B, config_.n_classes);
  count_ = B;
  head_stats_ = {.cross_entropy = loss};
  return loss;
}

void Decoder::ClassLogits(std::span<const float> params, const float* pixels, int B,
                          float* logits) {
  CheckImageArgs(params, pixels, nullptr, B, "classes");
  have_forward_ = false;
  Patchify(pixels, B, 0);
  RunImageTrunk(params.data(), B);
  ClassHead(params.data(), B);
  std::memcpy(logits, buf_.logits, sizeof(float) * B * config_.n_classes);
}

float Decoder::ForwardPairs(std::span<const float> params, const float* pixels_a,
                            const float* pixels_b, int B) {
  CheckImageArgs(params, pixels_a, nullptr, 2 * B, "projection");
  OT_CHECK(pixels_b != nullptr) << "no pixels";
  CheckImageNumerics();
  const float* p = params.data();
  const int K = config_.proj_dim;
  B_ = 2 * B;
  T_ = config_.image_tokens();
  Patchify(pixels_a, B, 0);  // images 0..B-1: the views a; B..2B-1: the views b
  Patchify(pixels_b, B, B);
  RunImageTrunk(p, 2 * B);
  ClassHead(p, 2 * B);  // (2B,K) projections
  const int64_t half = (int64_t)B * K;
  const int64_t s = layout_.siglip_offset();
  const float loss = cpu::SigLip(buf_.siglip_uw, buf_.siglip_uw + half, buf_.dlogits,
                                 buf_.dlogits + half, &dsiglip_[0], &dsiglip_[1], buf_.logits,
                                 buf_.logits + half, p[s], p[s + 1], B, K);
  count_ = B;
  head_stats_ = {.cross_entropy = loss};
  have_forward_ = true;
  return loss;
}

void Decoder::Embeddings(std::span<const float> params, const float* pixels, int B,
                         float* embeddings) {
  CheckImageArgs(params, pixels, nullptr, B, "projection");
  have_forward_ = false;
  Patchify(pixels, B, 0);
  RunImageTrunk(params.data(), B);
  ClassHead(params.data(), B);
  std::memcpy(embeddings, buf_.logits, sizeof(float) * B * config_.proj_dim);
}

void Decoder::Features(std::span<const float> params, const float* pixels, int B, float* features) {
  CheckImageArgs(params, pixels, nullptr, B, nullptr);
  have_forward_ = false;
  Patchify(pixels, B, 0);
  RunImageTrunk(params.data(), B);
  std::memcpy(features, buf_.pooled, sizeof(float) * B * config_.d_model);
}

void Decoder::ClassHeadBackward(const float* p, float* g) {
  const int C = config_.d_model, K = config_.head_dim(), B = B_, T = T_;
  if (layout_.siglip_offset() >= 0) {  // ForwardPairs' log-temperature and bias
    g[layout_.siglip_offset()] += dsiglip_[0];
    g[layout_.siglip_offset() + 1] += dsiglip_[1];
  }
  cpu::BiasBackward(g + layout_.class_bias_offset(), buf_.dlogits, B, K);
  // dpooled (B,C) = dlogits W; d W_head += dlogits^T pooled
  cpu::MatmulBackward(buf_.dpooled, g + layout_.head_offset(), buf_.dlogits, buf_.pooled,
                      p + layout_.head_offset(), B, C, K, 0.0f);
  cpu::PoolBackward(buf_.dnf, buf_.dpooled, B, T, C, config_.pool == "cls");  // (N,C)
}

void Decoder::ImageInputBackward(const float* p, float* g) {
  const ModelConfig& m = config_;
  const int C = m.d_model, rows = B_ * m.num_patches(), P = m.patch_dim();
  auto grad_at = [&](int64_t off) { return off < 0 ? nullptr : g + off; };
  // dres = d(first block input) = d tokens; pemb's activations are no longer needed: it takes
  // their gradient.
  cpu::ImageTokensBackward(buf_.pemb, grad_at(layout_.cls_offset()), grad_at(layout_.pos_offset()),
                           buf_.dres, B_, m.num_patches(), C);
  cpu::BiasBackward(g + layout_.patch_bias_offset(), buf_.pemb, rows, C);
  cpu::MatmulBackward(nullptr, g + layout_.patch_offset(), buf_.pemb, buf_.patches,
                      p + layout_.patch_offset(), rows, P, C, 0.0f);
}

}  // namespace ot
