// lm-eval semantics against hand-derivable oracles (lm-eval's DummyLM idea): a model whose
// log-probability depends only on the target token (or on its position in the row), byte-level and
// word-level fake tokenizers. acc / acc_norm (characters, delimiter excluded) / acc_bytes worked by
// hand; rolling windows compared with a transcription of lm-eval's get_rolling_token_windows +
// make_disjoint_window; the weighted perplexities; the results layout.
#include "analysis/lm_eval.h"

#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <set>

#include "core/check.h"

namespace ot {
namespace {

constexpr int32_t kPrefix = 256;  // the byte tokenizer's end-of-document token

// log p(target | row) = table[target] (default -1), or -(position in the row + 1) / 8 when
// by_position (exact in float, so sums compare exactly).
class CharTableModel : public LogProbModel {
 public:
  CharTableModel(int T, std::map<int32_t, float> table, bool by_position = false)
      : T_(T), table_(std::move(table)), by_position_(by_position) {}
  int max_seq_len() const override { return T_; }
  int max_batch() const override { return 3; }
  void LogProbs(const int32_t* inputs, const int32_t* targets, int B, int T, float* out) override {
    for (int b = 0; b < B; ++b)
      for (int t = 0; t < T; ++t) {
        const int i = b * T + t;
        if (targets[i] < 0) {
          out[i] = 0;
          continue;
        }
        ++scored[targets[i]];
        auto it = table_.find(targets[i]);
        out[i] = by_position_ ? -(t + 1) / 8.0f : it != table_.end() ? it->second : -1.0f;
      }
  }
  std::map<int32_t, int> scored;  // target id → times scored

 private:
  int T_;
  std::map<int32_t, float> table_;
  bool by_position_;
};

std::vector<int32_t> Bytes(std::string_view s) {
  std::vector<int32_t> out;
  for (unsigned char c : s) out.push_back(c);
  return out;
}
const EncodeFn kByteEncode = [](std::string_view s) { return Bytes(s); };

data::McTaskFile File(std::vector<data::McDoc> docs) { return {"t", "t.jsonl", std::move(docs)}; }

TEST(LmEvalMc, AccAndAccNormDifferAndTheDelimiterIsNotInTheLength) {
  // Continuations " a" and " bb"; lp(' ') = -1, lp(a) = -0.2, lp(b) = -0.5.
  //   loglik: A = -1.2, B = -2.0                     → acc picks A
  //   per character of the choice: A -1.2, B -1.0   → acc_norm picks B (lm-eval: len(choice))
  //   (per character of the continuation " a"/" bb": A -0.6, B -0.667 would pick A)
  CharTableModel m(16, {{' ', -1.0f}, {'a', -0.2f}, {'b', -0.5f}});
  const auto task =
      TokenizeMcTask(File({{"0", "Q", {"a", "bb"}, 1}}), kByteEncode, kPrefix, {}, 16);
  ASSERT_EQ(task.docs[0].requests[1].continuation, Bytes(" bb"));
  const McTaskScores s = ScoreMcTask(m, task, 4);
  EXPECT_DOUBLE_EQ(s.loglik[0][0], -1.0 + double(-0.2f));
  EXPECT_DOUBLE_EQ(s.loglik[0][1], -2.0);
  EXPECT_EQ(s.pred[0], 0);
  EXPECT_EQ(s.pred_norm[0], 1);
  EXPECT_EQ(s.pred_bytes[0], 1);
  EXPECT_EQ(s.acc, 0.0);
  EXPECT_EQ(s.acc_norm, 1.0);
}

TEST(LmEvalMc, CharactersAndBytesDifferOnMultiByteChoices) {
  // Choices "é" (1 character, 2 bytes C3 A9) and "xy" (2 characters, 2 bytes); lp(' ') = 0,
  // lp(C3) = lp(A9) = -1, lp(x) = lp(y) = -1.5.
  //   loglik: é -2, xy -3                → acc picks é
  //   per character: é -2, xy -1.5       → acc_norm picks xy
  //   per byte: é -1, xy -1.5            → acc_bytes picks é
  CharTableModel m(16, {{' ', 0.0f}, {0xC3, -1.0f}, {0xA9, -1.0f}, {'x', -1.5f}, {'y', -1.5f}});
  const auto task =
      TokenizeMcTask(File({{"0", "Q:", {"\xc3\xa9", "xy"}, 1}}), kByteEncode, kPrefix, {}, 16);
  EXPECT_EQ(task.docs[0].chars, (std::vector<int64_t>{1, 2}));
  EXPECT_EQ(task.docs[0].bytes, (std::vector<int64_t>{2, 2}));
  const McTaskScores s = ScoreMcTask(m, task, 4);
  EXPECT_EQ(s.pred[0], 0);
  EXPECT_EQ(s.pred_norm[0], 1);
  EXPECT_EQ(s.pred_bytes[0], 0);
  EXPECT_EQ(s.acc, 0.0);
  EXPECT_EQ(s.acc_norm, 1.0);
  EXPECT_EQ(s.acc_bytes, 0.0);
}

TEST(LmEvalMc, TiesGoToTheFirstChoiceAndStderrIsSampleStdOverRootN) {
  // Four documents, every token -1: equal-length choices tie → choice 0 (np.argmax). Gold 0,1,0,0
  // gives hits 1,0,1,1: mean 0.75, sample variance 0.25, stderr sqrt(0.25 / 4) = 0.25.
  CharTableModel m(16, {});
  std::vector<data::McDoc> docs;
  for (int gold : {0, 1, 0, 0}) docs.push_back({"", "ctx", {"ab", "cd"}, gold});
  const McTaskScores s =
      ScoreMcTask(m, TokenizeMcTask(File(docs), kByteEncode, kPrefix, {}, 16), 2);
  EXPECT_EQ(s.n, 4);
  EXPECT_DOUBLE_EQ(s.acc, 0.75);
  EXPECT_NEAR(s.acc_stderr, 0.25, 1e-15);
  EXPECT_NEAR(s.acc_norm_stderr, 0.25, 1e-15);
  // limit scores the first documents only; the delimiter option is honoured.
  McTaskOptions o;
  o.limit = 2;
  o.target_delimiter = "\n";
  const auto limited = TokenizeMcTask(File(docs), kByteEncode, kPrefix, o, 16);
  EXPECT_EQ(limited.original, 4);
  EXPECT_EQ(limited.docs.size(), 2u);
  EXPECT_EQ(limited.docs[0].requests[0].continuation, Bytes("\nab"));
}

// A GPT-2-like word tokenizer: each piece is a run of spaces glued to the following word
// ("Answer:", " yes"); a trailing run of spaces is its own piece. Ids are handed out on first
// sight.
struct WordTokenizer {
  std::map<std::string, int32_t> ids;
  std::vector<int32_t> operator()(std::string_view s) {
    std::vector<int32_t> out;
    size_t i = 0;
    while (i < s.size()) {
      size_t j = i;
      while (j < s.size() && s[j] == ' ') ++j;
      while (j < s.size() && s[j] != ' ') ++j;
      const std::string piece(s.substr(i, j - i));
      out.push_back(ids.emplace(piece, static_cast<int32_t>(ids.size())).first->second);
      i = j;
    }
    return out;
  }
};

TEST(LmEvalMc, EncodePairMovesTrailingSpaceToTheContinuationAsHflm) {
  auto words = std::make_shared<WordTokenizer>();
  const EncodeFn encode = [words](std::string_view s) { return (*words)(s); };
  // Context "Answer: " + continuation "yes": lm-eval encodes "Answer:" and " yes" (not "Answer:", "
  // ", then "yes").
  const EncodedPair p = EncodePair(encode, kPrefix, "Answer: ", "yes");
  EXPECT_EQ(p.context, encode("Answer:"));
  EXPECT_EQ(p.continuation, encode(" yes"));
  // The continuation is what Encode(context + continuation) has after the context's tokens.
  const EncodedPair q = EncodePair(encode, kPrefix, "Q: hi\nA:", " no way");
  EXPECT_EQ(q.context, encode("Q: hi\nA:"));
  EXPECT_EQ(q.continuation, encode(" no way"));
  // An empty context is the prefix token.
  const EncodedPair e = EncodePair(encode, kPrefix, "", " yes");
  EXPECT_EQ(e.context, std::vector<int32_t>{kPrefix});
  EXPECT_EQ(e.continuation, encode(" yes"));
}

TEST(LmEvalMc, ContinuationLongerThanTheWindowIsAnErrorNamingTheDocument) {
  try {
    TokenizeMcTask(File({{"q7", "c", {"abcdefgh", "a"}, 0}}), kByteEncode, kPrefix, {}, 8);
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("t.jsonl: document id q7, choice 0 is 9 tokens"), std::string::npos) << m;
    EXPECT_NE(m.find("eval.skip_long_docs"), std::string::npos) << m;
  }
}

// eval.skip_long_docs: such a document is left out and counted; the others are scored as before.
TEST(LmEvalMc, LongDocumentsAreSkippedAndCountedWhenAsked) {
  McTaskOptions skip;
  skip.skip_long = true;
  const McTokenized t = TokenizeMcTask(
      File({{"q1", "c", {"a", "bb"}, 0}, {"q7", "c", {"a", "abcdefgh"}, 0}, {"q8", "c", {"b"}, 0}}),
      kByteEncode, kPrefix, skip, 8);
  EXPECT_EQ(t.original, 3);
  EXPECT_EQ(t.skipped, 1);
  ASSERT_EQ(t.docs.size(), 2u);
  EXPECT_EQ(t.docs[0].requests.size(), 2u);
  EXPECT_EQ(t.docs[1].requests.size(), 1u);
  CharTableModel m(16, {});
  const McTaskScores s = ScoreMcTask(m, t, 2);
  EXPECT_EQ(s.n, 2);
  const nlohmann::json j = LmEvalResults(std::span(&t, 1), std::span(&s, 1), {}, {});
  EXPECT_EQ(j["n-samples"]["t"]["original"], 3);
  EXPECT_EQ(j["n-samples"]["t"]["effective"], 2);
  EXPECT_EQ(j["n-samples"]["t"]["skipped_too_long"], 1);
}

// Samples keep each document's position in the file: a skipped document leaves a gap in doc_id,
// so a line can be traced to its source line. Scores and predictions are the task's own.
TEST(LmEvalMc, SamplesKeepTheFilePositionAcrossSkippedDocuments) {
  McTaskOptions skip;
  skip.skip_long = true;
  const McTokenized t = TokenizeMcTask(
      File({{"q1", "c", {"a", "bb"}, 1}, {"q7", "c", {"a", "abcdefgh"}, 0}, {"q8", "c", {"b"}, 0}}),
      kByteEncode, kPrefix, skip, 8);
  CharTableModel m(16, {{' ', -1.0f}, {'a', -0.25f}, {'b', -0.5f}});
  const McTaskScores s = ScoreMcTask(m, t, 2);
  const auto lines = McSamples(t, s);
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0]["doc_id"], 0);
  EXPECT_EQ(lines[1]["doc_id"], 2);
  EXPECT_EQ(lines[1]["doc"]["id"], "q8");
  EXPECT_EQ(lines[0]["loglik"][0].get<double>(), -1.25);  // " a"
  EXPECT_EQ(lines[0]["loglik"][1].get<double>(), -2.0);   // " bb"
  EXPECT_EQ(lines[0]["continuation_tokens"], nlohmann::json({2, 3}));
  EXPECT_EQ(lines[0]["arguments"][1], nlohmann::json({"c", " bb"}));
  EXPECT_EQ(lines[0]["pred"], 0);
  EXPECT_EQ(lines[0]["pred_norm"], 1);  // -1.25 / 1 < -2 / 2
  EXPECT_EQ(lines[0]["acc"], 0.0);
  EXPECT_EQ(lines[0]["acc_norm"], 1.0);
}

// Rolling samples: per document, and they sum to the task's aggregate.
TEST(LmEvalRolling, SamplesArePerDocumentAndSumToTheAggregate) {
  const RollingTokenized t =
      TokenizeRollingTask({"w", "w.txt", {"ab c", "de"}}, kByteEncode, kPrefix);
  CharTableModel m(4, {{'a', -1.0f}, {'d', -2.0f}});
  const RollingTaskScores s = ScoreRollingTask(m, t, 2);
  const auto lines = RollingSamples(t, s);
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0]["tokens"], 4);
  EXPECT_EQ(lines[0]["loglik"].get<double>(), -1.0 - 3.0);  // a, then b ' ' c at -1
  EXPECT_EQ(lines[1]["loglik"].get<double>(), -2.0 - 1.0);
  EXPECT_EQ(lines[0]["words"], 2);
  EXPECT_EQ(lines[1]["bytes"], 2);
  EXPECT_DOUBLE_EQ(lines[1]["bits_per_byte"].get<double>(), 3.0 / 2 / std::log(2.0));
  EXPECT_DOUBLE_EQ(lines[0]["loglik"].get<double>() + lines[1]["loglik"].get<double>(), s.loglik);
}

// lm-eval's utils.get_rolling_token_windows(token_list, prefix_token, max_seq_len, context_len=1)
// then make_disjoint_window, transcribed: (context, continuation) per window.
std::vector<std::pair<std::vector<int32_t>, std::vector<int32_t>>> LmEvalWindows(
    const std::vector<int32_t>& tokens, int32_t prefix, int max_len) {
  std::vector<std::pair<std::vector<int32_t>, std::vector<int32_t>>> out;
  if (tokens.empty()) return out;
  const int n = static_cast<int>(tokens.size());
  const int pred_len = max_len;  // max_seq_len - context_len + 1
  int predicted = 0;
  auto slice = [&](int a, int b) {
    return std::vector<int32_t>(tokens.begin() + a, tokens.begin() + b);
  };
  auto push = [&](std::vector<int32_t> a, std::vector<int32_t> b) {  // make_disjoint_window
    a.resize(a.size() - (b.size() - 1));
    out.emplace_back(std::move(a), std::move(b));
  };
  const int first = std::min(max_len, n);
  std::vector<int32_t> a{prefix};
  for (int32_t t : slice(0, first - 1)) a.push_back(t);
  push(a, slice(0, first));
  predicted += first;
  while (predicted < n) {
    const int window_pred_len = std::min(n - predicted, pred_len);
    const int window_end = predicted + window_pred_len;
    push(slice(window_end - max_len - 1, window_end - 1),
         slice(window_end - window_pred_len, window_end));
    predicted += window_pred_len;
  }
  return out;
}

TEST(LmEvalRolling, WindowsMatchLmEvalAndScoreEveryTokenOnce) {
  constexpr int T = 4;
  for (int n : {1, 3, 4, 5, 8, 9, 10, 13}) {
    SCOPED_TRACE(n);
    std::vector<int32_t> tokens;
    for (int i = 0; i < n; ++i) tokens.push_back(10 + i);  // distinct ids
    // The oracle: each lm-eval window (context, continuation) as HFLM scores it: inputs
    // (context + continuation)[-(T+1):][:-1], the continuation on the last |continuation|
    // positions; with lp = -(position + 1) / 8 the sum pins down where every target sat in its row.
    double expected = 0;
    for (const auto& [context, continuation] : LmEvalWindows(tokens, kPrefix, T)) {
      const int whole = static_cast<int>(context.size() + continuation.size());
      const int inputs = std::min(whole, T + 1) - 1;
      for (int p = inputs - static_cast<int>(continuation.size()); p < inputs; ++p)
        expected -= (p + 1) / 8.0;
    }
    RollingTokenized task;
    task.name = "r";
    std::vector<int32_t> doc{kPrefix};
    doc.insert(doc.end(), tokens.begin(), tokens.end());
    task.docs = {doc};
    task.words = {1};
    task.bytes = {1};
    CharTableModel by_position(T, {}, true);
    const RollingTaskScores s = ScoreRollingTask(by_position, task, 2);
    EXPECT_EQ(s.tokens, n);
    EXPECT_EQ(s.loglik, expected);
    // Every token is a target exactly once; the prefix never is.
    EXPECT_EQ(by_position.scored.size(), static_cast<size_t>(n));
    for (int32_t t : tokens) EXPECT_EQ(by_position.scored[t], 1) << t;
    EXPECT_EQ(by_position.scored.count(kPrefix), 0u);
  }
}

TEST(LmEvalRolling, WeightedPerplexitiesByWordsAndBytesAsLmEval) {
  // "ab cd": lp a -1, b -2, ' ' -0.5, c -1, d -0.5 = -5 (2 words, 5 bytes); "é" = C3 -1, A9 -1 = -2
  // (1 word, 2 bytes). Sum -7 over 3 words and 7 bytes: word_perplexity e^(7/3), byte_perplexity e,
  // bits_per_byte 1 / ln 2.
  CharTableModel m(4, {{'a', -1.0f},
                       {'b', -2.0f},
                       {' ', -0.5f},
                       {'c', -1.0f},
                       {'d', -0.5f},
                       {0xC3, -1.0f},
                       {0xA9, -1.0f}});
  const data::RollingTaskFile file{"wiki", "wiki.jsonl", {"ab cd", "\xc3\xa9"}};
  const RollingTokenized task = TokenizeRollingTask(file, kByteEncode, kPrefix);
  EXPECT_EQ(task.words, (std::vector<int64_t>{2, 1}));
  EXPECT_EQ(task.bytes, (std::vector<int64_t>{5, 2}));
  const RollingTaskScores s = ScoreRollingTask(m, task, 2);
  EXPECT_EQ(s.docs, 2);
  EXPECT_EQ(s.tokens, 7);
  EXPECT_DOUBLE_EQ(s.loglik, -7.0);
  EXPECT_DOUBLE_EQ(s.word_perplexity, std::exp(7.0 / 3.0));
  EXPECT_DOUBLE_EQ(s.byte_perplexity, std::exp(1.0));
  EXPECT_DOUBLE_EQ(s.bits_per_byte, 1.0 / std::log(2.0));
}

TEST(LmEvalResults, LayoutFollowsLmEvalResultsJson) {
  CharTableModel m(16, {});
  McTaskOptions one;
  one.limit = 1;
  const McTokenized mc = TokenizeMcTask(
      File({{"", "c", {"a", "bb"}, 0}, {"", "c", {"a", "bb"}, 1}}), kByteEncode, kPrefix, one, 16);
  const McTaskScores mcs = ScoreMcTask(m, mc, 2);
  const RollingTokenized r =
      TokenizeRollingTask({"wiki", "wiki.txt", {"some text"}}, kByteEncode, kPrefix);
  const RollingTaskScores rs = ScoreRollingTask(m, r, 2);
  const nlohmann::json j =
      LmEvalResults(std::span(&mc, 1), std::span(&mcs, 1), std::span(&r, 1), std::span(&rs, 1));
  for (const char* key : {"results", "group_subtasks", "configs", "versions", "n-shot",
                          "higher_is_better", "n-samples"})
    ASSERT_TRUE(j.contains(key)) << key;
  const auto& t = j["results"]["t"];
  EXPECT_EQ(t["alias"], "t");
  EXPECT_EQ(t["acc,none"], 1.0);           // "a" (-2 with its delimiter) beats "bb" (-3)
  EXPECT_EQ(t["acc_norm,none"], 0.0);      // per character: a -2, bb -1.5
  EXPECT_EQ(t["acc_stderr,none"], "N/A");  // one sample: lm-eval writes N/A
  for (const char* key : {"acc_norm_stderr,none", "acc_bytes,none", "acc_bytes_stderr,none"})
    EXPECT_TRUE(t.contains(key)) << key;
  EXPECT_EQ(j["n-samples"]["t"]["original"], 2);
  EXPECT_EQ(j["n-samples"]["t"]["effective"], 1);
  EXPECT_EQ(j["n-shot"]["t"], 0);
  EXPECT_EQ(j["higher_is_better"]["t"]["acc_norm"], true);
  EXPECT_EQ(j["configs"]["t"]["output_type"], "multiple_choice");
  EXPECT_EQ(j["configs"]["t"]["target_delimiter"], " ");
  const auto& w = j["results"]["wiki"];
  EXPECT_DOUBLE_EQ(w["byte_perplexity,none"].get<double>(), std::exp(1.0));  // every byte -1
  EXPECT_DOUBLE_EQ(w["word_perplexity,none"].get<double>(), std::exp(9.0 / 2.0));
  EXPECT_DOUBLE_EQ(w["bits_per_byte,none"].get<double>(), 1.0 / std::log(2.0));
  EXPECT_EQ(w["word_perplexity_stderr,none"], "N/A");
  EXPECT_EQ(j["higher_is_better"]["wiki"]["bits_per_byte"], false);
  EXPECT_EQ(j["configs"]["wiki"]["output_type"], "loglikelihood_rolling");
  EXPECT_EQ(j["n-samples"]["wiki"]["effective"], 1);
  EXPECT_TRUE(j["versions"].contains("wiki"));
  EXPECT_TRUE(j["group_subtasks"]["wiki"].is_array());
}

// The chance accuracy a study's report compares acc with: mean over the scored documents (not the
// file) of 1 / number of choices; here 2 and 4 choices scored, a third document left out by limit.
TEST(LmEvalResults, ChanceAccuracyIsTheMeanOfOneOverChoicesOfTheScoredDocuments) {
  CharTableModel m(16, {});
  McTaskOptions two;
  two.limit = 2;
  const McTokenized mc = TokenizeMcTask(File({{"", "c", {"a", "b"}, 0},
                                              {"", "c", {"a", "b", "c", "d"}, 1},
                                              {"", "c", {"a", "b", "c"}, 1}}),
                                        kByteEncode, kPrefix, two, 16);
  const McTaskScores mcs = ScoreMcTask(m, mc, 2);
  const nlohmann::json j = LmEvalResults(std::span(&mc, 1), std::span(&mcs, 1), {}, {});
  EXPECT_DOUBLE_EQ(j["configs"]["t"]["metadata"]["chance_acc"].get<double>(), (0.5 + 0.25) / 2);
}

}  // namespace
}  // namespace ot
