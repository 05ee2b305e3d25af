// Gradient-check ladder, rung 1: every reference op's backward against central differences in
// double, at input magnitudes 0.1, 1 and 4 (loss = sum(w * out) with a fixed random w, so dout =
// w), including the architecture switches' ops (affine LayerNorm, bias, partial RoPE, grouped-query
// attention, GELU, clamp).
#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "ops/grad_check.h"
#include "ops/reference/ops.h"

namespace ot {
namespace {

using testing::CheckGradient;
using testing::PrintGradCheck;
using testing::RandomVector;
using Vec = std::vector<double>;

double Dot(const Vec& a, const Vec& b) {
  double s = 0;
  for (size_t i = 0; i < a.size(); ++i) s += a[i] * b[i];
  return s;
}

// max_rel_err < 1e-6: see grad_check.h for the error budget (~1e-9 expected).
void Expect(const std::string& name, Vec& x, const Vec& g, const std::function<double()>& f) {
  auto r = CheckGradient(x, g, f);
  PrintGradCheck(name, r);
  EXPECT_LT(r.max_err, 1e-6) << name;
  EXPECT_GT(r.cosine, 1 - 1e-9) << name;
}

const double kScales[] = {0.1, 1.0, 4.0};

TEST(ReferenceGrad, Embedding) {
  const int V = 7, C = 5, N = 9;
  std::vector<int32_t> ids = {0, 3, 3, 6, 1, 0, 2, 3, 5};
  for (double s : kScales) {
    Vec table = RandomVector(V * C, s, 1), w = RandomVector(N * C, 1, 2), out(N * C), g(V * C, 0);
    auto f = [&] {
      ref::EmbeddingForward(out.data(), ids.data(), table.data(), N, C);
      return Dot(out, w);
    };
    f();
    ref::EmbeddingBackward(g.data(), w.data(), ids.data(), N, C);
    Expect("embedding table s=" + std::to_string(s), table, g, f);
  }
}

TEST(ReferenceGrad, RmsNormWithAndWithoutGain) {
  const int N = 4, C = 6;
  for (double s : kScales) {
    Vec x = RandomVector(N * C, s, 3), gain = RandomVector(C, 1, 4), w = RandomVector(N * C, 1, 5);
    for (auto& v : gain) v += 1;
    Vec out(N * C), rstd(N), dx(N * C, 0), dg(C, 0);
    for (bool with_gain : {true, false}) {
      auto f = [&] {
        ref::RmsNormForward(out.data(), rstd.data(), x.data(), with_gain ? gain.data() : nullptr, N,
                            C, 1e-5);
        return Dot(out, w);
      };
      f();
      std::fill(dx.begin(), dx.end(), 0);
      std::fill(dg.begin(), dg.end(), 0);
      ref::RmsNormBackward(dx.data(), with_gain ? dg.data() : nullptr, w.data(), x.data(),
                           with_gain ? gain.data() : nullptr, rstd.data(), N, C);
      const std::string tag =
          std::string(with_gain ? " gain" : " nogain") + " s=" + std::to_string(s);
      Expect("rmsnorm x" + tag, x, dx, f);
      if (with_gain) Expect("rmsnorm gain" + tag, gain, dg, f);
    }
  }
}

TEST(ReferenceGrad, LayerNorm) {
  const int N = 4, C = 6;
  for (double s : kScales) {
    Vec x = RandomVector(N * C, s, 6), w = RandomVector(N * C, 1, 7), out(N * C), mean(N), rstd(N),
        dx(N * C, 0);
    for (int i = 0; i < N * C; ++i) x[i] += 0.5 * s;  // a nonzero mean
    auto f = [&] {
      ref::LayerNormForward(out.data(), mean.data(), rstd.data(), x.data(), N, C, 1e-5);
      return Dot(out, w);
    };
    f();
    ref::LayerNormBackward(dx.data(), w.data(), x.data(), mean.data(), rstd.data(), N, C);
    Expect("layernorm x s=" + std::to_string(s), x, dx, f);
  }
}

// LayerNorm with gain and bias (GPT-NeoX, torch.nn.LayerNorm): x, gain and bias gradients; with the
// parameters null it is the non-parametric LayerNorm bit for bit, and gain g, bias b give g * xhat + b
// of it to rounding.
TEST(ReferenceGrad, LayerNormAffine) {
  const int N = 4, C = 6;
  for (double s : kScales) {
    Vec x = RandomVector(N * C, s, 30), gain = RandomVector(C, 0.5, 31),
        bias = RandomVector(C, 1, 32), w = RandomVector(N * C, 1, 33), out(N * C), mean(N), rstd(N),
        dx(N * C, 0), dg(C, 0), db(C, 0);
    for (auto& v : gain) v += 1;
    for (int i = 0; i < N * C; ++i) x[i] += 0.5 * s;  // a nonzero mean
    auto f = [&] {
      ref::LayerNormForward(out.data(), mean.data(), rstd.data(), x.data(), gain.data(),
                            bias.data(), N, C, 1e-5);
      return Dot(out, w);
    };
    f();
    ref::LayerNormBackward(dx.data(), dg.data(), db.data(), w.data(), x.data(), gain.data(),
                           mean.data(), rstd.data(), N, C);
    const std::string tag = " s=" + std::to_string(s);
    Expect("layernorm-affine x" + tag, x, dx, f);
    Expect("layernorm-affine gain" + tag, gain, dg, f);
    Expect("layernorm-affine bias" + tag, bias, db, f);
    Vec plain(N * C), mean2(N), rstd2(N), dplain(N * C, 0), dnull(N * C, 0);
    ref::LayerNormForward(plain.data(), mean2.data(), rstd2.data(), x.data(), N, C, 1e-5);
    f();
    for (int i = 0; i < N * C; ++i) {  // 1e-15: a fused multiply-add (-march=native) skips one
      const double want = plain[i] * gain[i % C] + bias[i % C];  // rounding, <= 1 ulp = 2.2e-16 rel
      EXPECT_NEAR(out[i], want, 1e-15 * (1 + std::abs(want)));
    }
    ref::LayerNormForward(out.data(), mean.data(), rstd.data(), x.data(), (const double*)nullptr,
                          (const double*)nullptr, N, C, 1e-5);
    EXPECT_EQ(out, plain);
    ref::LayerNormBackward(dplain.data(), w.data(), x.data(), mean.data(), rstd.data(), N, C);
    ref::LayerNormBackward(dnull.data(), (double*)nullptr, (double*)nullptr, w.data(), x.data(),
                           (const double*)nullptr, mean.data(), rstd.data(), N, C);
    EXPECT_EQ(dplain, dnull);
  }
}

TEST(ReferenceGrad, Matmul) {
  const int N = 5, I = 4, O = 3;
  for (double s : kScales) {
    Vec in = RandomVector(N * I, s, 8), W = RandomVector(O * I, s, 9),
        w = RandomVector(N * O, 1, 10);
    Vec out(N * O), din(N * I, 0), dW(O * I, 0);
    auto f = [&] {
      ref::MatmulForward(out.data(), in.data(), W.data(), N, I, O);
      return Dot(out, w);
    };
    f();
    ref::MatmulBackward(din.data(), dW.data(), w.data(), in.data(), W.data(), N, I, O);
    Expect("matmul in s=" + std::to_string(s), in, din, f);
    Expect("matmul W s=" + std::to_string(s), W, dW, f);
  }
}

// A linear layer's bias, broadcast over rows (in place after the Matmul): out = in + bias.
TEST(ReferenceGrad, Bias) {
  const int N = 5, O = 3;
  for (double s : kScales) {
    Vec in = RandomVector(N * O, s, 34), b = RandomVector(O, s, 35), w = RandomVector(N * O, 1, 36),
        out(N * O), db(O, 0);
    auto f = [&] {
      out = in;
      ref::BiasForward(out.data(), b.data(), N, O);
      return Dot(out, w);
    };
    f();
    for (int i = 0; i < N * O; ++i) EXPECT_EQ(out[i], in[i] + b[i % O]);
    ref::BiasBackward(db.data(), w.data(), N, O);
    Expect("bias s=" + std::to_string(s), b, db, f);
  }
}

TEST(ReferenceGrad, RopeInsidePackedRows) {
  const int B = 2, T = 5, NH = 2, HS = 4, C = NH * HS,
            stride = 3 * C;  // q inside a (B,T,3C) buffer
  for (double s : kScales) {
    Vec x = RandomVector(B * T * stride, s, 11), w = RandomVector(B * T * stride, 1, 12);
    Vec out(B * T * stride, 0), dx(B * T * stride, 0);
    auto f = [&] {
      ref::RopeForward(out.data(), x.data(), B, T, NH, HS, stride, 500.0);
      return Dot(out, w);
    };
    f();
    ref::RopeBackward(dx.data(), w.data(), B, T, NH, HS, stride, 500.0);
    Expect("rope s=" + std::to_string(s), x, dx, f);
  }
  // Position 0 is the identity; the rotation preserves each pair's norm.
  Vec x = RandomVector(B * T * stride, 1, 13), out(B * T * stride, 0);
  ref::RopeForward(out.data(), x.data(), B, T, NH, HS, stride, 10000.0);
  for (int i = 0; i < C; ++i) EXPECT_DOUBLE_EQ(out[i], x[i]);
  const int64_t row = 3 * stride;
  for (int i = 0; i < HS / 2; ++i)
    EXPECT_NEAR(out[row + i] * out[row + i] + out[row + i + HS / 2] * out[row + i + HS / 2],
                x[row + i] * x[row + i] + x[row + i + HS / 2] * x[row + i + HS / 2], 1e-12);
}

TEST(ReferenceGrad, CausalAttention) {
  const int B = 2, T = 5, NH = 2, HS = 4, C = NH * HS, stride = 3 * C;
  for (double s : kScales) {
    Vec qkv = RandomVector(B * T * stride, s, 14), w = RandomVector(B * T * C, 1, 15);
    Vec out(B * T * C), probs(B * NH * T * T), dqkv(B * T * stride, 0);
    auto f = [&] {
      ref::AttentionForward(out.data(), probs.data(), qkv.data(), qkv.data() + C,
                            qkv.data() + 2 * C, B, T, NH, HS, stride);
      return Dot(out, w);
    };
    f();
    ref::AttentionBackward(dqkv.data(), dqkv.data() + C, dqkv.data() + 2 * C, w.data(),
                           probs.data(), qkv.data(), qkv.data() + C, qkv.data() + 2 * C, B, T, NH,
                           HS, stride);
    Expect("attention qkv s=" + std::to_string(s), qkv, dqkv, f);
  }
  // Causality: changing a later token leaves earlier outputs unchanged.
  Vec qkv = RandomVector(B * T * stride, 1, 16), out1(B * T * C), out2(B * T * C),
      probs(B * NH * T * T);
  ref::AttentionForward(out1.data(), probs.data(), qkv.data(), qkv.data() + C, qkv.data() + 2 * C,
                        B, T, NH, HS, stride);
  for (int i = 0; i < stride; ++i) qkv[(T - 1) * stride + i] += 1.0;  // batch 0, last position
  ref::AttentionForward(out2.data(), probs.data(), qkv.data(), qkv.data() + C, qkv.data() + 2 * C,
                        B, T, NH, HS, stride);
  for (int i = 0; i < (T - 1) * C; ++i) EXPECT_EQ(out1[i], out2[i]);
  EXPECT_NE(out1[(T - 1) * C], out2[(T - 1) * C]);
}

// Partial rotary (GPT-NeoX rotary_pct): RoPE on the first `rot` dims of each head, the rest passed
// through. Gradients at rot = HS/2 and 0; rot = HS is the full-rotary signature bit for bit; the
// rotated dims equal a full RoPE of head size rot (so the angle is t theta^(-2i/rot), not /HS).
TEST(ReferenceGrad, PartialRopeInsidePackedRows) {
  const int B = 2, T = 5, NH = 2, HS = 8, C = NH * HS, stride = 3 * C;
  for (int rot : {HS / 2, 0}) {
    for (double s : kScales) {
      Vec x = RandomVector(B * T * stride, s, 37), w = RandomVector(B * T * stride, 1, 38);
      Vec out(B * T * stride, 0), dx(B * T * stride, 0);
      auto f = [&] {
        ref::RopeForward(out.data(), x.data(), B, T, NH, HS, stride, 500.0, rot);
        return Dot(out, w);
      };
      f();
      ref::RopeBackward(dx.data(), w.data(), B, T, NH, HS, stride, 500.0, rot);
      Expect("rope rot=" + std::to_string(rot) + " s=" + std::to_string(s), x, dx, f);
    }
  }
  const int rot = HS / 2;
  Vec x = RandomVector(B * T * stride, 1, 39), full(B * T * stride, 0), old(B * T * stride, 0),
      part(B * T * stride, 0);
  ref::RopeForward(full.data(), x.data(), B, T, NH, HS, stride, 500.0, HS);
  ref::RopeForward(old.data(), x.data(), B, T, NH, HS, stride, 500.0);
  EXPECT_EQ(full, old);
  Vec dfull(B * T * stride, 0), dold(B * T * stride, 0);
  ref::RopeBackward(dfull.data(), x.data(), B, T, NH, HS, stride, 500.0, HS);
  ref::RopeBackward(dold.data(), x.data(), B, T, NH, HS, stride, 500.0);
  EXPECT_EQ(dfull, dold);
  // The rotated dims gathered into heads of size rot, rotated fully, against the partial rotation.
  ref::RopeForward(part.data(), x.data(), B, T, NH, HS, stride, 500.0, rot);
  Vec small(B * T * NH * rot), small_out(B * T * NH * rot);
  for (int r = 0; r < B * T; ++r)
    for (int h = 0; h < NH; ++h)
      for (int i = 0; i < rot; ++i) small[(r * NH + h) * rot + i] = x[r * stride + h * HS + i];
  ref::RopeForward(small_out.data(), small.data(), B, T, NH, rot, NH * rot, 500.0);
  for (int r = 0; r < B * T; ++r)
    for (int h = 0; h < NH; ++h) {
      for (int i = 0; i < rot; ++i)
        EXPECT_EQ(part[r * stride + h * HS + i], small_out[(r * NH + h) * rot + i]);
      for (int i = rot; i < HS; ++i)
        EXPECT_EQ(part[r * stride + h * HS + i], x[r * stride + h * HS + i]);  // passed through
    }
}

// Grouped-query attention inside a packed (B,T,C+2KV) q|k|v buffer (both strides C+2KV), at KH = 2
// and KH = 1 (multi-query) of NH = 4. Oracle: multi-head attention whose k and v repeat each kv
// head for the NH/KH query heads of its group gives the same output, and its dk, dv summed over a
// group are the grouped dk, dv.
TEST(ReferenceGrad, GroupedQueryAttention) {
  const int B = 2, T = 5, NH = 4, HS = 3, C = NH * HS;
  for (int KH : {2, 1}) {
    const int KV = KH * HS, stride = C + 2 * KV, group = NH / KH;
    for (double s : kScales) {
      Vec qkv = RandomVector(B * T * stride, s, 40), w = RandomVector(B * T * C, 1, 41);
      Vec out(B * T * C), probs(B * NH * T * T), dqkv(B * T * stride, 0);
      auto f = [&] {
        ref::AttentionForward(out.data(), probs.data(), qkv.data(), qkv.data() + C,
                              qkv.data() + C + KV, B, T, NH, KH, HS, stride, stride);
        return Dot(out, w);
      };
      f();
      ref::AttentionBackward(dqkv.data(), dqkv.data() + C, dqkv.data() + C + KV, w.data(),
                             probs.data(), qkv.data(), qkv.data() + C, qkv.data() + C + KV, B, T,
                             NH, KH, HS, stride, stride);
      Expect("gqa KH=" + std::to_string(KH) + " qkv s=" + std::to_string(s), qkv, dqkv, f);
      f();  // CheckGradient's last evaluation was at a perturbed point
      // The repeated-heads MHA: separate q (C), k and v (C) buffers.
      Vec q(B * T * C), k(B * T * C), v(B * T * C), mout(B * T * C), mprobs(B * NH * T * T),
          dq(B * T * C, 0), dk(B * T * C, 0), dv(B * T * C, 0);
      for (int r = 0; r < B * T; ++r)
        for (int h = 0; h < NH; ++h)
          for (int i = 0; i < HS; ++i) {
            q[r * C + h * HS + i] = qkv[r * stride + h * HS + i];
            k[r * C + h * HS + i] = qkv[r * stride + C + (h / group) * HS + i];
            v[r * C + h * HS + i] = qkv[r * stride + C + KV + (h / group) * HS + i];
          }
      ref::AttentionForward(mout.data(), mprobs.data(), q.data(), k.data(), v.data(), B, T, NH, HS,
                            C);
      EXPECT_EQ(mout, out);
      EXPECT_EQ(mprobs, probs);
      ref::AttentionBackward(dq.data(), dk.data(), dv.data(), w.data(), mprobs.data(), q.data(),
                             k.data(), v.data(), B, T, NH, HS, C);
      // Summation order differs (the grouped one interleaves the group's heads per position): 1e-12
      // relative is ~1e4 ulps of double, far above the few roundings per sum, far below any error.
      for (int r = 0; r < B * T; ++r)
        for (int j = 0; j < KH; ++j)
          for (int i = 0; i < HS; ++i) {
            double sk = 0, sv = 0;
            for (int h = j * group; h < (j + 1) * group; ++h) {
              sk += dk[r * C + h * HS + i];
              sv += dv[r * C + h * HS + i];
            }
            EXPECT_NEAR(dqkv[r * stride + C + j * HS + i], sk, 1e-12 * (1 + std::abs(sk)));
            EXPECT_NEAR(dqkv[r * stride + C + KV + j * HS + i], sv, 1e-12 * (1 + std::abs(sv)));
          }
      for (int r = 0; r < B * T; ++r)
        for (int c = 0; c < C; ++c) EXPECT_EQ(dqkv[r * stride + c], dq[r * C + c]);
    }
  }
}

TEST(ReferenceGrad, SwiGluPacked) {
  const int N = 4, F = 5, stride = 2 * F;
  for (double s : kScales) {
    Vec gu = RandomVector(N * stride, s, 17), w = RandomVector(N * F, 1, 18), out(N * F),
        dgu(N * stride, 0);
    auto f = [&] {
      ref::SwiGluForward(out.data(), gu.data(), gu.data() + F, N, F, stride);
      return Dot(out, w);
    };
    f();
    ref::SwiGluBackward(dgu.data(), dgu.data() + F, w.data(), gu.data(), gu.data() + F, N, F,
                        stride);
    Expect("swiglu gate|up s=" + std::to_string(s), gu, dgu, f);
  }
}

// Exact (erf) GELU, x Phi(x): gradients at three magnitudes, and values against Phi from tables
// (Phi(1) = 0.841344746068543, Phi(-2) = 0.0227501319481792), to double rounding.
TEST(ReferenceGrad, GeluExact) {
  const int N = 4, F = 5;
  for (double s : kScales) {
    Vec x = RandomVector(N * F, s, 42), w = RandomVector(N * F, 1, 43), out(N * F), dx(N * F, 0);
    auto f = [&] {
      ref::GeluForward(out.data(), x.data(), N, F);
      return Dot(out, w);
    };
    f();
    ref::GeluBackward(dx.data(), w.data(), x.data(), N, F);
    Expect("gelu s=" + std::to_string(s), x, dx, f);
  }
  Vec x = {0.0, 1.0, -2.0}, out(3);
  ref::GeluForward(out.data(), x.data(), 1, 3);
  EXPECT_EQ(out[0], 0.0);
  EXPECT_NEAR(out[1], 0.841344746068543, 1e-15);
  EXPECT_NEAR(out[2], -2 * 0.0227501319481792, 1e-15);
}

// Clamp to [-c, c] (clip_qkv) with c = 0.8 s, so some entries clip at every magnitude: central
// differences where no entry is within 1e-3 s of a bound (h = 1e-5 max(1,|x|) cannot cross one),
// and torch.clamp's gradient at the bounds themselves: it passes at x = +-c, is zero beyond.
TEST(ReferenceGrad, ClampQkv) {
  const int N = 4, C = 6;
  for (double s : kScales) {
    const double c = 0.8 * s;
    Vec x = RandomVector(N * C, s, 44), w = RandomVector(N * C, 1, 45), out(N * C), dx(N * C, 0);
    int clipped = 0;
    for (double v : x) {
      clipped += std::abs(v) > c;
      EXPECT_GT(std::abs(std::abs(v) - c), 1e-3 * s);
    }
    EXPECT_GT(clipped, 0);
    EXPECT_LT(clipped, N * C);
    auto f = [&] {
      ref::ClampForward(out.data(), x.data(), N, C, c);
      return Dot(out, w);
    };
    f();
    ref::ClampBackward(dx.data(), w.data(), x.data(), N, C, c);
    for (int i = 0; i < N * C; ++i) EXPECT_EQ(dx[i], std::abs(x[i]) > c ? 0.0 : w[i]);
    Expect("clamp s=" + std::to_string(s), x, dx, f);
  }
  Vec x = {-0.5, 0.5, -0.6, 0.6, 0.1}, dout = {1, 2, 3, 4, 5}, out(5), dx(5, 0);
  ref::ClampForward(out.data(), x.data(), 1, 5, 0.5);
  EXPECT_EQ(out, (Vec{-0.5, 0.5, -0.5, 0.5, 0.1}));
  ref::ClampBackward(dx.data(), dout.data(), x.data(), 1, 5, 0.5);
  EXPECT_EQ(dx, (Vec{1, 2, 0, 0, 5}));
}

TEST(ReferenceGrad, LmHeadXentWithIgnoredTargets) {
  const int N = 6, C = 4, V = 11;
  std::vector<int32_t> targets = {3, -1, 0, 10, -100, 3};
  for (double s : kScales) {
    Vec x = RandomVector(N * C, s, 19), W = RandomVector(V * C, s, 20), lp(N), dx(N * C, 0),
        dW(V * C, 0);
    int64_t count = 0;
    auto f = [&] {
      return ref::LmHeadXentForward(lp.data(), x.data(), W.data(), targets.data(), N, C, V, &count);
    };
    f();
    EXPECT_EQ(count, 4);
    EXPECT_EQ(lp[1], 0.0);
    ref::LmHeadXentBackward(dx.data(), dW.data(), 1.0, x.data(), W.data(), targets.data(), N, C, V);
    for (int c = 0; c < C; ++c) EXPECT_EQ(dx[1 * C + c], 0.0);  // ignored rows get no gradient
    Expect("lmhead-xent x s=" + std::to_string(s), x, dx, f);
    Expect("lmhead-xent W s=" + std::to_string(s), W, dW, f);
  }
  // Uniform logits (W = 0) give loss log V exactly.
  Vec x = RandomVector(N * C, 1, 21), W(V * C, 0), lp(N);
  int64_t count = 0;
  EXPECT_NEAR(
      ref::LmHeadXentForward(lp.data(), x.data(), W.data(), targets.data(), N, C, V, &count),
      std::log(double(V)), 1e-12);
  std::vector<int32_t> none(N, -1);
  EXPECT_EQ(ref::LmHeadXentForward(lp.data(), x.data(), W.data(), none.data(), N, C, V, &count),
            0.0);
  EXPECT_EQ(count, 0);
}

// z-loss (PaLM section 5): the objective adds z log^2 Z per counted row. Central differences of the
// whole objective at three magnitudes and two z (0.01 is the usual 1e-4 scaled up so the term is
// not lost under the NLL's gradient; 1 makes it dominate), plus the value: objective(z) -
// objective(0) = z mean log^2 Z.
TEST(ReferenceGrad, LmHeadXentZLoss) {
  const int N = 6, C = 4, V = 11;
  std::vector<int32_t> targets = {3, -1, 0, 10, -100, 3};
  for (double z : {0.01, 1.0}) {
    for (double s : kScales) {
      Vec x = RandomVector(N * C, s, 22), W = RandomVector(V * C, s, 23), lp(N), log_z(N),
          dx(N * C, 0), dW(V * C, 0);
      for (int c = 0; c < C; ++c) x[c] += 1.0;  // a mean logit offset: log Z away from log V
      int64_t count = 0;
      auto f = [&] {
        return ref::LmHeadXentForward(lp.data(), x.data(), W.data(), targets.data(), N, C, V,
                                      &count, z, log_z.data());
      };
      const double objective = f();
      double z_term = 0;
      for (int n = 0; n < N; ++n) z_term += z * log_z[n] * log_z[n];
      EXPECT_EQ(log_z[1], 0.0);
      const double nll =
          ref::LmHeadXentForward(lp.data(), x.data(), W.data(), targets.data(), N, C, V, &count);
      EXPECT_NEAR(objective - nll, z_term / 4, 1e-14 * (1 + objective));
      ref::LmHeadXentBackward(dx.data(), dW.data(), 1.0, x.data(), W.data(), targets.data(), N, C,
                              V, z);
      for (int c = 0; c < C; ++c) EXPECT_EQ(dx[1 * C + c], 0.0);  // ignored rows get no gradient
      const std::string tag = " z=" + std::to_string(z) + " s=" + std::to_string(s);
      Expect("lmhead-xent+z x" + tag, x, dx, f);
      Expect("lmhead-xent+z W" + tag, W, dW, f);
    }
  }
}

}  // namespace
}  // namespace ot
