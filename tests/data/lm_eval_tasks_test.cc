// lm-eval task files: the multiple-choice parser (every field's error names file:line and the
// field), the rolling loader, PIQA / SIQA in lm-eval's prompts, and the text measures against
// Python's own len(str) / len(re.split(r"\s+", s)) / str.rstrip() (values computed with python3 and
// written here).
#include "data/lm_eval_tasks.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "core/check.h"
#include "core/fileio.h"

namespace ot::data {
namespace {

namespace fs = std::filesystem;

// Expects `fn` to throw an Error whose message contains every one of `parts`.
template <typename Fn>
void ExpectError(Fn fn, std::initializer_list<std::string> parts) {
  try {
    fn();
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    for (const auto& p : parts)
      EXPECT_NE(std::string(e.what()).find(p), std::string::npos) << e.what();
  }
}

TEST(McTaskFile, ParsesContextChoicesGoldAndOptionalId) {
  const std::string text =
      "{\"context\": \"Question: 2+2?\\nAnswer:\", \"choices\": [\"4\", \"5\"], \"gold\": 0, "
      "\"id\": \"q1\"}\n"
      "\n"
      "{\"context\": \"\", \"choices\": [\"a\", \"b\", \"c\"], \"gold\": 2, \"id\": 17}\r\n"
      "{\"choices\": [\"é\", \"e\"], \"gold\": 1, \"context\": \"x\"}\n";
  const auto docs = ParseMcTaskFile(text, "t.jsonl");
  ASSERT_EQ(docs.size(), 3u);
  EXPECT_EQ(docs[0].id, "q1");
  EXPECT_EQ(docs[0].context, "Question: 2+2?\nAnswer:");
  EXPECT_EQ(docs[0].choices, (std::vector<std::string>{"4", "5"}));
  EXPECT_EQ(docs[0].gold, 0);
  EXPECT_EQ(docs[1].id, "17");
  EXPECT_EQ(docs[1].context, "");
  EXPECT_EQ(docs[1].gold, 2);
  EXPECT_EQ(docs[2].id, "2");  // no id: the document index
  EXPECT_EQ(docs[2].choices[0], "é");
  // McDocJson is the inverse.
  std::string again;
  for (const auto& d : docs) again += McDocJson(d).dump() + "\n";
  const auto round = ParseMcTaskFile(again, "again");
  for (size_t i = 0; i < docs.size(); ++i) {
    EXPECT_EQ(round[i].id, docs[i].id);
    EXPECT_EQ(round[i].context, docs[i].context);
    EXPECT_EQ(round[i].choices, docs[i].choices);
    EXPECT_EQ(round[i].gold, docs[i].gold);
  }
}

TEST(McTaskFile, EveryBadFieldIsOneSentenceNamingFileLineAndField) {
  const std::string ok = "{\"context\": \"c\", \"choices\": [\"a\", \"b\"], \"gold\": 0}\n";
  auto third = [&](const std::string& line) { return ok + "\n" + line + "\n"; };  // file line 3
  struct Case {
    std::string line;
    std::string field;
  };
  const std::vector<Case> cases = {
      {"{not json", "JSON"},
      {"[1, 2]", "object"},
      {"{\"choices\": [\"a\", \"b\"], \"gold\": 0}", "\"context\""},
      {"{\"context\": 3, \"choices\": [\"a\", \"b\"], \"gold\": 0}", "\"context\""},
      {"{\"context\": \"c\", \"choices\": [\"a\"], \"gold\": 0}", "\"choices\""},
      {"{\"context\": \"c\", \"choices\": \"ab\", \"gold\": 0}", "\"choices\""},
      {"{\"context\": \"c\", \"choices\": [\"a\", \"\"], \"gold\": 0}", "\"choices\""},
      {"{\"context\": \"c\", \"choices\": [\"a\", 2], \"gold\": 0}", "\"choices\""},
      {"{\"context\": \"c\", \"choices\": [\"a\", \"b\"], \"gold\": 2}", "\"gold\""},
      {"{\"context\": \"c\", \"choices\": [\"a\", \"b\"], \"gold\": -1}", "\"gold\""},
      {"{\"context\": \"c\", \"choices\": [\"a\", \"b\"], \"gold\": \"0\"}", "\"gold\""},
      {"{\"context\": \"c\", \"choices\": [\"a\", \"b\"]}", "\"gold\""},
      {"{\"context\": \"c\", \"choices\": [\"a\", \"b\"], \"gold\": 0, \"id\": [1]}", "\"id\""},
      {"{\"context\": \"c\", \"choices\": [\"a\", \"b\"], \"gold\": 0, \"label\": 1}", "\"label\""},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.line);
    ExpectError([&] { ParseMcTaskFile(third(c.line), "dir/t.jsonl"); },
                {"dir/t.jsonl:3: ", c.field});
  }
  ExpectError([&] { ParseMcTaskFile("\n \n", "empty.jsonl"); }, {"empty.jsonl", "no documents"});
}

TEST(McTaskFile, LoadNamesTheTaskByTheFileStem) {
  const fs::path dir = fs::temp_directory_path() / ("ot_lmeval_data_" + std::to_string(getpid()));
  fs::create_directories(dir);
  WriteFileAtomic(dir / "arc_easy.jsonl",
                  "{\"context\": \"c\", \"choices\": [\"a\", \"b\"], \"gold\": 1}\n");
  const McTaskFile t = LoadMcTaskFile(dir / "arc_easy.jsonl");
  EXPECT_EQ(t.name, "arc_easy");
  EXPECT_EQ(t.docs.size(), 1u);
  ExpectError([&] { LoadMcTaskFile(dir / "missing.jsonl"); }, {"missing.jsonl"});

  WriteFileAtomic(dir / "wiki.txt", "line one\n\nline two\n");
  const RollingTaskFile whole = LoadRollingTaskFile(dir / "wiki.txt");
  EXPECT_EQ(whole.name, "wiki");
  ASSERT_EQ(whole.docs.size(), 1u);
  EXPECT_EQ(whole.docs[0], "line one\n\nline two\n");  // byte for byte, blank lines kept
  WriteFileAtomic(dir / "pages.jsonl", "{\"text\": \"a b\"}\n{\"text\": \"c\\n\"}\n");
  const RollingTaskFile pages = LoadRollingTaskFile(dir / "pages.jsonl");
  EXPECT_EQ(pages.docs, (std::vector<std::string>{"a b", "c\n"}));
  WriteFileAtomic(dir / "bad.jsonl", "{\"text\": \"a\"}\n{\"txt\": \"b\"}\n");
  ExpectError([&] { LoadRollingTaskFile(dir / "bad.jsonl"); }, {"bad.jsonl:2", "\"text\""});
  WriteFileAtomic(dir / "empty.txt", "");
  ExpectError([&] { LoadRollingTaskFile(dir / "empty.txt"); }, {"empty.txt", "no text"});
  WriteFileAtomic(dir / "latin1.txt", std::string("caf\xe9"));
  ExpectError([&] { LoadRollingTaskFile(dir / "latin1.txt"); }, {"latin1.txt", "UTF-8"});
  fs::remove_all(dir);
}

// A hostile task file is refused in one sentence naming it (and the line), not after gigabytes: a
// 10 MB line, and the same through the PIQA / SIQA record parser.
TEST(McTaskFile, RefusesAnOverlongLineNamingFileAndLine) {
  const fs::path dir = fs::temp_directory_path() / ("ot_lmeval_long_" + std::to_string(getpid()));
  fs::create_directories(dir);
  const std::string ok = "{\"context\": \"c\", \"choices\": [\"a\", \"b\"], \"gold\": 1}\n";
  WriteFileAtomic(dir / "long.jsonl", ok + "\n{\"context\": \"" + std::string(10 << 20, 'x'));
  ExpectError([&] { LoadMcTaskFile(dir / "long.jsonl"); },
              {"long.jsonl:3: line is 10485773 bytes, past the limit of 1 MiB"});
  ExpectError([&] { PiqaMcDocs(std::string(2 << 20, ' '), "0\n", "valid.jsonl"); },
              {"valid.jsonl:1: line is 2097152 bytes"});
  fs::remove_all(dir);
}

TEST(LmEvalText, CharactersAreCodePointsAsPythonLen) {
  EXPECT_EQ(Utf8Chars(""), 0);
  EXPECT_EQ(Utf8Chars("abc"), 3);
  EXPECT_EQ(Utf8Chars("h\xc3\xa9llo"), 5);              // "héllo": 6 bytes
  EXPECT_EQ(Utf8Chars("\xe6\x97\xa5\xe6\x9c\xac"), 2);  // "日本": 6 bytes
  EXPECT_EQ(Utf8Chars("\xf0\x9f\x98\x80!"), 2);         // U+1F600 + "!": 5 bytes
  EXPECT_THROW(Utf8Chars("caf\xe9"), Error);            // Latin-1 é
  EXPECT_THROW(Utf8Chars("\xc0\xaf"), Error);           // overlong "/"
  EXPECT_THROW(Utf8Chars("\xed\xa0\x80"), Error);       // a surrogate
}

TEST(LmEvalText, WordsAndRstripMatchPython) {
  // python3: len(re.split(r"\s+", s)) and s.rstrip()
  EXPECT_EQ(CountWords(""), 1);
  EXPECT_EQ(CountWords("a b"), 2);
  EXPECT_EQ(CountWords(" a "), 3);
  EXPECT_EQ(CountWords("a\xc2\xa0"
                       "b"),
            2);  // U+00A0
  EXPECT_EQ(CountWords("a\t\n b"), 2);
  EXPECT_EQ(CountWords("a\x1c"
                       "b"),
            2);  // Python counts U+001C as space
  EXPECT_EQ(CountWords("one  two three\n"), 4);
  EXPECT_EQ(CountWords("x\xe3\x80\x80y\xe2\x80\x8bz"), 2);  // U+3000 is space, U+200B is not
  EXPECT_EQ(CountWords("a\xc2\x85"
                       "b"),
            2);  // U+0085
  EXPECT_EQ(RstripPython(" a "), " a");
  EXPECT_EQ(RstripPython("Answer: \n"), "Answer:");
  EXPECT_EQ(RstripPython("a\xe3\x80\x80"), "a");
  EXPECT_EQ(RstripPython("a\xe2\x80\x8b"), "a\xe2\x80\x8b");
  EXPECT_EQ(RstripPython("  "), "");
}

TEST(McConverters, PiqaAndSiqaUseLmEvalPromptsWithFieldsVerbatim) {
  const std::string piqa =
      "{\"goal\": \"dresser\", \"sol1\": \"replace drawer with bobby pin \", \"sol2\": \"finish, "
      "woodgrain\"}\n"
      "{\"goal\": \"g2\", \"sol1\": \"s1\", \"sol2\": \"s2\"}\n";
  const auto p = PiqaMcDocs(piqa, "1\n0\n", "piqa/valid.jsonl.gz");
  ASSERT_EQ(p.size(), 2u);
  EXPECT_EQ(p[0].context, "Question: dresser\nAnswer:");         // piqa.yaml doc_to_text
  EXPECT_EQ(p[0].choices[0], "replace drawer with bobby pin ");  // not trimmed, as lm-eval reads it
  EXPECT_EQ(p[0].gold, 1);
  EXPECT_EQ(p[1].gold, 0);
  const std::string siqa =
      "{\"context\": \"Tracy didn't go home.\", \"question\": \"What does Tracy need to do?\", "
      "\"answerA\": \"plan\", \"answerB\": \"Go home\", \"answerC\": \"Find somewhere\"}\n";
  const auto s = SiqaMcDocs(siqa, "3\n", "siqa/dev.jsonl.gz");
  ASSERT_EQ(s.size(), 1u);
  EXPECT_EQ(s[0].context, "Q: Tracy didn't go home. What does Tracy need to do?\nA:");  // siqa.yaml
  EXPECT_EQ(s[0].choices, (std::vector<std::string>{"plan", "Go home", "Find somewhere"}));
  EXPECT_EQ(s[0].gold, 2);  // label 3 → index 2
  ExpectError([&] { PiqaMcDocs(piqa, "1\n", "piqa/valid.jsonl.gz"); },
              {"piqa/valid.jsonl.gz", "aligned"});
  ExpectError([&] { SiqaMcDocs(siqa, "4\n", "siqa/dev.jsonl.gz"); },
              {"siqa/dev.jsonl.gz labels:1", "1..3"});
  ExpectError([&] { SiqaMcDocs("{\"context\": \"c\"}\n", "1\n", "siqa/dev.jsonl.gz"); },
              {"siqa/dev.jsonl.gz:1", "\"question\""});
  // What a converter writes, the task-file parser reads back.
  std::string file;
  for (const auto& d : s) file += McDocJson(d).dump() + "\n";
  EXPECT_EQ(ParseMcTaskFile(file, "siqa.jsonl")[0].context, s[0].context);
}

}  // namespace
}  // namespace ot::data
