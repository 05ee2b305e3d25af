// MakeBackend: the native engine in-process, the torch backend from the LibTorch plugin.
#include <fmt/format.h>

#include "core/check.h"
#include "engine/backend.h"
#include "engine/native_backend.h"
#include "engine/torch_plugin.h"

namespace ot {

std::vector<float> HostParams(Backend& backend) {
  std::vector<float> host(backend.layout().total());
  backend.ReadParams(host);
  return host;
}

std::string TorchModelProblem(const ModelConfig& config) {
  if (config.vision())
    return "model.input = patches (a vision transformer) is not supported by compute.backend = "
           "\"torch\", whose model is the token decoder only";
  return "";
}

std::unique_ptr<Backend> MakeBackend(const ModelConfig& config, const ComputeConfig& compute,
                                     const BackendPlan& plan, std::vector<float> params) {
  if (const std::string problem = ComputeProblem(compute); !problem.empty()) throw Error(problem);
  if (compute.backend == "native") {
    return std::make_unique<NativeBackend>(config, plan, std::move(params));
  }
  OT_CHECK(compute.backend == "torch") << compute.backend;
  // The torch model (engine_torch/torch_model.cc) is the token decoder alone; refused here, before
  // the plugin loads, so the sentence does not depend on LibTorch being installed.
  if (const std::string problem = TorchModelProblem(config); !problem.empty()) throw Error(problem);
  return TorchPlugin("compute.backend = \"torch\"")
      .make_backend(config, compute, plan, std::move(params));
}

}  // namespace ot
