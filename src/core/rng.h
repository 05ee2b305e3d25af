// Counter-based keyed random numbers (Philox-4x32-10, Salmon et al. 2011).
// Every value is a pure function of (key, counter): init, data order and perturbation noise are the
// same at any thread count and in any tensor order. Entry points: Philox, RngKey, UniformAt,
// NormalAt, FillNormal.
#pragma once

#include <array>
#include <cstdint>
#include <span>

namespace ot {

// One Philox-4x32-10 block: 4 random 32-bit words from a 64-bit key and a 128-bit counter.
std::array<uint32_t, 4> Philox(uint64_t key, uint64_t counter_hi, uint64_t counter_lo);

// Derives a key from a seed and a stream tag (e.g. "init", "noise") and up to two sub-indices
// (draw, tensor). A 64-bit mix (splitmix64); distinct inputs give unrelated keys.
uint64_t RngKey(uint64_t seed, uint64_t stream, uint64_t a = 0, uint64_t b = 0);

// Hashes a short tag to a stream id, e.g. StreamId("noise").
uint64_t StreamId(const char* tag);

// Uniform in (0, 1), the i-th value of stream `key`.
double UniformAt(uint64_t key, uint64_t i);

// Standard normal, the i-th value of stream `key` (Box–Muller on one Philox block).
double NormalAt(uint64_t key, uint64_t i);

// out[j] = mean + std * N_j where N_j = NormalAt(key, offset + j); truncated to |N| <= trunc if
// trunc > 0 (redrawn with a sub-counter, still deterministic). Parallel with OpenMP; bit-identical
// at any threads.
void FillNormal(std::span<float> out, uint64_t key, uint64_t offset, float mean, float std,
                float trunc = 0.0f);

}  // namespace ot
