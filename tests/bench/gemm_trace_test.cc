// The GEMM-ceiling machinery: the cblas_sgemm interposer sees the fast decoder's calls, their work
// adds up to the model's matmul FLOPs, replay runs them, and recording does not change results.
#include "bench/gemm_trace.h"

#include <cblas.h>
#include <gtest/gtest.h>
#include <omp.h>

#include "bench/bench.h"
#include "core/check.h"
#include "core/rng.h"
#include "model/config.h"
#include "model/decoder.h"
#include "model/init.h"
#include "model/layout.h"

namespace ot {
namespace {

TEST(GemmTrace, RecordsEveryProductOfADecoderStep) {
  omp_set_num_threads(2);
  ModelConfig c = ModelConfig::Nano();
  const int B = 2, T = 64, N = B * T;
  const ParamLayout layout = ParamLayout::ForModel(c);
  std::vector<float> params(layout.total()), grads(layout.total(), 0.0f),
      grads2(layout.total(), 0.0f);
  InitParams(layout, params, 3);
  std::vector<int32_t> inputs(N), targets(N);
  for (int i = 0; i < N; ++i) {
    inputs[i] = static_cast<int32_t>(UniformAt(5, i) * c.vocab_size);
    targets[i] = static_cast<int32_t>(UniformAt(6, i) * c.vocab_size);
  }
  Decoder decoder(c, B, T);
  float loss_traced = 0;
  GemmTrace trace = GemmTrace::Record([&] {
    loss_traced = decoder.Forward(params, inputs.data(), targets.data(), B, T);
    decoder.Backward(params, grads);
  });
  const float loss = decoder.Forward(params, inputs.data(), targets.data(), B, T);
  decoder.Backward(params, grads2);
  EXPECT_EQ(loss, loss_traced);  // recording only observes
  EXPECT_EQ(grads, grads2);

  // Calls outside parallel regions are the linear layers and the LM head, computed in full: their
  // FLOPs are exactly 6 N (L (4 C^2 + 3 C F) + V C). Calls inside regions are the attention
  // products.
  const double C = c.d_model, F = c.ff_dim(), V = c.vocab_size, L = c.n_layers;
  double top = 0, in_regions = 0;
  for (const auto& call : trace.calls()) (call.region < 0 ? top : in_regions) += call.Flops();
  EXPECT_DOUBLE_EQ(top, 6.0 * N * (L * (4 * C * C + 3 * C * F) + V * C));
  // Attention: at most the full T x T products (12 L T C per token); the causal block skipping does
  // less.
  EXPECT_GT(in_regions, 0.0);
  EXPECT_LE(in_regions, 12.0 * L * T * C * N);
  for (const auto& call : trace.calls())
    if (call.region >= 0) EXPECT_LT(call.thread, call.team);

  const std::vector<double> times = trace.Replay(2);
  ASSERT_EQ(times.size(), 2u);
  EXPECT_GT(times[0], 0.0);
}

TEST(GemmTrace, OutsideARecordingCallsPassThrough) {
  const float a[4] = {1, 2, 3, 4}, b[4] = {5, 6, 7, 8};
  float out[4] = {0, 0, 0, 0};
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, 2, 2, 2, 1.0f, a, 2, b, 2, 0.0f, out, 2);
  EXPECT_EQ(out[0], 19.0f);
  EXPECT_EQ(out[1], 22.0f);
  EXPECT_EQ(out[2], 43.0f);
  EXPECT_EQ(out[3], 50.0f);
  EXPECT_GT(SgemmPeakGflops(64, 1), 0.0);
}

TEST(Bench, RejectsBadOptionsWithOneSentence) {
  BenchOptions o;
  o.configs = {"no-such-preset"};
  EXPECT_THROW(RunBench(o, nullptr), Error);
  o.configs = {"nano"};
  o.steps = 0;
  EXPECT_THROW(RunBench(o, nullptr), Error);
}

}  // namespace
}  // namespace ot
