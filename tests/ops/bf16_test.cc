// cpu::RoundToBf16 (bf16 emulation, model/decoder.h DecoderNumerics): hand-picked bit patterns
// worked out by hand (ties to even both ways, carries into the exponent, overflow to Inf,
// subnormals, signed zero, Inf, NaN), then the span versions against the scalar one and the RNE
// error bound on random floats.
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "ops/cpu/kernels.h"

namespace ot {
namespace {

uint32_t Bits(float x) { return std::bit_cast<uint32_t>(x); }
uint32_t Round(uint32_t bits) { return Bits(cpu::RoundToBf16(std::bit_cast<float>(bits))); }

TEST(Bf16, HandPickedBitPatterns) {
  struct Case {
    uint32_t in, out;
    const char* why;
  };
  // bf16 keeps the high 16 bits of a float; the low 16 decide: < 0x8000 down, > 0x8000 up, = 0x8000
  // a tie that goes to the kept half whose lowest bit (bit 16) is 0.
  const Case cases[] = {
      {0x3f800000, 0x3f800000, "1.0 is exact"},
      {0x3f807fff, 0x3f800000, "just below half an ulp: down"},
      {0x3f808000, 0x3f800000, "tie, kept part even (0x3f80): stays"},
      {0x3f808001, 0x3f810000, "just above half an ulp: up"},
      {0x3f818000, 0x3f820000, "tie, kept part odd (0x3f81): up to even"},
      {0x3f828000, 0x3f820000, "tie, kept part even (0x3f82): down"},
      {0xbf818000, 0xbf820000, "negative tie, odd: away from zero to even"},
      {0xbf808000, 0xbf800000, "negative tie, even: toward zero"},
      {0x3fffffff, 0x40000000, "1.99999988 carries into the exponent: 2.0"},
      {0x3f7f8000, 0x3f800000, "tie below 1.0, odd (0x3f7f): carries up to 1.0"},
      {0x7f7f0000, 0x7f7f0000, "largest bf16 (3.3895e38) is exact"},
      {0x7f7f7fff, 0x7f7f0000, "below the midpoint to Inf: stays finite"},
      {0x7f7f8000, 0x7f800000, "tie between largest bf16 (odd) and Inf: Inf"},
      {0x7f7fffff, 0x7f800000, "FLT_MAX rounds to Inf"},
      {0xff7fffff, 0xff800000, "-FLT_MAX rounds to -Inf"},
      {0x7f800000, 0x7f800000, "+Inf"},
      {0xff800000, 0xff800000, "-Inf"},
      {0x00000000, 0x00000000, "+0"},
      {0x80000000, 0x80000000, "-0 keeps its sign"},
      {0x00008000, 0x00000000, "subnormal tie, even: to 0"},
      {0x00018000, 0x00020000, "subnormal tie, odd: up"},
      {0x00000001, 0x00000000, "smallest subnormal: to 0"},
      {0x007fffff, 0x00800000, "largest subnormal carries to the smallest normal"},
      {0x7fc00000, 0x7fc00000, "quiet NaN"},
      {0xffc00001, 0xffc00000, "negative quiet NaN, low payload dropped"},
  };
  for (const Case& c : cases)
    EXPECT_EQ(Round(c.in), c.out) << std::hex << "0x" << c.in << ": " << c.why;
  // NaNs whose payload sits only in the low 16 bits (plain truncation would make them Inf) stay
  // NaN.
  for (uint32_t nan : {0x7f800001u, 0x7f80ffffu, 0xff800001u, 0x7fffffffu}) {
    const float r = cpu::RoundToBf16(std::bit_cast<float>(nan));
    EXPECT_TRUE(std::isnan(r)) << std::hex << nan;
    EXPECT_EQ(Bits(r) & 0xffffu, 0u) << std::hex << nan;
    EXPECT_EQ(Bits(r) >> 31, nan >> 31) << std::hex << nan;
  }
}

TEST(Bf16, SpanVersionsMatchScalarAndTheRneBound) {
  std::mt19937 gen(7);
  // Random bit patterns (every exponent, NaN and Inf included) plus ordinary magnitudes; n > 4
  // chunks so the OpenMP path runs, and not a multiple of the chunk.
  const int64_t n = 5 * 4096 + 123;
  std::vector<float> in(n), out(n), inplace;
  std::normal_distribution<float> normal(0.0f, 3.0f);
  for (int64_t i = 0; i < n; ++i)
    in[i] = i % 2 ? std::bit_cast<float>(static_cast<uint32_t>(gen())) : normal(gen);
  inplace = in;
  cpu::RoundToBf16(out.data(), in.data(), n);
  cpu::RoundToBf16(inplace.data(), n);
  double worst = 0;
  for (int64_t i = 0; i < n; ++i) {
    ASSERT_EQ(Bits(out[i]), Bits(cpu::RoundToBf16(in[i]))) << i;
    ASSERT_EQ(Bits(inplace[i]), Bits(out[i])) << i;
    ASSERT_EQ(Bits(out[i]) & 0xffffu, 0u) << i;
    ASSERT_EQ(Bits(cpu::RoundToBf16(out[i])), Bits(out[i])) << i;  // idempotent
    // Round to nearest with 8 significant bits (7 stored): |error| <= half an ulp = 2^-8 of the
    // binade's lower end, so relative error <= 2^-8 for normal results.
    if (std::isfinite(in[i]) && std::isfinite(out[i]) && std::abs(in[i]) >= 1e-37f) {
      const double rel = std::abs((double)out[i] - in[i]) / std::abs((double)in[i]);
      worst = std::max(worst, rel);
      ASSERT_LE(rel, std::ldexp(1.0, -8)) << in[i];
    }
  }
  std::printf("  RoundToBf16 worst relative error %.3e (bound 2^-8 = %.3e)\n", worst,
              std::ldexp(1.0, -8));
  // Near-ties just above a power of two come within 10% of the bound (~1% of the samples): it is
  // tight.
  EXPECT_GT(worst, std::ldexp(1.0, -8) * 0.9);
}

}  // namespace
}  // namespace ot
