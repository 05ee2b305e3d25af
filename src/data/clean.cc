// The cleaners of clean.h; each is a pure function of its input bytes.
#include "data/clean.h"

#include <nlohmann/json.hpp>
#include <unordered_set>

#include "core/check.h"
#include "data/util.h"

namespace ot::data {

namespace {

// Replaces every `<br />`, `<br/>`, `<br>` (case-insensitive) with one space.
std::string ReplaceBr(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  size_t i = 0;
  while (i < s.size()) {
    if (s[i] == '<' && i + 3 < s.size() && (s[i + 1] == 'b' || s[i + 1] == 'B') &&
        (s[i + 2] == 'r' || s[i + 2] == 'R')) {
      size_t j = i + 3;
      while (j < s.size() && s[j] == ' ') ++j;
      if (j < s.size() && s[j] == '/') ++j;
      if (j < s.size() && s[j] == '>') {
        out += ' ';
        i = j + 1;
        continue;
      }
    }
    out += s[i++];
  }
  return out;
}

}  // namespace

std::vector<Document> ParseImdb(std::string_view json_text, const std::string& where) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(json_text);
  } catch (const std::exception& e) {
    throw Error(where + ": not valid JSON (" + e.what() + ")");
  }
  if (!j.is_array()) throw Error(where + ": expected a JSON array of {t, s} reviews");
  std::vector<Document> docs;
  docs.reserve(j.size());
  for (size_t i = 0; i < j.size(); ++i) {
    const auto& r = j[i];
    if (!r.is_object() || !r.contains("t") || !r["t"].is_string() || !r.contains("s") ||
        !r["s"].is_number_integer())
      throw Error(where + ": review " + std::to_string(i) + " is not {\"t\": string, \"s\": 0|1}");
    const int s = r["s"].get<int>();
    if (s != 0 && s != 1)
      throw Error(where + ": review " + std::to_string(i) + " has label s != 0/1");
    Document d;
    d.text = std::string(Trim(ReplaceBr(r["t"].get<std::string>())));
    d.id = "review-" + std::to_string(i);
    d.label = s;
    if (!d.text.empty()) docs.push_back(std::move(d));
  }
  return docs;
}

std::string CleanGutenberg(const std::string& file_name, std::string_view bytes) {
  if (file_name == "bible-kjv.txt") return "";
  return std::string(Trim(NormalizeNewlines(ToUtf8(bytes))));
}

std::vector<std::string> ChunkText(std::string_view text, size_t max_bytes) {
  std::vector<std::string> out;
  OT_CHECK(max_bytes > 0) << "ChunkText needs max_bytes > 0";
  while (!text.empty()) {
    text = Trim(text);
    if (text.empty()) break;
    if (text.size() <= max_bytes) {
      out.emplace_back(text);
      break;
    }
    const std::string_view head = text.substr(0, max_bytes);
    size_t cut = head.rfind("\n\n");
    if (cut == std::string_view::npos || cut < max_bytes / 4) cut = head.rfind('\n');
    if (cut == std::string_view::npos || cut < max_bytes / 4) cut = head.rfind(' ');
    if (cut == std::string_view::npos || cut == 0) cut = max_bytes;
    // Never cut inside a UTF-8 sequence.
    while (cut > 0 && cut < text.size() && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80)
      --cut;
    if (cut == 0) cut = max_bytes;
    const std::string_view piece = Trim(text.substr(0, cut));
    if (!piece.empty()) out.emplace_back(piece);
    text.remove_prefix(cut);
  }
  return out;
}

std::string CleanBrown(std::string_view bytes) {
  std::string out;
  for (std::string_view line : Split(bytes, '\n')) {
    line = Trim(line);
    if (line.empty()) continue;
    std::string sentence;
    size_t i = 0;
    while (i < line.size()) {
      while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
      size_t j = i;
      while (j < line.size() && line[j] != ' ' && line[j] != '\t') ++j;
      if (j > i) {
        std::string_view tok = line.substr(i, j - i);
        const size_t slash = tok.rfind('/');
        std::string_view word =
            slash == std::string_view::npos || slash == 0 ? tok : tok.substr(0, slash);
        if (!sentence.empty()) sentence += ' ';
        if (word == "``" || word == "''") {
          sentence += '"';
        } else {
          sentence += word;
        }
      }
      i = j;
    }
    if (!sentence.empty()) out += sentence + "\n";
  }
  return std::string(Trim(ToUtf8(out)));
}

std::vector<std::string> SplitFortunes(std::string_view bytes) {
  std::vector<std::string> out;
  const std::string text = NormalizeNewlines(ToUtf8(bytes));
  std::string current;
  auto flush = [&] {
    std::string_view t = Trim(current);
    if (!t.empty()) out.emplace_back(t);
    current.clear();
  };
  for (std::string_view line : Split(text, '\n')) {
    if (line == "%") {
      flush();
    } else {
      current.append(line);
      current += '\n';
    }
  }
  flush();
  return out;
}

uint64_t DictdNumber(std::string_view digits) {
  uint64_t v = 0;
  for (char c : digits) {
    int d;
    if (c >= 'A' && c <= 'Z')
      d = c - 'A';
    else if (c >= 'a' && c <= 'z')
      d = c - 'a' + 26;
    else if (c >= '0' && c <= '9')
      d = c - '0' + 52;
    else if (c == '+')
      d = 62;
    else if (c == '/')
      d = 63;
    else
      throw Error("dictd index: '" + std::string(digits) + "' is not a base64 number");
    v = v * 64 + d;
  }
  return v;
}

std::vector<std::string> ParseDictd(std::string_view index, std::string_view dict,
                                    const std::string& where) {
  std::vector<std::string> out;
  for (std::string_view line : Split(index, '\n')) {
    if (Trim(line).empty()) continue;
    const auto f = Split(line, '\t');
    if (f.size() < 3)
      throw Error(where + ": index line '" + std::string(line) + "' lacks 3 tab fields");
    if (f[0].starts_with("00-database") || f[0].starts_with("00database")) continue;
    const uint64_t off = DictdNumber(f[1]), len = DictdNumber(f[2]);
    if (off + len > dict.size())
      throw Error(where + ": entry '" + std::string(f[0]) +
                  "' points past the end of the dict text");
    const std::string_view entry = Trim(dict.substr(off, len));
    if (!entry.empty()) out.push_back(NormalizeNewlines(ToUtf8(entry)));
  }
  return out;
}

size_t Dedupe(std::vector<Document>& docs) {
  std::unordered_set<std::string_view> seen;
  seen.reserve(docs.size() * 2);
  std::vector<bool> keep(docs.size());
  for (size_t i = 0; i < docs.size(); ++i) keep[i] = seen.insert(docs[i].text).second;
  std::vector<Document> out;
  out.reserve(seen.size());
  for (size_t i = 0; i < docs.size(); ++i)
    if (keep[i]) out.push_back(std::move(docs[i]));
  const size_t dropped = docs.size() - out.size();
  docs = std::move(out);
  return dropped;
}

void SplitByDocument(std::vector<Document> docs, double fraction, uint64_t seed,
                     const std::string& source, std::vector<Document>& train,
                     std::vector<Document>& val) {
  const std::string stream = "split/" + source;
  SeededShuffle(docs, seed, stream.c_str());
  size_t n_val = static_cast<size_t>(fraction * docs.size() + 0.5);
  if (n_val == 0 && fraction > 0 && docs.size() >= 2) n_val = 1;
  if (n_val >= docs.size() && docs.size() >= 2) n_val = docs.size() - 1;
  train.clear();
  val.clear();
  for (size_t i = 0; i < docs.size(); ++i) (i < n_val ? val : train).push_back(std::move(docs[i]));
}

}  // namespace ot::data
