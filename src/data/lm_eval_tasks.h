// Benchmark files in lm-evaluation-harness form (docs/lm_eval.md): a multiple-choice task file
// (JSONL of
// {"context", "choices", "gold", "id"?}) and a rolling-log-likelihood (perplexity) text file, plus
// the converters that write PIQA / SIQA task files in lm-eval's prompt formats and the text
// measures lm-eval normalises by. Entry points: ParseMcTaskFile, LoadMcTaskFile,
// LoadRollingTaskFile, McDocJson, PiqaMcDocs, SiqaMcDocs, WriteMcTaskFiles, Utf8Chars, CountWords,
// RstripPython.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

namespace ot::data {

// One multiple-choice document. lm-eval scores choice i as the continuation target_delimiter +
// choices[i] of `context` (the doc_to_text string); `gold` indexes the right choice.
struct McDoc {
  std::string id;  // the file's "id" (a string, or an integer in decimal); else the document index
  std::string context;
  std::vector<std::string> choices;
  int gold = -1;
};

struct McTaskFile {
  std::string name;  // the file name without its extensions: "piqa" for piqa.jsonl(.gz)
  std::string path;  // as given
  std::vector<McDoc> docs;
};

// Parses a task file's (decompressed) bytes. Every non-blank line must be an object with a string
// "context" (may be empty), an array "choices" of >= 2 non-empty strings, an integer "gold" in
// [0, choices), and optionally "id" (string or integer); unknown keys are errors. Errors name
// `where`:line and the field. At least one document.
std::vector<McDoc> ParseMcTaskFile(std::string_view jsonl, const std::string& where);
McTaskFile LoadMcTaskFile(const std::filesystem::path& path);  // plain or gzip

// One line of a task file (keys context, choices, gold, id), the inverse of ParseMcTaskFile.
nlohmann::json McDocJson(const McDoc& doc);

// A rolling-log-likelihood task: documents scored whole. A .jsonl file holds one document per line
// as
// {"text": str}; any other file is one document (its whole UTF-8 text, byte for byte).
struct RollingTaskFile {
  std::string name, path;
  std::vector<std::string> docs;
};
RollingTaskFile LoadRollingTaskFile(const std::filesystem::path& path);

// PIQA / SIQA (shared/data formats, records parsed by mc_records.h) in lm-eval's prompts, fields
// verbatim (lm-eval does not trim):
//   piqa:       context "Question: {goal}\nAnswer:", choices [sol1, sol2], gold = label
//   social_iqa: context "Q: {context} {question}\nA:", choices [answerA, answerB, answerC], gold =
//   label-1
std::vector<McDoc> PiqaMcDocs(std::string_view jsonl, std::string_view labels,
                              const std::string& where);
std::vector<McDoc> SiqaMcDocs(std::string_view jsonl, std::string_view labels,
                              const std::string& where);

// `overtrain data mc-tasks`: writes <out>/piqa.jsonl (piqa/valid) and <out>/siqa.jsonl (siqa/dev)
// from the shared/data folders in `data_dir`; returns the written paths. `log` gets one line per
// file.
std::vector<std::filesystem::path> WriteMcTaskFiles(
    const std::filesystem::path& data_dir, const std::filesystem::path& out,
    const std::function<void(const std::string&)>& log);

// Python's len(str) of UTF-8 text: the number of code points (lm-eval's acc_norm length). Throws
// Error on invalid UTF-8.
int64_t Utf8Chars(std::string_view text);
// lm-eval's count_words: len(re.split(r"\s+", text)), i.e. 1 + the number of maximal runs of
// Unicode whitespace (str.isspace) — leading and trailing runs count, so "" is 1 word and " a "
// is 3.
int64_t CountWords(std::string_view text);
// Python's str.rstrip(): `text` without its trailing run of Unicode whitespace (str.isspace).
std::string_view RstripPython(std::string_view text);
// Python's str.strip(): both runs of Unicode whitespace removed.
std::string_view StripPython(std::string_view text);

}  // namespace ot::data
