// The LibTorch plugin: libovertrain_torch.so holds everything that needs LibTorch (the torch
// backend and the c10d process groups), built where CMake finds LibTorch, loaded with dlopen only
// when a run asks for it. Linking LibTorch into the binary would cost every process about 0.7 s and
// 160 MB at start (288 shared libraries), and a study starts hundreds. Entry points:
// TorchPluginApi, TorchPlugin, TorchPluginAvailable, kTorchPluginSymbol.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "engine/backend.h"
#include "engine/collective_config.h"

namespace ot {

// Bumped whenever the table below or the types it passes change: a stale plugin is refused.
inline constexpr int kTorchPluginVersion = 1;

// What the plugin exports, as one table (the only exported symbol is kTorchPluginSymbol).
struct TorchPluginApi {
  int version = 0;
  // "LibTorch 2.3.1 (CUDA 12.1, 1 GPU)" or "LibTorch 1.13.1 (CPU only)".
  std::string (*describe)() = nullptr;
  std::unique_ptr<Backend> (*make_backend)(const ModelConfig& config, const ComputeConfig& compute,
                                           const BackendPlan& plan,
                                           std::vector<float> params) = nullptr;
  // A c10d process group (Gloo on CPU, NCCL for CUDA devices) joined through `rendezvous`.
  std::unique_ptr<Collective> (*make_collective)(const Rendezvous& rendezvous,
                                                 const ComputeConfig& compute) = nullptr;
};

inline constexpr const char* kTorchPluginSymbol = "overtrain_torch_plugin";
inline constexpr const char* kTorchPluginFile = "libovertrain_torch.so";

// The loaded plugin (dlopen once per process: $OVERTRAIN_TORCH_PLUGIN, else kTorchPluginFile next
// to the running binary). Throws Error starting with `who` (e.g. `compute.backend = "torch"`) that
// says how to get it when it is absent or stale.
const TorchPluginApi& TorchPlugin(const std::string& who);
bool TorchPluginAvailable();

}  // namespace ot
