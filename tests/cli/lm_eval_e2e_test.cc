// `overtrain eval` end to end through the real binary with lm-eval task files: a tiny prepared data
// dir and an all-zero checkpoint (uniform logits, so every token costs ln V and the oracle is a
// token count); lm_eval_results.json has lm-eval's layout and the numbers a token count predicts,
// eval.json keeps its built-in contents, `data mc-tasks` output is accepted, and a bad task file
// fails naming file and line.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "analysis/checkpoint_fixture.h"
#include "analysis/lm_eval.h"
#include "common/run_binary.h"
#include "data/lm_eval_tasks.h"
#include "data/token_file.h"
#include "data/tokenizer.h"

namespace ot {
namespace {

using namespace ot::testing;

// `eval --print-config` prints the config (a template to fill in) without a checkpoint; what a run
// would still need is a note on stderr, not an error.
TEST(LmEvalE2E, PrintConfigNeedsNoCheckpoint) {
  ASSERT_FALSE(EnvVar("OVERTRAIN_BIN").empty()) << "run through ctest (OVERTRAIN_BIN is set there)";
  const fs::path root = TempDir("print_config");
  const auto [rc, log] = RunOvertrain({"eval", "--print-config"}, root / "print.log");
  EXPECT_EQ(rc, 0) << log;
  EXPECT_EQ(log.rfind("# checkpoint to evaluate", 0), 0u) << log;
  EXPECT_NE(log.find("\ncheckpoint = ''\n"), std::string::npos) << log;
  EXPECT_NE(log.find("note: this config does not run as it is: default: keys 'checkpoint': "
                     "expected a checkpoint directory\n"),
            std::string::npos)
      << log;
  fs::remove_all(root);
}

TEST(LmEvalE2E, EvalWritesLmEvalResultsThatATokenCountPredicts) {
  ASSERT_FALSE(EnvVar("OVERTRAIN_BIN").empty()) << "run through ctest (OVERTRAIN_BIN is set there)";
  const fs::path root = TempDir("lmeval_e2e");
  // Data dir: tokenizer.model + general.val.tok (what `overtrain eval` needs besides the task
  // files).
  std::vector<std::string> texts;
  for (int i = 0; i < 40; ++i)
    texts.push_back("Question: is the film good " + std::to_string(i) + "?\nAnswer: yes no maybe");
  std::vector<std::string_view> views(texts.begin(), texts.end());
  data::TokenizerOptions o;
  o.vocab_size = 300;
  o.num_threads = 1;
  const std::string model_proto = data::TrainTokenizer(views, o);
  fs::create_directories(root / "data");
  WriteFileAtomic(root / "data" / "tokenizer.model", model_proto);
  const data::Tokenizer tok = data::Tokenizer::FromModel(model_proto, "lm-eval-e2e");
  std::vector<int32_t> stream;
  while (stream.size() < 300)
    for (int32_t t : tok.Encode(texts[stream.size() % texts.size()])) stream.push_back(t);
  data::WriteTokenFile(root / "data" / "general.val.tok", stream, tok.vocab_size(), tok.eod_id());

  ModelConfig m = TinyModel();
  m.vocab_size = tok.vocab_size();
  m.max_seq_len = 32;
  const std::vector<float> zeros(ParamLayout::ForModel(m).total(), 0.0f);
  const fs::path ck = SaveModelCheckpoint(root / "ck", m, m, zeros);

  // Trained words cost few tokens per character, rare letters about one per byte: "qz" has the
  // fewest tokens (acc) but the most per character (acc_norm); "é" is 1 character, 2 bytes.
  const std::vector<data::McDoc> docs = {
      {"a", "Question: is the film good?\nAnswer:", {"qz", "maybe yes no maybe yes no"}, 1},
      {"b", "Question: is it?\nAnswer:", {"maybe the film is good", "xj"}, 0},
      {"c", "Question: good?\nAnswer:", {"\xc3\xa9", "Answer"}, 1},
      {"d", "", {"the film", "no"}, 0},
      // Unmerged letters: k = chars + 1 (the space), so per character the longer choice wins, while
      // per character of the continuation (delimiter counted) the two would tie.
      {"e", "Q:", {"qj", "xqzjv"}, 1}};
  std::string file;
  for (const auto& d : docs) file += data::McDocJson(d).dump() + "\n";
  WriteFileAtomic(root / "quiz.jsonl", file);
  const std::string text = "Question: is the film good?\nAnswer: yes, it is. No? Maybe.\n";
  WriteFileAtomic(root / "essay.txt", text);

  const fs::path out = root / "out";
  const auto [rc, log] =
      RunOvertrain({"eval", "--set", "checkpoint=\"" + ck.string() + "\"", "--set",
                    "data.dir=\"" + (root / "data").string() + "\"", "--set",
                    "eval.task_files=[\"" + (root / "quiz.jsonl").string() + "\"]", "--set",
                    "eval.rolling_files=[\"" + (root / "essay.txt").string() + "\"]", "--set",
                    "eval.batch=4", "--set", "eval.windows=2", "--out", out.string()},
                   root / "eval.log");
  ASSERT_EQ(rc, 0) << log;
  const nlohmann::json j = nlohmann::json::parse(ReadFile(out / "lm_eval_results.json"));
  for (const char* key : {"results", "group_subtasks", "configs", "versions", "n-shot",
                          "higher_is_better", "n-samples", "config", "date"})
    ASSERT_TRUE(j.contains(key)) << key;
  EXPECT_EQ(j["config"]["checkpoint"], fs::absolute(ck).string());
  EXPECT_EQ(j["n-samples"]["quiz"]["effective"], 5);

  // Oracle: every token costs the same float x = log(1/V), so choice i scores k_i * x exactly
  // (k_i tokens as lm-eval's _encode_pair splits them; a sum of k equal floats is exact in double).
  // Then acc = argmin k_i, acc_norm = argmin k_i / chars_i, acc_bytes = argmin k_i / bytes_i,
  // compared as exact fractions, ties to the first choice (a correctly rounded k x / c preserves
  // the order and the ties of k / c).
  const EncodeFn encode = [&tok](std::string_view s) { return tok.Encode(s); };
  auto argmin = [](const std::vector<int64_t>& k, const std::vector<int64_t>& len) {
    size_t best = 0;
    for (size_t i = 1; i < k.size(); ++i)
      if (k[i] * len[best] < k[best] * len[i]) best = i;
    return static_cast<int>(best);
  };
  double acc = 0, acc_norm = 0, acc_bytes = 0;
  for (const auto& d : docs) {
    std::vector<int64_t> k, ones, chars, bytes;
    std::string trace = d.id + ":";
    for (const auto& c : d.choices) {
      k.push_back(static_cast<int64_t>(
          EncodePair(encode, tok.eod_id(), d.context, " " + c).continuation.size()));
      ones.push_back(1);
      chars.push_back(data::Utf8Chars(c));
      bytes.push_back(static_cast<int64_t>(c.size()));
      trace += " '" + c + "' " + std::to_string(k.back()) + " tokens";
    }
    SCOPED_TRACE(trace);
    acc += argmin(k, ones) == d.gold;
    acc_norm += argmin(k, chars) == d.gold;
    acc_bytes += argmin(k, bytes) == d.gold;
  }
  const auto& r = j["results"]["quiz"];
  EXPECT_DOUBLE_EQ(r["acc,none"].get<double>(), acc / 5);
  EXPECT_DOUBLE_EQ(r["acc_norm,none"].get<double>(), acc_norm / 5);
  EXPECT_DOUBLE_EQ(r["acc_bytes,none"].get<double>(), acc_bytes / 5);
  const double ln_v = std::log(static_cast<double>(m.vocab_size));
  EXPECT_NE(acc, acc_norm) << "the documents should tell acc from acc_norm";
  // Rolling: -|tokens| ln V over the text's bytes and words (relative 1e-5: float log-softmax,
  // ~1e-7 relative per token, summed over a few dozen tokens).
  const double tokens = static_cast<double>(tok.Encode(text).size());
  const auto& w = j["results"]["essay"];
  EXPECT_NEAR(w["byte_perplexity,none"].get<double>(), std::exp(tokens * ln_v / text.size()),
              1e-5 * std::exp(tokens * ln_v / text.size()));
  EXPECT_NEAR(w["bits_per_byte,none"].get<double>(), tokens * ln_v / text.size() / std::log(2.0),
              1e-5);
  const double words = static_cast<double>(data::CountWords(text));
  EXPECT_NEAR(std::log(w["word_perplexity,none"].get<double>()), tokens * ln_v / words,
              1e-5 * tokens);
  // eval.json keeps its built-in contents and carries the same block.
  const nlohmann::json e = nlohmann::json::parse(ReadFile(out / "eval.json"));
  EXPECT_NEAR(e["results"]["general"]["ppl"].get<double>(), m.vocab_size, 1e-4 * m.vocab_size);
  EXPECT_EQ(e["lm_eval"]["results"], j["results"]);

  // A bad task file: exit 1 and one sentence naming the file, line and field.
  WriteFileAtomic(root / "bad.jsonl",
                  file + "{\"context\": \"c\", \"choices\": [\"a\", \"b\"], \"gold\": 5}\n");
  const auto [bad_rc, bad_log] = RunOvertrain(
      {"eval", "--set", "checkpoint=\"" + ck.string() + "\"", "--set",
       "data.dir=\"" + (root / "data").string() + "\"", "--set",
       "eval.task_files=[\"" + (root / "bad.jsonl").string() + "\"]", "--out", out.string()},
      root / "bad.log");
  EXPECT_NE(bad_rc, 0);
  const std::string where = "bad.jsonl:" + std::to_string(docs.size() + 1) + ": expected \"gold\"";
  EXPECT_NE(bad_log.find(where), std::string::npos) << bad_log;
  fs::remove_all(root);
}

TEST(LmEvalE2E, McTasksWritesPiqaAndSiqaTaskFiles) {
  ASSERT_FALSE(EnvVar("OVERTRAIN_BIN").empty()) << "run through ctest (OVERTRAIN_BIN is set there)";
  const fs::path root = TempDir("mc_tasks");
  // A miniature shared/data: two PIQA items, one SIQA item (gzip is optional for ReadMaybeGzip).
  for (const char* d : {"piqa", "siqa"}) fs::create_directories(root / d);
  WriteFileAtomic(
      root / "piqa" / "valid.jsonl.gz",
      "{\"goal\": \"g1\", \"sol1\": \"a\", \"sol2\": \"b\"}\n{\"goal\": \"g2\", \"sol1\": \"c\", "
      "\"sol2\": \"d\"}\n");
  WriteFileAtomic(root / "piqa" / "valid-labels.lst.gz", "1\n0\n");
  WriteFileAtomic(
      root / "siqa" / "dev.jsonl.gz",
      "{\"context\": \"C.\", \"question\": \"Q?\", \"answerA\": \"x\", \"answerB\": \"y\", "
      "\"answerC\": \"z\"}\n");
  WriteFileAtomic(root / "siqa" / "dev-labels.lst.gz", "2\n");
  const auto [rc, log] = RunOvertrain(
      {"data", "mc-tasks", "--data-dir", root.string(), "--out", (root / "tasks").string()},
      root / "mc.log");
  ASSERT_EQ(rc, 0) << log;
  const auto piqa = data::LoadMcTaskFile(root / "tasks" / "piqa.jsonl");
  ASSERT_EQ(piqa.docs.size(), 2u);
  EXPECT_EQ(piqa.docs[0].context, "Question: g1\nAnswer:");
  EXPECT_EQ(piqa.docs[0].gold, 1);
  const auto siqa = data::LoadMcTaskFile(root / "tasks" / "siqa.jsonl");
  ASSERT_EQ(siqa.docs.size(), 1u);
  EXPECT_EQ(siqa.docs[0].context, "Q: C. Q?\nA:");
  EXPECT_EQ(siqa.docs[0].gold, 1);
  fs::remove_all(root);
}

}  // namespace
}  // namespace ot
