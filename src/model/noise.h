// Gaussian perturbation of a parameter arena (paper §3.3, docs/science.md §2.2): θ̃ = θ + γ·s_t·z
// with i.i.d. standard normal z keyed by (seed, draw, tensor index, element index) — the same noise
// at any thread count and in any tensor order. On a ViT the groups embed (patch_embed.weight,
// cls_token, pos_embed), attn and mlp are the backbone; the class or projection head is group head,
// and biases, norms and SigLIP's scalars (σ_init = 0) are never perturbed.
// Entry points: NoiseSpec, AddNoise, PerturbedCopy.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "model/layout.h"

namespace ot {

// How the per-tensor scale s_t is chosen.
// Names in configs and result rows: "init" | "relative" (docs/science.md §2.2).
enum class NoiseScale {
  kInit,      // s_t = σ_init of the tensor (the paper: covariance of the initialisation
              // distribution)
  kRelative,  // s_t = rms(θ_t) = ‖θ_t‖ / sqrt(n_t) at this checkpoint, so E‖noise_t‖² = γ²‖θ_t‖²
};

struct NoiseSpec {
  double gamma = 0;
  uint64_t seed = 0;
  int64_t draw = 0;
  std::vector<std::string> groups;  // group names ("attn", "mlp", ...); empty = every group
  NoiseScale scale = NoiseScale::kInit;
};

// True when tensor t receives noise under `spec`: in a selected group and σ_init > 0
// (constant-initialised tensors such as norm gains get none, as in the paper).
bool IsPerturbed(const TensorInfo& t, const NoiseSpec& spec);

// Adds the noise of `spec` to `params` in place.
void AddNoise(const ParamLayout& layout, std::span<float> params, const NoiseSpec& spec);

// out = base + noise (base untouched, so every draw starts from the exact pre-trained bits).
void PerturbedCopy(const ParamLayout& layout, std::span<const float> base, std::span<float> out,
                   const NoiseSpec& spec);

// The scale names, in the order configs list them.
inline const std::vector<std::string>& NoiseScaleNames() {
  static const std::vector<std::string> names{"init", "relative"};
  return names;
}
NoiseScale ParseNoiseScale(const std::string& name);  // a NoiseScaleNames() entry; throws Error

}  // namespace ot
