// Hugging Face tokenizer.json loader and byte-level BPE encoder (see hf_tokenizer.h for what is
// supported). The pipeline follows the JS library `@huggingface/tokenizers` step by step, which the
// tests use as oracle: added tokens -> normalizer -> added (normalized) tokens -> regex splits ->
// byte map -> BPE by merge rank.
#define PCRE2_CODE_UNIT_WIDTH 8
#include "data/hf_tokenizer.h"

#include <pcre2.h>
#include <unicode/normalizer2.h>
#include <unicode/unistr.h>

#include <algorithm>
#include <array>
#include <limits>
#include <nlohmann/json.hpp>
#include <unordered_map>

#include "core/check.h"
#include "core/fileio.h"
#include "data/util.h"

namespace ot::data {

namespace {

using json = nlohmann::json;

// GPT-2's split pattern, which a ByteLevel pre-tokenizer with use_regex=true applies (tokenizers'
// byte_level.rs and the JS library hard-code it the same way).
constexpr std::string_view kGpt2Pattern =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

// What `\s` means differs between regex engines, and the JS oracle uses two meanings: its
// hard-coded ByteLevel pattern is an ECMAScript regex (\s = WhiteSpace + LineTerminator: U+FEFF in,
// U+0085 out), while Split patterns are rewritten to \p{White_Space} (U+0085 in, U+FEFF out; as
// Rust's Oniguruma). PCRE2's own UCP \s is neither, so each set is spelled out and substituted for
// \s / \S.
constexpr std::string_view kJsSpaceClassBody =
    R"(\t\n\x{0b}\f\r\x{20}\x{a0}\x{1680}\x{2000}-\x{200a}\x{2028}\x{2029}\x{202f}\x{205f}\x{3000}\x{feff})";
constexpr std::string_view kWhiteSpaceClassBody =
    R"(\t\n\x{0b}\f\r\x{20}\x{85}\x{a0}\x{1680}\x{2000}-\x{200a}\x{2028}\x{2029}\x{202f}\x{205f}\x{3000})";

bool IsJsSpace(char32_t c) {
  return (c >= 0x09 && c <= 0x0d) || c == 0x20 || c == 0xa0 || c == 0x1680 ||
         (c >= 0x2000 && c <= 0x200a) || c == 0x2028 || c == 0x2029 || c == 0x202f || c == 0x205f ||
         c == 0x3000 || c == 0xfeff;
}

void AppendUtf8(char32_t c, std::string& out) {
  if (c < 0x80) {
    out += static_cast<char>(c);
  } else if (c < 0x800) {
    out += static_cast<char>(0xc0 | (c >> 6));
    out += static_cast<char>(0x80 | (c & 0x3f));
  } else if (c < 0x10000) {
    out += static_cast<char>(0xe0 | (c >> 12));
    out += static_cast<char>(0x80 | ((c >> 6) & 0x3f));
    out += static_cast<char>(0x80 | (c & 0x3f));
  } else {
    out += static_cast<char>(0xf0 | (c >> 18));
    out += static_cast<char>(0x80 | ((c >> 12) & 0x3f));
    out += static_cast<char>(0x80 | ((c >> 6) & 0x3f));
    out += static_cast<char>(0x80 | (c & 0x3f));
  }
}

// Decodes the code point at s[i] of valid UTF-8 and advances i.
char32_t NextCodePoint(std::string_view s, size_t& i) {
  const auto b = static_cast<unsigned char>(s[i]);
  const int len = b < 0x80 ? 1 : b < 0xe0 ? 2 : b < 0xf0 ? 3 : 4;
  char32_t c = len == 1 ? b : len == 2 ? (b & 0x1f) : len == 3 ? (b & 0x0f) : (b & 0x07);
  for (int k = 1; k < len; ++k) c = (c << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3f);
  i += len;
  return c;
}

// JS String.prototype.trimStart / trimEnd on valid UTF-8.
void TrimStartJs(std::string& s) {
  size_t i = 0;
  while (i < s.size()) {
    size_t j = i;
    if (!IsJsSpace(NextCodePoint(s, j))) break;
    i = j;
  }
  s.erase(0, i);
}
void TrimEndJs(std::string& s) {
  size_t end = s.size();
  while (end > 0) {
    size_t start = end - 1;
    while (start > 0 && (static_cast<unsigned char>(s[start]) & 0xc0) == 0x80) --start;
    size_t j = start;
    if (!IsJsSpace(NextCodePoint(s, j))) break;
    end = start;
  }
  s.resize(end);
}

// Rewrites \s and \S (outside and inside classes) to the class `body`; everything else is kept.
std::string WithSpaces(std::string_view pattern, std::string_view body) {
  std::string out;
  bool in_class = false;
  for (size_t i = 0; i < pattern.size(); ++i) {
    const char c = pattern[i];
    if (c == '\\' && i + 1 < pattern.size()) {
      const char e = pattern[++i];
      if (e == 's') {
        out += in_class ? "" : "[";
        out += body;
        out += in_class ? "" : "]";
      } else if (e == 'S' && !in_class) {
        out += "[^";
        out += body;
        out += ']';
      } else {
        out += c;
        out += e;
      }
      continue;
    }
    if (c == '[' && !in_class)
      in_class = true;
    else if (c == ']' && in_class)
      in_class = false;
    out += c;
  }
  return out;
}

// GPT-2's reversible byte -> code point map (printable Latin-1 bytes map to themselves, the rest to
// 256+n).
std::array<char32_t, 256> BytesToUnicode() {
  std::array<char32_t, 256> map{};
  std::array<bool, 256> direct{};
  for (int b = 0; b < 256; ++b)
    direct[b] = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || b >= 174;
  int n = 0;
  for (int b = 0; b < 256; ++b) map[b] = direct[b] ? char32_t(b) : char32_t(256 + n++);
  return map;
}

struct Pcre2Deleter {
  void operator()(pcre2_code* code) const { pcre2_code_free(code); }
};
using Pcre2Code = std::unique_ptr<pcre2_code, Pcre2Deleter>;

// Added tokens of one kind (not normalized / normalized), matched longest-first at each position as
// the JS DictionarySplitter does.
struct AddedSplitter {
  std::array<std::vector<std::string>, 256> by_first_byte;  // each sorted by length, longest first

  // Add every token, then call Finish once (sorting on each Add made loading quadratic).
  void Add(const std::string& content) {
    if (content.empty()) return;
    by_first_byte[static_cast<unsigned char>(content[0])].push_back(content);
  }
  void Finish() {
    for (auto& list : by_first_byte)
      std::stable_sort(list.begin(), list.end(),
                       [](const auto& a, const auto& b) { return a.size() > b.size(); });
  }
  bool empty() const {
    return std::all_of(by_first_byte.begin(), by_first_byte.end(),
                       [](const auto& l) { return l.empty(); });
  }
  std::vector<std::string> Split(const std::string& text) const {
    std::vector<std::string> sections;
    size_t start = 0, i = 0;
    while (i < text.size()) {
      const std::string* match = nullptr;
      for (const auto& t : by_first_byte[static_cast<unsigned char>(text[i])]) {
        if (text.compare(i, t.size(), t) == 0) {
          match = &t;
          break;
        }
      }
      if (!match) {
        ++i;
        continue;
      }
      if (i > start) sections.push_back(text.substr(start, i - start));
      sections.push_back(*match);
      i += match->size();
      start = i;
    }
    if (start < text.size()) sections.push_back(text.substr(start));
    return sections;
  }
};

}  // namespace

struct AddedFlags {
  bool lstrip = false, rstrip = false;
};

struct HfTokenizer::Impl {
  std::string file;  // for messages
  bool nfc = false;
  std::vector<Pcre2Code> splits;  // applied in order; each keeps only its matches
  bool ignore_merges = false;

  std::unordered_map<std::string, int32_t> vocab;  // byte-mapped token -> id
  std::vector<std::string> id_to_token;            // id -> token as in the file
  std::vector<bool> is_added;                      // id -> an added token (decoded verbatim)
  std::vector<std::string> bytes_of;               // id -> the bytes it decodes to
  int32_t eod_id = -1;
  std::string eod_token;
  std::unordered_map<std::string, int32_t> added_ids;  // content (and normalized content) -> id
  std::unordered_map<std::string, AddedFlags> added_flags;  // content -> lstrip/rstrip
  AddedSplitter unnormalized, normalized;

  std::array<char32_t, 256> byte_to_char = BytesToUnicode();
  std::unordered_map<char32_t, uint8_t> char_to_byte;
  std::array<int32_t, 256> byte_id{};  // id of each single-byte token (-1: byte not in UTF-8)
  std::unordered_map<uint64_t, std::pair<int32_t, int32_t>>
      merges;  // (left id, right id) -> (rank, merged)

  [[noreturn]] void Fail(const std::string& what) const { throw Error(file + ": " + what); }
  std::string Normalize(const std::string& s) const;
  void TrimAround(std::vector<std::string>& sections) const;
  void EncodeSection(const std::string& text, std::vector<int32_t>& out) const;
  void Bpe(std::string_view piece, std::vector<int32_t>& out) const;
  void AddSplit(std::string_view pattern, std::string_view space_body);
  void ParsePreTokenizer(const json& p, bool top);
};

void HfTokenizer::Impl::AddSplit(std::string_view pattern, std::string_view space_body) {
  const std::string rewritten = WithSpaces(pattern, space_body);
  int error = 0;
  PCRE2_SIZE offset = 0;
  pcre2_code* code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(rewritten.data()), rewritten.size(),
                                   PCRE2_UTF | PCRE2_UCP, &error, &offset, nullptr);
  if (!code) {
    PCRE2_UCHAR message[256];
    pcre2_get_error_message(error, message, sizeof(message));
    Fail("pre-tokenizer regex '" + std::string(pattern) + "' does not compile at offset " +
         std::to_string(offset) + ": " + reinterpret_cast<char*>(message) + ".");
  }
  pcre2_jit_compile(code,
                    PCRE2_JIT_COMPLETE);  // optional speed-up; the interpreter is used if it fails
  splits.emplace_back(code);
}

void HfTokenizer::Impl::ParsePreTokenizer(const json& p, bool top) {
  const std::string type = p.value("type", "");
  if (type == "Sequence" && top) {
    const auto& list = p.at("pretokenizers");
    for (size_t i = 0; i < list.size(); ++i) {
      if (i + 1 < list.size() && list[i].value("type", "") != "Split")
        Fail("pre-tokenizer Sequence must be Split steps followed by ByteLevel, found '" +
             list[i].value("type", "") + "'.");
      ParsePreTokenizer(list[i], false);
    }
    if (list.empty() || list.back().value("type", "") != "ByteLevel")
      Fail("pre-tokenizer Sequence must end with ByteLevel.");
  } else if (type == "Split" && !top) {
    if (!p.value("invert", false) || p.value("behavior", "") != "Removed")
      Fail(
          "pre-tokenizer Split is supported only with invert=true and behavior Removed (keep the "
          "matches).");
    if (!p.at("pattern").contains("Regex"))
      Fail("pre-tokenizer Split is supported only with a Regex pattern.");
    AddSplit(p.at("pattern").at("Regex").get<std::string>(), kWhiteSpaceClassBody);
  } else if (type == "ByteLevel") {
    if (p.value("add_prefix_space", false))
      Fail("pre-tokenizer ByteLevel with add_prefix_space=true is not supported.");
    if (p.value("use_regex", true)) AddSplit(kGpt2Pattern, kJsSpaceClassBody);
  } else {
    Fail("pre-tokenizer type '" + (type.empty() ? p.dump() : type) +
         "' is not supported (ByteLevel, or a Sequence of Split then ByteLevel).");
  }
}

std::string HfTokenizer::Impl::Normalize(const std::string& s) const {
  if (!nfc ||
      std::all_of(s.begin(), s.end(), [](char c) { return static_cast<unsigned char>(c) < 0x80; }))
    return s;
  UErrorCode status = U_ZERO_ERROR;
  const icu::Normalizer2* n = icu::Normalizer2::getNFCInstance(status);
  OT_CHECK(U_SUCCESS(status)) << "ICU NFC instance: " << u_errorName(status);
  const icu::UnicodeString u = icu::UnicodeString::fromUTF8(icu::StringPiece(s.data(), s.size()));
  if (n->isNormalized(u, status)) return s;
  const icu::UnicodeString normalized = n->normalize(u, status);
  OT_CHECK(U_SUCCESS(status)) << "ICU NFC: " << u_errorName(status);
  std::string out;
  normalized.toUTF8String(out);
  return out;
}

// The JS library trims whitespace next to an lstrip / rstrip added token off its neighbouring
// sections.
void HfTokenizer::Impl::TrimAround(std::vector<std::string>& sections) const {
  const auto& flags = added_flags;
  for (size_t i = 0; i < sections.size(); ++i) {
    const auto it = flags.find(sections[i]);
    if (it == flags.end()) continue;
    if (it->second.lstrip && i > 0) TrimEndJs(sections[i - 1]);
    if (it->second.rstrip && i + 1 < sections.size()) TrimStartJs(sections[i + 1]);
  }
}

std::string SanitizeUtf8(std::string_view s) {
  if (IsValidUtf8(s)) return std::string(s);
  std::string out;
  out.reserve(s.size() + 16);
  size_t i = 0;
  while (i < s.size()) {
    const auto b = static_cast<unsigned char>(s[i]);
    int need = 0;
    unsigned char lo = 0x80, hi = 0xbf;  // allowed range of the second byte
    if (b < 0x80) {
      out += static_cast<char>(b);
      ++i;
      continue;
    } else if (b >= 0xc2 && b <= 0xdf) {
      need = 1;
    } else if (b >= 0xe0 && b <= 0xef) {
      need = 2;
      if (b == 0xe0) lo = 0xa0;
      if (b == 0xed) hi = 0x9f;
    } else if (b >= 0xf0 && b <= 0xf4) {
      need = 3;
      if (b == 0xf0) lo = 0x90;
      if (b == 0xf4) hi = 0x8f;
    } else {
      out += "\xEF\xBF\xBD";  // invalid lead byte
      ++i;
      continue;
    }
    size_t j = i + 1;
    int got = 0;
    while (got < need && j < s.size()) {
      const auto c = static_cast<unsigned char>(s[j]);
      const bool ok = got == 0 ? (c >= lo && c <= hi) : (c >= 0x80 && c <= 0xbf);
      if (!ok) break;
      ++j;
      ++got;
    }
    if (got == need)
      out.append(s.substr(i, j - i));
    else
      out += "\xEF\xBF\xBD";  // the maximal subpart i..j is one replacement character
    i = j;
  }
  return out;
}

void HfTokenizer::Impl::Bpe(std::string_view piece, std::vector<int32_t>& out) const {
  if (piece.empty()) return;
  if (ignore_merges) {
    std::string mapped;
    for (unsigned char b : piece) AppendUtf8(byte_to_char[b], mapped);
    if (const auto it = vocab.find(mapped); it != vocab.end()) {
      out.push_back(it->second);
      return;
    }
  }
  const int n = static_cast<int>(piece.size());
  std::vector<int32_t> ids(n), next(n), prev(n);
  for (int i = 0; i < n; ++i) {
    ids[i] = byte_id[static_cast<unsigned char>(piece[i])];
    next[i] = i + 1 < n ? i + 1 : -1;
    prev[i] = i - 1;
  }
  // Min-heap on (rank, position of the left symbol): the lowest-ranked merge first, leftmost on
  // ties.
  struct Candidate {
    int32_t rank, pos, left, right;
    bool operator>(const Candidate& o) const {
      return rank != o.rank ? rank > o.rank : pos > o.pos;
    }
  };
  std::vector<Candidate> heap;
  auto push = [&](int pos) {
    if (pos < 0 || next[pos] < 0) return;
    const uint64_t key = (uint64_t(uint32_t(ids[pos])) << 32) | uint32_t(ids[next[pos]]);
    const auto it = merges.find(key);
    if (it == merges.end()) return;
    heap.push_back({it->second.first, pos, ids[pos], ids[next[pos]]});
    std::push_heap(heap.begin(), heap.end(), std::greater<>());
  };
  for (int i = 0; i + 1 < n; ++i) push(i);
  std::vector<bool> alive(n, true);
  while (!heap.empty()) {
    std::pop_heap(heap.begin(), heap.end(), std::greater<>());
    const Candidate c = heap.back();
    heap.pop_back();
    const int right = next[c.pos];
    if (!alive[c.pos] || ids[c.pos] != c.left || right < 0 || ids[right] != c.right)
      continue;  // stale
    ids[c.pos] = merges.at((uint64_t(uint32_t(c.left)) << 32) | uint32_t(c.right)).second;
    alive[right] = false;
    next[c.pos] = next[right];
    if (next[right] >= 0) prev[next[right]] = c.pos;
    push(prev[c.pos]);
    push(c.pos);
  }
  for (int i = 0; i >= 0; i = next[i]) out.push_back(ids[i]);
}

void HfTokenizer::Impl::EncodeSection(const std::string& text, std::vector<int32_t>& out) const {
  std::vector<std::string_view> pieces = {text}, split;
  pcre2_match_data* md = nullptr;
  for (const auto& code : splits) {
    md = pcre2_match_data_create_from_pattern(code.get(), nullptr);
    split.clear();
    for (std::string_view piece : pieces) {
      PCRE2_SIZE start = 0;
      while (start < piece.size()) {
        const int rc = pcre2_match(code.get(), reinterpret_cast<PCRE2_SPTR>(piece.data()),
                                   piece.size(), start, PCRE2_NO_UTF_CHECK, md, nullptr);
        if (rc == PCRE2_ERROR_NOMATCH) break;
        OT_CHECK(rc > 0) << "pcre2_match failed with code " << rc;
        const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(md);
        if (ov[1] > ov[0]) {
          split.push_back(piece.substr(ov[0], ov[1] - ov[0]));
          start = ov[1];
        } else {  // empty match (JS drops it): step over one character
          start = ov[0] + 1;
          while (start < piece.size() && (static_cast<unsigned char>(piece[start]) & 0xc0) == 0x80)
            ++start;
        }
      }
    }
    pcre2_match_data_free(md);
    pieces.swap(split);
  }
  for (std::string_view piece : pieces) Bpe(piece, out);
}

namespace {

// `text` written as a ByteLevel vocab token (each byte as its mapped character).
std::string ByteMapped(const HfTokenizer::Impl& t, std::string_view text) {
  std::string out;
  for (unsigned char b : text) AppendUtf8(t.byte_to_char[b], out);
  return out;
}

}  // namespace

HfTokenizer::HfTokenizer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
HfTokenizer::HfTokenizer(HfTokenizer&&) noexcept = default;
HfTokenizer& HfTokenizer::operator=(HfTokenizer&&) noexcept = default;
HfTokenizer::~HfTokenizer() = default;

HfTokenizer HfTokenizer::Load(const std::filesystem::path& path, std::string_view eod_token) {
  auto impl = std::make_unique<Impl>();
  Impl& t = *impl;
  t.file = path.string();
  json j;
  try {
    j = json::parse(ReadMaybeGzip(path));
  } catch (const json::exception& e) {
    t.Fail(std::string("not a readable tokenizer.json (truncated or corrupt JSON: ") + e.what() +
           ").");
  }
  try {
    // Normalizer.
    const json& norm = j.at("normalizer");
    if (!norm.is_null()) {
      const std::string type = norm.value("type", "");
      if (type != "NFC")
        t.Fail("normalizer type '" + type + "' is not supported (only NFC or none).");
      t.nfc = true;
    }
    // Pre-tokenizer.
    const json& pre = j.at("pre_tokenizer");
    if (pre.is_null())
      t.Fail("pre_tokenizer is null; only byte-level BPE tokenizers are supported.");
    t.ParsePreTokenizer(pre, true);
    for (const char* key : {"decoder", "post_processor"}) {
      const json& d = j.at(key);
      if (!d.is_null() && d.value("type", "") != "ByteLevel")
        t.Fail(std::string(key) + " type '" + d.value("type", "") +
               "' is not supported (only ByteLevel).");
    }
    // Model.
    const json& model = j.at("model");
    const std::string type = model.value("type", "");
    if (type != "BPE") t.Fail("model type '" + type + "' is not supported (only BPE).");
    if (model.contains("dropout") && !model["dropout"].is_null() &&
        model["dropout"].get<double>() != 0)
      t.Fail("BPE dropout is not supported.");
    if (model.value("byte_fallback", false)) t.Fail("BPE byte_fallback is not supported.");
    for (const char* key : {"continuing_subword_prefix", "end_of_word_suffix"})
      if (model.contains(key) && !model[key].is_null() && !model[key].get<std::string>().empty())
        t.Fail(std::string("BPE ") + key + " is not supported.");
    t.ignore_merges = model.value("ignore_merges", false);

    // Every id is checked against the number of entries before anything is sized by it: a
    // tokenizer's ids are dense (vocab and added tokens together), so an id past the entry count
    // is corrupt, and an unchecked one sized id_to_token (2^31 ids: an allocation error naming no
    // file).
    const json& vocab = model.at("vocab");
    const json& added = j.at("added_tokens");
    const uint64_t entries = vocab.size() + added.size();
    // `field` names the id in a message: a function, so that no name is built for a good id.
    auto id_of = [&](const json& v, const auto& field) -> int32_t {
      const bool integer = v.is_number_integer();
      if (integer && !v.is_number_unsigned() && v.get<int64_t>() < 0) return -1;
      if (!integer || v.get<uint64_t>() >= entries ||
          v.get<uint64_t>() > uint64_t(std::numeric_limits<int32_t>::max()))
        t.Fail(field() + " = " + v.dump() +
               " is not a valid token id: expected an integer in [0, " + std::to_string(entries) +
               "), the number of vocab and added-token entries.");
      return static_cast<int32_t>(v.get<uint64_t>());
    };
    int32_t max_id = -1;
    for (const auto& [token, v] : vocab.items()) {
      const int32_t id = id_of(v, [&] { return "model.vocab[" + json(token).dump() + "]"; });
      if (id < 0) t.Fail("vocab token '" + token + "' has a negative id.");
      t.vocab[token] = id;
      max_id = std::max(max_id, id);
    }
    for (size_t i = 0; i < added.size(); ++i) {
      const int32_t id =
          id_of(added[i].at("id"), [&] { return "added_tokens[" + std::to_string(i) + "].id"; });
      if (id < 0) t.Fail("added_tokens[" + std::to_string(i) + "] has a negative id.");
      max_id = std::max(max_id, id);
    }
    t.id_to_token.assign(max_id + 1, "");
    t.is_added.assign(max_id + 1, false);
    std::vector<bool> taken(max_id + 1, false);
    // The vocab in key order, so that a duplicate names the same pair on every run.
    std::vector<std::pair<std::string, int32_t>> by_token(t.vocab.begin(), t.vocab.end());
    std::sort(by_token.begin(), by_token.end());
    for (const auto& [token, id] : by_token) {
      if (taken[id])
        t.Fail("model.vocab tokens " + json(t.id_to_token[id]).dump() + " and " +
               json(token).dump() + " share the id " + std::to_string(id) +
               "; expected one token per id.");
      taken[id] = true;
      t.id_to_token[id] = token;
    }
    for (int b = 0; b < 256; ++b) {
      std::string s;
      AppendUtf8(t.byte_to_char[b], s);
      t.char_to_byte[t.byte_to_char[b]] = static_cast<uint8_t>(b);
      const auto it = t.vocab.find(s);
      // C0, C1 and F5..FF never occur in (sanitized) UTF-8, and GPT-NeoX's vocab omits them.
      const bool in_utf8 = b < 0xc0 || (b >= 0xc2 && b <= 0xf4);
      if (it == t.vocab.end() && in_utf8)
        t.Fail("the vocab lacks the byte-level token for byte " + std::to_string(b) + ".");
      t.byte_id[b] = it == t.vocab.end() ? -1 : it->second;
    }
    const json& merges = model.at("merges");
    for (size_t r = 0; r < merges.size(); ++r) {
      std::string left, right;
      if (merges[r].is_array()) {
        left = merges[r].at(0).get<std::string>();
        right = merges[r].at(1).get<std::string>();
      } else {
        const std::string m = merges[r].get<std::string>();
        const size_t sp = m.find(' ');
        if (sp == std::string::npos)
          t.Fail("merge " + std::to_string(r) + " '" + m + "' has no space.");
        left = m.substr(0, sp);
        right = m.substr(sp + 1);
      }
      const auto l = t.vocab.find(left), rr = t.vocab.find(right), m = t.vocab.find(left + right);
      if (l == t.vocab.end() || rr == t.vocab.end() || m == t.vocab.end())
        t.Fail("merge " + std::to_string(r) + " ('" + left + "' '" + right +
               "') uses a token not in the vocab.");
      const uint64_t key = (uint64_t(uint32_t(l->second)) << 32) | uint32_t(rr->second);
      t.merges.try_emplace(key, static_cast<int32_t>(r),
                           m->second);  // the first (lowest) rank wins
    }
    // Added tokens (JS AddedToken: normalized defaults to !special).
    auto& flags = t.added_flags;
    for (size_t i = 0; i < added.size(); ++i) {
      const json& a = added[i];
      const std::string content = a.at("content").get<std::string>();
      const int32_t id = a.at("id").get<int32_t>();  // bounded above
      const bool special = a.value("special", false);
      const bool normalized = a.contains("normalized") ? a["normalized"].get<bool>() : !special;
      // An added token may repeat a vocab entry (same id, same text as written or byte-mapped),
      // as real tokenizers do; another token on its id is a clash.
      if (taken[id] && t.id_to_token[id] != content && t.id_to_token[id] != ByteMapped(t, content))
        t.Fail(std::string(t.is_added[id] ? "added token " : "model.vocab token ") +
               json(t.id_to_token[id]).dump() + " and added_tokens[" + std::to_string(i) + "] " +
               json(content).dump() + " share the id " + std::to_string(id) +
               "; expected an added token to take a free id or repeat the token on it.");
      taken[id] = true;
      t.id_to_token[id] = content;
      t.is_added[id] = true;
      t.added_ids[content] = id;
      flags[content] = AddedFlags{a.value("lstrip", false), a.value("rstrip", false)};
      if (normalized && t.nfc) {
        const std::string n = t.Normalize(content);
        t.added_ids[n] = id;
        flags[n] = flags[content];
        t.normalized.Add(n);
      } else {
        t.unnormalized.Add(content);
      }
    }
    t.unnormalized.Finish();
    t.normalized.Finish();
  } catch (const json::exception& e) {
    t.Fail(std::string("malformed tokenizer.json (") + e.what() + ").");
  }
  // The ByteLevel decoder per id: vocab tokens map back to bytes, added tokens give their content.
  t.bytes_of.resize(t.id_to_token.size());
  for (size_t id = 0; id < t.id_to_token.size(); ++id) {
    const std::string& token = t.id_to_token[id];
    std::string& out = t.bytes_of[id];
    if (t.is_added[id]) {
      out = token;
      continue;
    }
    for (size_t i = 0; i < token.size();) {
      const char32_t c = NextCodePoint(token, i);
      const auto it = t.char_to_byte.find(c);
      if (it != t.char_to_byte.end())
        out += static_cast<char>(it->second);
      else
        AppendUtf8(c, out);  // not a byte-level character: kept as text
    }
  }
  HfTokenizer tokenizer(std::move(impl));
  tokenizer.impl_->eod_id = tokenizer.TokenId(eod_token).value_or(-1);
  tokenizer.impl_->eod_token = eod_token;
  return tokenizer;
}

std::vector<int32_t> HfTokenizer::Encode(std::string_view text) const {
  const Impl& t = *impl_;
  std::vector<int32_t> out;
  std::vector<std::string> sections = t.unnormalized.Split(SanitizeUtf8(text));
  t.TrimAround(sections);
  for (const std::string& section : sections) {
    if (section.empty()) continue;
    if (const auto it = t.added_ids.find(section); it != t.added_ids.end()) {
      out.push_back(it->second);
      continue;
    }
    const std::string normalized = t.Normalize(section);
    std::vector<std::string> subs = t.normalized.empty() ? std::vector<std::string>{normalized}
                                                         : t.normalized.Split(normalized);
    t.TrimAround(subs);
    for (const std::string& sub : subs) {
      if (sub.empty()) continue;
      if (const auto it = t.added_ids.find(sub); it != t.added_ids.end())
        out.push_back(it->second);
      else
        t.EncodeSection(sub, out);
    }
  }
  return out;
}

std::string HfTokenizer::Decode(std::span<const int32_t> ids) const {
  const Impl& t = *impl_;
  std::string out;
  for (const int32_t id : ids) {
    if (id < 0 || id >= vocab_size())
      throw Error(t.file + ": token id " + std::to_string(id) + " is outside [0, " +
                  std::to_string(vocab_size()) + ").");
    out += t.bytes_of[id];
  }
  return out;
}

const std::string& HfTokenizer::TokenBytes(int32_t id) const {
  OT_CHECK(id >= 0 && id < vocab_size())
      << impl_->file << ": token id " << id << " outside the vocabulary";
  return impl_->bytes_of[id];
}

int32_t HfTokenizer::eod_id() const { return impl_->eod_id; }
const std::string& HfTokenizer::eod_token() const { return impl_->eod_token; }

std::optional<int32_t> HfTokenizer::TokenId(std::string_view token) const {
  const std::string key(token);
  if (const auto it = impl_->added_ids.find(key); it != impl_->added_ids.end()) return it->second;
  if (const auto it = impl_->vocab.find(key); it != impl_->vocab.end()) return it->second;
  return std::nullopt;
}

std::string HfTokenizerHash(const std::filesystem::path& path) {
  return Xxh3Hex(ReadMaybeGzip(path));
}

int HfTokenizer::vocab_size() const { return static_cast<int>(impl_->id_to_token.size()); }

}  // namespace ot::data
