// `overtrain data prepare` and `overtrain data stats`: clean → dedupe → split → train the tokenizer
// on the train split (or copy a Hugging Face tokenizer.json) → write token files, the C4 probe and
// the tokenized tasks, plus data.json (tokenizer, counts, timings). Entry points: DataConfig,
// DataConfigSchema, PrepareData, DataStats.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "core/config.h"

namespace ot::data {

struct DataConfig {
  std::string cache_dir;  // "" = $OVERTRAIN_CACHE or ~/.cache/overtrain
  std::string data_dir;   // shared/data folder for the real task files and C4; "" = registry-only
  int vocab_size = 8192;
  int64_t seed = 1234;
  double val_fraction = 0.02;       // general validation share of every source (whole documents)
  double sentiment_fraction = 0.1;  // IMDB share held out for the sentiment task (balanced)
  double task_val_fraction = 0.1;   // validation share of tasks without an official split
  Size chunk_bytes{16384};          // longer documents are split at paragraph breaks
  Size tokenizer_sample_bytes{
      16000000};  // training text for SentencePiece (a seeded document sample)
  // An existing Hugging Face tokenizer.json (or .json.gz, or a model directory holding
  // tokenizer.json) used instead of training one: copied into the data directory as tokenizer.json.
  // "" = train.
  std::string tokenizer_json;
  std::string tokenizer_eod = "<|endoftext|>";  // its end-of-document token (kHfEodToken)
  int64_t max_docs_per_source = 0;              // 0 = all (small test configs)
  Size max_bytes_per_source{0};                 // 0 = all
  int64_t max_task_examples = 0;                // 0 = all, else per split
  std::vector<std::string> sources{"imdb",     "gutenberg", "brown", "sotu",
                                   "fortunes", "devil",     "jargon"};
  std::vector<std::string> tasks{"gsm8k", "code", "siqa", "mr", "rte", "trec", "sentiment", "piqa"};
  // JSON-lines files of {"prompt", "response"} pairs, each tokenized as a task named by its file
  // name (LoadPairTask; docs/tasks.md "Prompt/response files").
  std::vector<std::string> pair_files;
};

// Keys live under [data] in TOML (data.vocab_size, ...).
const ConfigSchema<DataConfig>& DataConfigSchema();

// Runs the whole preparation into `out_dir` (created). `log` (may be null) gets progress lines.
// Throws Error on missing sources (naming `overtrain data fetch`) or bad data.
void PrepareData(const DataConfig& config, const std::filesystem::path& out_dir,
                 void (*log)(const std::string&) = nullptr);

// The human-readable summary of a prepared directory (from data.json, re-checked against the token
// file headers): documents, tokens, bytes/token per source and split; tasks' example and token
// counts.
std::string DataStats(const std::filesystem::path& dir);

}  // namespace ot::data
