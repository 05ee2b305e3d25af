// Task parsers on real lines copied from shared/data (gzip handled by ReadMaybeGzip elsewhere),
// task tokenization + storage round trip, and fine-tuning batches with the prompt/padding mask.
#include "data/tasks.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>

#include "common/test_util.h"
#include "core/check.h"
#include "core/fileio.h"
#include "data/lm_eval_tasks.h"
#include "data/mc_records.h"
#include "data/prepare.h"
#include "data/task_tokens.h"
#include "data/tokenizer.h"
#include "data/tokenizer_fixture.h"
#include "data/util.h"

namespace ot::data {
namespace {

namespace fs = std::filesystem;

TEST(Tasks, Gsm8kStripsCalculatorAnnotations) {
  const std::string line =
      R"({"question": "Natalia sold clips to 48 of her friends in April, and then she sold half as many clips in May. How many clips did Natalia sell altogether in April and May?", "answer": "Natalia sold 48/2 = <<48/2=24>>24 clips in May.\nNatalia sold 48+24 = <<48+24=72>>72 clips altogether in April and May.\n#### 72"})";
  const auto ex = ParseGsm8k(line + "\n", "train.jsonl");
  ASSERT_EQ(ex.size(), 1u);
  EXPECT_EQ(ex[0].prompt,
            "Question: Natalia sold clips to 48 of her friends in April, and then she sold half as "
            "many clips in "
            "May. How many clips did Natalia sell altogether in April and May?\nAnswer:");
  EXPECT_EQ(ex[0].target,
            " Natalia sold 48/2 = 24 clips in May.\nNatalia sold 48+24 = 72 clips altogether in "
            "April and May.\n#### 72");
  EXPECT_TRUE(ex[0].choices.empty());
  EXPECT_THROW(ParseGsm8k(R"({"question": "x"})", "t.jsonl"), Error);
}

TEST(Tasks, SiqaUsesAlignedLabels) {
  const std::string jsonl =
      R"({"context": "Cameron decided to have a barbecue and gathered her friends together.", "question": "How would Others feel as a result?", "answerA": "like attending", "answerB": "like staying home", "answerC": "a good friend to have"})"
      "\n"
      R"({"context": "Jan needed to give out jobs for an upcoming project at work.", "question": "What will Others want to do next?", "answerA": "disagree with Jan", "answerB": "get to work", "answerC": "argue with the assignments"})"
      "\n";
  const auto ex = ParseSiqa(jsonl, "1\n2\n", "train.jsonl");
  ASSERT_EQ(ex.size(), 2u);
  EXPECT_EQ(ex[0].prompt,
            "Context: Cameron decided to have a barbecue and gathered her friends "
            "together.\nQuestion: How would "
            "Others feel as a result?\nAnswer:");
  EXPECT_EQ(ex[0].choices, (std::vector<std::string>{" like attending", " like staying home",
                                                     " a good friend to have"}));
  EXPECT_EQ(ex[0].gold, 0);
  EXPECT_EQ(ex[1].gold, 1);
  EXPECT_EQ(ex[1].target, " get to work");
  EXPECT_THROW(ParseSiqa(jsonl, "1\n", "train.jsonl"), Error);     // misaligned
  EXPECT_THROW(ParseSiqa(jsonl, "1\n4\n", "train.jsonl"), Error);  // label out of range
}

TEST(Tasks, PiqaTwoChoices) {
  const std::string jsonl =
      R"({"goal": "When boiling butter, when it's ready, you can", "sol1": "Pour it onto a plate", "sol2": "Pour it into a jar"})"
      "\n";
  const auto ex = ParsePiqa(jsonl, "1\n", "train.jsonl");
  ASSERT_EQ(ex.size(), 1u);
  EXPECT_EQ(ex[0].prompt, "Goal: When boiling butter, when it's ready, you can\nSolution:");
  EXPECT_EQ(ex[0].gold, 1);
  EXPECT_EQ(ex[0].target, " Pour it into a jar");
}

TEST(Tasks, PiqaAndSiqaRecordsAreParsedOnceForBothReaders) {
  // The fine-tuning task and the lm-eval converter read the same records (mc_records.h): same
  // fields, same gold, same errors; only the prompt formatting differs.
  const std::string siqa =
      "{\"context\": \" c \", \"question\": \"q?\", \"answerA\": \"a\", \"answerB\": \" b\", "
      "\"answerC\": \"c\"}\n\n"
      "{\"context\": \"c2\", \"question\": \"q2\", \"answerA\": \"x\", \"answerB\": \"y\", "
      "\"answerC\": \"z\"}\n";
  const auto records = ParseSiqaRecords(siqa, "2\n\n3\n", "siqa/dev.jsonl");
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[0].context, " c ");  // verbatim
  EXPECT_EQ(records[0].choices, (std::vector<std::string>{"a", " b", "c"}));
  EXPECT_EQ(records[1].gold, 2);
  const auto ex = ParseSiqa(siqa, "2\n\n3\n", "siqa/dev.jsonl");
  EXPECT_EQ(ex[0].prompt, "Context: c\nQuestion: q?\nAnswer:");
  EXPECT_EQ(ex[0].target, " b");
  const auto docs = SiqaMcDocs(siqa, "2\n\n3\n", "siqa/dev.jsonl");
  EXPECT_EQ(docs[1].id, "siqa-1");
  EXPECT_EQ(docs[0].choices[docs[0].gold], " b");
  auto errors = [](const std::string& jsonl, const std::string& labels) {
    const std::string task =
        ot::testing::ErrorOf([&] { ParseSiqa(jsonl, labels, "siqa/dev.jsonl"); });
    EXPECT_EQ(task, ot::testing::ErrorOf([&] { SiqaMcDocs(jsonl, labels, "siqa/dev.jsonl"); }));
    return task;
  };
  // File line numbers, blank lines counted.
  EXPECT_EQ(errors("{}\n\n{\"context\": 1}\n", "1\n1\n"),
            "siqa/dev.jsonl:1: expected a string field \"context\"");
  EXPECT_EQ(errors(siqa, "1\n\n4\n"), "siqa/dev.jsonl labels:3: label '4' is not in 1..3");
  EXPECT_EQ(errors(siqa, "1\n"), "siqa/dev.jsonl: 2 items but 1 labels; the files must be aligned");
  EXPECT_EQ(errors("\n[1]\n", "1\n"), "siqa/dev.jsonl:2: expected a JSON object, got array");
  EXPECT_EQ(ParsePiqaRecords("{\"goal\": \"g\", \"sol1\": \"a\", \"sol2\": \"b\"}", "1",
                             "piqa/valid.jsonl")[0]
                .question,
            "g");
}

TEST(Tasks, RteTsvWithRawQuotes) {
  const std::string tsv =
      "index\tsentence1\tsentence2\tlabel\n"
      "0\tNo Weapons of Mass Destruction Found in Iraq Yet.\tWeapons of Mass Destruction Found in "
      "Iraq.\tnot_entailment\n"
      "1\tHe said \"yes\" twice.\tHe spoke.\tentailment\n";
  const auto ex = ParseRte(tsv, "train.tsv");
  ASSERT_EQ(ex.size(), 2u);
  EXPECT_EQ(ex[0].prompt,
            "Sentence 1: No Weapons of Mass Destruction Found in Iraq Yet.\nSentence 2: Weapons of "
            "Mass Destruction "
            "Found in Iraq.\nRelationship:");
  EXPECT_EQ(ex[0].target, " not_entailment");
  EXPECT_EQ(ex[0].gold, 1);
  EXPECT_EQ(ex[1].prompt.find("He said \"yes\" twice."), 12u);
  EXPECT_EQ(ex[1].gold, 0);
  EXPECT_THROW(ParseRte("0\ta\tb\tentailment\n", "x.tsv"), Error);  // no header
  EXPECT_THROW(ParseRte("index\tsentence1\tsentence2\tlabel\n0\ta\tb\tmaybe\n", "x.tsv"), Error);
}

TEST(Tasks, TrecCoarseLabelsAndLatin1) {
  const std::string text =
      "DESC:manner How did serfdom develop in and then leave Russia ?\n"
      "LOC:city Which city has the oldest relationship as a sister\xf0"
      "city with Los Angeles ?\n"
      "NUM:dist How far is it from Denver to Aspen ?\n";
  const auto ex = ParseTrec(text, "train_5500.label");
  ASSERT_EQ(ex.size(), 3u);
  EXPECT_EQ(ex[0].prompt, "Question: How did serfdom develop in and then leave Russia ?\nType:");
  EXPECT_EQ(ex[0].target, " description");
  EXPECT_NE(ex[1].prompt.find("sister\xc3\xb0"
                              "city"),
            std::string::npos);
  EXPECT_EQ(ex[1].target, " location");
  EXPECT_EQ(ex[2].gold, 5);
  EXPECT_EQ(ex[2].choices.size(), 6u);
  EXPECT_THROW(ParseTrec("FOO:bar What ?\n", "t"), Error);
}

TEST(Tasks, MrLatin1ByFile) {
  const std::string pos =
      "'compleja e intelectualmente retadora , el ladr\xf3n de orqu\xed"
      "deas es uno de esos filmes que vale la "
      "pena ver precisamente por su originalidad . '\n";
  const std::string neg = "simplistic , silly and tedious . \n";
  const auto ex = ParseMr(pos, neg, "mr");
  ASSERT_EQ(ex.size(), 2u);
  EXPECT_NE(ex[0].prompt.find("ladr\xc3\xb3n de orqu\xc3\xad"
                              "deas"),
            std::string::npos);
  EXPECT_EQ(ex[0].target, " positive");
  EXPECT_EQ(ex[1].prompt, "Review: simplistic , silly and tedious .\nSentiment:");
  EXPECT_EQ(ex[1].target, " negative");
  EXPECT_EQ(ex[1].choices, (std::vector<std::string>{" negative", " positive"}));
}

TEST(Tasks, SentimentAndCode) {
  const auto s = SentimentExamples({{"Loved it.", "r1", 1}, {"Dull.", "r2", 0}});
  EXPECT_EQ(s[0].prompt, "Review: Loved it.\nSentiment:");
  EXPECT_EQ(s[0].gold, 1);
  EXPECT_EQ(s[1].target, " negative");
  const auto c = CodeExamples({{"import os\n", "a.py"}});
  EXPECT_EQ(c[0].prompt, "");
  EXPECT_EQ(c[0].target, "import os\n");
}

// A tokenizer for the storage/batching tests (tiny vocabulary trained on the prompt vocabulary).
const Tokenizer& Tok() {
  static const Tokenizer tok = [] {
    static std::vector<std::string> texts;
    for (int i = 0; i < 40; ++i)
      texts.push_back(
          "Review: the film was good and the plot was dull\nSentiment: positive negative " +
          std::to_string(i) + "\nQuestion: what is it ?\nAnswer: import os def main():");
    std::vector<std::string_view> v(texts.begin(), texts.end());
    TokenizerOptions o;
    o.vocab_size = 320;
    o.num_threads = 1;
    return Tokenizer::FromModel(TrainTokenizer(v, o), "tasks-test");
  }();
  return tok;
}

TEST(TaskTokens, StoreReadAndBatchWithMasks) {
  const Tokenizer& tok = Tok();
  std::vector<TaskExample> ex = SentimentExamples(
      {{"the film was good", "a", 1}, {"the plot was dull", "b", 0}, {"good", "c", 1}});
  const auto split = TokenizeTask("sentiment", "train", ex, {" negative", " positive"}, tok);
  ASSERT_EQ(split.records.size(), 3u);
  EXPECT_EQ(tok.Decode(split.Prompt(0)), ex[0].prompt);
  EXPECT_EQ(tok.Decode(split.Target(0)), " positive");
  EXPECT_EQ(split.Choices(1).size(), 2u);
  EXPECT_EQ(tok.Decode(split.Choices(1)[0]), " negative");

  const fs::path dir = fs::temp_directory_path() / ("ot_tasks_" + std::to_string(getpid()));
  WriteTaskSplit(dir, split);
  const TaskSplit back = ReadTaskSplit(dir, "sentiment", "train");
  EXPECT_EQ(back.tokens, split.tokens);
  ASSERT_EQ(back.records.size(), 3u);
  EXPECT_EQ(back.records[2].offset, split.records[2].offset);
  EXPECT_EQ(back.labels, split.labels);

  // Evaluation batches: row r = example r, targets only on target tokens + eod, padding ignored.
  const int64_t B = 4, T = 40;
  FinetuneBatcher eval(back, B, T, 1, /*shuffle=*/false);
  EXPECT_EQ(eval.batches_per_epoch(), 1);
  std::vector<int32_t> in(B * T), tg(B * T);
  eval.Batch({0, 0}, in, tg);
  for (int64_t r = 0; r < 3; ++r) {
    const auto& rec = back.records[r];
    const int64_t len = rec.prompt_len + rec.target_len + 1;
    ASSERT_LE(len, T + 1);
    int64_t counted = 0;
    for (int64_t t = 0; t < T; ++t) {
      if (t < len - 1) EXPECT_EQ(in[r * T + t], back.tokens[rec.offset + t]);
      const bool is_target = t + 1 >= rec.prompt_len && t + 1 < len;
      if (is_target) {
        EXPECT_EQ(tg[r * T + t], back.tokens[rec.offset + t + 1]);
        ++counted;
      } else {
        EXPECT_EQ(tg[r * T + t], -1) << "row " << r << " pos " << t;
      }
    }
    EXPECT_EQ(counted, rec.target_len + 1);
    EXPECT_EQ(tg[r * T + len - 2], tok.eod_id());
  }
  for (int64_t t = 0; t < T; ++t) EXPECT_EQ(tg[3 * T + t], -1);  // padding row

  // Training batches: deterministic, resumable, wrap around at the end of the epoch.
  FinetuneBatcher a(back, 2, T, 5), b(back, 2, T, 5);
  std::vector<int32_t> ia(2 * T), ta(2 * T), ib(2 * T), tb(2 * T);
  for (int k = 0; k < 3; ++k) a.Next(ia, ta);
  b.SetCursor(a.cursor());
  a.Next(ia, ta);
  b.Next(ib, tb);
  EXPECT_EQ(ia, ib);
  EXPECT_EQ(ta, tb);
  fs::remove_all(dir);
}

TEST(TaskTokens, LongTargetsAreCroppedInsideTheTarget) {
  const Tokenizer& tok = Tok();
  std::string code;
  for (int i = 0; i < 50; ++i) code += "def main():\n    import os\n";
  const auto split = TokenizeTask("code", "train", CodeExamples({{code, "a.py"}}), {}, tok);
  const int64_t T = 16;
  ASSERT_GT(split.records[0].target_len, 4 * T);
  FinetuneBatcher f(split, 1, T, 3);
  std::vector<int32_t> in(T), tg(T);
  for (int e = 0; e < 8; ++e) {
    f.Batch({e, 0}, in, tg);
    for (int64_t t = 0; t < T; ++t)
      EXPECT_GE(tg[t], 0) << "whole-document loss: every position counts";
    for (int64_t t = 0; t + 1 < T; ++t) EXPECT_EQ(tg[t], in[t + 1]);
    // The window is a contiguous slice of the file.
    const auto& x = split.tokens;
    bool found = false;
    for (size_t s = 0; s + T + 1 <= x.size() && !found; ++s)
      found = std::equal(in.begin(), in.end(), x.begin() + s) && tg[T - 1] == x[s + T];
    EXPECT_TRUE(found);
  }
}

}  // namespace
}  // namespace ot::data

namespace ot::data {
namespace {

// Prompt/response files: fields verbatim (no trimming, no added space), other keys ignored, errors
// naming file, line and field, a seeded split named by the file.
TEST(PairTasks, VerbatimPairsSplitWithTheSeedAndNamedByTheFile) {
  const auto ex = ParsePairs(
      "{\"prompt\": \"Q: 2+2?\\nA:\", \"response\": \" 4\", \"id\": 7}\n\n"
      "{\"prompt\": \"\", \"response\": \"whole document \"}\n",
      "p.jsonl");
  ASSERT_EQ(ex.size(), 2u);
  EXPECT_EQ(ex[0].prompt, "Q: 2+2?\nA:");
  EXPECT_EQ(ex[0].target, " 4");
  EXPECT_EQ(ex[1].prompt, "");
  EXPECT_EQ(ex[1].target, "whole document ");
  EXPECT_TRUE(ex[0].choices.empty());
  auto error = [](const std::string& jsonl) {
    return ot::testing::ErrorOf([&] { ParsePairs(jsonl, "p.jsonl"); });
  };
  EXPECT_EQ(error("{\"prompt\": \"a\", \"response\": \"b\"}\n{\"prompt\": \"a\"}\n"),
            "p.jsonl:2: expected a string field \"response\"");
  EXPECT_EQ(error("{\"question\": \"a\", \"response\": \"b\"}\n"),
            "p.jsonl:1: expected a string field \"prompt\"");
  EXPECT_EQ(error("{\"prompt\": \"a\", \"response\": \"\"}\n"),
            "p.jsonl:1: \"response\" is empty; the loss has nothing to train on");
  EXPECT_EQ(error("not json\n"),
            "p.jsonl:1: expected a JSON object {\"prompt\": ..., \"response\": ...}");

  const fs::path dir = ot::testing::TempDir("pairs");
  std::string text;
  for (int i = 0; i < 20; ++i)
    text += "{\"prompt\": \"p" + std::to_string(i) + "\", \"response\": \" r\"}\n";
  WriteFileAtomic(dir / "my_sft.jsonl", text);
  EXPECT_EQ(PairTaskName(dir / "my_sft.jsonl.gz"), "my_sft");
  const TaskData a = LoadPairTask(dir / "my_sft.jsonl", 3, 0.1),
                 b = LoadPairTask(dir / "my_sft.jsonl", 3, 0.1);
  EXPECT_EQ(a.name, "my_sft");
  EXPECT_EQ(a.train.size(), 18u);
  ASSERT_EQ(a.val.size(), 2u);
  EXPECT_EQ(a.val[0].prompt, b.val[0].prompt);  // a pure function of (file, seed)
  WriteFileAtomic(dir / "one.jsonl", "{\"prompt\": \"p\", \"response\": \" r\"}\n");
  EXPECT_EQ(ot::testing::ErrorOf([&] { LoadPairTask(dir / "one.jsonl", 3, 0.1); }),
            (dir / "one.jsonl").string() +
                ": 1 pairs; expected at least 2 (one for training, one for validation)");
  fs::remove_all(dir);
}

// data.pair_files: a file whose name is a built-in task's or another pair file's is refused, so a
// task name always means one set of examples.
TEST(PairTasks, AFileNamingATakenTaskIsRefused) {
  const auto& schema = DataConfigSchema();
  EXPECT_NO_THROW(
      LoadConfig(schema, "", {"data.pair_files=[\"a/hh.jsonl\", \"b/tulu.jsonl.gz\"]"}));
  std::string m = ot::testing::ErrorOf(
      [&] { LoadConfig(schema, "", {"data.pair_files=[\"x/gsm8k.jsonl\"]"}); });
  EXPECT_NE(m.find("'x/gsm8k.jsonl' names the task 'gsm8k', which a built-in task or another pair "
                   "file already has; rename the file"),
            std::string::npos)
      << m;
  m = ot::testing::ErrorOf(
      [&] { LoadConfig(schema, "", {"data.pair_files=[\"a/hh.jsonl\", \"b/hh.jsonl.gz\"]"}); });
  EXPECT_NE(m.find("'b/hh.jsonl.gz' names the task 'hh'"), std::string::npos) << m;
}

// GSM8K's question/answer pairs from shared/data as a prompt/response file: the fine-tuning batch
// trains on the response tokens and the end-of-document token only, never on the prompt.
TEST(PairTasks, Gsm8kPairsTrainOnTheResponseOnly) {
  const fs::path tokenizers = testing::SharedTokenizerDir();  // shared/data/tokenizers
  const fs::path gsm8k = tokenizers.parent_path() / "gsm8k" / "train.jsonl.gz";
  if (tokenizers.empty() || !fs::exists(gsm8k))
    GTEST_SKIP() << "no shared/data/gsm8k (set OVERTRAIN_DATA_DIR)";
  const fs::path dir = ot::testing::TempDir("gsm8k_pairs");
  std::string pairs;
  int n = 0;
  const std::string records = ReadMaybeGzip(gsm8k);  // outlives the lines that view it
  for (const auto& [number, line] : NonBlankLines(records, gsm8k.string())) {
    const auto j = nlohmann::json::parse(line);
    pairs +=
        nlohmann::json{{"prompt", "Question: " + j["question"].get<std::string>() + "\nAnswer:"},
                       {"response", " " + j["answer"].get<std::string>()}}
            .dump() +
        "\n";
    if (++n == 12) break;
  }
  WriteFileAtomic(dir / "gsm8k_pairs.jsonl", pairs);
  const TaskData data = LoadPairTask(dir / "gsm8k_pairs.jsonl", 1, 0.25);
  EXPECT_EQ(data.train.size(), 9u);
  EXPECT_EQ(data.val.size(), 3u);
  const Tokenizer& tok = Tok();
  const TaskSplit split = TokenizeTask(data.name, "train", data.train, {}, tok);
  const int64_t T = 4096;  // the byte-level test tokenizer: one token per byte or so
  FinetuneBatcher rows(split, 1, T, 1, /*shuffle=*/false);
  std::vector<int32_t> in(T), tg(T);
  rows.Batch({0, 0}, in, tg);
  const auto& rec = split.records[0];
  ASSERT_LE(rec.prompt_len + rec.target_len + 1, T + 1) << "the test's window must hold the pair";
  std::vector<int32_t> trained;
  for (int64_t t = 0; t < T; ++t)
    if (tg[t] >= 0) trained.push_back(tg[t]);
  std::vector<int32_t> expected(split.Target(0).begin(), split.Target(0).end());
  expected.push_back(tok.eod_id());
  EXPECT_EQ(trained, expected) << "exactly the response and its end-of-document token are trained";
  fs::remove_all(dir);
}

}  // namespace
}  // namespace ot::data
