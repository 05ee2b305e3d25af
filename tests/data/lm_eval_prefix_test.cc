// lm-eval's prefix token (data/lm_eval_prefix.h): the BOS that tokenizer_config.json declares, else
// the EOS, as lm-eval's HFLM chooses it; data prepare carries tokenizer_config.json along.
#include "data/lm_eval_prefix.h"

#include <gtest/gtest.h>

#include "common/test_util.h"
#include "core/fileio.h"
#include "data/hf_tokenizer.h"
#include "data/prepare.h"
#include "data/tokenizer_fixture.h"

namespace ot::data {
namespace {

using ot::testing::ErrorOf;
using ot::testing::TempDir;

// A data directory holding GPT-2's tokenizer.json and, when given, a tokenizer_config.json.
fs::path Gpt2DirWithConfig(const std::string& config) {
  const fs::path d = TempDir("prefix");
  WriteFileAtomic(d / kHfTokenizerFile,
                  ReadMaybeGzip(testing::SharedTokenizerDir() / "gpt2/tokenizer.json.gz"));
  if (!config.empty()) WriteFileAtomic(d / kHfTokenizerConfigFile, config);
  return d;
}

TEST(LmEvalPrefix, BosWhenTheTokenizerDeclaresOneElseEos) {
  if (testing::SharedTokenizerDir().empty()) GTEST_SKIP() << "no shared/data/tokenizers folder";
  const auto prefix = [](const std::string& config) {
    const fs::path d = Gpt2DirWithConfig(config);
    const auto tok = LoadDataTokenizer(d);
    const int32_t id = LmEvalPrefixToken(d, *tok);
    fs::remove_all(d);
    return id;
  };
  // GPT-2's EOS (and BOS) is <|endoftext|> = 50256; "hello" is vocabulary token 31373.
  EXPECT_EQ(prefix(""), 50256) << "no tokenizer_config.json: the EOS";
  EXPECT_EQ(prefix(R"({"bos_token": null, "eos_token": "<|endoftext|>"})"), 50256);
  EXPECT_EQ(prefix(R"({"bos_token": "<|endoftext|>"})"), 50256);
  // A tokenizer whose BOS differs from its EOS (as Llama's <s> and </s>): the BOS.
  EXPECT_EQ(prefix(R"({"bos_token": "hello"})"), 31373);
  EXPECT_EQ(prefix(R"({"bos_token": {"content": "hello", "special": true}})"), 31373);
}

TEST(LmEvalPrefix, BadConfigsAreOneSentenceNamingTheFile) {
  if (testing::SharedTokenizerDir().empty()) GTEST_SKIP() << "no shared/data/tokenizers folder";
  for (const auto& [config, want] : std::vector<std::pair<std::string, std::string>>{
           {R"({"bos_token": "<nope>"})", "bos_token '<nope>' is not a token of"},
           {R"({"bos_token": 7})", "bos_token is a number; expected a string"},
           {R"({"bos_token": )", "not valid JSON"}}) {
    const fs::path d = Gpt2DirWithConfig(config);
    const auto tok = LoadDataTokenizer(d);
    const std::string e = ErrorOf([&] { LmEvalPrefixToken(d, *tok); });
    EXPECT_NE(e.find((d / kHfTokenizerConfigFile).string() + ": "), std::string::npos) << e;
    EXPECT_NE(e.find(want), std::string::npos) << e;
    fs::remove_all(d);
  }
}

TEST(LmEvalPrefix, PrepareCopiesTheTokenizerConfigAndChecksIt) {
  if (testing::SharedTokenizerDir().empty()) GTEST_SKIP() << "no shared/data/tokenizers folder";
  const fs::path model = Gpt2DirWithConfig(R"({"bos_token": "hello"})");
  DataConfig c;
  c.cache_dir = testing::FakeSotuCache().string();
  c.sources = {"sotu"};
  c.tasks = {};
  c.val_fraction = 0.2;
  c.tokenizer_json = model.string();  // a model directory holding tokenizer.json
  const fs::path out = TempDir("prefix_prepared");
  PrepareData(c, out);
  EXPECT_EQ(ReadFile(out / kHfTokenizerConfigFile), R"({"bos_token": "hello"})");
  EXPECT_EQ(LmEvalPrefixToken(out, *LoadDataTokenizer(out)), 31373);
  // Without one beside the source, a stale copy is removed: the prefix is the EOS again.
  fs::remove(model / kHfTokenizerConfigFile);
  PrepareData(c, out);
  EXPECT_FALSE(fs::exists(out / kHfTokenizerConfigFile));
  EXPECT_EQ(LmEvalPrefixToken(out, *LoadDataTokenizer(out)), 50256);
  // A BOS the tokenizer lacks fails prepare, not the first eval.
  WriteFileAtomic(model / kHfTokenizerConfigFile, R"({"bos_token": "<nope>"})");
  EXPECT_NE(ErrorOf([&] { PrepareData(c, out); }).find("bos_token '<nope>'"), std::string::npos);
  fs::remove_all(model);
  fs::remove_all(out);
}

}  // namespace
}  // namespace ot::data
