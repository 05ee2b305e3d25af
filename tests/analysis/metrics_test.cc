// Evaluation oracles with a dummy model whose log-probabilities are known (lm-eval's DummyLM idea):
// hand-computed acc/acc_norm (a case where they disagree), uniform logits give ppl == vocab, and
// batch-size invariance of log-likelihoods (docs/reliability.md cases 23-25).
#include "analysis/metrics.h"

#include <gtest/gtest.h>

#include <cmath>
#include <map>

namespace ot {
namespace {

// log p(target | input) = table[target] (ignores context); unknown targets get log(1/vocab).
class TokenTableModel : public LogProbModel {
 public:
  TokenTableModel(int T, int vocab, std::map<int, float> table)
      : T_(T), vocab_(vocab), table_(table) {}
  int max_seq_len() const override { return T_; }
  int max_batch() const override { return 16; }
  void LogProbs(const int32_t* inputs, const int32_t* targets, int B, int T, float* out) override {
    ++calls;
    for (int i = 0; i < B * T; ++i) {
      if (targets[i] < 0) {
        out[i] = 0;
        continue;
      }
      auto it = table_.find(targets[i]);
      out[i] = it != table_.end() ? it->second : -std::log(static_cast<float>(vocab_));
    }
  }
  int calls = 0;

 private:
  int T_, vocab_;
  std::map<int, float> table_;
};

TEST(Metrics, AccAndAccNormDisagreeAsComputedByHand) {
  // Choice 0: one token (lp -2), 1 byte  -> lp -2, per byte -2.
  // Choice 1: two tokens (lp -1.5 each = -3), 10 bytes -> lp -3, per byte -0.3.
  TokenTableModel m(8, 100, {{10, -2.0f}, {20, -1.5f}, {21, -1.5f}});
  McItem item{{1, 2, 3}, {{10}, {20, 21}}, {1, 10}, 1};
  auto s = MultipleChoice(m, std::span(&item, 1), 4);
  EXPECT_EQ(s.predicted[0], 0);
  EXPECT_EQ(s.predicted_norm[0], 1);
  EXPECT_DOUBLE_EQ(s.acc, 0.0);
  EXPECT_DOUBLE_EQ(s.acc_norm, 1.0);
}

TEST(Metrics, StderrMatchesLmEvalFormula) {
  std::vector<double> v{1, 0, 1, 1};
  auto [mean, se] = MeanStderr(v);
  EXPECT_DOUBLE_EQ(mean, 0.75);
  EXPECT_NEAR(se, 0.25, 1e-12);  // sample var 0.75/3 = 0.25; se = sqrt(0.25 / 4)
}

TEST(Metrics, UniformLogitsGivePerplexityEqualToVocab) {
  TokenTableModel m(16, 257, {});
  std::vector<int32_t> tokens(16 * 5 + 1, 7);
  auto r = StreamPerplexity(m, tokens, 3);
  EXPECT_EQ(r.windows, 5);
  EXPECT_EQ(r.tokens, 80);
  EXPECT_NEAR(r.ppl, 257.0, 1e-3);
  auto limited = StreamPerplexity(m, tokens, 3, 2);
  EXPECT_EQ(limited.windows, 2);
}

TEST(Metrics, LoglikelihoodIndependentOfBatchSize) {
  TokenTableModel m(6, 50, {{1, -0.1f}, {2, -0.2f}, {3, -0.3f}, {4, -0.4f}});
  std::vector<LoglikRequest> reqs;
  for (int i = 0; i < 11; ++i)
    reqs.push_back({{1, 2, 3, 4, 1, 2, 3, 4, 1}, {static_cast<int32_t>(1 + i % 4), 2}});
  auto a = BatchLogLikelihoods(m, reqs, 1);
  auto b = BatchLogLikelihoods(m, reqs, 3);
  auto c = BatchLogLikelihoods(m, reqs, 8);
  for (size_t i = 0; i < reqs.size(); ++i) {
    EXPECT_EQ(a[i].logprob, b[i].logprob);
    EXPECT_EQ(a[i].logprob, c[i].logprob);
  }
  EXPECT_NEAR(a[0].logprob, -0.1 - 0.2, 1e-6);
}

TEST(Metrics, RollingScoresEveryTokenOnce) {
  TokenTableModel m(4, 50, {{5, -1.0f}});
  std::vector<int32_t> doc(11, 5);  // 10 targets
  auto r = RollingLogLikelihood(m, doc, 2);
  EXPECT_EQ(r.tokens, 10);
  EXPECT_NEAR(r.logprob, -10.0, 1e-6);
}

}  // namespace
}  // namespace ot

namespace ot {
namespace {
// A model whose log p depends on the context: log p(target) = -0.01 * (number of visible inputs),
// so a wrong window start (less context than promised) changes the score.
class ContextModel : public LogProbModel {
 public:
  int max_seq_len() const override { return 4; }
  int max_batch() const override { return 8; }
  void LogProbs(const int32_t* inputs, const int32_t* targets, int B, int T, float* out) override {
    for (int b = 0; b < B; ++b)
      for (int t = 0; t < T; ++t) out[b * T + t] = targets[b * T + t] < 0 ? 0.0f : -0.01f * (t + 1);
  }
};

TEST(Metrics, RollingFromAnOffsetUsesFullContextWindows) {
  ContextModel m;
  std::vector<int32_t> doc(12, 1);  // targets doc[3..11]: 9 tokens from first_target = 3
  auto r = RollingLogLikelihood(m, doc, 3, 3);
  EXPECT_EQ(r.tokens, 9);
  // Windows: targets 3..6 (q=2, rows start at 0 -> positions 2..5? no: begin = 2+4-4 = 2, positions
  // 0..3) each window of 4 predictions sees contexts 1..4 -> -0.10; second window targets 7..10 ->
  // -0.10; last target 11: begin = 10+1-4 = 7, scored at position 3 -> -0.04.
  EXPECT_NEAR(r.logprob, -0.24, 1e-6);
}
}  // namespace
}  // namespace ot
