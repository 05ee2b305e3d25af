// The vision transformer's ops (issue 23): rung 1 of the gradient-check ladder for each new
// reference op (patch embedding, image tokens with CLS and learned positions, CLS / mean pool,
// class head + softmax cross-entropy, bidirectional grouped-query attention) in double at input
// magnitudes 0.1, 1 and 4; the bidirectional switch's dependence oracle (position 0 reads the last
// position only when causal = false); and the fast kernels against the reference.
#include "ops/reference/vision_ops.h"

#include <gtest/gtest.h>
#include <omp.h>

#include <cstdint>
#include <string>
#include <vector>

#include "ops/cpu/kernels.h"
#include "ops/cpu/vision.h"
#include "ops/grad_check.h"
#include "ops/parity_util.h"
#include "ops/reference/ops.h"

namespace ot {
namespace {

using testing::CheckGradient;
using testing::D;
using testing::ExpectClose;
using testing::PrintGradCheck;
using testing::Rand;
using testing::RandomVector;
using Vec = std::vector<double>;

double VisionDot(const Vec& a, const Vec& b) {
  double s = 0;
  for (size_t i = 0; i < a.size(); ++i) s += a[i] * b[i];
  return s;
}

// max_rel_err < 1e-6 and cosine > 1 - 1e-9: grad_check.h's budget (~1e-9 expected); and the
// gradient is not identically zero, so a disconnected input cannot pass.
void ExpectVisionGrad(const std::string& name, Vec& x, const Vec& g,
                      const std::function<double()>& f) {
  auto r = CheckGradient(x, g, f);
  PrintGradCheck(name, r);
  EXPECT_LT(r.max_err, 1e-6) << name;
  EXPECT_GT(r.cosine, 1 - 1e-9) << name;
  EXPECT_GT(r.max_abs, 1e-6) << name;
}

const double kVisionScales[] = {0.1, 1.0, 4.0};

// 2 images of 6x6 pixels x 2 channels, patch 3: 4 patches of P = 18 floats, embedded to C = 5.
TEST(VisionGrad, PatchEmbedding) {
  const int B = 2, S = 6, p = 3, ch = 2, Np = 4, P = 18, C = 5;
  for (double s : kVisionScales) {
    Vec pix = RandomVector(B * S * S * ch, s, 1), W = RandomVector(C * P, s, 2),
        bias = RandomVector(C, s, 3), w = RandomVector(B * Np * C, 1, 4);
    Vec patches(B * Np * P), out(B * Np * C);
    auto f = [&] {
      ref::PatchifyForward(patches.data(), pix.data(), B, S, p, ch);
      ref::MatmulForward(out.data(), patches.data(), W.data(), B * Np, P, C);
      ref::BiasForward(out.data(), bias.data(), B * Np, C);
      return VisionDot(out, w);
    };
    f();
    Vec dpatches(B * Np * P, 0), dW(C * P, 0), db(C, 0), dpix(B * S * S * ch, 0);
    ref::MatmulBackward(dpatches.data(), dW.data(), w.data(), patches.data(), W.data(), B * Np, P,
                        C);
    ref::BiasBackward(db.data(), w.data(), B * Np, C);
    ref::PatchifyBackward(dpix.data(), dpatches.data(), B, S, p, ch);
    const std::string tag = " s=" + std::to_string(s);
    ExpectVisionGrad("patch_embed weight" + tag, W, dW, f);
    ExpectVisionGrad("patch_embed bias" + tag, bias, db, f);
    ExpectVisionGrad("patch_embed pixels" + tag, pix, dpix, f);
  }
}

// Patchify is the documented permutation: pixel (y, x, c) of image b lands in patch (y/p, x/p) at
// ((y%p)*p + x%p)*ch + c; every pixel exactly once.
TEST(VisionOps, PatchifyIsTheDocumentedPermutation) {
  const int B = 2, S = 6, p = 3, ch = 2, side = 2, P = 18;
  Vec pix(B * S * S * ch);
  for (size_t i = 0; i < pix.size(); ++i) pix[i] = static_cast<double>(i);
  Vec out(pix.size());
  ref::PatchifyForward(out.data(), pix.data(), B, S, p, ch);
  for (int b = 0; b < B; ++b)
    for (int y = 0; y < S; ++y)
      for (int x = 0; x < S; ++x)
        for (int c = 0; c < ch; ++c) {
          const int row = b * side * side + (y / p) * side + x / p;
          const int col = ((y % p) * p + x % p) * ch + c;
          EXPECT_EQ(out[row * P + col], pix[((b * S + y) * S + x) * ch + c]);
        }
  std::vector<float> fast(pix.size());
  std::vector<float> pixf(pix.begin(), pix.end());
  cpu::Patchify(fast.data(), pixf.data(), B, S, p, ch);
  for (size_t i = 0; i < out.size(); ++i) EXPECT_EQ(fast[i], out[i]);
}

TEST(VisionGrad, ImageTokensWithAndWithoutClsAndPositions) {
  const int B = 2, Np = 4, C = 3;
  for (double s : kVisionScales)
    for (bool cls : {true, false})
      for (bool pos : {true, false}) {
        const int T = Np + cls;
        Vec emb = RandomVector(B * Np * C, s, 5), c0 = RandomVector(C, s, 6),
            pe = RandomVector(T * C, s, 7), w = RandomVector(B * T * C, 1, 8), x(B * T * C);
        auto f = [&] {
          ref::ImageTokensForward(x.data(), emb.data(), cls ? c0.data() : nullptr,
                                  pos ? pe.data() : nullptr, B, Np, C);
          return VisionDot(x, w);
        };
        f();
        Vec demb(B * Np * C, 0), dcls(C, 0), dpos(T * C, 0);
        ref::ImageTokensBackward(demb.data(), cls ? dcls.data() : nullptr,
                                 pos ? dpos.data() : nullptr, w.data(), B, Np, C);
        const std::string tag =
            std::string(cls ? " cls" : "") + (pos ? " pos" : "") + " s=" + std::to_string(s);
        ExpectVisionGrad("image tokens emb" + tag, emb, demb, f);
        if (cls) ExpectVisionGrad("image tokens cls" + tag, c0, dcls, f);
        if (pos) ExpectVisionGrad("image tokens pos" + tag, pe, dpos, f);
      }
}

TEST(VisionGrad, ClsAndMeanPool) {
  const int B = 3, T = 5, C = 4;
  for (double s : kVisionScales)
    for (bool cls : {true, false}) {
      Vec x = RandomVector(B * T * C, s, 9), w = RandomVector(B * C, 1, 10), out(B * C);
      auto f = [&] {
        ref::PoolForward(out.data(), x.data(), B, T, C, cls);
        return VisionDot(out, w);
      };
      f();
      Vec dx(B * T * C, 0);
      ref::PoolBackward(dx.data(), w.data(), B, T, C, cls);
      ExpectVisionGrad(std::string(cls ? "pool cls" : "pool mean") + " s=" + std::to_string(s), x,
                       dx, f);
      if (cls) {  // only the first token is read
        for (int b = 0; b < B; ++b)
          for (int t = 1; t < T; ++t)
            for (int c = 0; c < C; ++c) EXPECT_EQ(dx[(b * T + t) * C + c], 0.0);
      }
    }
}

// The class head and its loss: mean CE of softmax(x W^T + b) against labels; x, W and b.
TEST(VisionGrad, ClassHeadCrossEntropy) {
  const int B = 4, C = 5, K = 3;
  const std::vector<int32_t> labels = {0, 2, 1, 2};
  for (double s : kVisionScales) {
    Vec x = RandomVector(B * C, s, 11), W = RandomVector(K * C, s, 12),
        bias = RandomVector(K, s, 13);
    Vec logits(B * K), lp(B);
    auto f = [&] {
      ref::MatmulForward(logits.data(), x.data(), W.data(), B, C, K);
      ref::BiasForward(logits.data(), bias.data(), B, K);
      return ref::SoftmaxXentForward(lp.data(), logits.data(), labels.data(), B, K);
    };
    f();
    Vec dlogits(B * K, 0), dx(B * C, 0), dW(K * C, 0), db(K, 0);
    ref::SoftmaxXentBackward(dlogits.data(), 1.0, logits.data(), labels.data(), B, K);
    ref::MatmulBackward(dx.data(), dW.data(), dlogits.data(), x.data(), W.data(), B, C, K);
    ref::BiasBackward(db.data(), dlogits.data(), B, K);
    const std::string tag = " s=" + std::to_string(s);
    ExpectVisionGrad("class head x" + tag, x, dx, f);
    ExpectVisionGrad("class head weight" + tag, W, dW, f);
    ExpectVisionGrad("class head bias" + tag, bias, db, f);
  }
  // An oracle by hand: equal logits give CE = log K.
  Vec zero(B * K, 0.0), lp(B);
  EXPECT_NEAR(ref::SoftmaxXentForward(lp.data(), zero.data(), labels.data(), B, K), std::log(3.0),
              1e-15);
}

// SigLIP's pairwise sigmoid loss: x, y, the log-temperature and the bias against central
// differences, at the paper's initialisation (t = 10, b = -10) and at t = 1, b = 0; and two oracles
// by hand.
TEST(VisionGrad, SigLipLoss) {
  const int B = 4, D = 5;
  for (double s : kVisionScales)
    for (auto [t0, b0] : {std::pair{std::log(10.0), -10.0}, std::pair{0.0, 0.0}}) {
      Vec x = RandomVector(B * D, s, 30), y = RandomVector(B * D, s, 31), tl = {t0}, bias = {b0};
      for (int i = 0; i < B * D; ++i) y[i] += 0.5 * x[i];  // pairs more alike than non-pairs
      Vec u(B * D), w(B * D);
      auto f = [&] {
        return ref::SigLipForward(u.data(), w.data(), x.data(), y.data(), tl[0], bias[0], B, D);
      };
      f();
      Vec dx(B * D, 0), dy(B * D, 0), dt(1, 0), db(1, 0);
      ref::SigLipBackward(dx.data(), dy.data(), dt.data(), db.data(), 1.0, u.data(), w.data(),
                          x.data(), y.data(), tl[0], bias[0], B, D);
      const std::string tag = " t0=" + std::to_string(t0) + " s=" + std::to_string(s);
      ExpectVisionGrad("siglip x" + tag, x, dx, f);
      ExpectVisionGrad("siglip y" + tag, y, dy, f);
      ExpectVisionGrad("siglip t_log" + tag, tl, dt, f);
      ExpectVisionGrad("siglip bias" + tag, bias, db, f);
    }
  // One pair of parallel embeddings at the paper's init: z = 10 * 1 - 10 = 0, loss = log 2.
  Vec x = {3.0, 4.0}, y = {0.6, 0.8}, u(2), w(2);
  EXPECT_NEAR(
      ref::SigLipForward(u.data(), w.data(), x.data(), y.data(), std::log(10.0), -10.0, 1, 2),
      std::log(2.0), 1e-14);
  // Two orthogonal pairs with z = 0 everywhere (t = 1, b = 0 and u_i . w_j = 0 for i != j, but
  // u_i . w_i = 1 gives z_ii = 1): loss = -(2 log sigmoid(1) + 2 log sigmoid(0)) / 2.
  Vec x2 = {1, 0, 0, 1}, y2 = {2, 0, 0, 5}, u2(4), w2(4);
  const double want = -(2 * std::log(1 / (1 + std::exp(-1.0))) + 2 * std::log(0.5)) / 2;
  EXPECT_NEAR(ref::SigLipForward(u2.data(), w2.data(), x2.data(), y2.data(), 0.0, 0.0, 2, 2), want,
              1e-14);
}

// The fast SigLIP loss against the reference at the paper's initialisation: float32 sums of B*D =
// 48 products and B^2 = 36 loss terms (in double), exp and log1p each ~1e-7 relative: 1e-5
// relative to each output's largest element leaves 10x margin.
TEST(VisionOps, SigLipMatchesReference) {
  const int B = 6, E = 8;  // E: embedding width (D is the double copy)
  auto x = Rand(B * E, 1.0f, 40), y = Rand(B * E, 1.0f, 41);
  for (int i = 0; i < B * E; ++i) y[i] += x[i];  // pairs alike, so both signs of z occur
  const float t_log = std::log(10.0f), bias = -10.0f;
  std::vector<float> u(B * E), w(B * E), dx(B * E, 7.0f), dy(B * E, 7.0f);
  float dt = 7, db = 7;
  const float loss = cpu::SigLip(u.data(), w.data(), dx.data(), dy.data(), &dt, &db, x.data(),
                                 y.data(), t_log, bias, B, E);
  Vec ud(B * E), wd(B * E), dxd(B * E, 0), dyd(B * E, 0), dtd(1, 0), dbd(1, 0);
  const double loss_ref = ref::SigLipForward(ud.data(), wd.data(), D(x).data(), D(y).data(),
                                             double{t_log}, double{bias}, B, E);
  ref::SigLipBackward(dxd.data(), dyd.data(), dtd.data(), dbd.data(), 1.0, ud.data(), wd.data(),
                      D(x).data(), D(y).data(), double{t_log}, double{bias}, B, E);
  EXPECT_NEAR(loss, loss_ref, 1e-5 * loss_ref);
  ExpectClose(dx, dxd, 1e-5, "siglip dx (overwritten)");
  ExpectClose(dy, dyd, 1e-5, "siglip dy (overwritten)");
  ExpectClose({dt, db}, {dtd[0], dbd[0]}, 1e-5, "siglip d t_log, d bias (overwritten)");
  std::vector<float> u2(B * E), w2(B * E);
  EXPECT_EQ(cpu::SigLip(u2.data(), w2.data(), nullptr, nullptr, nullptr, nullptr, x.data(),
                        y.data(), t_log, bias, B, E),
            loss);  // the forward-only call computes the same loss
}

// RoPE from an angle table: central differences in x; with the 1-D table t theta^(-2i/rot) it is
// ops.h's RoPE (the same doubles, so to the last bit up to libm: 1e-15).
TEST(VisionGrad, RopeFromAnglesTable) {
  const int B = 2, T = 5, NH = 2, HS = 6, rot = 4, stride = NH * HS;
  Vec angles(T * rot / 2);
  for (int t = 0; t < T; ++t)
    for (int i = 0; i < rot / 2; ++i) angles[t * rot / 2 + i] = t * std::pow(100.0, -2.0 * i / rot);
  for (double s : kVisionScales) {
    Vec x = RandomVector(B * T * stride, s, 50), w = RandomVector(B * T * stride, 1, 51),
        out(x.size()), out1d(x.size());
    auto f = [&] {
      ref::RopeAnglesForward(out.data(), x.data(), angles.data(), B, T, NH, HS, stride, rot);
      return VisionDot(out, w);
    };
    f();
    Vec dx(x.size(), 0);
    ref::RopeAnglesBackward(dx.data(), w.data(), angles.data(), B, T, NH, HS, stride, rot);
    ExpectVisionGrad("rope from angles x s=" + std::to_string(s), x, dx, f);
    f();
    ref::RopeForward(out1d.data(), x.data(), B, T, NH, HS, stride, 100.0, rot);
    for (size_t i = 0; i < x.size(); ++i) EXPECT_NEAR(out[i], out1d[i], 1e-15 * (1 + s));
  }
}

// 2-D RoPE's defining property: a query at one patch and a key at another score by their offset
// in rows and in columns only; offsets (1, 2) and (2, 1) score differently, and a row or a column
// offset alone moves the score (both axes turn); and the fast table with RopeApply is the reference
// rotation.
TEST(VisionOps, Rope2dScoresDependOnTheOffsetOnly) {
  const int side = 4, rot = 8, HS = 8, T = side * side + 1;  // CLS, then 16 patches
  Vec angles(T * rot / 2);
  ref::Rope2dAngles(angles.data(), side, true, rot, 100.0);
  const Vec q = RandomVector(HS, 1, 52), k = RandomVector(HS, 1, 53);
  // q and k put at every token, rotated: score(t1, t2) = rot(q, t1) . rot(k, t2).
  Vec qs(T * HS), ks(T * HS), qr(T * HS), kr(T * HS);
  for (int t = 0; t < T; ++t)
    for (int i = 0; i < HS; ++i) qs[t * HS + i] = q[i], ks[t * HS + i] = k[i];
  ref::RopeAnglesForward(qr.data(), qs.data(), angles.data(), 1, T, 1, HS, HS, rot);
  ref::RopeAnglesForward(kr.data(), ks.data(), angles.data(), 1, T, 1, HS, HS, rot);
  auto token = [&](int row, int col) { return 1 + row * side + col; };
  auto score = [&](int t1, int t2) {
    double s = 0;
    for (int i = 0; i < HS; ++i) s += qr[t1 * HS + i] * kr[t2 * HS + i];
    return s;
  };
  const double a = score(token(0, 0), token(1, 2)), b = score(token(2, 1), token(3, 3)),
               c = score(token(0, 0), token(2, 1));
  EXPECT_NEAR(a, b, 1e-12);          // the same offset (1, 2) at two places
  EXPECT_GT(std::abs(a - c), 1e-3);  // offset (2, 1) differs
  // A column offset alone and a row offset alone each move the score: both axes turn.
  const double same = score(token(1, 1), token(1, 1));
  EXPECT_GT(std::abs(score(token(1, 1), token(1, 2)) - same), 1e-3);
  EXPECT_GT(std::abs(score(token(1, 1), token(2, 1)) - same), 1e-3);
  std::vector<float> cosf(T * rot / 2), sinf(T * rot / 2);
  cpu::Rope2dTable(cosf.data(), sinf.data(), side, true, rot, 100.0);
  std::vector<float> fast(qs.begin(), qs.end());
  cpu::RopeApply(fast.data(), cosf.data(), sinf.data(), 1, T, 1, HS, rot, HS, false);
  ExpectClose(fast, qr, 1e-6, "rope2d table + RopeApply");  // float cos/sin: ~6e-8 each
}

// Bidirectional grouped-query attention (NH 4, KH 2), q, k and v against central differences.
TEST(VisionGrad, BidirectionalAttention) {
  const int B = 2, T = 4, NH = 4, KH = 2, HS = 3, C = NH * HS, KV = KH * HS;
  for (double s : kVisionScales) {
    Vec q = RandomVector(B * T * C, s, 14), k = RandomVector(B * T * KV, s, 15),
        v = RandomVector(B * T * KV, s, 16), w = RandomVector(B * T * C, 1, 17);
    Vec out(B * T * C), probs(B * NH * T * T);
    auto f = [&] {
      ref::BidirectionalAttentionForward(out.data(), probs.data(), q.data(), k.data(), v.data(), B,
                                         T, NH, KH, HS, C, KV);
      return VisionDot(out, w);
    };
    f();
    Vec dq(q.size(), 0), dk(k.size(), 0), dv(v.size(), 0);
    ref::BidirectionalAttentionBackward(dq.data(), dk.data(), dv.data(), w.data(), probs.data(),
                                        q.data(), k.data(), v.data(), B, T, NH, KH, HS, C, KV);
    const std::string tag = " s=" + std::to_string(s);
    ExpectVisionGrad("bidirectional attention q" + tag, q, dq, f);
    ExpectVisionGrad("bidirectional attention k" + tag, k, dk, f);
    ExpectVisionGrad("bidirectional attention v" + tag, v, dv, f);
  }
}

// The switch's oracle: with causal = false the output at position 0 changes when the key and value
// of the last position change; with causal = true it is bit-identical. Reference and fast kernel.
TEST(VisionOps, PositionZeroReadsTheLastPositionOnlyWhenBidirectional) {
  const int B = 1, T = 70, NH = 2, KH = 2, HS = 4, C = NH * HS, ld = 3 * C;  // T: two row blocks
  const std::vector<float> qkv = Rand(T * ld, 1.0f, 18);
  std::vector<float> moved = qkv;
  for (int i = C; i < 3 * C; ++i) moved[(T - 1) * ld + i] += 1.0f;  // k and v of position T-1
  for (bool causal : {true, false}) {
    std::vector<float> o1(T * C), o2(T * C), p(B * NH * T * T);
    cpu::AttentionForward(o1.data(), p.data(), qkv.data(), B, T, NH, KH, HS, false, causal);
    cpu::AttentionForward(o2.data(), p.data(), moved.data(), B, T, NH, KH, HS, false, causal);
    Vec r1(T * C), r2(T * C), pd(B * NH * T * T);
    const Vec a = D(qkv), b = D(moved);
    using RefAttention = void (*)(double*, double*, const double*, const double*, const double*,
                                  int, int, int, int, int, int64_t, int64_t);
    const RefAttention ref_attention =
        causal ? static_cast<RefAttention>(ref::AttentionForward<double>)
               : static_cast<RefAttention>(ref::BidirectionalAttentionForward<double>);
    ref_attention(r1.data(), pd.data(), a.data(), a.data() + C, a.data() + 2 * C, B, T, NH, KH, HS,
                  ld, ld);
    ref_attention(r2.data(), pd.data(), b.data(), b.data() + C, b.data() + 2 * C, B, T, NH, KH, HS,
                  ld, ld);
    double fast_change = 0, ref_change = 0;
    for (int c = 0; c < C; ++c) {  // position 0's output row
      fast_change = std::max(fast_change, (double)std::abs(o2[c] - o1[c]));
      ref_change = std::max(ref_change, std::abs(r2[c] - r1[c]));
    }
    if (causal) {
      EXPECT_EQ(fast_change, 0.0);
      EXPECT_EQ(ref_change, 0.0);
    } else {  // position 0 gives the last key weight ~1/T: its value moves the output by ~1/T
      EXPECT_GT(fast_change, 1e-4);
      EXPECT_GT(ref_change, 1e-4);
    }
  }
}

// The fast bidirectional kernel against the reference across row blocks (T 5, 64, 130), GQA, and
// at 1 and 2 threads bit for bit. Tolerance 2e-6 as the causal kernel's (cpu_parity_test.cc).
TEST(VisionOps, BidirectionalAttentionMatchesReference) {
  for (int T : {5, 64, 130}) {
    const int B = 2, NH = 4, KH = 2, HS = 8, C = NH * HS, KV = KH * HS, ld = C + 2 * KV;
    const int N = B * T;
    auto qkv = Rand(N * ld, 1.5f, 19 + T), dout = Rand(N * C, 1.0f, 20 + T);
    auto run = [&] {
      std::vector<float> out(N * C), probs(B * NH * T * T), dqkv(N * ld),
          scratch(omp_get_max_threads() * cpu::AttentionScratchSize(T, HS));
      cpu::AttentionForward(out.data(), probs.data(), qkv.data(), B, T, NH, KH, HS, false, false);
      cpu::AttentionBackward(dqkv.data(), dout.data(), probs.data(), qkv.data(), B, T, NH, KH, HS,
                             scratch.data(), false, false);
      out.insert(out.end(), dqkv.begin(), dqkv.end());
      return out;
    };
    const std::vector<float> both = run();
    const std::vector<float> out(both.begin(), both.begin() + N * C),
        dqkv(both.begin() + N * C, both.end());
    const Vec qd = D(qkv);
    Vec outd(N * C), pd(B * NH * T * T), dqd(N * ld, 0.0);
    ref::BidirectionalAttentionForward(outd.data(), pd.data(), qd.data(), qd.data() + C,
                                       qd.data() + C + KV, B, T, NH, KH, HS, ld, ld);
    ref::BidirectionalAttentionBackward(dqd.data(), dqd.data() + C, dqd.data() + C + KV,
                                        D(dout).data(), pd.data(), qd.data(), qd.data() + C,
                                        qd.data() + C + KV, B, T, NH, KH, HS, ld, ld);
    ExpectClose(out, outd, 2e-6, "bidirectional out T=" + std::to_string(T));
    ExpectClose(dqkv, dqd, 2e-6, "bidirectional dqkv T=" + std::to_string(T));
    EXPECT_TRUE(testing::SameAtOneAndTwoThreads(run));
  }
}

// The fast tokens, pool and softmax cross-entropy against the reference (exact up to float
// rounding of a sum of <= T terms: 1e-6), and thread-count independent.
TEST(VisionOps, TokensPoolAndXentMatchReference) {
  const int B = 3, Np = 4, C = 6, K = 5;
  for (bool cls : {true, false}) {
    const int T = Np + cls;
    auto emb = Rand(B * Np * C, 1.0f, 21), c0 = Rand(C, 1.0f, 22), pe = Rand(T * C, 1.0f, 23),
         dx = Rand(B * T * C, 1.0f, 24), dpool = Rand(B * C, 1.0f, 25);
    std::vector<float> x(B * T * C), demb(B * Np * C), dcls(C, 0.5f), dpos(T * C, 0.5f);
    cpu::ImageTokensForward(x.data(), emb.data(), cls ? c0.data() : nullptr, pe.data(), B, Np, C);
    cpu::ImageTokensBackward(demb.data(), cls ? dcls.data() : nullptr, dpos.data(), dx.data(), B,
                             Np, C);
    Vec xd(B * T * C), dembd(B * Np * C, 0.0), dclsd(C, 0.5), dposd(T * C, 0.5);
    ref::ImageTokensForward(xd.data(), D(emb).data(), cls ? D(c0).data() : nullptr, D(pe).data(), B,
                            Np, C);
    ref::ImageTokensBackward(dembd.data(), cls ? dclsd.data() : nullptr, dposd.data(), D(dx).data(),
                             B, Np, C);
    const std::string tag = cls ? " cls" : " mean";
    ExpectClose(x, xd, 1e-6, "image tokens" + tag);
    ExpectClose(demb, dembd, 1e-6, "image tokens demb" + tag);
    if (cls) ExpectClose(dcls, dclsd, 1e-6, "image tokens dcls (accumulated)");
    ExpectClose(dpos, dposd, 1e-6, "image tokens dpos (accumulated)" + tag);
    std::vector<float> pooled(B * C), dxp(B * T * C, 9.0f);
    cpu::PoolForward(pooled.data(), x.data(), B, T, C, cls);
    cpu::PoolBackward(dxp.data(), dpool.data(), B, T, C, cls);
    Vec pooledd(B * C), dxpd(B * T * C, 0.0);
    ref::PoolForward(pooledd.data(), D(x).data(), B, T, C, cls);
    ref::PoolBackward(dxpd.data(), D(dpool).data(), B, T, C, cls);
    ExpectClose(pooled, pooledd, 1e-6, "pool" + tag);
    ExpectClose(dxp, dxpd, 1e-6, "pool dx (overwritten)" + tag);
  }
  auto logits = Rand(B * K, 2.0f, 26);
  const std::vector<int32_t> labels = {4, 0, 2};
  std::vector<float> lp(B), dl(B * K);
  const float loss = cpu::SoftmaxXent(lp.data(), dl.data(), logits.data(), labels.data(), B, K);
  Vec lpd(B), dld(B * K, 0.0);
  const double loss_ref =
      ref::SoftmaxXentForward(lpd.data(), D(logits).data(), labels.data(), B, K);
  ref::SoftmaxXentBackward(dld.data(), 1.0, D(logits).data(), labels.data(), B, K);
  EXPECT_NEAR(loss, loss_ref, 1e-6 * loss_ref);  // K = 5 exps and a log in float: ~1e-7
  ExpectClose(lp, lpd, 1e-6, "softmax xent logprob");
  ExpectClose(dl, dld, 1e-6, "softmax xent dlogits");
}

}  // namespace
}  // namespace ot
