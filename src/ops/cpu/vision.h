// Fast float32 kernels of the vision transformer's ops; their specification is
// ops/reference/vision_ops.h (same names, layouts and orders). Deterministic: each output element
// has one thread and a fixed summation order. The patch embedding's GEMM and bias are kernels.h's.
// Entry points: Patchify, ImageTokens*, Pool*, SoftmaxXent, SigLip, Rope2dTable.
#pragma once

#include <cstdint>

namespace ot::cpu {

// out (B*Np, P) = the patches of pixels (B, S*S*channels) (ref::PatchifyForward's order).
void Patchify(float* out, const float* pixels, int B, int S, int p, int channels);

// x (B,T,C) = [cls; emb] + pos (cls (C), pos (T,C) each null when absent; T = Np + (cls ? 1 : 0)).
void ImageTokensForward(float* x, const float* emb, const float* cls, const float* pos, int B,
                        int Np, int C);
// demb (B,Np,C) OVERWRITTEN; dcls (C) and dpos (T,C) accumulate (images in order); each null when
// absent (dcls null means no CLS token).
void ImageTokensBackward(float* demb, float* dcls, float* dpos, const float* dx, int B, int Np,
                         int C);

// out (B,C) = token 0 of each image (cls) or the mean of its T tokens; backward: dx (B,T,C)
// OVERWRITTEN (zeros where the pool does not read).
void PoolForward(float* out, const float* x, int B, int T, int C, bool cls);
void PoolBackward(float* dx, const float* dout, int B, int T, int C, bool cls);

// Softmax cross-entropy of N rows of K logits against labels in [0, K): logprob (N); returns the
// mean NLL (summed in row order, in double). dlogits (N,K), if not null, OVERWRITTEN with
// (softmax - onehot) / N, the gradient of that mean.
float SoftmaxXent(float* logprob, float* dlogits, const float* logits, const int32_t* labels, int N,
                  int K);

// SigLIP's pairwise sigmoid loss over B pairs x_i, y_i (B,D) (ref::SigLipForward for the formula):
// u, w (B,D) receive the L2-normalised rows; returns the mean loss (summed in (i, j) order in
// double). If dx != nullptr, also its gradient: dx, dy (B,D), *dt_log and *dbias OVERWRITTEN.
// Plain serial loops (B^2 D multiply-adds, small next to the model), so one summation order.
float SigLip(float* u, float* w, float* dx, float* dy, float* dt_log, float* dbias, const float* x,
             const float* y, float t_log, float bias, int B, int D);

// 2-D RoPE's cos/sin tables (T, R/2) for kernels.h's RopeApply, T = side^2 (+ 1 with a CLS
// token): the angles of ref::Rope2dAngles, computed in double as RopeTable's.
void Rope2dTable(float* cos, float* sin, int side, bool cls, int R, double theta);

}  // namespace ot::cpu
