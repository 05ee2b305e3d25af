// Hugging Face ARC / HellaSwag records → lm-eval task files (hf_tasks.h).
#include "data/hf_tasks.h"

#include <unicode/uchar.h>
#include <unicode/utf8.h>

#include <nlohmann/json.hpp>

#include "core/check.h"
#include "core/fileio.h"
#include "data/util.h"

namespace ot::data {
namespace {

std::string HfAt(const std::string& where, size_t line) {
  return where + ":" + std::to_string(line);
}

// The records of a JSON-lines file with their line numbers; a line that is not an object is an
// error naming it.
std::vector<std::pair<size_t, nlohmann::json>> HfRecords(std::string_view jsonl,
                                                         const std::string& where) {
  std::vector<std::pair<size_t, nlohmann::json>> out;
  for (const auto& [number, line] : NonBlankLines(jsonl, where)) {
    nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_discarded() || !j.is_object())
      throw Error(HfAt(where, number) + ": expected one JSON object per line");
    out.emplace_back(number, std::move(j));
  }
  if (out.empty()) throw Error(where + ": no records");
  return out;
}

std::string HfStr(const nlohmann::json& j, const char* key, const std::string& at) {
  if (!j.contains(key) || !j[key].is_string())
    throw Error(at + ": expected a string field \"" + key + "\"");
  return j[key].get<std::string>();
}

std::vector<std::string> HfStrings(const nlohmann::json& j, const char* what,
                                   const std::string& at) {
  std::vector<std::string> out;
  if (j.is_array())
    for (const auto& v : j) {
      if (!v.is_string()) break;
      out.push_back(v.get<std::string>());
    }
  if (!j.is_array() || out.size() != j.size() || out.size() < 2)
    throw Error(at + ": expected \"" + what + "\" to be an array of at least 2 strings");
  return out;
}

std::string HfId(const nlohmann::json& j, const char* key, size_t index) {
  if (j.contains(key) && j[key].is_string()) return j[key].get<std::string>();
  if (j.contains(key) && j[key].is_number_integer()) return std::to_string(j[key].get<int64_t>());
  return std::to_string(index);
}

}  // namespace

const std::vector<std::string>& HfTaskFormats() {
  static const std::vector<std::string> formats = {"arc", "hellaswag"};
  return formats;
}

std::vector<McDoc> ArcMcDocs(std::string_view jsonl, const std::string& where) {
  std::vector<McDoc> out;
  for (const auto& [number, j] : HfRecords(jsonl, where)) {
    const std::string at = HfAt(where, number);
    if (!j.contains("choices") || !j["choices"].is_object())
      throw Error(at + ": expected an object field \"choices\" with \"text\" and \"label\"");
    const auto text = HfStrings(j["choices"].value("text", nlohmann::json()), "choices.text", at);
    const auto labels =
        HfStrings(j["choices"].value("label", nlohmann::json()), "choices.label", at);
    if (labels.size() != text.size())
      throw Error(at + ": \"choices.text\" and \"choices.label\" differ in length");
    const std::string key = HfStr(j, "answerKey", at);
    int gold = -1;
    for (size_t i = 0; i < labels.size(); ++i)
      if (labels[i] == key) gold = static_cast<int>(i);
    if (gold < 0) throw Error(at + ": answerKey '" + key + "' is not one of choices.label");
    out.push_back({HfId(j, "id", out.size()),
                   "Question: " + HfStr(j, "question", at) + "\nAnswer:", text, gold});
  }
  return out;
}

std::string PythonCapitalize(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  const auto* s = reinterpret_cast<const uint8_t*>(text.data());
  const int32_t n = static_cast<int32_t>(text.size());
  for (int32_t i = 0, k = 0; i < n; ++k) {
    UChar32 c = 0;
    U8_NEXT(s, i, n, c);
    if (c < 0) throw Error("text is not valid UTF-8 at byte " + std::to_string(i - 1));
    c = k == 0 ? u_totitle(c) : u_tolower(c);
    uint8_t buf[4];
    int32_t len = 0;
    UBool error = false;
    U8_APPEND(buf, len, 4, c, error);
    OT_CHECK(!error) << "case mapping gave no code point for U+" << c;
    out.append(reinterpret_cast<const char*>(buf), len);
  }
  return out;
}

std::string HellaswagPreprocess(std::string_view text) {
  const std::string stripped(StripPython(text));
  std::string titled;  // " [title]" → ". "
  for (size_t i = 0; i < stripped.size();) {
    if (stripped.compare(i, 8, " [title]") == 0) {
      titled += ". ";
      i += 8;
    } else {
      titled += stripped[i++];
    }
  }
  std::string bare;  // re.sub("\\[.*?\\]", "", ...): '.' does not match a newline
  for (size_t i = 0; i < titled.size();) {
    if (titled[i] == '[') {
      const size_t close = titled.find_first_of("]\n", i + 1);
      if (close != std::string::npos && titled[close] == ']') {
        i = close + 1;
        continue;
      }
    }
    bare += titled[i++];
  }
  std::string out;  // str.replace("  ", " ")
  for (size_t i = 0; i < bare.size();) {
    if (bare.compare(i, 2, "  ") == 0) {
      out += ' ';
      i += 2;
    } else {
      out += bare[i++];
    }
  }
  return out;
}

std::vector<McDoc> HellaswagMcDocs(std::string_view jsonl, const std::string& where) {
  std::vector<McDoc> out;
  for (const auto& [number, j] : HfRecords(jsonl, where)) {
    const std::string at = HfAt(where, number);
    const std::vector<std::string> endings =
        HfStrings(j.value("endings", nlohmann::json()), "endings", at);
    int64_t gold = -1;
    const nlohmann::json label = j.value("label", nlohmann::json());
    if (label.is_number_integer()) {
      gold = label.get<int64_t>();
    } else if (label.is_string()) {
      const std::string l = label.get<std::string>();
      if (!l.empty() && l.size() < 10 && l.find_first_not_of("0123456789") == std::string::npos)
        gold = std::stoll(l);
    }
    if (gold < 0 || gold >= static_cast<int64_t>(endings.size()))
      throw Error(at + ": expected \"label\" to be an index into endings (0.." +
                  std::to_string(endings.size() - 1) + "), got " + label.dump() +
                  " (the unlabelled test split cannot be scored)");
    const std::string ctx = HfStr(j, "ctx_a", at) + " " + PythonCapitalize(HfStr(j, "ctx_b", at));
    McDoc doc{HfId(j, "ind", out.size()),
              HellaswagPreprocess(HfStr(j, "activity_label", at) + ": " + ctx),
              {},
              static_cast<int>(gold)};
    for (const auto& e : endings) doc.choices.push_back(HellaswagPreprocess(e));
    out.push_back(std::move(doc));
  }
  return out;
}

size_t WriteHfTaskFile(const std::string& format, const std::filesystem::path& in,
                       const std::filesystem::path& out) {
  if (format != "arc" && format != "hellaswag")
    throw Error("--format '" + format + "': expected arc or hellaswag");
  const std::string text = ReadMaybeGzip(in);
  const std::vector<McDoc> docs =
      format == "arc" ? ArcMcDocs(text, in.string()) : HellaswagMcDocs(text, in.string());
  std::string lines;
  for (const auto& d : docs) lines += McDocJson(d).dump() + "\n";
  if (out.has_parent_path()) std::filesystem::create_directories(out.parent_path());
  WriteFileAtomic(out, lines);
  return docs.size();
}

}  // namespace ot::data
