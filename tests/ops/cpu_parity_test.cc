// Fast float32 kernels (ops/cpu) against the double reference (ops/reference) element by element,
// and bit-identity of our own (non-BLAS-threaded) kernels at 1 vs 2 OpenMP threads. Tolerance
// reasoning: inputs are the same floats; the reference runs in double, so the difference is the
// kernel's own float32 rounding: ~K * 6e-8 relative for a length-K reduction plus FastExp's < 3e-7.
// We bound |fast - ref| <= tol * max|ref| per output with tol = 2e-6 (K <= 130 here), 1e-5 for the
// LM head (V = 300 classes, log of a sum).
#include <gtest/gtest.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "ops/cpu/kernels.h"
#include "ops/reference/ops.h"
#include "parity_util.h"

namespace ot {
namespace {

using namespace testing;  // parity_util.h: Rand, D, ExpectClose, SameAtOneAndTwoThreads

TEST(CpuKernels, FastExp) {
  double worst = 0;
  for (float x = -87.0f; x < 88.0f; x += 0.0137f) {
    const double e = std::exp(static_cast<double>(x));
    worst = std::max(worst, std::abs(cpu::FastExp(x) - e) / e);
  }
  std::printf("  FastExp max relative error %.2e\n", worst);
  EXPECT_LT(worst, 3e-7);
  EXPECT_EQ(cpu::FastExp(0.0f), 1.0f);
  EXPECT_LT(cpu::FastExp(-1000.0f), 1e-37f);
  EXPECT_TRUE(std::isfinite(cpu::FastExp(1000.0f)));
}

TEST(CpuKernels, NormsMatchReferenceAndThreadCounts) {
  const int N = 37, C = 48;
  auto x = Rand(N * C, 2.0f, 1), gain = Rand(C, 0.3f, 2), dy = Rand(N * C, 1.0f, 3);
  for (auto& g : gain) g += 1;
  auto xd = D(x), gd = D(gain), dyd = D(dy);
  // RMSNorm forward + backward.
  std::vector<float> out(N * C), rstd(N), dx(N * C, 0.5f), dg(C, 0.25f);
  std::vector<double> outd(N * C), rstdd(N), dxd(N * C, 0.5), dgd(C, 0.25);
  cpu::RmsNormForward(out.data(), rstd.data(), x.data(), gain.data(), N, C, 1e-5f);
  cpu::RmsNormBackward(dx.data(), dg.data(), dy.data(), x.data(), gain.data(), rstd.data(), N, C);
  ref::RmsNormForward(outd.data(), rstdd.data(), xd.data(), gd.data(), N, C, 1e-5);
  ref::RmsNormBackward(dxd.data(), dgd.data(), dyd.data(), xd.data(), gd.data(), rstdd.data(), N,
                       C);
  ExpectClose(out, outd, 2e-6, "rmsnorm out");
  ExpectClose(dx, dxd, 2e-6, "rmsnorm dx (accumulated)");
  ExpectClose(dg, dgd, 2e-6, "rmsnorm dgain (accumulated)");
  // LayerNorm.
  std::vector<float> mean(N), dxl(N * C, 0.0f);
  std::vector<double> meand(N), dxld(N * C, 0.0);
  cpu::LayerNormForward(out.data(), mean.data(), rstd.data(), x.data(), N, C, 1e-5f);
  cpu::LayerNormBackward(dxl.data(), dy.data(), x.data(), mean.data(), rstd.data(), N, C);
  ref::LayerNormForward(outd.data(), meand.data(), rstdd.data(), xd.data(), N, C, 1e-5);
  ref::LayerNormBackward(dxld.data(), dyd.data(), xd.data(), meand.data(), rstdd.data(), N, C);
  ExpectClose(out, outd, 2e-6, "layernorm out");
  ExpectClose(dxl, dxld, 2e-6, "layernorm dx");
  EXPECT_TRUE(SameAtOneAndTwoThreads([&] {
    std::vector<float> o(N * C), r(N), d(N * C, 0.0f), g(C, 0.0f);
    cpu::RmsNormForward(o.data(), r.data(), x.data(), gain.data(), N, C, 1e-5f);
    cpu::RmsNormBackward(d.data(), g.data(), dy.data(), x.data(), gain.data(), r.data(), N, C);
    o.insert(o.end(), d.begin(), d.end());
    o.insert(o.end(), g.begin(), g.end());
    return o;
  }));
}

TEST(CpuKernels, EmbeddingRopeSwiGluMatchReference) {
  const int V = 13, C = 40, N = 50, B = 2, T = 25, NH = 5, HS = 8;  // C = NH * HS
  std::vector<int32_t> ids(N);
  for (int i = 0; i < N; ++i) ids[i] = (i * 7) % V;
  auto table = Rand(V * C, 1.0f, 4), dout = Rand(N * C, 1.0f, 5);
  std::vector<float> emb(N * C), dtable(V * C, 0.0f);
  std::vector<double> embd(N * C), dtabled(V * C, 0.0);
  cpu::EmbeddingForward(emb.data(), ids.data(), table.data(), N, C);
  cpu::EmbeddingBackward(dtable.data(), dout.data(), ids.data(), N, C);
  ref::EmbeddingForward(embd.data(), ids.data(), D(table).data(), N, C);
  ref::EmbeddingBackward(dtabled.data(), D(dout).data(), ids.data(), N, C);
  ExpectClose(emb, embd, 0, "embedding");
  ExpectClose(dtable, dtabled, 2e-6, "embedding dtable");
  // RoPE on q,k of a packed qkv buffer, forward and inverse.
  const int64_t stride = 3 * C;
  auto qkv = Rand(N * stride, 1.0f, 6);
  std::vector<float> cs(T * HS / 2), sn(T * HS / 2), r = qkv;
  cpu::RopeTable(cs.data(), sn.data(), T, HS, 10000.0);
  cpu::RopeApply(r.data(), cs.data(), sn.data(), B, T, 2 * NH, HS, stride, false);
  std::vector<double> rd = D(qkv), src = D(qkv);
  ref::RopeForward(rd.data(), src.data(), B, T, 2 * NH, HS, stride, 10000.0);
  ExpectClose(r, rd, 2e-6, "rope");
  std::vector<double> back(N * stride, 0.0), rdd(rd.begin(), rd.end());
  cpu::RopeApply(r.data(), cs.data(), sn.data(), B, T, 2 * NH, HS, stride, true);
  ref::RopeBackward(back.data(), rdd.data(), B, T, 2 * NH, HS, stride, 10000.0);
  for (int64_t i = 0; i < N * stride; ++i)
    if (i % stride >= 2 * C) back[i] = rdd[i];  // v is untouched by RoPE
  ExpectClose(r, back, 2e-6, "rope inverse");
  ExpectClose(r, D(qkv), 2e-6, "rope inverse(forward) = id");
  // SwiGLU.
  const int F = 33;
  auto gu = Rand(N * 2 * F, 2.0f, 7), dh = Rand(N * F, 1.0f, 8);
  std::vector<float> h(N * F), dgu(N * 2 * F);
  std::vector<double> hd(N * F), dgud(N * 2 * F, 0.0), gud = D(gu);
  cpu::SwiGluForward(h.data(), gu.data(), N, F);
  cpu::SwiGluBackward(dgu.data(), dh.data(), gu.data(), N, F);
  ref::SwiGluForward(hd.data(), gud.data(), gud.data() + F, N, F, 2 * F);
  ref::SwiGluBackward(dgud.data(), dgud.data() + F, D(dh).data(), gud.data(), gud.data() + F, N, F,
                      2 * F);
  ExpectClose(h, hd, 2e-6, "swiglu");
  ExpectClose(dgu, dgud, 2e-6, "swiglu dgate|dup");
  EXPECT_TRUE(SameAtOneAndTwoThreads([&] {
    std::vector<float> d(V * C, 0.0f), x = qkv, o(N * F), g(N * 2 * F);
    cpu::EmbeddingBackward(d.data(), dout.data(), ids.data(), N, C);
    cpu::RopeApply(x.data(), cs.data(), sn.data(), B, T, 2 * NH, HS, stride, false);
    cpu::SwiGluForward(o.data(), gu.data(), N, F);
    cpu::SwiGluBackward(g.data(), dh.data(), gu.data(), N, F);
    for (auto* v : {&x, &o, &g}) d.insert(d.end(), v->begin(), v->end());
    return d;
  }));
}

TEST(CpuKernels, AttentionMatchesReferenceAcrossRowBlocks) {
  for (int T : {5, 64, 130}) {  // one partial block, exactly one block, three blocks (64 + 64 + 2)
    const int B = 2, NH = 3, HS = 8, C = NH * HS, N = B * T;
    auto qkv = Rand(N * 3 * C, 1.5f, 9 + T), dout = Rand(N * C, 1.0f, 10 + T);
    std::vector<float> out(N * C), probs(B * NH * T * T), dqkv(N * 3 * C),
        scratch(omp_get_max_threads() * cpu::AttentionScratchSize(T, HS));
    cpu::AttentionForward(out.data(), probs.data(), qkv.data(), B, T, NH, NH, HS);
    cpu::AttentionBackward(dqkv.data(), dout.data(), probs.data(), qkv.data(), B, T, NH, NH, HS,
                           scratch.data());
    std::vector<double> qd = D(qkv), outd(N * C), pd(B * NH * T * T), dqd(N * 3 * C, 0.0);
    ref::AttentionForward(outd.data(), pd.data(), qd.data(), qd.data() + C, qd.data() + 2 * C, B, T,
                          NH, HS, 3 * C);
    ref::AttentionBackward(dqd.data(), dqd.data() + C, dqd.data() + 2 * C, D(dout).data(),
                           pd.data(), qd.data(), qd.data() + C, qd.data() + 2 * C, B, T, NH, HS,
                           3 * C);
    ExpectClose(out, outd, 2e-6, ("attention out T=" + std::to_string(T)).c_str());
    ExpectClose(dqkv, dqd, 2e-6, ("attention dqkv T=" + std::to_string(T)).c_str());
    // Single-threaded GEMMs per (b,h) pair: identical at any thread count.
    EXPECT_TRUE(SameAtOneAndTwoThreads([&] {
      std::vector<float> o(N * C), p(B * NH * T * T), d(N * 3 * C),
          s(2 * cpu::AttentionScratchSize(T, HS));
      cpu::AttentionForward(o.data(), p.data(), qkv.data(), B, T, NH, NH, HS);
      cpu::AttentionBackward(d.data(), dout.data(), p.data(), qkv.data(), B, T, NH, NH, HS,
                             s.data());
      o.insert(o.end(), d.begin(), d.end());
      return o;
    }));
  }
}

TEST(CpuKernels, MatmulAndLmHeadXentMatchReference) {
  const int N = 70, C = 24, V = 300, O = 40;
  auto x = Rand(N * C, 1.0f, 20), W = Rand(O * C, 0.5f, 21), dout = Rand(N * O, 1.0f, 22);
  std::vector<float> out(N * O), din(N * C), dW(O * C, 0.5f);
  std::vector<double> outd(N * O), dind(N * C, 0.0), dWd(O * C, 0.5);
  cpu::MatmulForward(out.data(), x.data(), W.data(), N, C, O);
  cpu::MatmulBackward(din.data(), dW.data(), dout.data(), x.data(), W.data(), N, C, O, 0.0f);
  ref::MatmulForward(outd.data(), D(x).data(), D(W).data(), N, C, O);
  ref::MatmulBackward(dind.data(), dWd.data(), D(dout).data(), D(x).data(), D(W).data(), N, C, O);
  ExpectClose(out, outd, 2e-6, "matmul out");
  ExpectClose(din, dind, 2e-6, "matmul din");
  ExpectClose(dW, dWd, 2e-6, "matmul dW (accumulated)");
  // LM head + xent, several block sizes (block boundaries must not matter), some ignored targets.
  auto Wh = Rand(V * C, 1.0f, 23);
  std::vector<int32_t> tg(N);
  for (int i = 0; i < N; ++i) tg[i] = i % 5 == 2 ? -1 : (i * 37) % V;
  std::vector<double> lpd(N), dxd(N * C, 0.0), dWhd(V * C, 0.0);
  int64_t cnt_ref = 0;
  const double loss_ref =
      ref::LmHeadXentForward(lpd.data(), D(x).data(), D(Wh).data(), tg.data(), N, C, V, &cnt_ref);
  ref::LmHeadXentBackward(dxd.data(), dWhd.data(), 1.0, D(x).data(), D(Wh).data(), tg.data(), N, C,
                          V);
  for (int block : {16, 64, 70}) {
    std::vector<float> lp(N), dx(N * C), dWh(V * C, 7.0f), scratch(block * V);
    int64_t cnt = 0;
    const float loss =
        cpu::LmHeadXent(lp.data(), dx.data(), dWh.data(), x.data(), Wh.data(), tg.data(), N, C, V,
                        scratch.data(), block, &cnt, /*dW_overwrite=*/true);
    EXPECT_EQ(cnt, cnt_ref);
    EXPECT_NEAR(loss, loss_ref, 1e-6 * loss_ref);
    ExpectClose(lp, lpd, 1e-5, "lmhead logprob");
    ExpectClose(dx, dxd, 1e-5, "lmhead dx");
    ExpectClose(dWh, dWhd, 1e-5, "lmhead dW (overwritten)");
    std::vector<float> lp2(N);
    const float loss2 = cpu::LmHeadXent(lp2.data(), nullptr, nullptr, x.data(), Wh.data(),
                                        tg.data(), N, C, V, scratch.data(), block, &cnt);
    EXPECT_EQ(loss2, loss);  // the forward-only path computes the same log-probs
    EXPECT_EQ(lp2, lp);
  }
}

// z-loss in the fused head: objective, log Z, max logit, dx and dW against the double reference
// (same 1e-5 as the plain head: the z term adds one log and a scale per row), over block sizes; the
// default options and explicit z = 0 with the statistics outputs give the plain kernel's bits.
TEST(CpuKernels, LmHeadXentZLossMatchesReference) {
  const int N = 70, C = 24, V = 300;
  auto x = Rand(N * C, 1.0f, 30), Wh = Rand(V * C, 1.0f, 31);
  for (int i = 0; i < N; ++i) x[i * C] += 2.0f;  // log Z well away from 0 and from log V
  std::vector<int32_t> tg(N);
  for (int i = 0; i < N; ++i) tg[i] = i % 7 == 3 ? -1 : (i * 53) % V;
  const double z = 0.05;
  std::vector<double> lpd(N), lzd(N), dxd(N * C, 0.0), dWd(V * C, 0.0);
  int64_t cnt_ref = 0;
  const double obj_ref = ref::LmHeadXentForward(lpd.data(), D(x).data(), D(Wh).data(), tg.data(), N,
                                                C, V, &cnt_ref, z, lzd.data());
  ref::LmHeadXentBackward(dxd.data(), dWd.data(), 1.0, D(x).data(), D(Wh).data(), tg.data(), N, C,
                          V, z);
  std::vector<double> mxd(N, 0.0);
  for (int n = 0; n < N; ++n) {
    if (tg[n] < 0) continue;
    std::vector<double> logits(V);
    ref::MatmulForward(logits.data(), D(x).data() + n * C, D(Wh).data(), 1, C, V);
    mxd[n] = *std::max_element(logits.begin(), logits.end());
  }
  for (int block : {16, 70}) {
    std::vector<float> lp(N), lz(N), mx(N), dx(N * C), dW(V * C), scratch(block * V);
    int64_t cnt = 0;
    const cpu::XentOptions opt{
        .z_loss = static_cast<float>(z), .log_z = lz.data(), .max_logit = mx.data()};
    const float obj = cpu::LmHeadXent(lp.data(), dx.data(), dW.data(), x.data(), Wh.data(),
                                      tg.data(), N, C, V, scratch.data(), block, &cnt, true, opt);
    EXPECT_EQ(cnt, cnt_ref);
    EXPECT_NEAR(obj, obj_ref, 1e-6 * obj_ref);
    ExpectClose(lp, lpd, 1e-5, "lmhead+z logprob");
    ExpectClose(lz, lzd, 1e-6, "lmhead+z log Z");
    ExpectClose(mx, mxd, 1e-6, "lmhead+z max logit");
    ExpectClose(dx, dxd, 1e-5, "lmhead+z dx");
    ExpectClose(dW, dWd, 1e-5, "lmhead+z dW");
  }
  // z = 0: the same bits as the plain call, whether or not the statistics are asked for.
  const int block = 16;
  std::vector<float> lp0(N), dx0(N * C), dW0(V * C), lp1(N), dx1(N * C), dW1(V * C), lz(N), mx(N),
      scratch(block * V);
  int64_t cnt = 0;
  const float plain = cpu::LmHeadXent(lp0.data(), dx0.data(), dW0.data(), x.data(), Wh.data(),
                                      tg.data(), N, C, V, scratch.data(), block, &cnt, true);
  const float zero = cpu::LmHeadXent(lp1.data(), dx1.data(), dW1.data(), x.data(), Wh.data(),
                                     tg.data(), N, C, V, scratch.data(), block, &cnt, true,
                                     {.z_loss = 0, .log_z = lz.data(), .max_logit = mx.data()});
  EXPECT_EQ(plain, zero);
  EXPECT_EQ(lp0, lp1);
  EXPECT_EQ(dx0, dx1);
  EXPECT_EQ(dW0, dW1);
}

}  // namespace
}  // namespace ot
