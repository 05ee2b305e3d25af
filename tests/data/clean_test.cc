// Each cleaner on small fixtures shaped like the real sources, dedupe, and the whole-document
// split.
#include "data/clean.h"

#include <gtest/gtest.h>

#include <set>

#include "core/check.h"

namespace ot::data {
namespace {

TEST(Clean, ImdbReplacesBreaksAndKeepsLabels) {
  const std::string json =
      R"([{"t":"Great film.<br /><br />Loved it.","s":1},{"t":"Bad.<BR/>Awful<br>end","s":0},)"
      R"({"t":"  ","s":1}])";
  const auto docs = ParseImdb(json, "reviews.json");
  ASSERT_EQ(docs.size(), 2u);  // the blank review is dropped
  EXPECT_EQ(docs[0].text, "Great film.  Loved it.");
  EXPECT_EQ(docs[0].label, 1);
  EXPECT_EQ(docs[1].text, "Bad. Awful end");
  EXPECT_EQ(docs[1].label, 0);
  EXPECT_THROW(ParseImdb(R"([{"t":"x","s":2}])", "r.json"), Error);
  EXPECT_THROW(ParseImdb(R"({"t":"x"})", "r.json"), Error);
  EXPECT_THROW(ParseImdb("[{", "r.json"), Error);
}

TEST(Clean, GutenbergDropsBibleDecodesLatin1AndCrlf) {
  EXPECT_EQ(CleanGutenberg("bible-kjv.txt", "In the beginning"), "");
  EXPECT_EQ(CleanGutenberg("shakespeare-caesar.txt",
                           "[The Tragedie of Julius C\xe6sar]\r\n\r\nActus Primus.\r\n"),
            "[The Tragedie of Julius C\xc3\xa6sar]\n\nActus Primus.");
  EXPECT_EQ(CleanGutenberg("austen-emma.txt", "Emma Woodhouse\n"), "Emma Woodhouse");
}

TEST(Clean, ChunkTextCutsAtParagraphs) {
  std::string text;
  for (int i = 0; i < 10; ++i)
    text += "Paragraph " + std::to_string(i) + " " + std::string(80, 'x') + ".\n\n";
  const auto chunks = ChunkText(text, 300);
  ASSERT_GT(chunks.size(), 3u);
  std::string joined;
  for (const auto& c : chunks) {
    EXPECT_LE(c.size(), 300u);
    EXPECT_TRUE(c.starts_with("Paragraph ")) << c;
    joined += c + "\n\n";
  }
  EXPECT_EQ(joined, text);  // nothing lost, cuts only at blank lines
  EXPECT_EQ(ChunkText("short", 300), std::vector<std::string>{"short"});
  // A long paragraph without breaks is still cut, never inside a UTF-8 sequence.
  std::string long_line;
  for (int i = 0; i < 200; ++i) long_line += "\xc3\xa9";
  for (const auto& c : ChunkText(long_line, 101)) EXPECT_EQ(c.size() % 2, 0u);
}

TEST(Clean, BrownDropsTagsAndMapsQuotes) {
  const std::string raw =
      "\n\n\tThe/at Fulton/np-tl County/nn-tl said/vbd ``/`` no/at evidence/nn ''/'' ./.\n\n\n"
      "\tIt/pps cost/vbd 1/2/cd-hl dollars/nns ./.\n";
  EXPECT_EQ(CleanBrown(raw), "The Fulton County said \" no evidence \" .\nIt cost 1/2 dollars .");
}

TEST(Clean, FortunesSplitOnPercentLines) {
  const std::string raw = "%\nFirst fortune\n\t-- Someone\n%\n\n%\nSecond 100% sure\n%\n";
  const auto f = SplitFortunes(raw);
  ASSERT_EQ(f.size(), 2u);
  EXPECT_EQ(f[0], "First fortune\n\t-- Someone");
  EXPECT_EQ(f[1], "Second 100% sure");
}

TEST(Clean, DictdUsesTheIndexAndSkipsMetadata) {
  EXPECT_EQ(DictdNumber("A"), 0u);
  EXPECT_EQ(DictdNumber("BA"), 64u);
  EXPECT_EQ(DictdNumber("Ph"), 15u * 64 + 33);
  const std::string dict =
      "00-database-info\nThe preface\nABSENT, adj. Peculiarly exposed.\nACCIDENT, n. An "
      "inevitable occurrence.\n";
  // Offsets: info 0..28, ABSENT at 29 (len 33), ACCIDENT at 62 (len 39).
  const std::string index = "00-database-info\tA\tc\nabsent\td\th\naccident\t+\tn\n";
  const auto e = ParseDictd(index, dict, "devil.dict.dz");
  ASSERT_EQ(e.size(), 2u);
  EXPECT_EQ(e[0], "ABSENT, adj. Peculiarly exposed.");
  EXPECT_EQ(e[1], "ACCIDENT, n. An inevitable occurrence.");
  EXPECT_THROW(ParseDictd("x\tA\tzz\n", dict, "d.dict.dz"), Error);  // past the end
  EXPECT_THROW(ParseDictd("x\tA\n", dict, "d.dict.dz"), Error);      // 2 fields
}

TEST(Clean, DedupeKeepsFirst) {
  std::vector<Document> docs = {{"a", "1"}, {"b", "2"}, {"a", "3"}, {"c", "4"}, {"b", "5"}};
  EXPECT_EQ(Dedupe(docs), 2u);
  ASSERT_EQ(docs.size(), 3u);
  EXPECT_EQ(docs[0].id, "1");
  EXPECT_EQ(docs[1].id, "2");
  EXPECT_EQ(docs[2].id, "4");
}

TEST(Clean, SplitIsByWholeDocumentAndDeterministic) {
  std::vector<Document> docs;
  for (int i = 0; i < 1000; ++i) docs.push_back({"doc " + std::to_string(i), std::to_string(i)});
  std::vector<Document> tr1, va1, tr2, va2, tr3, va3;
  SplitByDocument(docs, 0.02, 42, "imdb", tr1, va1);
  SplitByDocument(docs, 0.02, 42, "imdb", tr2, va2);
  SplitByDocument(docs, 0.02, 43, "imdb", tr3, va3);
  EXPECT_EQ(va1.size(), 20u);
  EXPECT_EQ(tr1.size(), 980u);
  std::set<std::string> train_ids, val_ids;
  for (const auto& d : tr1) train_ids.insert(d.id);
  for (const auto& d : va1) {
    val_ids.insert(d.id);
    EXPECT_EQ(train_ids.count(d.id), 0u) << "document " << d.id << " in both splits";
  }
  EXPECT_EQ(train_ids.size() + val_ids.size(), 1000u);
  ASSERT_EQ(va2.size(), va1.size());
  for (size_t i = 0; i < va1.size(); ++i) EXPECT_EQ(va1[i].id, va2[i].id);
  bool differs = false;
  for (size_t i = 0; i < va1.size(); ++i) differs |= va1[i].id != va3[i].id;
  EXPECT_TRUE(differs) << "another seed should pick other documents";
  // Tiny sources still get one validation document.
  std::vector<Document> few = {{"x", "x"}, {"y", "y"}, {"z", "z"}};
  SplitByDocument(few, 0.02, 1, "s", tr1, va1);
  EXPECT_EQ(va1.size(), 1u);
  EXPECT_EQ(tr1.size(), 2u);
}

}  // namespace
}  // namespace ot::data
