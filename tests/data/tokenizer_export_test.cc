// The exported tokenizer files: they parse with the fields transformers reads, and the exported
// tokenizer.model, loaded by a plain SentencePieceProcessor (what LlamaTokenizer with legacy = true
// calls: sp_model.encode(text)), gives our Tokenizer's ids on text (docs/export.md).
#include "data/tokenizer_export.h"

#include <gtest/gtest.h>
#include <sentencepiece_processor.h>

#include <random>

#include "core/check.h"
#include "data/hf_tokenizer.h"
#include "data/tokenizer.h"
#include "data/tokenizer_fixture.h"
#include "data/util.h"

namespace ot::data {
namespace {

using ot::testing::TempDir;
using testing::SmallSentencePiece;

nlohmann::json ReadJson(const fs::path& p) { return nlohmann::json::parse(ReadFile(p)); }

// Seeded strings over ASCII letters, digits, punctuation, spaces, newlines, tabs and multi-byte
// characters: what Python hands LlamaTokenizer (valid Unicode, no NUL, no U+2581).
std::vector<std::string> RandomTexts(int n) {
  const std::vector<std::string> atoms = {"a",
                                          "e",
                                          "t",
                                          "h",
                                          " ",
                                          " ",
                                          "  ",
                                          "\n",
                                          "\t",
                                          "0",
                                          "7",
                                          ".",
                                          ",",
                                          "'",
                                          "(",
                                          "the",
                                          " state",
                                          "caf\xC3\xA9",
                                          "\xE2\x82\xAC",
                                          "\xF0\x9F\x98\x80",
                                          "\xE4\xB8\xAD",
                                          "Z",
                                          "-",
                                          "\n\n"};
  std::mt19937 rng(7);
  std::vector<std::string> out;
  for (int i = 0; i < n; ++i) {
    std::string s;
    const int len = static_cast<int>(rng() % 40);
    for (int k = 0; k < len; ++k) s += atoms[rng() % atoms.size()];
    out.push_back(s);
  }
  return out;
}

TEST(TokenizerExport, SentencePieceAsLlamaTokenizer) {
  const fs::path data = TempDir("export_sp_data"), out = TempDir("export_sp_out");
  const Tokenizer& ours = SmallSentencePiece();
  WriteFileAtomic(data / kSentencePieceFile, ours.serialized());
  const HfTokenizerExport e = WriteHfTokenizerFiles(data, out, 256);
  EXPECT_EQ(e.kind, "sentencepiece");
  EXPECT_EQ(e.vocab_size, 360);
  EXPECT_EQ(e.bos_id, 1);
  EXPECT_EQ(e.eos_id, 2);
  EXPECT_EQ(e.files, (std::vector<std::string>{"tokenizer.model", "tokenizer_config.json",
                                               "special_tokens_map.json"}));
  EXPECT_EQ(ReadFile(out / "tokenizer.model"), ours.serialized());

  const nlohmann::json config = ReadJson(out / "tokenizer_config.json");
  EXPECT_EQ(config["tokenizer_class"], "LlamaTokenizer");
  EXPECT_EQ(config["add_bos_token"], false);  // our documents carry no <s>
  EXPECT_EQ(config["add_eos_token"], false);
  EXPECT_EQ(config["legacy"], true);             // encode = sp_model.encode(text)
  EXPECT_EQ(config["add_prefix_space"], false);  // no dummy "▁" before the text
  EXPECT_EQ(config["model_max_length"], 256);
  EXPECT_EQ(config["bos_token"], "<s>");
  EXPECT_EQ(config["eos_token"], "</s>");
  EXPECT_EQ(config["unk_token"], "<unk>");
  EXPECT_EQ(config["added_tokens_decoder"]["2"]["content"], "</s>");
  const nlohmann::json special = ReadJson(out / "special_tokens_map.json");
  EXPECT_EQ(special,
            (nlohmann::json{{"bos_token", "<s>"}, {"eos_token", "</s>"}, {"unk_token", "<unk>"}}));

  // The exported model through plain SentencePiece: the special pieces where LlamaTokenizer wants
  // them, the normaliser we trained with, and our ids on every text.
  sentencepiece::SentencePieceProcessor sp;
  ASSERT_TRUE(sp.Load((out / "tokenizer.model").string()).ok());
  EXPECT_EQ(sp.GetPieceSize(), 360);
  EXPECT_EQ(sp.IdToPiece(0), "<unk>");
  EXPECT_EQ(sp.IdToPiece(1), "<s>");
  EXPECT_EQ(sp.IdToPiece(2), "</s>");
  EXPECT_EQ(sp.unk_id(), 0);
  EXPECT_EQ(sp.bos_id(), 1);
  EXPECT_EQ(sp.eos_id(), 2);
  std::vector<std::string> texts = RandomTexts(300);
  for (const auto& t : testing::SampleTexts()) texts.push_back(t);
  texts.push_back(" leading space");
  for (const std::string& text : texts) {
    std::vector<int> ids;
    ASSERT_TRUE(sp.Encode(text, &ids).ok());
    EXPECT_EQ(std::vector<int32_t>(ids.begin(), ids.end()), ours.Encode(text))
        << "'" << text << "'";
    std::string decoded;
    ASSERT_TRUE(sp.Decode(ids, &decoded).ok());
    EXPECT_EQ(decoded, text);
  }
  // The documented difference: U+2581 in the text is SentencePiece's space symbol (it decodes to
  // " "), while our wrapper keeps its three bytes.
  const std::string meta = "a\xE2\x96\x81z";
  std::vector<int> ids;
  ASSERT_TRUE(sp.Encode(meta, &ids).ok());
  std::string decoded;
  ASSERT_TRUE(sp.Decode(ids, &decoded).ok());
  EXPECT_NE(decoded, meta);
  EXPECT_EQ(ours.Decode(ours.Encode(meta)), meta);
}

TEST(TokenizerExport, HuggingFaceJsonAsPreTrainedTokenizerFast) {
  const fs::path shared = testing::SharedTokenizerDir();
  if (shared.empty()) GTEST_SKIP() << "no shared/data/tokenizers folder (set OVERTRAIN_DATA_DIR)";
  const fs::path data = TempDir("export_hf_data"), out = TempDir("export_hf_out");
  const std::string json = ReadMaybeGzip(shared / "allenai_gpt-neox-olmo-dolma-v1_5.json.gz");
  WriteFileAtomic(data / kHfTokenizerFile, json);
  const HfTokenizerExport e = WriteHfTokenizerFiles(data, out, 2048);
  EXPECT_EQ(e.kind, "hf_json");
  EXPECT_EQ(e.vocab_size, 50280);
  EXPECT_EQ(e.bos_id, 50279);
  EXPECT_EQ(e.eos_id, 50279);
  EXPECT_EQ(ReadFile(out / "tokenizer.json"), json);
  const nlohmann::json config = ReadJson(out / "tokenizer_config.json");
  EXPECT_EQ(config["tokenizer_class"], "PreTrainedTokenizerFast");
  EXPECT_EQ(config["eos_token"], "<|endoftext|>");
  EXPECT_EQ(config["model_max_length"], 2048);
  EXPECT_EQ(ReadJson(out / "special_tokens_map.json")["eos_token"], "<|endoftext|>");
  EXPECT_FALSE(fs::exists(out / "tokenizer.model"));
}

TEST(TokenizerExport, RefusesADataDirWithoutATokenizer) {
  const fs::path data = TempDir("export_none"), out = TempDir("export_none_out");
  EXPECT_THROW(WriteHfTokenizerFiles(data, out, 64), Error);
  EXPECT_TRUE(fs::is_empty(out));
}

}  // namespace
}  // namespace ot::data
