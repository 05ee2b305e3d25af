// ARC and HellaSwag Hugging Face records → lm-eval task files, on hand-written records whose
// expected documents are worked out from lm-eval's templates (ai2_arc: "Question: {question}\n
// Answer:", choices.label.index(answerKey); hellaswag utils.py: preprocess and process_docs).
#include "data/hf_tasks.h"

#include <gtest/gtest.h>

#include "common/test_util.h"
#include "core/fileio.h"

namespace ot::data {
namespace {

TEST(HfTasks, ArcPromptChoicesAndGoldFromTheAnswerKey) {
  const std::string jsonl =
      R"({"id": "Mercury_7175875", "question": "An astronomer observes that a planet rotates faster after a meteorite impact. Which is the most likely effect?", "choices": {"text": ["Planetary density will decrease.", "Planetary years will become longer.", "Planetary days will become shorter.", "Planetary gravity will become stronger."], "label": ["A", "B", "C", "D"]}, "answerKey": "C"})"
      "\n\n"
      R"({"id": "NYSEDREGENTS_2015_4_8", "question": "Which  tool? ", "choices": {"text": ["ruler", "scale", "thermometer"], "label": ["1", "2", "3"]}, "answerKey": "3"})"
      "\n";
  const auto docs = ArcMcDocs(jsonl, "arc.jsonl");
  ASSERT_EQ(docs.size(), 2u);
  EXPECT_EQ(docs[0].id, "Mercury_7175875");
  EXPECT_EQ(docs[0].context,
            "Question: An astronomer observes that a planet rotates faster after a meteorite "
            "impact. Which is the most likely effect?\nAnswer:");
  EXPECT_EQ(docs[0].choices.size(), 4u);
  EXPECT_EQ(docs[0].choices[2], "Planetary days will become shorter.");
  EXPECT_EQ(docs[0].gold, 2);
  // Numeric labels, and fields kept verbatim (lm-eval does not trim).
  EXPECT_EQ(docs[1].context, "Question: Which  tool? \nAnswer:");
  EXPECT_EQ(docs[1].gold, 2);
}

TEST(HfTasks, ArcErrorsNameFileLineAndField) {
  auto error = [](const std::string& jsonl) {
    return ot::testing::ErrorOf([&] { ArcMcDocs(jsonl, "arc.jsonl"); });
  };
  EXPECT_EQ(error("{\"question\": \"q\", \"choices\": {\"text\": [\"a\", \"b\"], \"label\": "
                  "[\"A\", \"B\"]}, \"answerKey\": \"E\"}\n"),
            "arc.jsonl:1: answerKey 'E' is not one of choices.label");
  EXPECT_EQ(error("\n{\"question\": \"q\", \"choices\": {\"text\": [\"a\"], \"label\": [\"A\"]}, "
                  "\"answerKey\": \"A\"}\n"),
            "arc.jsonl:2: expected \"choices.text\" to be an array of at least 2 strings");
  EXPECT_EQ(error("{\"choices\": {\"text\": [\"a\", \"b\"], \"label\": [\"A\", \"B\"]}, "
                  "\"answerKey\": \"A\"}\n"),
            "arc.jsonl:1: expected a string field \"question\"");
  EXPECT_EQ(error("[1, 2]\n"), "arc.jsonl:1: expected one JSON object per line");
}

TEST(HfTasks, HellaswagPreprocessAsLmEval) {
  // strip; " [title]" → ". "; "[...]" removed non-greedily; then "  " → " " once, left to right.
  EXPECT_EQ(HellaswagPreprocess("  Making a cake [title] Mix the flour. [step] Bake it.  "),
            "Making a cake. Mix the flour. Bake it.");
  EXPECT_EQ(HellaswagPreprocess("a [x] b [y] c"), "a b c");
  EXPECT_EQ(HellaswagPreprocess("a   b"), "a  b");  // three spaces: one pass leaves two
  EXPECT_EQ(HellaswagPreprocess("a [open\nb] c"), "a [open\nb] c");  // '.' stops at a newline
  EXPECT_EQ(HellaswagPreprocess("unclosed [bracket"), "unclosed [bracket");
  EXPECT_EQ(PythonCapitalize("then, the MAN runs."), "Then, the man runs.");
  EXPECT_EQ(PythonCapitalize("éCOLE"), "École");
  EXPECT_EQ(PythonCapitalize(""), "");
}

TEST(HfTasks, HellaswagContextChoicesAndGold) {
  const std::string jsonl =
      R"({"ind": 24, "activity_label": "Roof shingle removal", "ctx_a": "A man is sitting on a roof.", "ctx_b": "HE", "endings": ["is using wrap to wrap a pair of skis.", "is ripping level tiles off.", "is holding a rubik's cube.", "starts pulling up roofing on a roof."], "label": "3"})"
      "\n"
      R"({"activity_label": "Baking cookies", "ctx_a": "", "ctx_b": "a woman [title] mixes", "endings": ["[header] the dough.", "flour  and eggs."], "label": 0})"
      "\n";
  const auto docs = HellaswagMcDocs(jsonl, "hellaswag.jsonl");
  ASSERT_EQ(docs.size(), 2u);
  EXPECT_EQ(docs[0].id, "24");
  EXPECT_EQ(docs[0].context, "Roof shingle removal: A man is sitting on a roof. He");
  EXPECT_EQ(docs[0].choices[3], "starts pulling up roofing on a roof.");
  EXPECT_EQ(docs[0].gold, 3);
  // ctx_a empty: "Baking cookies:  A woman [title] mixes" → ". " for " [title]", "  " → " ".
  EXPECT_EQ(docs[1].id, "1");
  EXPECT_EQ(docs[1].context, "Baking cookies: A woman. mixes");
  // "[header] the dough.": stripped before the brackets go, so its space stays.
  EXPECT_EQ(docs[1].choices, (std::vector<std::string>{" the dough.", "flour and eggs."}));
  EXPECT_EQ(docs[1].gold, 0);
  const std::string m = ot::testing::ErrorOf([] {
    HellaswagMcDocs(
        R"({"activity_label": "a", "ctx_a": "b", "ctx_b": "c", "endings": ["x", "y"], "label": ""})",
        "hellaswag.jsonl");
  });
  EXPECT_EQ(m,
            "hellaswag.jsonl:1: expected \"label\" to be an index into endings (0..1), got \"\" "
            "(the unlabelled test split cannot be scored)");
}

// The written file is a task file the evaluation reads back unchanged, named by its file name.
TEST(HfTasks, WrittenFileLoadsAsATaskFile) {
  const auto dir = ot::testing::TempDir("hf_tasks");
  WriteFileAtomic(
      dir / "ARC-Easy-validation.jsonl",
      R"({"id": "q1", "question": "Which is a metal?", "choices": {"text": ["iron", "wood"], "label": ["A", "B"]}, "answerKey": "A"})"
      "\n");
  EXPECT_EQ(
      WriteHfTaskFile("arc", dir / "ARC-Easy-validation.jsonl", dir / "out" / "arc_easy.jsonl"),
      1u);
  const McTaskFile file = LoadMcTaskFile(dir / "out" / "arc_easy.jsonl");
  EXPECT_EQ(file.name, "arc_easy");
  ASSERT_EQ(file.docs.size(), 1u);
  EXPECT_EQ(file.docs[0].context, "Question: Which is a metal?\nAnswer:");
  EXPECT_EQ(file.docs[0].choices, (std::vector<std::string>{"iron", "wood"}));
  EXPECT_EQ(file.docs[0].gold, 0);
  EXPECT_EQ(ot::testing::ErrorOf([&] { WriteHfTaskFile("piqa", dir / "x", dir / "y"); }),
            "--format 'piqa': expected arc or hellaswag");
}

}  // namespace
}  // namespace ot::data
