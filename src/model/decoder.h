// The fast CPU decoder (float32): forward, backward and forward-only log-probs of the OLMo-style
// model over a flat parameter arena, composed from ops/cpu kernels. All activations and scratch are
// allocated in the constructor from (max_batch, max_seq); a training step allocates nothing.
// LogProbs runs each sequence on its own (one per OpenMP thread, single-threaded GEMMs of T rows),
// so its results are bit-identical whatever the batch size, the row's position and the thread count
// (reliability.md case 24). Entry points: Decoder::{Forward, Backward, LogProbs, Loss, LogitStats,
// set_numerics}.
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
  struct LayerActs {  // N = B*T rows
    float* x;         // (N,C) block input (residual stream)
    float* n1;        // (N,C) attention-norm output
    float* mean1;     // (N) LayerNorm only
    float* rstd1;     // (N)
    float* qkv;       // (N,3C) after RoPE on q,k
    float* probs;     // (B,NH,T,T)
    float* att;       // (N,C) attention output (pre o_proj)
    float* x_mid;     // (N,C) x + o_proj(att)
    float* n2;        // (N,C)
    float* mean2;     // (N)
    float* rstd2;     // (N)
    float* gu;        // (N,2F) [gate | up]
    float* h;         // (N,F) silu(gate) * up
  };
  // Forward-only scratch for one sequence of up to max_seq rows (LogProbs: one per thread).
  struct SeqScratch {
    float *x, *n, *mean, *rstd, *qkv, *probs, *att, *gu, *h, *head;
  };
  // params: master weights (embedding, gains); weights: what the GEMMs read (params, or their bf16
  // copy). z_loss and bf16 as in DecoderNumerics, passed per call so Loss can use the plain ones.
  float RunForward(const float* params, const float* weights, const int32_t* inputs,
                   const int32_t* targets, int B, int T, bool head_backward, double z_loss,
                   bool bf16, float* logprobs);
  // Embedding, blocks and final norm into nf_ (N,C): what every batched forward shares (GEMM inputs
  // rounded to bf16 when `bf16`; nf_ itself is left in fp32 for the head to round).
  void RunTrunk(const float* params, const float* weights, const int32_t* inputs, int B, int T, bool bf16);
  // One sequence (T rows) through the whole model into logprobs (T); returns its counted targets.
  // Called inside LogProbs' parallel region, so every kernel and GEMM in it runs single-threaded.
  int64_t SequenceLogProbs(const float* params, const int32_t* inputs, const int32_t* targets,
                           int T, const SeqScratch& s, float* logprobs) const;
  void CheckArgs(std::span<const float> params, const int32_t* inputs, const int32_t* targets,
                 int B, int T) const;
  void Norm(float* out, float* mean, float* rstd, const float* x, const float* gain, int N) const;
  void NormBackward(float* dx, float* dgain, const float* dout, const float* x, const float* gain,
                    const float* mean, const float* rstd, int N) const;

  ModelConfig config_;
  ParamLayout layout_;
  int max_b_, max_t_, head_block_rows_, seq_head_rows_, attn_threads_;
  int B_ = 0, T_ = 0;
  bool have_forward_ = false;
  int64_t count_ = 0;
  DecoderNumerics numerics_;
  HeadStats head_stats_;
  std::vector<float> weights_bf16_;  // bf16_matmul: params rounded to bf16 at Forward (else empty)
  std::vector<float> arena_;  // every activation and scratch buffer below points into it
  std::vector<LayerActs> layers_;
  float *x_final_, *nf_, *meanf_, *rstdf_, *logprob_, *log_z_, *max_logit_, *dnf_, *dhead_;
  float *rope_cos_, *rope_sin_, *head_scratch_, *attn_scratch_;
  float *dres_, *dn_, *dqkv_, *datt_, *dgu_, *dh_;
  std::vector<SeqScratch> seq_;  // LogProbs: one per OpenMP thread (at construction)
  std::vector<int32_t> inputs_;  // (N) copy of the last Forward's inputs for the embedding backward
};

}  // namespace ot
