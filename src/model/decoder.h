// The fast CPU decoder (float32): forward, backward and forward-only log-probs of the OLMo-style
// model, and of every architecture the ModelConfig switches describe (GQA, norm placement, biases,
// QK-norm, parallel residual, partial rotary, clip_qkv, GELU MLP), over a flat parameter arena,
// composed from ops/cpu kernels (blocks in decoder_block.cc). All activations and scratch are
// allocated in the constructor from (max_batch, max_seq); a training step allocates nothing.
// LogProbs runs each sequence on its own (one per OpenMP thread, single-threaded GEMMs of T rows),
// so its results are bit-identical whatever the batch size, the row's position and the thread count
// (docs/reliability.md case 24). Entry points: Decoder::{Forward, Backward, LogProbs, Loss,
// LogitStats, set_numerics}; for a ViT (model.input = patches, decoder_vision.cc)
// Decoder::{ForwardImages, ForwardPairs, Backward, LossImages, ClassLogits, Embeddings, Features}.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "model/config.h"
#include "model/layout.h"

namespace ot {

// How the training step computes (Decoder::set_numerics). The defaults are the plain float32 step,
// bit for bit. Both options act on Forward/Backward only: Loss and LogProbs are evaluation, always
// the plain float32 cross-entropy and log-probs, so validation numbers measure the model, not the
// training arithmetic.
struct DecoderNumerics {
  // z-loss (PaLM, Chowdhery et al. 2022, section 5): Forward's objective is the mean over counted
  // targets of CE + z_loss * log^2 Z, log Z the logsumexp of the target's logits row; keeps log Z
  // near 0.
  double z_loss = 0;
  // bf16 mixed precision, EMULATED: every GEMM input (weights and activations, forward and
  // backward, attention's Q K^T / P V and their gradients, the LM head's logits and d logits) is
  // rounded to bfloat16 (round to nearest even, cpu::RoundToBf16) while products accumulate in
  // float32, as on tensor cores; master weights, gradients, norms, softmax, residual stream and the
  // optimizer stay float32, and so does the embedding lookup (not a GEMM; a tied head's GEMM reads
  // the rounded table). This reproduces the arithmetic, not the speed: the GEMMs still run as
  // SGEMM, plus a rounding pass over their inputs. Weights are rounded once per Forward into a copy
  // of the parameter arena (allocated by set_numerics, counted in ActivationBytes).
  bool bf16_matmul = false;
};

class Decoder {
 public:
  Decoder(const ModelConfig& config, int max_batch, int max_seq);

  // Sets how Forward/Backward compute (DecoderNumerics). Allocates the bf16 weight copy when
  // bf16_matmul is turned on (frees it when off), never in a step. Invalidates Forward's state.
  void set_numerics(const DecoderNumerics& numerics);
  const DecoderNumerics& numerics() const { return numerics_; }

  // inputs, targets: (B,T) int32 row-major; target < 0 means "ignored". Returns the training
  // objective: the mean cross-entropy (nats) over non-ignored targets (0 if none), plus the z-loss
  // term when numerics().z_loss > 0 (HeadStatsLast splits the two), and keeps what Backward needs.
  // For speed the LM head's backward is fused into this call (its GEMMs run while the logits block
  // is hot), so Forward costs ~3x the head's forward: for loss-only evaluation call Loss or
  // LogProbs instead.
  float Forward(std::span<const float> params, const int32_t* inputs, const int32_t* targets, int B,
                int T);
  // d(objective)/d(params) ACCUMULATED into grads (caller zeroes). Must follow a Forward with the
  // same params.
  void Backward(std::span<const float> params, std::span<float> grads);
  // Forward only: log p(target_t | inputs_<=t) into logprobs (B,T) (0 where target < 0). Each row
  // is computed alone (an OpenMP loop over rows, each with its own scratch and single-threaded
  // GEMMs of T rows), so a row's results depend only on its own tokens, T and params: bit-identical
  // at any B, any position in the batch and any thread count. Rows with no target >= 0 are skipped
  // (all 0). Uses at most as many threads as omp_get_max_threads() when the Decoder was built.
  // Invalidates Forward's state.
  void LogProbs(std::span<const float> params, const int32_t* inputs, const int32_t* targets, int B,
                int T, float* logprobs);
  // Forward only: the mean NLL Forward would return with default numerics (same bits: the batched
  // path of Forward), without the head's backward. Never z-regularised, never bf16
  // (DecoderNumerics).
  float Loss(std::span<const float> params, const int32_t* inputs, const int32_t* targets, int B,
             int T);

  // Forward only: per position the largest logit and the log-partition log Z = log Σ_v exp(logit_v)
  // of the next-token distribution, each (B,T), in double from the float logits. Batched path (the
  // trunk of Forward/Loss). Invalidates Forward's state.
  void LogitStats(std::span<const float> params, const int32_t* inputs, int B, int T,
                  double* max_logit, double* log_z);

  // --- The vision transformer (model.input = patches; decoder_vision.cc). The same blocks (with
  // model.causal), final norm and backward; patch embedding, CLS, positions, pool and class head
  // in place of the token embedding and the LM head. pixels: (B, config().pixels()) floats, each
  // image row-major (H, W, channels); labels (B) in [0, n_classes). B <= max_batch; the sequence
  // is config().image_tokens() (<= max_seq). The token entry points above refuse a ViT and these
  // refuse a decoder, each with one sentence.
  //
  // head = classes. Returns the mean cross-entropy over the B images and keeps what Backward needs
  // (the class head's backward is taken here, as the LM head's is in Forward). Default numerics
  // only (a z-loss or bf16 is refused).
  float ForwardImages(std::span<const float> params, const float* pixels, const int32_t* labels,
                      int B);
  // Forward only: ForwardImages' loss without the head's backward. Invalidates Forward's state.
  float LossImages(std::span<const float> params, const float* pixels, const int32_t* labels,
                   int B);
  // Forward only: the class logits (B, n_classes) of each image. Invalidates Forward's state.
  void ClassLogits(std::span<const float> params, const float* pixels, int B, float* logits);
  // head = projection: B pairs of views (pixels_a, pixels_b: (B, pixels()) each) run as one batch
  // of 2B images (2B <= max_batch); returns SigLIP's pairwise sigmoid loss between the views'
  // projections (cpu::SigLip, the log-temperature and bias being the parameters siglip.t_log,
  // siglip.bias) and keeps what Backward needs. Default numerics only.
  float ForwardPairs(std::span<const float> params, const float* pixels_a, const float* pixels_b,
                     int B);
  // Forward only, head = projection: the projections (B, proj_dim) SigLIP compares (before its
  // normalisation). Invalidates Forward's state.
  void Embeddings(std::span<const float> params, const float* pixels, int B, float* embeddings);
  // Forward only: the pooled representation (B, C) after the final norm, the features a linear
  // probe reads. Invalidates Forward's state.
  void Features(std::span<const float> params, const float* pixels, int B, float* features);

  // Means over the counted targets of the last Forward or Loss (LogProbs leaves them alone), summed
  // in row order in double. Forward returns cross_entropy + z_loss (to float rounding).
  struct HeadStats {
    float cross_entropy = 0;   // mean CE, train/loss: Loss's bits when bf16_matmul is off
    float z_loss = 0;          // numerics().z_loss * mean log^2 Z: what z-loss adds (0 when off)
    float mean_log_z = 0;      // mean log Z (logsumexp of the logits row)
    float mean_max_logit = 0;  // mean of the row's largest logit
  };
  const HeadStats& HeadStatsLast() const { return head_stats_; }
  int64_t CountedTokensLast() const { return count_; }  // non-ignored targets in the last forward
  const ModelConfig& config() const { return config_; }
  const ParamLayout& layout() const { return layout_; }
  int max_batch() const { return max_b_; }
  int max_seq() const { return max_t_; }
  int64_t ActivationBytes() const;  // everything allocated by the constructor
  // What ActivationBytes() will be for Decoder(config, max_batch, max_seq) built with `threads`
  // OpenMP threads and set to `numerics`, computed in int64 without allocating (memory planning
  // before any allocation).
  static int64_t PlannedActivationBytes(const ModelConfig& config, int max_batch, int max_seq,
                                        int threads, const DecoderNumerics& numerics = {});

 private:
  // One block's activations, N = B*T rows (QKV = C + 2KV; G = 2F under SwiGLU, F under GELU). A
  // null pointer marks a buffer this architecture does not have. The batched path keeps one per
  // layer (y is the next layer's x); LogProbs' per-sequence scratch reuses one for every layer.
  struct BlockActs {
    float* x;        // (N,C) block input (residual stream)
    float* n1;       // (N,C) the qkv GEMM's input: pre-norm norm_a(x); post-norm: x rounded to bf16
                     // (bf16 only; else null and the GEMM reads x)
    float* mean1;    // (N) attention-branch norm statistics (LayerNorm mean; post-norm: of o_out)
    float* rstd1;    // (N)
    float* qkv_raw;  // (N,QKV) projections (+ bias) before clip_qkv / QK-norm [clip_qkv or qk_norm]
    float* qk_rstd;  // (2,N) QK-norm rstd of the q rows, then of the k rows [qk_norm]
    float* qkv;      // (N,QKV) q,k after RoPE (and clip / QK-norm), v
    float* probs;    // (B,NH,T,T)
    float* att;      // (N,C) attention output (pre o_proj)
    float* o_out;    // (N,C) o_proj(att) (+ bias) before the post-norm [post-norm]
    float* x_mid;    // (N,C) x + attention branch
    float* n2;       // (N,C) the MLP's first GEMM input: pre-norm norm_m(x_mid), or norm_m(x) under
                     // parallel_residual; post-norm: x_mid rounded to bf16 (bf16 only, else null)
    float* mean2;    // (N)
    float* rstd2;    // (N)
    float* gu;       // (N,G) [gate | up] (SwiGLU) or up (GELU), biases added
    float* h;        // (N,F) MLP activation
    float* m_out;    // (N,C) down_proj(h) (+ bias) before the post-norm [post-norm]
    float* y;        // (N,C) block output
  };
  // Forward-only scratch for one sequence of up to max_seq rows (LogProbs: one per thread).
  struct SeqScratch {
    BlockActs block;  // x and y alternate between x_a and x_b, layer by layer
    float *x_a, *x_b, *nf, *meanf, *rstdf, *head;
  };
  // Every activation and scratch buffer, as pointers into one arena (PlanBuffers lays them out).
  struct Buffers {
    std::vector<BlockActs> layers;
    float *x_final, *nf, *meanf, *rstdf, *logprob, *log_z, *max_logit, *dnf, *dhead;
    float *rope_cos, *rope_sin, *head_scratch, *attn_scratch;
    float *dres, *dn, *dqkv, *datt, *dgu, *dh;
    float* dbranch;   // (N,C) d o_out / d m_out [post-norm]
    float* dpar;      // (N,C) the MLP branch's d x [parallel_residual]
    float* dqkv_raw;  // (N,QKV) d qkv_raw [qk_norm]
    std::vector<SeqScratch> seq;
    // The ViT's (input = patches; else null). Np = B * patches rows, P = patch_dim, K = n_classes.
    float* patches;    // (Np,P) the patchified pixels, the patch embedding's GEMM input
    float* pemb;       // (Np,C) patch embeddings; in Backward their gradient
    float* pooled;     // (B,C) the pool of nf
    float* logits;     // (B,K) class logits, or projections under head = projection
    float* dlogits;    // (B,K) d loss / d logits (ForwardImages, ForwardPairs)
    float* siglip_uw;  // (B,K) the normalised projections of ForwardPairs' views a, then b
    float* dpooled;    // (B,C)
  };
  // Lays out every buffer of a Decoder(config, max_batch, max_seq) built with `threads` OpenMP
  // threads: calls slot(pointer, floats) for each (in one fixed order), leaving absent buffers
  // null. The constructor and PlannedActivationBytes both use it, so the plan and the allocation
  // agree.
  template <typename Slot>
  static void PlanBuffers(const ModelConfig& config, int max_batch, int max_seq, int threads,
                          Buffers& b, Slot slot);

  // params: master weights (embedding, gains, biases); weights: what the GEMMs read (params, or
  // their bf16 copy). z_loss and bf16 as in DecoderNumerics, passed per call so Loss can use the
  // plain ones.
  float RunForward(const float* params, const float* weights, const int32_t* inputs,
                   const int32_t* targets, int B, int T, bool head_backward, double z_loss,
                   bool bf16, float* logprobs);
  // Embedding, blocks and final norm into nf (N,C): what every batched forward shares (GEMM inputs
  // rounded to bf16 when `bf16`; nf itself is left in fp32 for the head to round).
  void RunTrunk(const float* params, const float* weights, const int32_t* inputs, int B, int T,
                bool bf16);
  // One block forward over B sequences of T rows into a.y (decoder_block.cc). Also runs inside
  // LogProbs' parallel region (B = 1), where every kernel and GEMM runs single-threaded.
  void BlockForward(const BlockActs& a, const BlockOffsets& o, const float* p, const float* w,
                    int B, int T, bool bf16) const;
  // out (N,C) = residual + in (N,I) W^T + bias; under post-norm (pre_norm != null, (N,C)) residual
  // + norm(in W^T + bias), the branch kept in pre_norm and the norm's statistics in mean, rstd (N).
  // The output projection of both branches of a block (BlockForward).
  void ResidualBranch(float* out, const float* residual, const float* in, const float* W,
                      const float* bias, int N, int I, float* pre_norm, float* mean, float* rstd,
                      const float* gain, const float* norm_bias) const;
  // The block's backward: dres (N,C) holds d(block output) on entry, d(block input) on return;
  // parameter gradients accumulate into g (decoder_block.cc).
  void BlockBackward(const BlockActs& a, const BlockOffsets& o, const float* p, const float* w,
                     float* g, int B, int T, bool bf16);
  // One sequence (T rows) through the whole model into logprobs (T); returns its counted targets.
  // Called inside LogProbs' parallel region, so every kernel and GEMM in it runs single-threaded.
  int64_t SequenceLogProbs(const float* params, const int32_t* inputs, const int32_t* targets,
                           int T, SeqScratch& s, float* logprobs) const;
  void CheckArgs(std::span<const float> params, const int32_t* inputs, const int32_t* targets,
                 int B, int T) const;
  // The ViT's argument checks (labels may be null: no labels) and its trunk: patch embedding,
  // tokens, blocks, final norm into nf, and the pool into pooled (decoder_vision.cc).
  void CheckImageArgs(std::span<const float> params, const float* pixels, const int32_t* labels,
                      int B, const char* head) const;
  // Patchifies B images into patches, from image `first` on; the trunk over B images whose
  // patches are there; the numerics a ViT trains with (the defaults, else Error).
  void Patchify(const float* pixels, int B, int first);
  void RunImageTrunk(const float* params, int B);
  void CheckImageNumerics() const;
  // The class head: logits (B,K) = pooled W^T + b.
  void ClassHead(const float* params, int B);
  // Backward's ViT ends: the class head to d nf, and d(block input) to the input's parameters.
  void ClassHeadBackward(const float* params, float* grads);
  void ImageInputBackward(const float* params, float* grads);
  // The model's norm (rmsnorm / layernorm / layernorm_affine) over N rows of C; gain and bias are
  // null where the norm has none. Backward: dx ACCUMULATES, dgain / dbias accumulate.
  void Norm(float* out, float* mean, float* rstd, const float* x, const float* gain,
            const float* bias, int N) const;
  void NormBackward(float* dx, float* dgain, float* dbias, const float* dout, const float* x,
                    const float* gain, const float* mean, const float* rstd, int N) const;

  ModelConfig config_;
  ParamLayout layout_;
  float dsiglip_[2] = {0, 0};  // ForwardPairs: d loss / d (siglip.t_log, siglip.bias)
  int max_b_, max_t_, head_block_rows_, seq_head_rows_, attn_threads_;
  int B_ = 0, T_ = 0;
  bool have_forward_ = false;
  int64_t count_ = 0;
  DecoderNumerics numerics_;
  HeadStats head_stats_;
  std::vector<float> weights_bf16_;  // bf16_matmul: params rounded to bf16 at Forward (else empty)
  std::vector<float> arena_;         // every buffer of buf_ points into it
  Buffers buf_;
  std::vector<int32_t> inputs_;  // (N) copy of the last Forward's inputs for the embedding backward
};

}  // namespace ot
