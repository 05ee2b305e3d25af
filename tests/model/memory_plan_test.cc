// Memory planning (docs/reliability.md case 34): the decoder's planned activations equal what it
// allocates, and a plan beyond the available memory is refused naming the keys of its largest part.
#include "model/memory_plan.h"

#include <gtest/gtest.h>
#include <omp.h>
#include <unistd.h>

#include "model/decoder.h"

namespace ot {
namespace {

TEST(MemoryPlan, PlannedActivationsEqualTheDecodersAllocation) {
  for (NormKind norm : {NormKind::kRmsNorm, NormKind::kLayerNorm}) {
    for (auto [V, B, T] : {std::tuple{97, 1, 16}, std::tuple{4096, 3, 32}, std::tuple{300, 5, 7}}) {
      ModelConfig c;
      c.vocab_size = V;
      c.d_model = 32;
      c.n_heads = 4;
      c.n_layers = 2;
      c.max_seq_len = 32;
      c.norm = norm;
      Decoder d(c, B, T);
      EXPECT_EQ(Decoder::PlannedActivationBytes(c, B, T, omp_get_max_threads()),
                d.ActivationBytes())
          << V << " " << B << " " << T;
      d.set_numerics({.bf16_matmul = true});  // adds the bf16 weight copy
      EXPECT_EQ(Decoder::PlannedActivationBytes(c, B, T, omp_get_max_threads(), d.numerics()),
                d.ActivationBytes())
          << V << " " << B << " " << T << " bf16";
      MemoryPlan plan;
      plan.decoders.push_back(
          DecoderPlan{.batch = B, .seq = T, .batch_key = "", .seq_key = "", .bf16_matmul = true});
      EXPECT_EQ(PlannedBytes(c, plan, omp_get_max_threads()), d.ActivationBytes());
    }
  }
}

TEST(MemoryPlan, TooBigForMemoryNamesTheLargestPart) {
  ModelConfig c;  // 4096 x 64, 2 layers: ~0.36M parameters
  const MemoryPlan plan{.arenas = 4,
                        .arenas_what = "parameters, gradients, AdamW m and v",
                        .decoders = {{16, 64, "train.batch_size", "train.seq_len"}}};
  const int64_t need = PlannedBytes(c, plan, 1);
  EXPECT_EQ(need, 4 * c.NumParams() * 4 + Decoder::PlannedActivationBytes(c, 16, 64, 1));
  EXPECT_EQ(MemoryPlanProblem(c, plan, need, 1, "run"), "");
  std::string e = MemoryPlanProblem(c, plan, need - 1, 1, "run");
  EXPECT_EQ(e.rfind("run: the model needs about ", 0), 0u) << e;
  EXPECT_NE(e.find("× 4 arenas (parameters, gradients, AdamW m and v)"), std::string::npos) << e;
  EXPECT_NE(
      e.find("the largest part is the activations (train.batch_size = 16 × train.seq_len = 64)"),
      std::string::npos)
      << e;
  c.vocab_size = kMaxVocabSize;  // the embedding dominates (4 arenas of 1M x 512)
  c.d_model = 512;
  e = MemoryPlanProblem(c, plan, 1 << 20, 1, "run");
  EXPECT_NE(
      e.find(
          "the largest part is the embedding (model.vocab_size = 1048576 × model.d_model = 512)"),
      std::string::npos)
      << e;
  c = ModelConfig();
  c.n_layers = 1000;  // within bounds, ~3.2 TB with d = 8192: more than any machine has
  c.d_model = 8192;
  c.n_heads = 64;
  e = MemoryPlanProblem(c, plan, AvailableMemoryBytes(), 1, "run");
  EXPECT_NE(
      e.find(
          "the largest part is the decoder blocks (model.n_layers = 1000 × model.d_model = 8192"),
      std::string::npos)
      << e;
}

TEST(MemoryPlan, RowsBeyondIntAreRefused) {
  ModelConfig c;
  const MemoryPlan plan{
      .arenas = 0,
      .arenas_what = "",
      .decoders = {{kMaxBatchSize, kMaxSeqLen, "train.batch_size", "train.seq_len"}}};
  const std::string e = MemoryPlanProblem(c, plan, INT64_MAX, 1, "run");
  EXPECT_NE(e.find("train.batch_size = 65536 × train.seq_len = 1048576 is 68719476736 rows"),
            std::string::npos)
      << e;
}

TEST(MemoryPlan, AvailableMemoryIsPositiveAndBelowPhysical) {
  const int64_t available = AvailableMemoryBytes();
  EXPECT_GT(available, 0);
  EXPECT_LE(available, int64_t{::sysconf(_SC_PHYS_PAGES)} * ::sysconf(_SC_PAGESIZE));
}

}  // namespace
}  // namespace ot
