// Where a stage computes: the [compute] section every stage and the study declare once
// (compute.backend, compute.device). Entry points: ComputeConfig, DeclareComputeFields,
// ComputeProblem.
#pragma once

#include <string>

#include "core/config.h"

namespace ot {

struct ComputeConfig {
  std::string backend = "native";  // native (the CPU engine) | torch (LibTorch, CPU or CUDA)
  std::string device = "cpu";      // cpu | cuda | cuda:N; native runs on cpu only
  bool operator==(const ComputeConfig&) const = default;
};

// "" when the pair is well formed (a device string cpu, cuda or cuda:N; native on cpu), else one
// sentence naming the key. Availability (a build without LibTorch, no GPU) is checked when the
// backend is made (MakeBackend), where it is known.
std::string ComputeProblem(const ComputeConfig& c);

template <typename S, typename Get>
void DeclareComputeFields(ConfigSchema<S>& schema, Get get) {
  auto g = [get](S& s) -> ComputeConfig& { return get(s); };
  schema
      .Field(
          "compute.backend",
          "native (the CPU engine) or torch (LibTorch: the same model on CPU or CUDA GPUs)",
          [g](S& s) -> std::string& { return g(s).backend; }, OneOf({"native", "torch"}))
      .Field("compute.device", "cpu, cuda or cuda:N (torch only; native runs on cpu)",
             [g](S& s) -> std::string& { return g(s).device; })
      .Rule({"compute.device", "compute.backend"},
            [g](const S& s) { return ComputeProblem(g(const_cast<S&>(s))); });
}

}  // namespace ot
