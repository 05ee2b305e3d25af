// Fine-tuning tasks and OOD benchmarks as (prompt, target) strings with optional choices; prompt
// formats are written down in docs/tasks.md. Parsers take the original file bytes (shared/data
// formats). Entry points: TaskNames, LoadTask, Parse* (one per format), TaskExample, TaskData.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "data/clean.h"

namespace ot::data {

// One example. The loss covers `target` only (for whole-document tasks the prompt is empty). For
// multiple-choice scoring, `choices` are continuations of `prompt` and `gold` indexes the right
// one; then target == choices[gold].
struct TaskExample {
  std::string prompt, target;
  std::vector<std::string> choices;
  int gold = -1;
};

struct TaskData {
  std::string name;
  std::vector<TaskExample> train, val;
  // For label tasks (mr, rte, trec, sentiment) the fixed label continuations shared by every
  // example (e.g. {" negative", " positive"}); empty when choices vary per example (siqa, piqa) or
  // do not exist.
  std::vector<std::string> labels;
};

// gsm8k, code, siqa, mr, rte, trec (the paper's six, with code = Python stdlib), sentiment
// (held-out IMDB reviews), piqa (OOD multiple choice).
const std::vector<std::string>& TaskNames();

// Loads a task. `data_dir` holds the shared/data folders (gsm8k/, siqa/, mr/, rte/, trec/, piqa/);
// code and sentiment read the fetched cache. Splits: the official train/dev (or test) where one
// exists; MR, code and sentiment are split with the seed, `val_fraction` to validation (code: by
// whole file). `imdb_fraction` is the IMDB share held out for sentiment (must match the prepare
// config).
TaskData LoadTask(const std::string& name, const std::filesystem::path& data_dir,
                  const std::filesystem::path& cache_dir, uint64_t seed, double val_fraction = 0.1,
                  double imdb_fraction = 0.1);

// A fine-tuning task from any JSON-lines file of {"prompt": "...", "response": "..."} pairs
// (docs/tasks.md "Prompt/response files"): prompt and target verbatim, the loss on the response and
// the end-of-document token after it, never on the prompt. The task is named by the file name
// without extensions (PairTaskName); the pairs are split with the seed, `val_fraction` to
// validation. Other keys of a line are ignored; a missing or non-string prompt, or an empty
// response, is an error naming file and line.
std::string PairTaskName(const std::filesystem::path& path);
std::vector<TaskExample> ParsePairs(std::string_view jsonl, const std::string& where);
TaskData LoadPairTask(const std::filesystem::path& path, uint64_t seed, double val_fraction = 0.1);

// Parsers of one file's (decompressed) bytes; `where` names the file in errors. ParseSiqa and
// ParsePiqa format the records of mc_records.h (shared with the lm-eval converters).
std::vector<TaskExample> ParseGsm8k(std::string_view jsonl, const std::string& where);
std::vector<TaskExample> ParseSiqa(std::string_view jsonl, std::string_view labels,
                                   const std::string& where);
std::vector<TaskExample> ParsePiqa(std::string_view jsonl, std::string_view labels,
                                   const std::string& where);
std::vector<TaskExample> ParseRte(std::string_view tsv, const std::string& where);
std::vector<TaskExample> ParseTrec(std::string_view text, const std::string& where);
// MR: one review per line, Latin-1; positives then negatives (label by file).
std::vector<TaskExample> ParseMr(std::string_view pos, std::string_view neg,
                                 const std::string& where);
// Sentiment from labelled reviews (label 0/1), the same format as MR.
std::vector<TaskExample> SentimentExamples(const std::vector<Document>& reviews);
// Code: whole files, empty prompt.
std::vector<TaskExample> CodeExamples(const std::vector<Document>& files);

}  // namespace ot::data
