// Decoder::LogProbs is bit-identical whatever the batch size, the row's position in the batch and
// the OpenMP thread count (docs/reliability.md case 24): the same 8 sequences scored at B = 1, 3, 8
// in shuffled positions, between padding rows, at 1 and 2 threads, for every architecture family.
// EXPECT_EQ on floats.
#include <gtest/gtest.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "model/decoder.h"
#include "model/families.h"
#include "model/init.h"

namespace ot {
namespace {

constexpr int kSeqs = 8;

struct Seq {
  std::vector<int32_t> inputs, targets;
};

// FarFromUniformParams at 4x the init scale so attention and logits are far from uniform (rounding
// differences show).
std::vector<float> FarFromUniformParams(const ParamLayout& layout) {
  std::vector<float> p(layout.total());
  InitParams(layout, p, 17);
  for (const auto& t : layout.tensors())
    for (int64_t i = 0; i < t.size; ++i)
      p[t.offset + i] =
          t.init_std == 0 ? t.init_const + 0.1f * ((i % 5) - 2) : p[t.offset + i] * 4.0f;
  return p;
}

std::vector<Seq> Sequences(int T, int V) {
  std::mt19937 gen(5);
  std::vector<Seq> seqs(kSeqs);
  for (auto& s : seqs) {
    s.inputs.resize(T);
    s.targets.resize(T);
    for (int t = 0; t < T; ++t) {
      s.inputs[t] = static_cast<int32_t>(gen() % V);
      s.targets[t] = gen() % 5 == 0 ? -1 : static_cast<int32_t>(gen() % V);
    }
  }
  return seqs;
}

// Scores every sequence with batches of B rows: batch k holds, at row r, sequence
// order[(k*B + r) ...] or a padding row (random inputs, every target ignored) at row `pad` of each
// batch. Returns the (kSeqs, T) log-probs in sequence order and checks padding rows come back as
// zeros.
std::vector<std::vector<float>> Score(Decoder& d, const std::vector<float>& p,
                                      const std::vector<Seq>& seqs, const std::vector<int>& order,
                                      int B, int pad, int T) {
  std::vector<std::vector<float>> out(kSeqs);
  std::mt19937 gen(99);
  size_t next = 0;
  while (next < order.size()) {
    std::vector<int32_t> in(B * T), tg(B * T, -1);
    std::vector<int> who(B, -1);
    for (int r = 0; r < B; ++r) {
      if ((r == pad && B > 1) || next >= order.size()) {
        for (int t = 0; t < T; ++t)
          in[r * T + t] = static_cast<int32_t>(gen() % d.config().vocab_size);
        continue;
      }
      who[r] = order[next++];
      std::copy(seqs[who[r]].inputs.begin(), seqs[who[r]].inputs.end(), in.begin() + r * T);
      std::copy(seqs[who[r]].targets.begin(), seqs[who[r]].targets.end(), tg.begin() + r * T);
    }
    std::vector<float> lp(B * T, 123.0f);
    d.LogProbs(p, in.data(), tg.data(), B, T, lp.data());
    for (int r = 0; r < B; ++r) {
      if (who[r] < 0) {
        for (int t = 0; t < T; ++t) EXPECT_EQ(lp[r * T + t], 0.0f) << "padding row " << r;
      } else {
        out[who[r]].assign(lp.begin() + r * T, lp.begin() + (r + 1) * T);
      }
    }
  }
  return out;
}

class EvalDeterminism : public ::testing::TestWithParam<std::string> {};

TEST_P(EvalDeterminism, BitIdenticalAcrossBatchSizesPositionsAndThreads) {
  ModelConfig config = ModelConfig::Nano();
  if (GetParam() == "layernorm") {
    config.norm = NormKind::kLayerNorm;
  } else if (GetParam() != "rmsnorm") {
    config = WithFamily(config, GetParam());
  }
  const int T = config.max_seq_len;
  const std::vector<float> p = FarFromUniformParams(ParamLayout::ForModel(config));
  const auto seqs = Sequences(T, config.vocab_size);
  const int saved = omp_get_max_threads();
  omp_set_num_threads(2);  // decoders are built for 2 threads, then run at 1 and at 2
  Decoder d1(config, 1, T), d3(config, 3, T), d8(config, 8, T);
  omp_set_num_threads(1);
  const std::vector<int> identity = {0, 1, 2, 3, 4, 5, 6, 7};
  const auto base = Score(d1, p, seqs, identity, 1, -1, T);
  for (int s = 0; s < kSeqs; ++s) {
    ASSERT_EQ(base[s].size(), static_cast<size_t>(T));
    for (int t = 0; t < T; ++t) {
      if (seqs[s].targets[t] < 0) {
        EXPECT_EQ(base[s][t], 0.0f);
      } else {
        ASSERT_TRUE(std::isfinite(base[s][t]) && base[s][t] < 0.0f) << s << "," << t;
      }
    }
  }
  struct Run {
    int threads, B, pad;
    std::vector<int> order;
  };
  const std::vector<Run> runs = {
      {1, 1, -1, {7, 6, 5, 4, 3, 2, 1, 0}}, {2, 1, -1, {3, 1, 4, 0, 5, 2, 6, 7}},
      {1, 3, 1, {0, 1, 2, 3, 4, 5, 6, 7}},  {2, 3, 0, {5, 3, 7, 1, 0, 6, 2, 4}},
      {2, 3, 2, {2, 4, 6, 0, 1, 3, 5, 7}},  {1, 8, -1, {7, 6, 5, 4, 3, 2, 1, 0}},
      {2, 8, -1, {0, 1, 2, 3, 4, 5, 6, 7}}, {2, 8, 3, {4, 5, 6, 7, 0, 1, 2, 3}},
      {1, 8, 6, {1, 0, 3, 2, 5, 4, 7, 6}},
  };
  for (const Run& run : runs) {
    omp_set_num_threads(run.threads);
    Decoder& d = run.B == 1 ? d1 : run.B == 3 ? d3 : d8;
    const auto got = Score(d, p, seqs, run.order, run.B, run.pad, T);
    int mismatches = 0;
    double max_diff = 0;
    for (int s = 0; s < kSeqs; ++s) {
      ASSERT_EQ(got[s].size(), static_cast<size_t>(T)) << "sequence " << s << " not scored";
      for (int t = 0; t < T; ++t) {
        EXPECT_EQ(got[s][t], base[s][t]) << "sequence " << s << " position " << t;
        mismatches += got[s][t] != base[s][t];
        max_diff = std::max(max_diff, (double)std::abs(got[s][t] - base[s][t]));
      }
    }
    EXPECT_EQ(mismatches, 0) << "threads " << run.threads << " B " << run.B << " pad " << run.pad
                             << ": max |diff| " << max_diff;
  }
  // A decoder built at 1 thread and run at 2 uses its one scratch (one thread): same bits.
  omp_set_num_threads(1);
  Decoder built_at_one(config, 8, T);
  omp_set_num_threads(2);
  EXPECT_EQ(Score(built_at_one, p, seqs, {6, 7, 0, 1, 2, 3, 4, 5}, 8, -1, T), base);
  // The threads' ICV change inside LogProbs stays inside: the caller still has 2 threads.
  EXPECT_EQ(omp_get_max_threads(), 2);
  omp_set_num_threads(saved);
}

INSTANTIATE_TEST_SUITE_P(Architectures, EvalDeterminism,
                         ::testing::Values("rmsnorm", "layernorm", "llama-gqa-bias", "olmo-clip",
                                           "olmo2", "neox", "neox-sequential"),
                         [](const auto& info) {
                           std::string name = info.param;
                           std::replace(name.begin(), name.end(), '-', '_');
                           return name;
                         });

// The per-sequence path computes the same function as the batched one (Loss/Forward): their
// log-probs agree to float rounding, and LogProbs leaves CountedTokensLast as Loss does.
TEST(EvalDeterminism, AgreesWithBatchedLoss) {
  const ModelConfig config = ModelConfig::Nano();
  const int T = config.max_seq_len, B = 5;
  Decoder d(config, B, T);
  const std::vector<float> p = FarFromUniformParams(d.layout());
  const auto seqs = Sequences(T, config.vocab_size);
  std::vector<int32_t> in, tg;
  for (int b = 0; b < B; ++b) {
    in.insert(in.end(), seqs[b].inputs.begin(), seqs[b].inputs.end());
    tg.insert(tg.end(), seqs[b].targets.begin(), seqs[b].targets.end());
  }
  std::vector<float> lp(B * T);
  d.LogProbs(p, in.data(), tg.data(), B, T, lp.data());
  const int64_t counted = d.CountedTokensLast();
  double s = 0;
  int64_t n = 0;
  for (int i = 0; i < B * T; ++i) {
    s -= lp[i];
    n += tg[i] >= 0;
  }
  EXPECT_EQ(counted, n);
  const float loss = d.Loss(p, in.data(), tg.data(), B, T);
  EXPECT_EQ(d.CountedTokensLast(), n);
  EXPECT_GT(loss, 1.0f);
  EXPECT_NEAR(loss, s / n, 1e-6 * loss);
}

}  // namespace
}  // namespace ot
