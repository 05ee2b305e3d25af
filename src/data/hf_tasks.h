// ARC and HellaSwag as their published Hugging Face dataset files hold them (JSON lines, one record
// per line, as `datasets` exports them: ai2_arc's id / question / choices {text, label} /
// answerKey; hellaswag's ind / activity_label / ctx_a / ctx_b / endings / label), turned into
// lm-eval task files with lm-eval's prompts (docs/lm_eval.md). Entry points: HfTaskFormats,
// ArcMcDocs, HellaswagMcDocs, HellaswagPreprocess, PythonCapitalize, WriteHfTaskFile.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "data/lm_eval_tasks.h"

namespace ot::data {

// "arc" (ARC-Easy and ARC-Challenge), "hellaswag".
const std::vector<std::string>& HfTaskFormats();

// ai2_arc: context "Question: {question}\nAnswer:", choices choices.text, gold
// choices.label.index(answerKey). Fields verbatim. `where` names the file in errors
// ("<where>:<line>: ...").
std::vector<McDoc> ArcMcDocs(std::string_view jsonl, const std::string& where);
// hellaswag: context preprocess(activity_label + ": " + ctx_a + " " + capitalize(ctx_b)), choices
// [preprocess(e) for e in endings], gold int(label) (a string or an integer in [0, |endings|)).
std::vector<McDoc> HellaswagMcDocs(std::string_view jsonl, const std::string& where);

// lm-eval's hellaswag preprocess: strip(), " [title]" → ". ", every "[...]" removed (non-greedy,
// not across a newline, as Python's re "\[.*?\]"), then "  " → " " (one pass, left to right).
std::string HellaswagPreprocess(std::string_view text);
// Python's str.capitalize(): the first code point in title case, the rest lower case (ICU's simple
// case mappings; Python's full mappings differ only for a few characters such as 'İ').
std::string PythonCapitalize(std::string_view text);

// `overtrain data hf-tasks`: reads `in` (JSON lines, plain or gzip) in `format`, writes the task
// file `out` (its name without extensions names the task); returns the number of documents.
size_t WriteHfTaskFile(const std::string& format, const std::filesystem::path& in,
                       const std::filesystem::path& out);

}  // namespace ot::data
