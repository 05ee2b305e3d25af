// Shared fixtures of the tokenizer tests (data and train layers): the shared/data/tokenizers
// folder, a small SentencePiece model trained once, and a fake fetched cache with
// one general source ("sotu": plain .txt files) so that PrepareData runs in a second.
#pragma once

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/test_util.h"
#include "core/fileio.h"
#include "data/tokenizer.h"

namespace ot::data::testing {

namespace fs = std::filesystem;

inline fs::path SharedTokenizerDir() {
  std::vector<fs::path> candidates;
  if (const char* d = std::getenv("OVERTRAIN_DATA_DIR"); d && *d) candidates.push_back(d);
  if (const char* src = std::getenv("OVERTRAIN_SOURCE_DIR"); src && *src)
    candidates.push_back(fs::path(src) / ".." / "shared" / "data");
  candidates.push_back("/work/shared/data");
  for (const auto& c : candidates)
    if (fs::exists(c / "tokenizers" / "gpt2" / "tokenizer.json.gz")) return c / "tokenizers";
  return {};
}

// Plain English with digits, punctuation, newlines and a few non-ASCII letters.
inline std::vector<std::string> SampleTexts() {
  std::vector<std::string> texts;
  for (int i = 0; i < 30; ++i)
    texts.push_back("Address number " + std::to_string(i) +
                    ": the state of the union is strong, and the people's caf\xC3\xA9 is open.\n"
                    "We shall meet again in " +
                    std::to_string(1900 + 3 * i) +
                    "; na\xC3\xAFve hopes aside, the work goes on.\n\nThank you.");
  return texts;
}

// SentencePiece BPE of vocabulary 360 on SampleTexts, trained once (259 reserved ids, 43 characters
// SentencePiece requires as pieces, 58 merges).
inline const Tokenizer& SmallSentencePiece() {
  static const Tokenizer tok = [] {
    static const std::vector<std::string> texts = SampleTexts();
    const std::vector<std::string_view> v(texts.begin(), texts.end());
    TokenizerOptions o;
    o.vocab_size = 360;
    o.num_threads = 1;
    return Tokenizer::FromModel(TrainTokenizer(v, o), "tokenizer-fixture");
  }();
  return tok;
}

// A cache dir as `overtrain data fetch` leaves it, holding only the "sotu" source (one document
// per SampleTexts entry).
inline fs::path FakeSotuCache() {
  const fs::path cache = ot::testing::TempDir("tok_cache");
  const fs::path src = cache / "data" / "sotu";
  fs::create_directories(src / "package" / "data");
  nlohmann::json files = nlohmann::json::object();
  const auto texts = SampleTexts();
  for (size_t i = 0; i < texts.size(); ++i) {
    const std::string rel = "package/data/speech" + std::to_string(100 + i) + ".txt";
    WriteFileAtomic(src / rel, texts[i]);
    files[rel] = texts[i].size();
  }
  WriteFileAtomic(src / "DONE.json", nlohmann::json{{"files", files}}.dump());
  return cache;
}

}  // namespace ot::data::testing
