// checkpoints.series (ResolveSeries): every entry must hold the tokenizer the data is prepared
// with, which is entry 1's.
#include <gtest/gtest.h>

#include <filesystem>

#include "common/test_util.h"
#include "core/fileio.h"
#include "model/hf_config.h"
#include "study/planner.h"
#include "study/study_config.h"

namespace ot {
namespace {

namespace fs = std::filesystem;

// A study over `tokenizers.size()` Hugging Face directories, entry k holding tokenizers[k] as its
// tokenizer.json ("" = none).
StudyConfig SeriesOf(const std::vector<std::string>& tokenizers) {
  const fs::path root = ot::testing::TempDir("series");
  ModelConfig m;
  m.d_model = 32;
  m.n_layers = 2;
  m.n_heads = 4;
  m.n_kv_heads = 2;
  m.max_seq_len = 4096;
  nlohmann::json config = HfConfigJson(m);
  config.erase("overtrain");
  StudyConfig c;
  for (size_t k = 0; k < tokenizers.size(); ++k) {
    const fs::path dir = root / ("ck" + std::to_string(k));
    fs::create_directories(dir);
    WriteFileAtomic(dir / "config.json", config.dump(2));
    if (!tokenizers[k].empty()) WriteFileAtomic(dir / "tokenizer.json", tokenizers[k]);
    c.checkpoints.series.entries.push_back({dir.string(), Size{int64_t(1000000) << k}});
  }
  return c;
}

TEST(Series, EveryEntryHoldsTheFirstEntrysTokenizer) {
  const std::string a = R"({"model": "a"})", b = R"({"model": "b"})";
  const StudyConfig same = SeriesOf({a, a, a});
  const StudyConfig resolved = ResolveSeries(same);
  ASSERT_FALSE(resolved.data.set.empty());
  EXPECT_NE(resolved.data.set.back().find("ck0/tokenizer.json"), std::string::npos)
      << resolved.data.set.back();

  const StudyConfig other = SeriesOf({a, a, b});
  std::string m = ot::testing::ErrorOf([&] { ResolveSeries(other); });
  EXPECT_NE(m.find("checkpoints.series entry 3 ('" + other.checkpoints.series.entries[2].dir +
                   "'): its tokenizer " + other.checkpoints.series.entries[2].dir +
                   "/tokenizer.json differs from entry 1's " +
                   other.checkpoints.series.entries[0].dir + "/tokenizer.json"),
            std::string::npos)
      << m;

  const StudyConfig missing = SeriesOf({a, ""});
  m = ot::testing::ErrorOf([&] { ResolveSeries(missing); });
  EXPECT_NE(m.find("checkpoints.series entry 2 ('" + missing.checkpoints.series.entries[1].dir +
                   "'): no tokenizer.json"),
            std::string::npos)
      << m;
}

}  // namespace
}  // namespace ot
