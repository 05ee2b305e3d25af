// Data parallelism on LibTorch's c10d: a process group (Gloo for CPU tensors, NCCL for CUDA ones
// where LibTorch has it) joined through a TCPStore or a FileStore, behind engine/backend.h's
// Collective. The native engine hands it host spans (wrapped as CPU tensors, no copy); the torch
// backend reduces its device gradient tensor with AllReduceSum below. A rank that dies or stops
// answering fails the others within the rendezvous timeout with a sentence naming it (each rank
// keeps a heartbeat in the store). Part of the LibTorch plugin. Entry points: MakeCollective,
// AllReduceSum.
#pragma once

#include <ATen/ATen.h>

#include <memory>

#include "engine/backend.h"
#include "engine/collective_config.h"

namespace ot::torch_engine {

std::unique_ptr<Collective> MakeCollective(const Rendezvous& rendezvous,
                                           const ComputeConfig& compute);

// In place: tensor ← Σ over ranks. A c10d collective reduces the tensor where it lives; any other
// Collective goes through a host copy.
void AllReduceSum(Collective& collective, at::Tensor& tensor);

}  // namespace ot::torch_engine
