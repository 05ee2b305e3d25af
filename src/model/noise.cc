// Keyed Gaussian noise over a parameter arena.
#include "model/noise.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/check.h"
#include "core/rng.h"

namespace ot {

bool IsPerturbed(const TensorInfo& t, const NoiseSpec& spec) {
  if (t.init_std <= 0) return false;
  if (spec.groups.empty()) return true;
  return std::find(spec.groups.begin(), spec.groups.end(), GroupName(t.group)) != spec.groups.end();
}

void AddNoise(const ParamLayout& layout, std::span<float> params, const NoiseSpec& spec) {
  OT_CHECK(static_cast<int64_t>(params.size()) == layout.total()) << "arena size mismatch";
  if (spec.gamma == 0) return;  // γ = 0 reproduces the base model exactly
  const auto& tensors = layout.tensors();
  for (size_t index = 0; index < tensors.size(); ++index) {
    const TensorInfo& t = tensors[index];
    if (!IsPerturbed(t, spec)) continue;
    float* p = params.data() + t.offset;
    double scale = t.init_std;
    if (spec.scale == NoiseScale::kRelative) {
      double ss = 0;
      for (int64_t i = 0; i < t.size; ++i) ss += static_cast<double>(p[i]) * p[i];
      scale = std::sqrt(ss / static_cast<double>(t.size));
    }
    const double std = spec.gamma * scale;
    const uint64_t key =
        RngKey(spec.seed, StreamId("noise"), static_cast<uint64_t>(spec.draw), index);
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < t.size; ++i) p[i] = static_cast<float>(p[i] + std * NormalAt(key, i));
  }
}

void PerturbedCopy(const ParamLayout& layout, std::span<const float> base, std::span<float> out,
                   const NoiseSpec& spec) {
  OT_CHECK(base.size() == out.size()) << "arena size mismatch";
  std::memcpy(out.data(), base.data(), base.size() * sizeof(float));
  AddNoise(layout, out, spec);
}

NoiseScale ParseNoiseScale(const std::string& name) {
  if (name == "init") return NoiseScale::kInit;
  if (name == "relative") return NoiseScale::kRelative;
  throw Error("perturb.scale = '" + name + "': expected init or relative");
}

}  // namespace ot
