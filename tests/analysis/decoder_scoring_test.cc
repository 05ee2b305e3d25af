// docs/reliability.md case 24 end to end with the real model: log-likelihoods from
// BatchLogLikelihoods and BatchRollingLogLikelihoods over a BackendScorer (the native backend's
// fast Decoder, nano preset) are bit-identical at batch sizes 1, 3, 8 and at 1 and 2 OpenMP
// threads.
#include <gtest/gtest.h>
#include <omp.h>

#include <cmath>
#include <random>
#include <vector>

#include "analysis/model_io.h"
#include "analysis/scoring.h"
#include "model/init.h"

namespace ot {
namespace {

std::vector<int32_t> Tokens(std::mt19937& gen, int n, int V) {
  std::vector<int32_t> t(n);
  for (auto& x : t) x = static_cast<int32_t>(gen() % V);
  return t;
}

TEST(DecoderScoring, LogLikelihoodsIdenticalAcrossBatchSizesAndThreads) {
  const ModelConfig config = ModelConfig::Nano();
  const int V = config.vocab_size, T = config.max_seq_len;
  std::vector<float> params(ParamLayout::ForModel(config).total());
  InitParams(ParamLayout::ForModel(config), params, 3);
  for (float& x : params) x *= 3.0f;  // sharper than the init (norm gains 3 too: harmless)
  // 11 requests: short and long contexts (some truncated to the window), continuations of 1..20
  // tokens.
  std::mt19937 gen(8);
  std::vector<LoglikRequest> requests;
  for (int i = 0; i < 11; ++i) {
    const int ctx = 1 + static_cast<int>(gen() % (i % 3 == 0 ? 3 * T : T / 2));
    const int cont = 1 + static_cast<int>(gen() % 20);
    requests.push_back({Tokens(gen, ctx, V), Tokens(gen, cont, V)});
  }
  std::vector<std::vector<int32_t>> docs = {Tokens(gen, 2 * T + 17, V), Tokens(gen, 40, V),
                                            Tokens(gen, T + 1, V)};
  const std::vector<size_t> firsts = {1, 5, 1};

  const int saved = omp_get_max_threads();
  omp_set_num_threads(2);  // scorers built for 2 threads, run at 1 and 2
  std::vector<std::unique_ptr<Backend>> backends;
  std::vector<std::unique_ptr<BackendScorer>> scorers;
  for (int batch : {1, 3, 8}) {
    backends.push_back(
        MakeBackend(config, {}, {.eval_batch = batch, .eval_seq = config.max_seq_len}, params));
    scorers.push_back(std::make_unique<BackendScorer>(*backends.back(), batch, config.max_seq_len));
  }
  std::vector<LoglikResult> base;
  std::vector<RollingResult> base_rolling;
  for (int threads : {1, 2}) {
    omp_set_num_threads(threads);
    for (auto& scorer : scorers) {
      const int batch = scorer->max_batch();
      const auto got = BatchLogLikelihoods(*scorer, requests, batch);
      const auto rolling = BatchRollingLogLikelihoods(*scorer, docs, firsts, batch);
      ASSERT_EQ(got.size(), requests.size());
      ASSERT_EQ(rolling.size(), docs.size());
      if (base.empty()) {
        base = got;
        base_rolling = rolling;
        for (const auto& r : got)
          EXPECT_TRUE(std::isfinite(r.logprob) && r.logprob < 0) << r.logprob;
        EXPECT_EQ(rolling[0].tokens, 2 * T + 16);
        EXPECT_EQ(rolling[1].tokens, 35);
        EXPECT_EQ(rolling[2].tokens, T);
        continue;
      }
      for (size_t i = 0; i < got.size(); ++i)
        EXPECT_EQ(got[i].logprob, base[i].logprob)
            << "request " << i << " batch " << batch << " threads " << threads;
      for (size_t i = 0; i < rolling.size(); ++i) {
        EXPECT_EQ(rolling[i].logprob, base_rolling[i].logprob)
            << "document " << i << " batch " << batch << " threads " << threads;
        EXPECT_EQ(rolling[i].tokens, base_rolling[i].tokens);
      }
    }
  }
  omp_set_num_threads(saved);
  // A single request through LogLikelihood (batch 1) gives the same bits as inside a batch.
  EXPECT_EQ(LogLikelihood(*scorers[2], requests[4]), base[4].logprob);
}

}  // namespace
}  // namespace ot
