// Counter-based RNG: Random123 known-answer vector, thread-count independence, moments.
#include "core/rng.h"

#include <gtest/gtest.h>
#include <omp.h>

#include <cmath>
#include <vector>

namespace ot {
namespace {

TEST(Rng, PhiloxKnownAnswer) {
  // Random123 kat_vectors: philox4x32_10, ctr = {0,0,0,0}, key = {0,0} -> 6627e8d5 e169c58d
  // bc57ac4c 9b00dbd8
  auto r = Philox(0, 0, 0);
  EXPECT_EQ(r[0], 0x6627e8d5u);
  EXPECT_EQ(r[1], 0xe169c58du);
  EXPECT_EQ(r[2], 0xbc57ac4cu);
  EXPECT_EQ(r[3], 0x9b00dbd8u);
  // ctr = {ffffffff x4}, key = {ffffffff x2} -> 408f276d 41c83b0e a20bc7c6 6d5451fd
  auto s = Philox(~0ull, ~0ull, ~0ull);
  EXPECT_EQ(s[0], 0x408f276du);
  EXPECT_EQ(s[3], 0x6d5451fdu);
}

TEST(Rng, SameValuesAtAnyThreadCount) {
  std::vector<float> a(10007), b(10007);
  const uint64_t key = RngKey(42, StreamId("init"), 3);
  omp_set_num_threads(1);
  FillNormal(a, key, 0, 0.0f, 0.02f, 3.0f);
  omp_set_num_threads(2);
  FillNormal(b, key, 0, 0.0f, 0.02f, 3.0f);
  EXPECT_EQ(a, b);
}

TEST(Rng, NormalMomentsAndTruncation) {
  std::vector<float> x(200000);
  FillNormal(x, RngKey(7, StreamId("t")), 0, 0.0f, 1.0f, 3.0f);
  double m = 0, v = 0, mx = 0;
  for (float f : x) m += f, mx = std::max(mx, std::fabs((double)f));
  m /= x.size();
  for (float f : x) v += (f - m) * (f - m);
  v /= x.size();
  EXPECT_NEAR(m, 0.0, 0.01);
  EXPECT_NEAR(v, 0.9733, 0.01);  // variance of N(0,1) truncated at 3 sigma
  EXPECT_LE(mx, 3.0);
}

TEST(Rng, KeysSeparateStreams) {
  EXPECT_NE(RngKey(1, StreamId("noise"), 0, 0), RngKey(1, StreamId("noise"), 1, 0));
  EXPECT_NE(RngKey(1, StreamId("noise"), 0, 0), RngKey(2, StreamId("noise"), 0, 0));
  EXPECT_NE(NormalAt(RngKey(1, 2), 0), NormalAt(RngKey(1, 2), 1));
}

}  // namespace
}  // namespace ot
