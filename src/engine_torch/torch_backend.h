// The torch backend's constructor and the plugin's self-description (torch_backend.cc). Part of the
// LibTorch plugin. Entry points: MakeTorchBackend, DescribePlugin.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "engine/backend.h"

namespace ot::torch_engine {

// "LibTorch 2.3.1 (1 CUDA device(s))" or "LibTorch 1.13.0 (CPU only)".
std::string DescribePlugin();

// The torch backend on compute.device; throws Error naming compute.device when it is unavailable.
std::unique_ptr<Backend> MakeTorchBackend(const ModelConfig& config, const ComputeConfig& compute,
                                          const BackendPlan& plan, std::vector<float> params);

}  // namespace ot::torch_engine
