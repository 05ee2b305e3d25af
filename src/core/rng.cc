// Philox-4x32-10 and the derived samplers.
#include "core/rng.h"

#include <cmath>

namespace ot {

std::array<uint32_t, 4> Philox(uint64_t key, uint64_t counter_hi, uint64_t counter_lo) {
  // Constants from the Random123 reference implementation.
  constexpr uint32_t kM0 = 0xD2511F53u, kM1 = 0xCD9E8D57u;
  constexpr uint32_t kW0 = 0x9E3779B9u, kW1 = 0xBB67AE85u;
  uint32_t c0 = static_cast<uint32_t>(counter_lo), c1 = static_cast<uint32_t>(counter_lo >> 32);
  uint32_t c2 = static_cast<uint32_t>(counter_hi), c3 = static_cast<uint32_t>(counter_hi >> 32);
  uint32_t k0 = static_cast<uint32_t>(key), k1 = static_cast<uint32_t>(key >> 32);
  for (int round = 0; round < 10; ++round) {
    const uint64_t p0 = static_cast<uint64_t>(kM0) * c0;
    const uint64_t p1 = static_cast<uint64_t>(kM1) * c2;
    const uint32_t n0 = static_cast<uint32_t>(p1 >> 32) ^ c1 ^ k0;
    const uint32_t n1 = static_cast<uint32_t>(p1);
    const uint32_t n2 = static_cast<uint32_t>(p0 >> 32) ^ c3 ^ k1;
    const uint32_t n3 = static_cast<uint32_t>(p0);
    c0 = n0, c1 = n1, c2 = n2, c3 = n3;
    k0 += kW0, k1 += kW1;
  }
  return {c0, c1, c2, c3};
}

static uint64_t SplitMix(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

uint64_t RngKey(uint64_t seed, uint64_t stream, uint64_t a, uint64_t b) {
  return SplitMix(SplitMix(SplitMix(SplitMix(seed) ^ stream) ^ a) ^ b);
}

uint64_t StreamId(const char* tag) {
  uint64_t h = 1469598103934665603ull;  // FNV-1a
  for (const char* p = tag; *p; ++p) h = (h ^ static_cast<unsigned char>(*p)) * 1099511628211ull;
  return h;
}

// 53-bit uniform in (0, 1) from two words; never 0 so log() is safe.
static double ToUnit(uint32_t hi, uint32_t lo) {
  const uint64_t bits = (static_cast<uint64_t>(hi) << 21) ^ lo;
  return (static_cast<double>(bits & ((1ull << 53) - 1)) + 0.5) * (1.0 / 9007199254740992.0);
}

double UniformAt(uint64_t key, uint64_t i) {
  const auto r = Philox(key, 0, i);
  return ToUnit(r[0], r[1]);
}

static double NormalAt(uint64_t key, uint64_t i, uint64_t attempt) {
  const auto r = Philox(key, attempt, i);
  const double u1 = ToUnit(r[0], r[1]), u2 = ToUnit(r[2], r[3]);
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
}

double NormalAt(uint64_t key, uint64_t i) { return NormalAt(key, i, 0); }

void FillNormal(std::span<float> out, uint64_t key, uint64_t offset, float mean, float std,
                float trunc) {
  const int64_t n = static_cast<int64_t>(out.size());
#pragma omp parallel for schedule(static)
  for (int64_t j = 0; j < n; ++j) {
    double z = NormalAt(key, offset + j, 0);
    for (uint64_t attempt = 1; trunc > 0 && std::fabs(z) > trunc; ++attempt) {
      z = NormalAt(key, offset + j, attempt);
    }
    out[j] = static_cast<float>(mean + std * z);
  }
}

}  // namespace ot
