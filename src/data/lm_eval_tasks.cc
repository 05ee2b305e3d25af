// lm-eval task files: the multiple-choice JSONL parser, the rolling text loader, PIQA / SIQA
// converters and lm-eval's text measures (characters, words).
#include "data/lm_eval_tasks.h"

#include "core/check.h"
#include "core/fileio.h"
#include "data/mc_records.h"
#include "data/util.h"

namespace ot::data {
namespace {

namespace fs = std::filesystem;

std::string At(const std::string& where, size_t line) { return where + ":" + std::to_string(line); }

nlohmann::json ParseObject(std::string_view line, const std::string& at) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(line);
  } catch (const std::exception& e) {
    throw Error(at + ": expected one JSON object per line (" + e.what() + ")");
  }
  if (!j.is_object())
    throw Error(at + ": expected a JSON object, got " + std::string(j.type_name()));
  return j;
}

// Decodes one UTF-8 code point at s[i]; returns its length (0 when the bytes are not valid UTF-8).
size_t DecodeUtf8(std::string_view s, size_t i, uint32_t& cp) {
  const auto b = [&](size_t k) { return static_cast<uint8_t>(s[k]); };
  const uint8_t c = b(i);
  size_t n = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
  if (n == 0 || i + n > s.size()) return 0;
  cp = n == 1 ? c : n == 2 ? (c & 0x1F) : n == 3 ? (c & 0x0F) : (c & 0x07);
  for (size_t k = 1; k < n; ++k) {
    if ((b(i + k) & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (b(i + k) & 0x3F);
  }
  // Overlong forms, surrogates and values past U+10FFFF are invalid (Python would not decode them).
  static constexpr uint32_t kMin[5] = {0, 0, 0x80, 0x800, 0x10000};
  if (cp < kMin[n] || (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF) return 0;
  return n;
}

// Python's str.isspace (what re's \s matches in a str pattern).
bool IsPythonSpace(uint32_t cp) {
  return (cp >= 0x09 && cp <= 0x0D) || (cp >= 0x1C && cp <= 0x20) || cp == 0x85 || cp == 0xA0 ||
         cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 ||
         cp == 0x202F || cp == 0x205F || cp == 0x3000;
}

std::string Stem(const fs::path& path) {
  std::string name = path.filename().string();
  for (const char* ext : {".gz", ".jsonl", ".json", ".txt"})
    if (name.size() > std::string_view(ext).size() && name.ends_with(ext))
      name.resize(name.size() - std::string_view(ext).size());
  return name;
}

std::string Field(const nlohmann::json& j, const char* key, const std::string& at) {
  if (!j.contains(key) || !j[key].is_string())
    throw Error(at + ": expected a string field \"" + key + "\"");
  return j[key].get<std::string>();
}

}  // namespace

int64_t Utf8Chars(std::string_view text) {
  int64_t n = 0;
  for (size_t i = 0; i < text.size(); ++n) {
    uint32_t cp = 0;
    const size_t len = DecodeUtf8(text, i, cp);
    if (len == 0) throw Error("text is not valid UTF-8 at byte " + std::to_string(i));
    i += len;
  }
  return n;
}

int64_t CountWords(std::string_view text) {
  int64_t words = 1;
  bool in_space = false;
  for (size_t i = 0; i < text.size();) {
    uint32_t cp = 0;
    size_t len = DecodeUtf8(text, i, cp);
    if (len == 0) cp = 0xFFFD, len = 1;  // invalid bytes are not whitespace
    const bool space = IsPythonSpace(cp);
    if (space && !in_space) ++words;
    in_space = space;
    i += len;
  }
  return words;
}

std::string_view RstripPython(std::string_view text) {
  size_t end = 0;  // one past the last code point that is not whitespace
  for (size_t i = 0; i < text.size();) {
    uint32_t cp = 0;
    size_t len = DecodeUtf8(text, i, cp);
    if (len == 0) cp = 0xFFFD, len = 1;
    i += len;
    if (!IsPythonSpace(cp)) end = i;
  }
  return text.substr(0, end);
}

std::string_view StripPython(std::string_view text) {
  text = RstripPython(text);
  size_t begin = 0;  // the first code point that is not whitespace
  while (begin < text.size()) {
    uint32_t cp = 0;
    size_t len = DecodeUtf8(text, begin, cp);
    if (len == 0) cp = 0xFFFD, len = 1;
    if (!IsPythonSpace(cp)) break;
    begin += len;
  }
  return text.substr(begin);
}

std::vector<McDoc> ParseMcTaskFile(std::string_view jsonl, const std::string& where) {
  std::vector<McDoc> out;
  for (const auto& [number, line] : NonBlankLines(jsonl, where)) {
    const std::string at = At(where, number);
    const nlohmann::json j = ParseObject(line, at);
    for (const auto& [key, value] : j.items())
      if (key != "context" && key != "choices" && key != "gold" && key != "id")
        throw Error(at + ": unknown field \"" + key +
                    "\"; expected context, choices, gold and optional id");
    McDoc doc;
    doc.context = Field(j, "context", at);
    if (!j.contains("choices") || !j["choices"].is_array() || j["choices"].size() < 2)
      throw Error(at + ": expected \"choices\" to be an array of at least 2 strings");
    for (const auto& c : j["choices"]) {
      if (!c.is_string() || c.get<std::string>().empty())
        throw Error(at + ": expected every entry of \"choices\" to be a non-empty string");
      doc.choices.push_back(c.get<std::string>());
    }
    if (!j.contains("gold") || !j["gold"].is_number_integer() || j["gold"].get<int64_t>() < 0 ||
        j["gold"].get<int64_t>() >= static_cast<int64_t>(doc.choices.size()))
      throw Error(at + ": expected \"gold\" to be an integer in [0, " +
                  std::to_string(doc.choices.size()) + ")");
    doc.gold = j["gold"].get<int>();
    if (j.contains("id")) {
      if (j["id"].is_string())
        doc.id = j["id"].get<std::string>();
      else if (j["id"].is_number_integer())
        doc.id = std::to_string(j["id"].get<int64_t>());
      else
        throw Error(at + ": expected \"id\" to be a string or an integer");
    } else {
      doc.id = std::to_string(out.size());
    }
    out.push_back(std::move(doc));
  }
  if (out.empty()) throw Error(where + ": no documents; expected one JSON object per line");
  return out;
}

McTaskFile LoadMcTaskFile(const fs::path& path) {
  McTaskFile t;
  t.name = Stem(path);
  t.path = path.string();
  t.docs = ParseMcTaskFile(ReadMaybeGzip(path), t.path);
  return t;
}

nlohmann::json McDocJson(const McDoc& doc) {
  return {{"id", doc.id}, {"context", doc.context}, {"choices", doc.choices}, {"gold", doc.gold}};
}

RollingTaskFile LoadRollingTaskFile(const fs::path& path) {
  RollingTaskFile t;
  t.name = Stem(path);
  t.path = path.string();
  const std::string text = ReadMaybeGzip(path);
  const std::string name = path.filename().string();
  if (name.ends_with(".jsonl") || name.ends_with(".jsonl.gz")) {
    for (const auto& [number, line] : NonBlankLines(text, t.path)) {
      const nlohmann::json j = ParseObject(line, At(t.path, number));
      t.docs.push_back(Field(j, "text", At(t.path, number)));
    }
  } else {
    if (!IsValidUtf8(text))
      throw Error(t.path + ": expected UTF-8 text (lm-eval reads documents as str)");
    t.docs.push_back(text);
  }
  if (t.docs.empty() || (t.docs.size() == 1 && t.docs[0].empty()))
    throw Error(t.path + ": no text; expected a document to score");
  return t;
}

// The records come from the parser shared with the fine-tuning tasks (mc_records.h); lm-eval's
// prompts use the fields verbatim.
std::vector<McDoc> PiqaMcDocs(std::string_view jsonl, std::string_view labels,
                              const std::string& where) {
  std::vector<McDoc> out;
  for (McRecord& r : ParsePiqaRecords(jsonl, labels, where)) {
    McDoc d;
    d.id = "piqa-" + std::to_string(out.size());
    d.context = "Question: " + r.question + "\nAnswer:";
    d.choices = std::move(r.choices);
    d.gold = r.gold;
    out.push_back(std::move(d));
  }
  return out;
}

std::vector<McDoc> SiqaMcDocs(std::string_view jsonl, std::string_view labels,
                              const std::string& where) {
  std::vector<McDoc> out;
  for (McRecord& r : ParseSiqaRecords(jsonl, labels, where)) {
    McDoc d;
    d.id = "siqa-" + std::to_string(out.size());
    d.context = "Q: " + r.context + " " + r.question + "\nA:";
    d.choices = std::move(r.choices);
    d.gold = r.gold;
    out.push_back(std::move(d));
  }
  return out;
}

std::vector<fs::path> WriteMcTaskFiles(const fs::path& data_dir, const fs::path& out,
                                       const std::function<void(const std::string&)>& log) {
  struct Source {
    const char* task;
    const char* dir;
    const char* items;
    const char* labels;
    std::vector<McDoc> (*convert)(std::string_view, std::string_view, const std::string&);
  };
  const Source sources[] = {{"piqa", "piqa", "valid.jsonl.gz", "valid-labels.lst.gz", &PiqaMcDocs},
                            {"siqa", "siqa", "dev.jsonl.gz", "dev-labels.lst.gz", &SiqaMcDocs}};
  fs::create_directories(out);
  std::vector<fs::path> written;
  for (const auto& s : sources) {
    const fs::path dir = data_dir / s.dir;
    if (!fs::is_directory(dir))
      throw Error(dir.string() + ": expected the shared/data folder of " + s.task +
                  " (--data-dir)");
    const auto docs = s.convert(ReadMaybeGzip(dir / s.items), ReadMaybeGzip(dir / s.labels),
                                (dir / s.items).string());
    std::string text;
    for (const auto& d : docs) text += McDocJson(d).dump() + "\n";
    const fs::path path = out / (std::string(s.task) + ".jsonl");
    WriteFileAtomic(path, text);
    log(path.string() + ": " + std::to_string(docs.size()) + " documents");
    written.push_back(path);
  }
  return written;
}

}  // namespace ot::data
