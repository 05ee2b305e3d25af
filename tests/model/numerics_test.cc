// DecoderNumerics (model/decoder.h): z-loss and emulated bf16 GEMMs in the fast Decoder.
// z-loss: z = 0 gives the plain decoder's bits; z > 0 matches the double ReferenceDecoder
// (objective, its CE / log Z split, every gradient); evaluation (Loss, LogProbs) ignores it.
// bf16: every operand of every SGEMM the step makes is bf16-representable (this binary interposes
// cblas_sgemm and inspects the operands); the loss moves by about bf16's rounding and no more; the
// gradient matches the reference's on bf16-rounded weights within a derived bound; training still
// learns.
#include <cblas.h>
#include <dlfcn.h>
#include <gtest/gtest.h>

#include <atomic>
#include <bit>
#include <cmath>
#include <cstdio>
#include <vector>

#include "model/decoder.h"
#include "model/decoder_inputs.h"
#include "model/init.h"
#include "model/reference_decoder.h"
#include "ops/cpu/kernels.h"

namespace ot {
namespace {

// Watching every SGEMM: this executable's cblas_sgemm (below) sees each call before OpenBLAS.
std::atomic<bool> g_watch{false};
std::atomic<int64_t> g_gemm_calls{0}, g_operand_values{0}, g_non_bf16_values{0};

using SgemmFn = void (*)(enum CBLAS_ORDER, enum CBLAS_TRANSPOSE, enum CBLAS_TRANSPOSE, blasint,
                         blasint, blasint, float, const float*, blasint, const float*, blasint,
                         float, float*, blasint);

SgemmFn RealSgemm() {  // as in bench/gemm_trace.cc: OpenBLAS's definition, the next one after ours
  static const SgemmFn fn = [] {
    auto f = reinterpret_cast<SgemmFn>(dlsym(RTLD_NEXT, "cblas_sgemm"));
    if (!f)
      if (void* lib = dlopen("libopenblas.so.0", RTLD_NOW | RTLD_LOCAL))
        f = reinterpret_cast<SgemmFn>(dlsym(lib, "cblas_sgemm"));
    if (!f) std::abort();
    return f;
  }();
  return fn;
}

// Values of a row-major (rows, cols) operand with leading dimension ld whose low 16 bits are not
// zero.
int64_t NonBf16(const float* a, int rows, int cols, int ld) {
  int64_t bad = 0;
  for (int r = 0; r < rows; ++r)
    for (int c = 0; c < cols; ++c)
      bad += (std::bit_cast<uint32_t>(a[(int64_t)r * ld + c]) & 0xffffu) != 0;
  return bad;
}

struct GemmWatch {  // counts over the SGEMMs made while it lives
  GemmWatch() {
    g_gemm_calls = g_operand_values = g_non_bf16_values = 0;
    g_watch = true;
  }
  ~GemmWatch() { g_watch = false; }
  int64_t calls() const { return g_gemm_calls; }
  int64_t values() const { return g_operand_values; }
  int64_t non_bf16() const { return g_non_bf16_values; }
};

}  // namespace
}  // namespace ot

extern "C" void cblas_sgemm(OPENBLAS_CONST enum CBLAS_ORDER order,
                            OPENBLAS_CONST enum CBLAS_TRANSPOSE ta,
                            OPENBLAS_CONST enum CBLAS_TRANSPOSE tb, OPENBLAS_CONST blasint m,
                            OPENBLAS_CONST blasint n, OPENBLAS_CONST blasint k,
                            OPENBLAS_CONST float alpha, OPENBLAS_CONST float* a,
                            OPENBLAS_CONST blasint lda, OPENBLAS_CONST float* b,
                            OPENBLAS_CONST blasint ldb, OPENBLAS_CONST float beta, float* c,
                            OPENBLAS_CONST blasint ldc) {
  if (ot::g_watch.load(std::memory_order_relaxed)) {
    // Row-major (every call of ours): A is (m,k), or (k,m) transposed; B is (k,n), or (n,k)
    // transposed.
    const bool tra = ta == CblasTrans, trb = tb == CblasTrans;
    const int64_t bad = ot::NonBf16(a, tra ? k : m, tra ? m : k, lda) +
                        ot::NonBf16(b, trb ? n : k, trb ? k : n, ldb);
    ot::g_gemm_calls += 1;
    ot::g_operand_values += (int64_t)m * k + (int64_t)k * n;
    ot::g_non_bf16_values += bad;
  }
  ot::RealSgemm()(order, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

namespace ot {
namespace {

std::vector<float> NormPatternParams(const ParamLayout& layout, uint64_t seed, float scale) {
  std::vector<float> p(layout.total());
  InitParams(layout, p, seed);
  for (const auto& t : layout.tensors())
    for (int64_t i = 0; i < t.size; ++i)
      p[t.offset + i] =
          t.group == ParamGroup::kNorm ? 1.0f + 0.1f * ((i % 5) - 2) : p[t.offset + i] * scale;
  return p;
}

struct StepOutput {
  float objective = 0;
  Decoder::HeadStats stats;
  std::vector<float> grads;
};
StepOutput RunStep(Decoder& d, const std::vector<float>& p, const std::vector<int32_t>& in,
                   const std::vector<int32_t>& tg, int B, int T) {
  StepOutput s{0, {}, std::vector<float>(p.size(), 0.0f)};
  s.objective = d.Forward(p, in.data(), tg.data(), B, T);
  s.stats = d.HeadStatsLast();
  d.Backward(p, s.grads);
  return s;
}

const double kBf16Unit =
    std::ldexp(1.0, -8);  // bf16 relative rounding bound (8 significant bits, RNE)

TEST(DecoderNumerics, DefaultsAndZeroZLossAreBitIdentical) {
  const ModelConfig config = SmallDecoderConfig(NormKind::kRmsNorm, false);
  const int B = 3, T = 40;
  Decoder plain(config, B, T), zero(config, B, T);
  zero.set_numerics({.z_loss = 0, .bf16_matmul = true});  // on, then back off: nothing may linger
  zero.set_numerics({.z_loss = 0, .bf16_matmul = false});
  const auto p = NormPatternParams(plain.layout(), 3, 4.0f);
  const auto in = RandomTokens(B * T, config.vocab_size, 1),
             tg = RandomTokens(B * T, config.vocab_size, 2, 0.2);
  const StepOutput a = RunStep(plain, p, in, tg, B, T), b = RunStep(zero, p, in, tg, B, T);
  EXPECT_EQ(a.objective, b.objective);
  EXPECT_EQ(a.grads, b.grads);
  EXPECT_EQ(a.stats.cross_entropy,
            a.objective);  // the split's CE has the objective's bits at z = 0
  EXPECT_EQ(a.stats.z_loss, 0.0f);
  EXPECT_EQ(plain.ActivationBytes(), zero.ActivationBytes());  // the bf16 copy was freed
  EXPECT_EQ(plain.Loss(p, in.data(), tg.data(), B, T), a.objective);
}

// z-loss against the double reference, as DecoderParity (decoder_test.cc) does for the plain loss
// and with its tolerances: the z term adds one log-sum-exp already computed and a per-row scale.
TEST(DecoderNumerics, ZLossMatchesDoubleReference) {
  for (bool tied : {true, false}) {
    const ModelConfig config = SmallDecoderConfig(NormKind::kLayerNorm, tied);
    const int B = 3, T = 70, N = B * T;
    const double z = 0.02;
    Decoder fast(config, B, T);
    fast.set_numerics({.z_loss = z});
    ReferenceDecoder<double> ref(config);
    ref.set_z_loss(z);
    std::vector<float> p = NormPatternParams(fast.layout(), 11, 5.0f);
    std::vector<double> pd(p.begin(), p.end());
    const auto in = RandomTokens(N, config.vocab_size, 1),
               tg = RandomTokens(N, config.vocab_size, 2, 0.2);
    const StepOutput s = RunStep(fast, p, in, tg, B, T);
    std::vector<double> gd(p.size(), 0.0);
    const double obj_ref = ref.Forward(pd.data(), in.data(), tg.data(), B, T);
    ref.Backward(pd.data(), gd.data());
    double lz = 0, lz2 = 0;
    for (double v : ref.log_z()) lz += v, lz2 += v * v;
    lz /= ref.count();
    lz2 /= ref.count();
    EXPECT_NEAR(s.objective, obj_ref, 1e-5 * obj_ref);
    EXPECT_NEAR(s.stats.cross_entropy, ref.cross_entropy(), 1e-5 * ref.cross_entropy());
    EXPECT_NEAR(s.stats.z_loss, z * lz2, 1e-5 * z * lz2);
    EXPECT_NEAR(s.stats.mean_log_z, lz, 1e-5 * std::abs(lz));
    EXPECT_NEAR(s.objective, s.stats.cross_entropy + s.stats.z_loss, 1e-6 * s.objective);
    EXPECT_GT(s.stats.z_loss, 1e-3 * s.objective);  // the term matters in this check
    EXPECT_GE(s.stats.mean_max_logit,
              s.stats.mean_log_z - std::log(37.0f));        // log Z <= max + log V
    EXPECT_LE(s.stats.mean_max_logit, s.stats.mean_log_z);  // log Z >= max
    double worst = 0;
    for (const auto& t : fast.layout().tensors()) {
      double scale = 0, err = 0;
      for (int64_t i = 0; i < t.size; ++i) {
        scale = std::max(scale, std::abs(gd[t.offset + i]));
        err = std::max(err, std::abs(s.grads[t.offset + i] - gd[t.offset + i]));
      }
      ASSERT_GT(scale, 0) << t.name;
      EXPECT_LT(err / scale, 1e-5) << t.name;  // DecoderParity's bound and reason
      worst = std::max(worst, err / scale);
    }
    std::printf(
        "  z-loss %s: objective %.7f vs %.7f (CE %.7f + z term %.3g), worst grad err/scale %.1e\n",
        tied ? "tied" : "untied", s.objective, obj_ref, s.stats.cross_entropy, s.stats.z_loss,
        worst);
  }
}

TEST(DecoderNumerics, EvaluationIgnoresZLoss) {
  const ModelConfig config = SmallDecoderConfig(NormKind::kRmsNorm, true);
  const int B = 2, T = 30;
  Decoder plain(config, B, T), reg(config, B, T);
  reg.set_numerics({.z_loss = 0.1});
  const auto p = NormPatternParams(plain.layout(), 5, 4.0f);
  const auto in = RandomTokens(B * T, config.vocab_size, 3),
             tg = RandomTokens(B * T, config.vocab_size, 4, 0.1);
  const float ce = plain.Loss(p, in.data(), tg.data(), B, T);
  EXPECT_EQ(reg.Loss(p, in.data(), tg.data(), B, T), ce);
  const float objective = reg.Forward(p, in.data(), tg.data(), B, T);
  EXPECT_GT(objective, ce);
  EXPECT_EQ(reg.HeadStatsLast().cross_entropy, ce);  // the z-loss changes gradients, not log-probs
  std::vector<float> lp1(B * T), lp2(B * T);
  plain.LogProbs(p, in.data(), tg.data(), B, T, lp1.data());
  reg.LogProbs(p, in.data(), tg.data(), B, T, lp2.data());
  EXPECT_EQ(lp1, lp2);
}

TEST(DecoderNumerics, Bf16EveryGemmOperandIsBf16) {
  for (bool tied : {true, false}) {
    const ModelConfig config = SmallDecoderConfig(NormKind::kRmsNorm, tied);
    const int B = 2, T = 70;  // two attention row blocks
    Decoder d(config, B, T);
    const auto p = NormPatternParams(d.layout(), 7, 3.0f);
    const auto in = RandomTokens(B * T, config.vocab_size, 5),
               tg = RandomTokens(B * T, config.vocab_size, 6, 0.2);
    std::vector<float> g(p.size(), 0.0f);
    {  // The plain step: the watch can see non-bf16 operands (so the check below can fail).
      GemmWatch watch;
      d.Forward(p, in.data(), tg.data(), B, T);
      d.Backward(p, g);
      EXPECT_GT(watch.non_bf16(), watch.values() / 2);
    }
    d.set_numerics({.z_loss = 1e-4, .bf16_matmul = true});
    const std::vector<float> master = p;
    GemmWatch watch;
    d.Forward(p, in.data(), tg.data(), B, T);
    d.Backward(p, g);
    // Per layer 4 forward + 4 x 2 backward GEMMs, attention 2 + 4 per (batch, head, row block) plus
    // its dK/dV column blocks, the head 3 per row block: far more than 30.
    std::printf("  bf16 step (%s): %lld SGEMM calls, %lld operand values, %lld not bf16\n",
                tied ? "tied" : "untied", (long long)watch.calls(), (long long)watch.values(),
                (long long)watch.non_bf16());
    EXPECT_GT(watch.calls(), 30);
    EXPECT_EQ(watch.non_bf16(), 0);
    EXPECT_EQ(p, master);    // master weights untouched (the rounded copy is the decoder's own)
    int64_t fp32_grads = 0;  // gradients are float32: most are not bf16 values
    for (float x : g) fp32_grads += (std::bit_cast<uint32_t>(x) & 0xffffu) != 0;
    EXPECT_GT(fp32_grads, static_cast<int64_t>(g.size()) / 2);
  }
}

// With bf16 on, the loss moves by about the rounding and no more. Each GEMM operand is rounded with
// relative error <= u = 2^-8 (uniform-ish: RMS u/sqrt(3)); a GEMM output's error is a K-term sum of
// independent signs, so ~u |y|-relative rather than K u. About a dozen rounded GEMMs lie between
// the embedding and the loss, and the loss, a smooth mean over N*V logits, averages their per-row
// errors further. Bound: relative change < 2u (the 'a few 2^-8' of the design, tightened; measured
// below), and nonzero (rounding happened).
TEST(DecoderNumerics, Bf16LossMovesByTheRoundingOnly) {
  for (NormKind norm : {NormKind::kRmsNorm, NormKind::kLayerNorm}) {
    const ModelConfig config = SmallDecoderConfig(norm, false);
    const int B = 3, T = 64;
    Decoder fp32(config, B, T), bf16(config, B, T);
    bf16.set_numerics({.bf16_matmul = true});
    const auto p = NormPatternParams(fp32.layout(), 13, 4.0f);
    const auto in = RandomTokens(B * T, config.vocab_size, 7),
               tg = RandomTokens(B * T, config.vocab_size, 8, 0.1);
    const float a = fp32.Forward(p, in.data(), tg.data(), B, T),
                b = bf16.Forward(p, in.data(), tg.data(), B, T);
    const double rel = std::abs(b - a) / a;
    std::printf("  bf16 loss %s: fp32 %.7f bf16 %.7f relative change %.2e = %.3f 2^-8\n",
                NormName(norm), a, b, rel, rel / kBf16Unit);
    EXPECT_GT(rel, 0);
    EXPECT_LT(rel, 2 * kBf16Unit);
    EXPECT_EQ(bf16.Loss(p, in.data(), tg.data(), B, T), a);  // evaluation is float32
  }
}

// The bf16 gradient against the double reference evaluated on the bf16-rounded weights: what
// remains is the rounding of activations and activation gradients (weights agree exactly). Per
// tensor, normwise:
// ||g - g_ref|| / ||g_ref|| < 8u = 2^-5. Reason: a gradient element passes through ~2x the
// forward's dozen roundings (forward activations, then backward operands); independent errors of
// size <= u add in quadrature, sqrt(24) u ~ 5u; 8u leaves margin. The fp32 decoder on the same
// rounded weights must be ~100x closer (DecoderParity's 1e-5), so the bound really measures bf16
// arithmetic.
TEST(DecoderNumerics, Bf16GradientMatchesReferenceOnRoundedWeights) {
  const ModelConfig config = SmallDecoderConfig(NormKind::kRmsNorm, false);
  const int B = 2, T = 48, N = B * T;
  Decoder fp32(config, B, T), bf16(config, B, T);
  bf16.set_numerics({.bf16_matmul = true});
  const auto p = NormPatternParams(fp32.layout(), 17, 4.0f);
  std::vector<float> pr(p.size());
  cpu::RoundToBf16(pr.data(), p.data(), static_cast<int64_t>(p.size()));
  // Only the GEMM weights are rounded by the decoder; the reference's norm gains and embedding
  // lookup are the master values (the tied case would round the embedding too: untied here).
  const ParamLayout& layout = fp32.layout();
  std::vector<double> pd(p.begin(), p.end());
  for (const auto& t : layout.tensors())
    if (t.group != ParamGroup::kNorm && t.offset != layout.embed_offset())
      for (int64_t i = 0; i < t.size; ++i) pd[t.offset + i] = pr[t.offset + i];
  const auto in = RandomTokens(N, config.vocab_size, 9),
             tg = RandomTokens(N, config.vocab_size, 10, 0.1);
  ReferenceDecoder<double> ref(config);
  std::vector<double> gd(p.size(), 0.0);
  const double loss_ref = ref.Forward(pd.data(), in.data(), tg.data(), B, T);
  ref.Backward(pd.data(), gd.data());
  const StepOutput s = RunStep(bf16, p, in, tg, B, T);
  std::vector<float> prf(pd.begin(), pd.end());
  const StepOutput f = RunStep(fp32, prf, in, tg, B, T);
  double worst_bf16 = 0, worst_fp32 = 0;
  for (const auto& t : layout.tensors()) {
    double nr = 0, eb = 0, ef = 0;
    for (int64_t i = 0; i < t.size; ++i) {
      const double r = gd[t.offset + i];
      nr += r * r;
      eb += (s.grads[t.offset + i] - r) * (s.grads[t.offset + i] - r);
      ef += (f.grads[t.offset + i] - r) * (f.grads[t.offset + i] - r);
    }
    ASSERT_GT(nr, 0) << t.name;
    const double rb = std::sqrt(eb / nr), rf = std::sqrt(ef / nr);
    EXPECT_LT(rb, 8 * kBf16Unit) << t.name;
    EXPECT_LT(rf, 1e-5) << t.name;
    worst_bf16 = std::max(worst_bf16, rb);
    worst_fp32 = std::max(worst_fp32, rf);
  }
  std::printf(
      "  bf16 grad vs ref on rounded weights: worst per-tensor |dg|/|g| %.2e = %.2f 2^-8 "
      "(fp32 on the same weights %.1e); loss %.7f vs ref %.7f\n",
      worst_bf16, worst_bf16 / kBf16Unit, worst_fp32, s.objective, loss_ref);
  EXPECT_NEAR(s.objective, loss_ref, 2 * kBf16Unit * loss_ref);
}

// Convergence rung in bf16 (with a small z-loss): the memorisation task of decoder_test.cc's
// OverfitsOneBatch, same Adam, same 100-step budget; bf16 GEMMs with float32 master weights still
// learn it.
TEST(DecoderNumerics, Bf16TrainingOverfitsOneBatch) {
  ModelConfig config = SmallDecoderConfig(NormKind::kRmsNorm, true);
  config.vocab_size = 64;
  const int B = 4, T = 16;
  Decoder d(config, B, T);
  d.set_numerics({.z_loss = 1e-4, .bf16_matmul = true});
  std::vector<float> p(d.layout().total()), g(p.size()), m(p.size(), 0.0f), v(p.size(), 0.0f);
  InitParams(d.layout(), p, 1);
  const auto in = RandomTokens(B * T, config.vocab_size, 10);
  std::vector<int32_t> tg(in.begin() + 1, in.end());
  tg.push_back(3);
  float ce = 0, first = 0;
  int step = 0;
  for (; step < 100; ++step) {
    std::fill(g.begin(), g.end(), 0.0f);
    d.Forward(p, in.data(), tg.data(), B, T);
    ce = d.HeadStatsLast().cross_entropy;
    if (step == 0) first = ce;
    if (ce < 0.05f) break;
    d.Backward(p, g);
    const float lr = 1e-2f, b1 = 0.9f, b2 = 0.999f;
    const float c1 = 1 - std::pow(b1, step + 1), c2 = 1 - std::pow(b2, step + 1);
    for (size_t i = 0; i < p.size(); ++i) {
      m[i] = b1 * m[i] + (1 - b1) * g[i];
      v[i] = b2 * v[i] + (1 - b2) * g[i] * g[i];
      p[i] -= lr * (m[i] / c1) / (std::sqrt(v[i] / c2) + 1e-8f);
    }
  }
  std::printf("  bf16 overfit: CE %.4f -> %.4f after %d steps\n", first, ce, step);
  EXPECT_NEAR(first, std::log(64.0), 0.1);
  EXPECT_LT(ce, 0.05f);
}

}  // namespace
}  // namespace ot
