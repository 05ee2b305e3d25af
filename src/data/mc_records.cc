// The one PIQA / SIQA record parser (see mc_records.h): a format is its field names and label
// range; items and labels are read as non-blank lines with their file line numbers.
#include "data/mc_records.h"

#include <nlohmann/json.hpp>
#include <utility>

#include "core/check.h"
#include "data/util.h"

namespace ot::data {
namespace {

// Where a format's fields are: `context` may be null (PIQA has none); labels are integers in
// [label_lo, label_hi] and gold = label - label_lo.
struct McFormat {
  const char* context;
  const char* question;
  std::vector<const char*> choices;
  int label_lo, label_hi;
};

std::string McAt(const std::string& where, size_t line) {
  return where + ":" + std::to_string(line);
}

std::string McString(const nlohmann::json& j, const char* key, const std::string& at) {
  if (!j.contains(key) || !j[key].is_string())
    throw Error(at + ": expected a string field \"" + key + "\"");
  return j[key].get<std::string>();
}

std::vector<McRecord> ParseMcRecords(const McFormat& format, std::string_view jsonl,
                                     std::string_view labels, const std::string& where) {
  const auto items = NonBlankLines(jsonl, where);
  // The labels first: a misaligned pair of files is reported as such, not as a bad item.
  std::vector<int> gold;
  for (const auto& [number, line] : NonBlankLines(labels, where + " labels")) {
    const std::string_view t = Trim(line);
    if (t.size() != 1 || t[0] < '0' + format.label_lo || t[0] > '0' + format.label_hi)
      throw Error(McAt(where + " labels", number) + ": label '" + std::string(t) + "' is not in " +
                  std::to_string(format.label_lo) + ".." + std::to_string(format.label_hi));
    gold.push_back(t[0] - '0' - format.label_lo);
  }
  if (gold.size() != items.size())
    throw Error(where + ": " + std::to_string(items.size()) + " items but " +
                std::to_string(gold.size()) + " labels; the files must be aligned");
  std::vector<McRecord> out;
  out.reserve(items.size());
  for (size_t i = 0; i < items.size(); ++i) {
    const std::string at = McAt(where, items[i].first);
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(items[i].second);
    } catch (const std::exception& e) {
      throw Error(at + ": expected one JSON object per line (" + e.what() + ")");
    }
    if (!j.is_object())
      throw Error(at + ": expected a JSON object, got " + std::string(j.type_name()));
    McRecord r;
    if (format.context) r.context = McString(j, format.context, at);
    r.question = McString(j, format.question, at);
    for (const char* key : format.choices) r.choices.push_back(McString(j, key, at));
    r.gold = gold[i];
    out.push_back(std::move(r));
  }
  return out;
}

}  // namespace

std::vector<McRecord> ParsePiqaRecords(std::string_view jsonl, std::string_view labels,
                                       const std::string& where) {
  static const McFormat piqa{nullptr, "goal", {"sol1", "sol2"}, 0, 1};
  return ParseMcRecords(piqa, jsonl, labels, where);
}

std::vector<McRecord> ParseSiqaRecords(std::string_view jsonl, std::string_view labels,
                                       const std::string& where) {
  static const McFormat siqa{"context", "question", {"answerA", "answerB", "answerC"}, 1, 3};
  return ParseMcRecords(siqa, jsonl, labels, where);
}

}  // namespace ot::data
