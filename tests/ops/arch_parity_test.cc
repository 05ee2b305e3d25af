// The architecture-switch kernels (ops/cpu/arch_kernels.cc: affine LayerNorm, strided RMSNorm,
// bias, clamp, GELU), partial-rotary RopeApply and grouped-query AttentionForward/Backward against
// the double reference (ops/reference/ops.h, the specification) element by element, and
// bit-identity of each at 1 vs 2 OpenMP threads.
//
// Tolerance reasoning (u = 2^-24 ~ 6e-8, float32's unit roundoff): inputs are the same floats, the
// reference runs in double, so |fast - ref| is the kernel's own float rounding. An element-wise op
// is within a few u of its own magnitude; a length-K float sum within (K-1) u of the sum of |terms|
// at worst and ~sqrt(K) u in practice (independent rounding errors of random-signed data); FastExp
// adds < 3e-7 relative per exp. As in cpu_parity_test.cc we bound max |fast - ref| <= tol * max
// |ref| per output and give each tol a reason next to it.
//
// The helpers (Rand, D, ExpectClose, SameAtOneAndTwoThreads) are shared with cpu_parity_test.cc in
// parity_util.h.
#include <gtest/gtest.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "ops/cpu/kernels.h"
#include "ops/reference/ops.h"
#include "parity_util.h"

namespace ot {
namespace {

using namespace testing;  // parity_util.h: Rand, D, ExpectClose, SameAtOneAndTwoThreads

void Append(std::vector<float>& to, const std::vector<float>& v) {
  to.insert(to.end(), v.begin(), v.end());
}

// N rows over several threads; C = 72 is 4 full 16-channel blocks plus a partial one (ColumnSums).
constexpr int kN = 37, kC = 72;
constexpr float kEps = 1e-5f;

TEST(ArchKernels, LayerNormAffineMatchesReference) {
  const int N = kN, C = kC;
  auto x = Rand(N * C, 2.0f, 101), gain = Rand(C, 0.3f, 102), bias = Rand(C, 0.5f, 103),
       dy = Rand(N * C, 1.0f, 104);
  for (auto& g : gain) g += 1;
  // Non-zero starting gradients: dx, dgain, dbias all accumulate.
  const auto dx0 = Rand(N * C, 0.5f, 105), dg0 = Rand(C, 0.5f, 106), db0 = Rand(C, 0.5f, 107);
  std::vector<float> out(N * C), mean(N), rstd(N), dx = dx0, dg = dg0, db = db0;
  cpu::LayerNormAffineForward(out.data(), mean.data(), rstd.data(), x.data(), gain.data(),
                              bias.data(), N, C, kEps);
  cpu::LayerNormAffineBackward(dx.data(), dg.data(), db.data(), dy.data(), x.data(), gain.data(),
                               mean.data(), rstd.data(), N, C);
  const auto xd = D(x), gd = D(gain), bd = D(bias), dyd = D(dy);
  std::vector<double> outd(N * C), meand(N), rstdd(N), dxd = D(dx0), dgd = D(dg0), dbd = D(db0);
  ref::LayerNormForward(outd.data(), meand.data(), rstdd.data(), xd.data(), gd.data(), bd.data(), N,
                        C, double(kEps));
  ref::LayerNormBackward(dxd.data(), dgd.data(), dbd.data(), dyd.data(), xd.data(), gd.data(),
                         meand.data(), rstdd.data(), N, C);
  // mean and variance are length-C = 72 float sums (~sqrt(72) u ~ 5e-7), then a multiply-add by
  // gain and bias (2 u): 2e-6.
  ExpectClose(mean, meand, 2e-6, "layernorm+affine mean");
  ExpectClose(rstd, rstdd, 2e-6, "layernorm+affine rstd");
  ExpectClose(out, outd, 2e-6, "layernorm+affine out");
  // dx: two length-C reductions (mean of g, of g * xhat) feeding each element, plus the starting
  // value: the same 2e-6.
  ExpectClose(dx, dxd, 2e-6, "layernorm+affine dx (accumulated)");
  // dgain, dbias: N = 37 rows summed in float, then added to the start value: 2e-6.
  ExpectClose(dg, dgd, 2e-6, "layernorm+affine dgain (accumulated)");
  ExpectClose(db, dbd, 2e-6, "layernorm+affine dbias (accumulated)");
  EXPECT_TRUE(SameAtOneAndTwoThreads([&] {
    std::vector<float> o(N * C), m(N), r(N), d = dx0, g = dg0, b = db0;
    cpu::LayerNormAffineForward(o.data(), m.data(), r.data(), x.data(), gain.data(), bias.data(), N,
                                C, kEps);
    cpu::LayerNormAffineBackward(d.data(), g.data(), b.data(), dy.data(), x.data(), gain.data(),
                                 m.data(), r.data(), N, C);
    for (auto* v : {&m, &r, &d, &g, &b}) Append(o, *v);
    return o;
  }));
}

// QK-norm: RMSNorm over the q part (C = NH*HS floats) and the k part (KV = KH*HS floats) of packed
// (N, C+2KV) rows. Every stride differs (x ld, out ld+4, dout ld+8, dx ld+12) so that a swapped
// stride shows, and the floats outside each row's C are sentinels that must stay untouched.
TEST(ArchKernels, RmsNormStridedOnPackedQkvMatchesReference) {
  const int N = kN, NH = 4, KH = 2, HS = 8, C = NH * HS, KV = KH * HS;
  const int64_t ld = C + 2 * KV, ldo = ld + 4, ldd = ld + 8, lddx = ld + 12;
  constexpr float kSentinel = 12345.0f;
  const auto qkv = Rand(N * ld, 2.0f, 111), dy = Rand(N * ldd, 1.0f, 112);
  struct Part {
    const char* name;
    int64_t offset;
    int width;
  };
  for (const Part part : {Part{"q", 0, C}, Part{"k", C, KV}}) {
    const int W = part.width;
    auto gain = Rand(W, 0.3f, 113 + W);
    for (auto& g : gain) g += 1;
    const auto dg0 = Rand(W, 0.5f, 114 + W);
    std::vector<float> out(N * ldo, kSentinel), dx(N * lddx, kSentinel), rstd(N), dg = dg0;
    const float* x = qkv.data() + part.offset;
    cpu::RmsNormStridedForward(out.data(), ldo, rstd.data(), x, ld, gain.data(), N, W, kEps);
    cpu::RmsNormStridedBackward(dx.data(), lddx, dg.data(), dy.data(), ldd, x, ld, gain.data(),
                                rstd.data(), N, W);
    // Gather the strided parts into dense (N, W) rows for the dense reference; check the rest.
    std::vector<float> outg, dxg;
    std::vector<double> xd, dyd;
    int64_t touched = 0;
    for (int n = 0; n < N; ++n)
      for (int c = 0; c < W; ++c) {
        outg.push_back(out[n * ldo + c]);
        dxg.push_back(dx[n * lddx + c]);
        xd.push_back(x[n * ld + c]);
        dyd.push_back(dy[n * ldd + c]);
      }
    for (float v : out) touched += v != kSentinel;
    for (float v : dx) touched += v != kSentinel;
    EXPECT_EQ(touched, 2 * N * W) << part.name
                                  << ": only the first W floats of each row are written";
    std::vector<double> outd(N * W), rstdd(N), dxd(N * W, 0.0), dgd = D(dg0);
    ref::RmsNormForward(outd.data(), rstdd.data(), xd.data(), D(gain).data(), N, W, double(kEps));
    ref::RmsNormBackward(dxd.data(), dgd.data(), dyd.data(), xd.data(), D(gain).data(),
                         rstdd.data(), N, W);
    const std::string p = std::string("rmsnorm strided ") + part.name + " ";
    // A length-W (<= 32) sum of squares, a sqrt and two products: 2e-6 (as the dense RMSNorm).
    ExpectClose(rstd, rstdd, 2e-6, p + "rstd");
    ExpectClose(outg, outd, 2e-6, p + "out");
    // dx (OVERWRITTEN from sentinels; the reference accumulates from 0): one length-W dot: 2e-6.
    ExpectClose(dxg, dxd, 2e-6, p + "dx (overwritten)");
    // dgain: N = 37 rows summed in float onto the start value: 2e-6.
    ExpectClose(dg, dgd, 2e-6, p + "dgain (accumulated)");
    EXPECT_TRUE(SameAtOneAndTwoThreads([&] {
      std::vector<float> o(N * ldo, 0.0f), d(N * lddx, 0.0f), r(N), g = dg0;
      cpu::RmsNormStridedForward(o.data(), ldo, r.data(), x, ld, gain.data(), N, W, kEps);
      cpu::RmsNormStridedBackward(d.data(), lddx, g.data(), dy.data(), ldd, x, ld, gain.data(),
                                  r.data(), N, W);
      for (auto* v : {&d, &r, &g}) Append(o, *v);
      return o;
    })) << part.name;
  }
}

TEST(ArchKernels, BiasMatchesReference) {
  const int N = kN, O = kC;
  const auto out0 = Rand(N * O, 1.0f, 121), bias = Rand(O, 0.5f, 122), dy = Rand(N * O, 1.0f, 123),
             db0 = Rand(O, 0.5f, 124);
  std::vector<float> out = out0, db = db0;
  cpu::BiasForward(out.data(), bias.data(), N, O);
  cpu::BiasBackward(db.data(), dy.data(), N, O);
  std::vector<double> outd = D(out0), dbd = D(db0);
  ref::BiasForward(outd.data(), D(bias).data(), N, O);
  ref::BiasBackward(dbd.data(), D(dy).data(), N, O);
  // One float add per element: within u = 6e-8 of its result: 1e-7.
  ExpectClose(out, outd, 1e-7, "bias out (added in place)");
  // N = 37 rows summed in float onto the start value: 2e-6.
  ExpectClose(db, dbd, 2e-6, "bias dbias (accumulated)");
  EXPECT_TRUE(SameAtOneAndTwoThreads([&] {
    std::vector<float> o = out0, d = db0;
    cpu::BiasForward(o.data(), bias.data(), N, O);
    cpu::BiasBackward(d.data(), dy.data(), N, O);
    Append(o, d);
    return o;
  }));
}

TEST(ArchKernels, ClampMatchesReferenceExactly) {
  const int N = kN, C = kC;
  const float c = 1.5f;
  auto x = Rand(N * C, 1.5f, 131);
  x[3] = c, x[4] = -c;  // on the bounds: the gradient passes (torch.clamp)
  const auto dy = Rand(N * C, 1.0f, 132);
  int clipped = 0, inside = 0;
  for (float v : x) (std::abs(v) > c ? clipped : inside)++;
  ASSERT_GT(clipped, 0);
  ASSERT_GT(inside, 0);
  std::printf("  clamp: %d clipped, %d inside [-c, c]\n", clipped, inside);
  std::vector<float> out(N * C), d = dy;
  cpu::ClampForward(out.data(), x.data(), (int64_t)N * C, c);
  cpu::ClampBackward(d.data(), x.data(), (int64_t)N * C, c);  // in place on the incoming gradient
  std::vector<double> outd(N * C), dxd(N * C, 0.0), xd = D(x);
  ref::ClampForward(outd.data(), xd.data(), N, C, double(c));
  ref::ClampBackward(dxd.data(), D(dy).data(), xd.data(), N, C, double(c));
  // A comparison and a selection, no arithmetic: exact.
  ExpectClose(out, outd, 0, "clamp out");
  ExpectClose(d, dxd, 0, "clamp d (in place)");
  EXPECT_TRUE(SameAtOneAndTwoThreads([&] {
    std::vector<float> o(N * C), g = dy;
    cpu::ClampForward(o.data(), x.data(), (int64_t)N * C, c);
    cpu::ClampBackward(g.data(), x.data(), (int64_t)N * C, c);
    Append(o, g);
    return o;
  }));
}

TEST(ArchKernels, GeluMatchesReference) {
  const int N = kN, F = kC;
  auto u = Rand(N * F, 2.5f, 141);  // out to |u| ~ 9: both tails and the bend
  u[0] = 0, u[1] = -12, u[2] = 12;
  const auto dh = Rand(N * F, 1.0f, 142);
  std::vector<float> h(N * F), du(N * F, 777.0f);  // du is overwritten
  cpu::GeluForward(h.data(), u.data(), N, F);
  cpu::GeluBackward(du.data(), dh.data(), u.data(), N, F);
  std::vector<double> hd(N * F), dud(N * F, 0.0), ud = D(u);
  ref::GeluForward(hd.data(), ud.data(), N, F);
  ref::GeluBackward(dud.data(), D(dh).data(), ud.data(), N, F);
  // Element-wise: erff and expf are within ~2 ulp; 1 + erf(u/sqrt 2) loses to cancellation for
  // u << 0 only an absolute ~u of 1, times 0.5 |u| <= max |h|: a few u of max|ref|: 1e-6.
  ExpectClose(h, hd, 1e-6, "gelu h");
  // cdf + u pdf: the same cancellation plus expf's ulp, times dh: a few u of max|ref|: 1e-6.
  ExpectClose(du, dud, 1e-6, "gelu du (overwritten)");
  EXPECT_TRUE(SameAtOneAndTwoThreads([&] {
    std::vector<float> o(N * F), d(N * F);
    cpu::GeluForward(o.data(), u.data(), N, F);
    cpu::GeluBackward(d.data(), dh.data(), u.data(), N, F);
    Append(o, d);
    return o;
  }));
}

// Partial rotary (R < HS, GPT-NeoX rotary_pct) on q and k of a packed GQA qkv buffer in one call
// (heads = NH + KH): dims R..HS of each head and all of v must come out bit-identical.
TEST(ArchKernels, PartialRopeMatchesReference) {
  const int B = 2, T = 25, NH = 4, KH = 2, HS = 16, C = NH * HS, KV = KH * HS, N = B * T;
  const int64_t ld = C + 2 * KV;
  const double theta = 10000.0;
  const auto qkv = Rand(N * ld, 1.0f, 151);
  for (int R : {4, 8, 12}) {
    std::vector<float> cs(T * R / 2), sn(T * R / 2), x = qkv;
    cpu::RopeTable(cs.data(), sn.data(), T, R, theta);
    cpu::RopeApply(x.data(), cs.data(), sn.data(), B, T, NH + KH, HS, R, ld, /*inverse=*/false);
    // Pass-through dims: every float outside the rotated ones keeps its bits.
    int64_t changed = 0;
    for (int64_t i = 0; i < N * ld; ++i) {
      const int64_t col = i % ld;
      const bool rotated = col < C + KV && col % HS < R;
      if (!rotated) changed += std::memcmp(&x[i], &qkv[i], sizeof(float)) != 0;
    }
    EXPECT_EQ(changed, 0) << "R=" << R << ": dims R..HS and v must pass through";
    std::vector<double> src = D(qkv), fwd = D(qkv);
    ref::RopeForward(fwd.data(), src.data(), B, T, NH + KH, HS, ld, theta, R);
    // Per element x1 c - x2 s: two products and a difference (3 u) plus cos, sin rounded to float
    // (1 u each) relative to |x1| + |x2| <= 2 max|ref|: 1e-6.
    ExpectClose(x, fwd, 1e-6, "rope R=" + std::to_string(R) + " forward");
    std::vector<float> dx = x;
    cpu::RopeApply(dx.data(), cs.data(), sn.data(), B, T, NH + KH, HS, R, ld, /*inverse=*/true);
    std::vector<double> back(N * ld, 0.0), dout = D(x);
    ref::RopeBackward(back.data(), dout.data(), B, T, NH + KH, HS, ld, theta, R);
    for (int64_t i = 0; i < N * ld; ++i)
      if (i % ld >= C + KV) back[i] = dout[i];  // v: not RoPE's (the reference leaves it at 0)
    ExpectClose(dx, back, 1e-6, "rope R=" + std::to_string(R) + " backward (inverse)");
    // Inverse of forward: two rotations' rounding (1e-6 each): 2e-6.
    ExpectClose(dx, D(qkv), 2e-6, "rope R=" + std::to_string(R) + " inverse(forward) = id");
    EXPECT_TRUE(SameAtOneAndTwoThreads([&] {
      std::vector<float> y = qkv;
      cpu::RopeApply(y.data(), cs.data(), sn.data(), B, T, NH + KH, HS, R, ld, false);
      cpu::RopeApply(y.data(), cs.data(), sn.data(), B, T, NH + KH, HS, R, ld, true);
      return y;
    })) << "R="
        << R;
  }
}

// Grouped-query attention on a packed (B,T,C+2KV) buffer: NH = 4 query heads over KH = 2 and 1 kv
// heads (and KH = NH as the control), T = 5 (one partial 64-row block) and 130 (64 + 64 + 2).
TEST(ArchKernels, GroupedQueryAttentionMatchesReference) {
  const int B = 2, NH = 4, HS = 8, C = NH * HS;
  for (int KH : {4, 2, 1})
    for (int T : {5, 130}) {
      const int KV = KH * HS, N = B * T;
      const int64_t ld = C + 2 * KV;
      const std::string tag = " KH=" + std::to_string(KH) + " T=" + std::to_string(T);
      const auto qkv = Rand(N * ld, 1.5f, 160 + 10 * KH + T),
                 dout = Rand(N * C, 1.0f, 161 + 10 * KH + T);
      std::vector<float> out(N * C), probs((int64_t)B * NH * T * T), dqkv(N * ld, 999.0f),
          scratch(omp_get_max_threads() * cpu::AttentionScratchSize(T, HS));
      cpu::AttentionForward(out.data(), probs.data(), qkv.data(), B, T, NH, KH, HS);
      cpu::AttentionBackward(dqkv.data(), dout.data(), probs.data(), qkv.data(), B, T, NH, KH, HS,
                             scratch.data());
      // The reference with separate q, k, v pointers into the same packed buffer: q_stride =
      // kv_stride = C + 2KV; k at offset C, v at C + KV (and the same for the gradients).
      const auto qd = D(qkv);
      std::vector<double> outd(N * C), pd((int64_t)B * NH * T * T), dqd(N * ld, 0.0);
      ref::AttentionForward(outd.data(), pd.data(), qd.data(), qd.data() + C, qd.data() + C + KV, B,
                            T, NH, KH, HS, ld, ld);
      ref::AttentionBackward(dqd.data(), dqd.data() + C, dqd.data() + C + KV, D(dout).data(),
                             pd.data(), qd.data(), qd.data() + C, qd.data() + C + KV, B, T, NH, KH,
                             HS, ld, ld);
      // probs: only the lower triangle is defined in the fast kernel.
      std::vector<float> pl;
      std::vector<double> pld;
      for (int bh = 0; bh < B * NH; ++bh)
        for (int t = 0; t < T; ++t)
          for (int s = 0; s <= t; ++s) {
            pl.push_back(probs[((int64_t)bh * T + t) * T + s]);
            pld.push_back(pd[((int64_t)bh * T + t) * T + s]);
          }
      // Scores: a length-HS = 8 dot (~3 u relative); softmax: FastExp (< 3e-7) and a length-T <=
      // 130 sum (~sqrt(130) u ~ 7e-7): 2e-6.
      ExpectClose(pl, pld, 2e-6, "gqa probs" + tag);
      // out = P V: a further length-T sum on top of probs' error: 2e-6 (as the MHA test).
      ExpectClose(out, outd, 2e-6, "gqa out" + tag);
      // dqkv (overwritten from 999s): dQ sums T rows; dK, dV sum T rows for each of the NH/KH <= 4
      // heads of a group (<= 520 terms, ~sqrt(520) u ~ 1.4e-6 in practice, well under the (K-1) u
      // ~ 3e-5 worst case); the group order differs from the reference's: 4e-6.
      ExpectClose(dqkv, dqd, 4e-6, "gqa dqkv" + tag);
      // Single-threaded GEMMs per (b, h) / (b, kv head) pair, heads of a group in order: identical
      // at any thread count.
      EXPECT_TRUE(SameAtOneAndTwoThreads([&] {
        std::vector<float> o(N * C), p((int64_t)B * NH * T * T, 0.0f), d(N * ld),
            s(2 * cpu::AttentionScratchSize(T, HS));
        cpu::AttentionForward(o.data(), p.data(), qkv.data(), B, T, NH, KH, HS);
        cpu::AttentionBackward(d.data(), dout.data(), p.data(), qkv.data(), B, T, NH, KH, HS,
                               s.data());
        Append(o, d);
        return o;
      })) << tag;
    }
}

}  // namespace
}  // namespace ot
