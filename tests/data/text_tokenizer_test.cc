// The TextTokenizer interface over both tokenizers (it answers exactly what the concrete classes
// answer), LoadDataTokenizer's choice and refusals, and `data prepare` with a tokenizer.json.
#include "data/text_tokenizer.h"

#include <gtest/gtest.h>

#include <set>

#include "common/test_util.h"
#include "core/check.h"
#include "data/hf_tokenizer.h"
#include "data/prepare.h"
#include "data/task_tokens.h"
#include "data/token_file.h"
#include "data/tokenizer.h"
#include "data/tokenizer_fixture.h"
#include "data/util.h"

namespace ot::data {
namespace {

using ot::testing::ErrorOf;
using ot::testing::TempDir;
using testing::SharedTokenizerDir;
using testing::SmallSentencePiece;

const std::vector<std::string> kTexts = {"",
                                         "Hello world",
                                         "  two  spaces\n\nand\ttabs",
                                         "caf\xC3\xA9 na\xC3\xAFve 1999 \xE2\x82\xAC",
                                         "The state of the union is strong.",
                                         "<|endoftext|> inside text",
                                         "\xF0\x9F\x98\x80 emoji"};

// Everything the interface says equals what the class says, and TokenBytes spells Decode.
template <typename T>
void ExpectInterfaceEqualsClass(const T& tok) {
  const TextTokenizer& i = tok;
  EXPECT_EQ(i.vocab_size(), tok.vocab_size());
  EXPECT_EQ(i.eod_id(), tok.eod_id());
  for (const std::string& text : kTexts) {
    const std::vector<int32_t> ids = tok.Encode(text);
    EXPECT_EQ(i.Encode(text), ids) << text;
    EXPECT_EQ(i.Decode(ids), tok.Decode(ids)) << text;
    std::string spelled;
    for (int32_t id : ids) spelled += i.TokenBytes(id);
    EXPECT_EQ(spelled, tok.Decode(ids)) << text;
  }
  for (int32_t id = 0; id < tok.vocab_size(); id += 97) {
    const int32_t one[] = {id};
    EXPECT_EQ(i.TokenBytes(id), tok.Decode(one)) << id;
  }
}

TEST(TextTokenizer, SentencePieceThroughTheInterface) {
  const Tokenizer& tok = SmallSentencePiece();
  ExpectInterfaceEqualsClass(tok);
  const TextTokenizer& i = tok;
  EXPECT_STREQ(i.kind(), "sentencepiece");
  EXPECT_STREQ(i.file_name(), "tokenizer.model");
  EXPECT_EQ(i.eod_id(), 2);  // </s>
  // Lossless on any bytes (the byte-level wrapper), invalid UTF-8 and NUL included.
  const std::string bytes("a\xFF\x00\xE2\x96\x81z", 6);
  EXPECT_EQ(i.Decode(i.Encode(bytes)), bytes);
}

TEST(TextTokenizer, HuggingFaceThroughTheInterface) {
  const fs::path dir = SharedTokenizerDir();
  if (dir.empty()) GTEST_SKIP() << "no shared/data/tokenizers folder (set OVERTRAIN_DATA_DIR)";
  // The end-of-text ids of the four families (tokenizer.json added_tokens; shared README).
  const std::vector<std::pair<std::string, int32_t>> files = {
      {"gpt2/tokenizer.json.gz", 50256},
      {"allenai_gpt-neox-olmo-dolma-v1_5.json.gz", 50279},
      {"allenai_eleuther-ai-gpt-neox-20b-pii-special.json.gz", 0},
      {"allenai_dolma2.json.gz", 100257}};
  for (const auto& [file, eod] : files) {
    SCOPED_TRACE(file);
    const HfTokenizer tok = HfTokenizer::Load(dir / file);
    ExpectInterfaceEqualsClass(tok);
    EXPECT_EQ(tok.eod_id(), eod);
    EXPECT_STREQ(static_cast<const TextTokenizer&>(tok).kind(), "hf_json");
    // ByteLevel map: "Ġthe" is the bytes " the"; the added eod token is its own content.
    EXPECT_EQ(tok.TokenBytes(*tok.TokenId("\xC4\xA0the")), " the");
    EXPECT_EQ(tok.TokenBytes(eod), "<|endoftext|>");
  }
  const HfTokenizer no_eod = HfTokenizer::Load(dir / files[0].first, "<|no such token|>");
  EXPECT_EQ(no_eod.eod_id(), -1);
}

// Writes `tok`'s file into a fresh directory as prepare would.
fs::path SentencePieceDataDir() {
  const fs::path d = TempDir("spdir");
  WriteFileAtomic(d / kSentencePieceFile, SmallSentencePiece().serialized());
  return d;
}

fs::path HfDataDir(const std::string& file) {
  const fs::path d = TempDir("hfdir");
  WriteFileAtomic(d / kHfTokenizerFile, ReadMaybeGzip(SharedTokenizerDir() / file));
  return d;
}

TEST(LoadDataTokenizer, OpensWhicheverTheDirectoryHolds) {
  const auto sp = LoadDataTokenizer(SentencePieceDataDir());
  EXPECT_STREQ(sp->kind(), "sentencepiece");
  EXPECT_EQ(sp->Encode("the state"), SmallSentencePiece().Encode("the state"));
  if (SharedTokenizerDir().empty()) GTEST_SKIP() << "no shared/data/tokenizers folder";
  const fs::path hf_dir = HfDataDir("allenai_gpt-neox-olmo-dolma-v1_5.json.gz");
  const auto hf = LoadDataTokenizer(hf_dir);
  EXPECT_STREQ(hf->kind(), "hf_json");
  EXPECT_EQ(hf->eod_id(), 50279);
  // data.json names another eod token: it is used (and checked against the recorded id).
  WriteFileAtomic(
      hf_dir / "data.json",
      nlohmann::json{{"tokenizer", {{"eod_token", "<|padding|>"}, {"eod_id", 1}}}}.dump());
  EXPECT_EQ(LoadDataTokenizer(hf_dir)->eod_id(), 1);
}

TEST(LoadDataTokenizer, RefusesNeitherBothAndMismatches) {
  const fs::path empty = TempDir("empty");
  EXPECT_NE(
      ErrorOf([&] { LoadDataTokenizer(empty); }).find("expected tokenizer.model or tokenizer.json"),
      std::string::npos);
  const fs::path sp_dir = SentencePieceDataDir();
  WriteFileAtomic(sp_dir / "data.json",
                  nlohmann::json{{"tokenizer", {{"vocab_size", 361}}}}.dump());
  EXPECT_NE(
      ErrorOf([&] { LoadDataTokenizer(sp_dir); }).find("vocab_size 360 differs from data.json"),
      std::string::npos);
  WriteFileAtomic(sp_dir / "data.json",
                  nlohmann::json{{"tokenizer", {{"kind", "hf_json"}}}}.dump());
  EXPECT_NE(ErrorOf([&] { LoadDataTokenizer(sp_dir); }).find("tokenizer.kind = \"hf_json\""),
            std::string::npos);
  if (SharedTokenizerDir().empty()) GTEST_SKIP() << "no shared/data/tokenizers folder";
  const fs::path both = HfDataDir("gpt2/tokenizer.json.gz");
  WriteFileAtomic(both / kSentencePieceFile, SmallSentencePiece().serialized());
  EXPECT_NE(ErrorOf([&] { LoadDataTokenizer(both); }).find("holds both"), std::string::npos);
  const fs::path no_eod = HfDataDir("gpt2/tokenizer.json.gz");
  WriteFileAtomic(no_eod / "data.json",
                  nlohmann::json{{"tokenizer", {{"eod_token", "<|missing|>"}}}}.dump());
  EXPECT_NE(
      ErrorOf([&] { LoadDataTokenizer(no_eod); }).find("no end-of-document token '<|missing|>'"),
      std::string::npos);
}

TEST(TaskTokens, TokenizeWithAHuggingFaceTokenizer) {
  if (SharedTokenizerDir().empty()) GTEST_SKIP() << "no shared/data/tokenizers folder";
  const HfTokenizer gpt2 = HfTokenizer::Load(SharedTokenizerDir() / "gpt2/tokenizer.json.gz");
  const std::vector<TaskExample> ex = SentimentExamples({{"the film was good", "a", 1}});
  const TaskSplit s = TokenizeTask("sentiment", "val", ex, {" negative", " positive"}, gpt2);
  EXPECT_EQ(s.vocab_size, 50257);
  EXPECT_EQ(s.eod_id, 50256);
  std::vector<int32_t> want = gpt2.Encode(ex[0].prompt);
  for (int32_t t : gpt2.Encode(ex[0].target)) want.push_back(t);
  want.push_back(50256);
  EXPECT_EQ(s.tokens, want);
  EXPECT_EQ(s.labels[1], gpt2.Encode(" positive"));
}

// prepare over the fake one-source cache; returns the data dir.
fs::path Prepare(const std::string& tokenizer_json, const std::string& eod = kHfEodToken,
                 fs::path out = {}) {
  DataConfig c;
  c.cache_dir = testing::FakeSotuCache().string();
  c.sources = {"sotu"};
  c.tasks = {};
  c.val_fraction = 0.2;
  c.vocab_size = 360;
  c.tokenizer_json = tokenizer_json;
  c.tokenizer_eod = eod;
  if (out.empty()) out = TempDir("prepared");
  PrepareData(c, out);
  return out;
}

// Splits a token stream at `eod` into the decoded documents.
std::multiset<std::string> Documents(const TextTokenizer& tok, const std::vector<int32_t>& stream) {
  std::multiset<std::string> docs;
  std::vector<int32_t> cur;
  for (int32_t t : stream) {
    if (t == tok.eod_id()) {
      docs.insert(tok.Decode(cur));
      cur.clear();
    } else {
      cur.push_back(t);
    }
  }
  EXPECT_TRUE(cur.empty()) << "the stream does not end with the eod token";
  return docs;
}

TEST(PrepareData, WithAHuggingFaceTokenizerJson) {
  const fs::path shared = SharedTokenizerDir();
  if (shared.empty()) GTEST_SKIP() << "no shared/data/tokenizers folder";
  const fs::path out = Prepare((shared / "gpt2/tokenizer.json.gz").string());
  EXPECT_FALSE(fs::exists(out / kSentencePieceFile));
  // The copy is the plain JSON, byte for byte.
  EXPECT_EQ(ReadFile(out / kHfTokenizerFile), ReadMaybeGzip(shared / "gpt2/tokenizer.json.gz"));
  const auto m = nlohmann::json::parse(ReadFile(out / "data.json"));
  EXPECT_EQ(m["tokenizer"]["kind"], "hf_json");
  EXPECT_EQ(m["tokenizer"]["vocab_size"], 50257);
  EXPECT_EQ(m["tokenizer"]["eod_id"], 50256);
  EXPECT_EQ(m["tokenizer"]["token_bytes"], 2);
  const auto tok = LoadDataTokenizer(out);
  std::multiset<std::string> all;
  for (const char* split : {"train", "val"}) {
    const TokenFile f = TokenFile::Open(out / (std::string("general.") + split + ".tok"));
    EXPECT_EQ(f.info().vocab_size, 50257u);
    EXPECT_EQ(f.info().eod_id, 50256);
    EXPECT_EQ(f.info().dtype_bytes, 2u);
    for (const auto& d : Documents(*tok, f.ReadAll())) all.insert(d);
  }
  // Every document, tokenized by GPT-2 and decoded back, once.
  const auto texts = testing::SampleTexts();
  EXPECT_EQ(all, std::multiset<std::string>(texts.begin(), texts.end()));
  EXPECT_NE(DataStats(out).find("tokenizer.json from"), std::string::npos);

  // Re-preparing the same directory with SentencePiece leaves only tokenizer.model.
  Prepare("", kHfEodToken, out);
  EXPECT_FALSE(fs::exists(out / kHfTokenizerFile));
  EXPECT_STREQ(LoadDataTokenizer(out)->kind(), "sentencepiece");
  EXPECT_EQ(TokenFile::Open(out / "general.train.tok").info().vocab_size, 360u);
}

TEST(PrepareData, TokenizerJsonAboveUint16GetsUint32Ids) {
  const fs::path shared = SharedTokenizerDir();
  if (shared.empty()) GTEST_SKIP() << "no shared/data/tokenizers folder";
  const fs::path out = Prepare((shared / "allenai_dolma2.json.gz").string());
  const TokenFile f = TokenFile::Open(out / "general.train.tok");
  EXPECT_EQ(f.info().vocab_size, 100278u);
  EXPECT_EQ(f.info().dtype_bytes, 4u);
  EXPECT_EQ(f.info().eod_id, 100257);
}

TEST(PrepareData, TokenizerJsonErrorsNameTheKey) {
  EXPECT_NE(ErrorOf([] {
              Prepare("/nonexistent/model");
            }).find("data.tokenizer_json = '/nonexistent/model'"),
            std::string::npos);
  const fs::path shared = SharedTokenizerDir();
  if (shared.empty()) GTEST_SKIP() << "no shared/data/tokenizers folder";
  // A model directory holding tokenizer.json is accepted; an eod token it lacks is refused.
  const fs::path model_dir = HfDataDir("gpt2/tokenizer.json.gz");
  const std::string e = ErrorOf([&] { Prepare(model_dir.string(), "<|missing|>"); });
  EXPECT_NE(e.find("data.tokenizer_eod = '<|missing|>'"), std::string::npos) << e;
  EXPECT_NE(e.find(model_dir.string()), std::string::npos) << e;
}

}  // namespace
}  // namespace ot::data
