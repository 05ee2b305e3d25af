// `overtrain data tokenize`'s logic (data/tokenize_text.h): ids per document with either tokenizer
// kind, and a token file whose stream is the documents each followed by the end-of-document token.
#include "data/tokenize_text.h"

#include <gtest/gtest.h>

#include "common/test_util.h"
#include "core/fileio.h"
#include "data/tokenizer_fixture.h"

namespace ot::data {
namespace {

void ExpectDocumentsRoundTrip(const fs::path& dir) {
  const auto tok = LoadDataTokenizer(dir);
  const std::vector<std::string> docs = {"the state of the union", "", "We shall meet again."};
  const auto ids = EncodeDocuments(*tok, docs);
  ASSERT_EQ(ids.size(), docs.size());
  std::vector<int32_t> want;
  for (size_t i = 0; i < docs.size(); ++i) {
    EXPECT_EQ(ids[i], tok->Encode(docs[i])) << i;
    EXPECT_EQ(tok->Decode(ids[i]), docs[i]) << i;
    want.insert(want.end(), ids[i].begin(), ids[i].end());
    want.push_back(tok->eod_id());
  }
  const fs::path out = dir / "docs.tok";
  const TokenFileInfo info = WriteDocumentsTokenFile(*tok, docs, out);
  EXPECT_EQ(info.documents, docs.size());
  EXPECT_EQ(info.eod_id, tok->eod_id());
  EXPECT_EQ(info.vocab_size, static_cast<uint32_t>(tok->vocab_size()));
  const TokenFile file = TokenFile::Open(out);
  std::vector<int32_t> got(file.size());
  file.Read(0, got);
  EXPECT_EQ(got, want);
}

TEST(TokenizeText, EitherTokenizerKindGivesIdsAndATokenFile) {
  const fs::path sp = ot::testing::TempDir("tokenize_sp");
  WriteFileAtomic(sp / kSentencePieceFile, testing::SmallSentencePiece().serialized());
  ExpectDocumentsRoundTrip(sp);
  fs::remove_all(sp);
  if (testing::SharedTokenizerDir().empty()) GTEST_SKIP() << "no shared/data/tokenizers folder";
  const fs::path hf = ot::testing::TempDir("tokenize_hf");
  WriteFileAtomic(hf / kHfTokenizerFile,
                  ReadMaybeGzip(testing::SharedTokenizerDir() / "gpt2/tokenizer.json.gz"));
  ExpectDocumentsRoundTrip(hf);
  fs::remove_all(hf);
}

}  // namespace
}  // namespace ot::data
