// The decoder in LibTorch (ATen) ops with autograd: every ModelConfig switch (GQA, RMSNorm /
// LayerNorm / affine LayerNorm, pre / post norm, QK-norm, biases, parallel residual, partial
// rotary, clip_qkv, SwiGLU / GELU, tied head) as the native engine computes it
// (model/reference_decoder.h is the specification), over views of one flat fp32 parameter tensor so
// that gradients land in one flat gradient tensor. bf16 casts every GEMM input (weights and
// activations, attention's products, the LM head) to bfloat16 with fp32 master weights, norms,
// softmax and loss: on CUDA the GEMMs run on bf16 tensor cores, as autocast would. Part of the
// LibTorch plugin. Entry points: TorchModel, HeadOutput.
#pragma once

#include <ATen/ATen.h>

#include "model/config.h"
#include "model/layout.h"

namespace ot::torch_engine {

// What one forward through the LM head gives, per row (N = B*T), all fp32 on the device.
struct HeadOutput {
  at::Tensor logits;        // (N,V)
  at::Tensor log_z;         // (N) logsumexp of the row
  at::Tensor mask;          // (N) 1 where target >= 0
  at::Tensor target_logit;  // (N) the target's logit (0 where ignored)
};

class TorchModel {
 public:
  TorchModel(const ModelConfig& config, const ParamLayout& layout, at::Device device, int max_seq);

  // The final norm's output (B*T, C) for int64 inputs (B,T) on the device, at the weights `theta`
  // (the flat parameter tensor; autograd flows into it when it requires grad).
  at::Tensor Trunk(const at::Tensor& theta, const at::Tensor& inputs, bool bf16) const;
  // The LM head over the trunk's output: logits and per-row statistics for targets (B*T) int64.
  HeadOutput Head(const at::Tensor& theta, const at::Tensor& hidden, const at::Tensor& targets,
                  bool bf16) const;
  // The training objective: mean over counted targets of CE + z_loss·log²Z, and its parts (ce, z).
  struct Objective {
    at::Tensor loss, cross_entropy, z, mean_log_z, count;  // 0-d fp32 tensors (count: int64)
  };
  static Objective Loss(const HeadOutput& head, double z_loss);

  // The tensor `name`'s view into theta (by layout offset and shape).
  at::Tensor View(const at::Tensor& theta, int64_t offset, at::IntArrayRef shape) const;

 private:
  at::Tensor Block(const at::Tensor& theta, const BlockOffsets& o, const at::Tensor& x,
                   bool bf16) const;
  at::Tensor Attention(const at::Tensor& qkv, int B, int T, bool bf16) const;
  at::Tensor Rope(const at::Tensor& x, int T) const;  // x (B,T,H,HS)
  at::Tensor Norm(const at::Tensor& theta, int64_t gain, int64_t bias, const at::Tensor& x) const;
  at::Tensor Linear(const at::Tensor& x, const at::Tensor& W, const at::Tensor& bias,
                    bool bf16) const;

  ModelConfig config_;
  ParamLayout layout_;
  at::Device device_;
  at::Tensor rope_cos_, rope_sin_;  // (max_seq, R/2) fp32, as the native tables
};

}  // namespace ot::torch_engine
