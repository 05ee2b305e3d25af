// The ViT row of `overtrain bench` (bench.cc, reference.py --bench on reference/vit.py) works end
// to end: the shape, both systems' training steps, and PyTorch building the same architecture. Not
// a timing test (benchmarks are commands, docs/performance.md): one step each, checked for being
// run.
#include <gtest/gtest.h>

#include "bench/bench.h"
#include "bench/torch_reference.h"
#include "model/config.h"

namespace ot {
namespace {

// PyTorch's ViT has exactly our parameter count for the class and the SigLIP head: the benchmark
// compares the same model, not just one of the same name.
TEST(VitBench, PyTorchBuildsTheSameArchitecture) {
  ModelConfig c = ModelConfig::VitPico();
  for (const char* head : {"classes", "projection"}) {
    c.head = head;
    TorchBenchProcess torch(c, 4, c.image_tokens(), 1, 0);
    EXPECT_EQ(torch.num_params(), c.NumParams()) << head;
    EXPECT_EQ(torch.Run(1).size(), 1u) << head;
  }
}

// vit-pico's row: 32 images of 17 tokens, steps timed on both sides, FLOPs without an LM head.
TEST(VitBench, RowRunsBothSystemsOnImageBatches) {
  BenchOptions o;
  o.configs = {"vit-pico"};
  o.steps = o.rounds = 1;
  o.warmup = 0;
  o.threads = 1;
  o.peak_n = 64;
  const std::vector<BenchRow> rows = RunBench(o, nullptr);
  ASSERT_EQ(rows.size(), 1u);
  const BenchRow& r = rows[0];
  EXPECT_EQ(r.B, 32);
  EXPECT_EQ(r.T, 17);
  EXPECT_EQ(r.params, ModelConfig::VitPico().NumParams());
  EXPECT_GT(r.ours.median, 0);
  EXPECT_GT(r.torch.median, 0);
  EXPECT_GT(r.gemm_calls, 0);
  // 6 (L (4 C^2 + 3 C F) + (P C Np + K C) / T) + 12 L T C: L 2, C 32, P 49, Np 16, K 10, T 17
  const double C = 32, F = ModelConfig::VitPico().ff_dim();
  EXPECT_DOUBLE_EQ(
      r.flops_per_token,
      6 * (2 * (4 * C * C + 3 * C * F) + (49 * C * 16 + 10 * C) / 17) + 12 * 2 * 17 * C);
  EXPECT_NE(FormatBenchTable(rows, o).find("median step ms"), std::string::npos);
}

}  // namespace
}  // namespace ot
