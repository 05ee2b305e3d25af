// PIQA and SIQA as the shared/data files hold them (<split>.jsonl.gz with one item per line, plus
// <split>-labels.lst.gz with one label per line), parsed and validated once for both readers: the
// fine-tuning tasks (tasks.h, ParsePiqa/ParseSiqa) and the lm-eval task files (lm_eval_tasks.h,
// PiqaMcDocs/SiqaMcDocs), which only format prompts. Entry points: McRecord, ParsePiqaRecords,
// ParseSiqaRecords.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace ot::data {

// One multiple-choice item, every field verbatim from the file (untrimmed: lm-eval reads them as
// they are; the fine-tuning prompts trim).
struct McRecord {
  std::string context;               // SIQA "context"; empty for PIQA
  std::string question;              // SIQA "question", PIQA "goal"
  std::vector<std::string> choices;  // PIQA [sol1, sol2]; SIQA [answerA, answerB, answerC]
  int gold = -1;                     // index into choices: PIQA's label (0..1), SIQA's label - 1
};

// Parses one split from its (decompressed) item and label bytes; `where` names the item file in
// errors ("<where>:<line>: ..." and "<where> labels:<line>: ...", line numbers of the file, blank
// lines counted). Throws Error with one sentence on a line that is not a JSON object, a missing or
// non-string field, a label outside the format's range, or item and label counts that differ.
std::vector<McRecord> ParsePiqaRecords(std::string_view jsonl, std::string_view labels,
                                       const std::string& where);
std::vector<McRecord> ParseSiqaRecords(std::string_view jsonl, std::string_view labels,
                                       const std::string& where);

}  // namespace ot::data
