// HfTokenizer on the four byte-level BPE tokenizer.json files in shared/data/tokenizers: ids equal
// to the JS
// `@huggingface/tokenizers` oracle (npm pack, run by node) on generated strings, decode round trip,
// published ids checked by hand (these run without node), and one-sentence errors naming the file.
#include "data/hf_tokenizer.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>

#include "core/check.h"
#include "data/tokenizer_fixture.h"
#include "data/util.h"

namespace ot::data {
namespace {

namespace fs = std::filesystem;

// Pinned oracle: the pure-JS tokenizers of transformers.js (no dependencies, no network once
// packed).
constexpr const char* kOraclePackage = "@huggingface/tokenizers@0.2.0";
constexpr const char* kOracleSha1 =
    "3913cd936b6e5cbc24e20d0c81dc3ec0f97b8eb0";  // npm view ... dist.shasum

const std::vector<std::string> kFiles = {
    "gpt2/tokenizer.json.gz", "allenai_gpt-neox-olmo-dolma-v1_5.json.gz",
    "allenai_eleuther-ai-gpt-neox-20b-pii-special.json.gz", "allenai_dolma2.json.gz"};

bool InCi() {
  const char* ci = std::getenv("CI");
  return ci && std::string(ci) == "true";
}

using testing::SharedTokenizerDir;

// Missing inputs: a failure under CI=true (the CI machine has them), a skip with the reason
// elsewhere.
#define OT_REQUIRE(cond, why)                  \
  if (!(cond)) {                               \
    if (InCi()) FAIL() << why << " (CI=true)"; \
    GTEST_SKIP() << why;                       \
  }

// The build tree: OVERTRAIN_BIN's folder under ctest, else the folder of this test binary.
fs::path CacheDir() {
  if (const char* bin = std::getenv("OVERTRAIN_BIN"); bin && *bin)
    return fs::path(bin).parent_path() / "test_cache";
  return fs::read_symlink("/proc/self/exe").parent_path() / "test_cache";
}

// npm pack the pinned package into the cache once (sha1 checked, unpacked, renamed into place); ""
// on failure with the reason in *why.
fs::path FetchOracle(std::string* why) {
  const fs::path dir = CacheDir() / "hf-tokenizers-0.2.0";
  if (fs::exists(dir / "package" / "dist" / "tokenizers.mjs")) return dir / "package";
  const fs::path tmp = CacheDir() / ("tmp-" + std::to_string(getpid()));
  fs::remove_all(tmp);
  fs::create_directories(tmp);
  std::string out;
  if (RunCommand({"npm", "pack", kOraclePackage, "--silent"}, tmp, &out, 120) != 0) {
    *why = "npm pack " + std::string(kOraclePackage) + " failed: " + out;
    return {};
  }
  const fs::path tgz = tmp / "huggingface-tokenizers-0.2.0.tgz";
  std::ifstream f(tgz, std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(f)), {});
  if (Sha1Hex(bytes) != kOracleSha1) {
    *why = "npm pack gave no tarball with sha1 " + std::string(kOracleSha1) + " in " + tmp.string();
    return {};
  }
  if (RunCommand({"tar", "xzf", tgz.string()}, tmp, &out, 60) != 0) {
    *why = "tar failed: " + out;
    return {};
  }
  fs::rename(tmp, dir);
  return dir / "package";
}

fs::path OracleScript() {
  if (const char* src = std::getenv("OVERTRAIN_SOURCE_DIR"); src && *src)
    return fs::path(src) / "tests" / "data" / "hf_tokenizer_oracle.mjs";
  return fs::path(__FILE__).parent_path() / "hf_tokenizer_oracle.mjs";
}

std::string Utf8(char32_t c) {
  std::string s;
  if (c < 0x80) {
    s += char(c);
  } else if (c < 0x800) {
    s += char(0xc0 | (c >> 6)), s += char(0x80 | (c & 0x3f));
  } else if (c < 0x10000) {
    s += char(0xe0 | (c >> 12)), s += char(0x80 | ((c >> 6) & 0x3f)), s += char(0x80 | (c & 0x3f));
  } else {
    s += char(0xf0 | (c >> 18)), s += char(0x80 | ((c >> 12) & 0x3f)),
        s += char(0x80 | ((c >> 6) & 0x3f));
    s += char(0x80 | (c & 0x3f));
  }
  return s;
}

// Generated test strings. `plain` keeps to text that survives Encode/Decode unchanged for every
// file: no added tokens, no decomposed sequences (NFC), no invalid bytes.
std::string RandomString(std::mt19937& rng, bool plain) {
  static const std::vector<std::string> words = {
      "Hello",
      "world",
      "the",
      "The",
      "don't",
      "I'm",
      "we'll",
      "they've",
      "she'd",
      "it's",
      "YOU'RE",
      "'S",
      "'ll",
      "naïve",
      "café",
      "Straße",
      "Ελληνικά",
      "русский",
      "日本語",
      "東京タワー",
      "한국어",
      "中文字符",
      "עברית",
      "العربية",
      "हिन्दी",
      "ภาษาไทย",
      "🙂",
      "👍🏽",
      "👨‍👩‍👧",
      "🇩🇪",
      "∑x²",
      "½",
      "Ⅻ",
      "٣٤٥",
      "x=1;",
      "f(a,b)",
      "for (int i = 0; i < n; ++i) {",
      "}",
      "\tdef f(x):\n\t\treturn x**2",
      "#include <vector>",
      "a->b",
      "==",
      "https://example.com/a?b=c&d=e",
      "foo@bar.org",
      "$12.50",
      "3.14159",
      "1,000,000",
      "2024-05-01",
      "...",
      "!!!",
      "¿Qué?",
      "«quote»",
      "“smart”",
      "—",
      "é",
      "it'ſ",
      "'S'T'RE'VE'M'LL'D",
      std::string(300, 'a'),
      "abcdefghijklmnopqrstuvwxyz" + std::string(40, 'z'),
      std::string(50, '7')};
  static const std::vector<std::string> specials = {
      "<|endoftext|>",    "<|padding|>",  "|||EMAIL_ADDRESS|||", "|||PHONE_NUMBER|||",
      "|||IP_ADDRESS|||", "<|im_start|>", "<|fim_middle|>",      "<|extra_id_1|>"};
  static const std::vector<std::string> spaces = {" ",
                                                  " ",
                                                  " ",
                                                  "",
                                                  "  ",
                                                  "   ",
                                                  "\n",
                                                  "\n\n",
                                                  "\r\n",
                                                  "\t",
                                                  " \n ",
                                                  "\u00a0",
                                                  "\u3000",
                                                  "\u2028",
                                                  "\ufeff",
                                                  "\u0085",
                                                  std::string(30, ' '),
                                                  std::string(7, ' ') + "\n"};
  static const std::vector<std::pair<char32_t, char32_t>> ranges = {
      {0x20, 0x7e},     {0xa0, 0x24f},    {0x370, 0x3ff},     {0x400, 0x4ff},
      {0x590, 0x6ff},   {0x900, 0x97f},   {0xe00, 0xe7f},     {0x3040, 0x30ff},
      {0x4e00, 0x4fff}, {0xac00, 0xad00}, {0x1f300, 0x1f64f}, {0x2000, 0x206f}};
  std::string s;
  const int n = 1 + rng() % 24;
  for (int k = 0; k < n; ++k) {
    const int kind = rng() % 20;
    if (kind < 9) {
      s += words[rng() % words.size()];
    } else if (kind < 11) {
      s += std::to_string(rng() % 100000000);
    } else if (kind < 13 && !plain) {
      s += specials[rng() % specials.size()];
    } else if (kind < 15 && !plain) {
      const auto [lo, hi] = ranges[rng() % ranges.size()];
      for (int c = 1 + rng() % 5; c > 0; --c) s += Utf8(lo + rng() % (hi - lo + 1));
    } else if (kind < 16 && !plain) {
      const char* not_nfc[] = {"e\u0301", "\u1100\u1161",
                               "\u212a"};  // é, 가 decomposed; Kelvin sign -> K
      s += not_nfc[rng() % 3];
    } else if (kind < 17 && !plain) {
      const char bad[] = {'\xff', '\xc3', '\xe2', '\x82', '\xf0', '\x9f', '\x80', '\xed'};
      for (int c = 1 + rng() % 3; c > 0; --c) s += bad[rng() % 8];
    }
    s += spaces[rng() % spaces.size()];
  }
  return s;
}

std::string Hex(std::string_view s) {
  static const char* digits = "0123456789abcdef";
  std::string h;
  for (unsigned char c : s) h += digits[c >> 4], h += digits[c & 15];
  return h;
}

TEST(HfTokenizer, PublishedIdsByHand) {
  const fs::path dir = SharedTokenizerDir();
  if (dir.empty()) GTEST_SKIP() << "no shared/data/tokenizers folder (set OVERTRAIN_DATA_DIR)";
  using V = std::vector<int32_t>;
  const HfTokenizer gpt2 = HfTokenizer::Load(dir / kFiles[0]);
  EXPECT_EQ(gpt2.vocab_size(), 50257);
  EXPECT_EQ(gpt2.Encode("Hello world"), (V{15496, 995}));
  EXPECT_EQ(gpt2.Encode(""), V{});
  // rstrip/lstrip of <|endoftext|> eat the spaces around it.
  EXPECT_EQ(gpt2.Encode("a <|endoftext|>  hi"), (V{64, 50256, 5303}));
  const HfTokenizer olmo = HfTokenizer::Load(dir / kFiles[1]);
  EXPECT_EQ(olmo.vocab_size(), 50280);
  EXPECT_EQ(olmo.Encode("Hello world"), (V{12092, 1533}));
  EXPECT_EQ(olmo.TokenId("<|endoftext|>"), 50279);
  EXPECT_EQ(olmo.Encode("<|endoftext|>"), V{50279});
  // NFC: decomposed e + U+0301 encodes as precomposed é; two spaces are the added token 50276.
  EXPECT_EQ(olmo.Encode("e\u0301"), olmo.Encode("\u00e9"));
  EXPECT_EQ(olmo.Encode("  hi"), (V{50276, 5801}));
  const HfTokenizer neox = HfTokenizer::Load(dir / kFiles[2]);
  EXPECT_EQ(neox.Encode("<|endoftext|>Hello world"), (V{0, 12092, 1533}));
  const HfTokenizer dolma2 = HfTokenizer::Load(dir / kFiles[3]);
  EXPECT_EQ(dolma2.vocab_size(), 100278);
  EXPECT_EQ(dolma2.Encode("Hello world"), (V{9906, 1917}));
  EXPECT_EQ(dolma2.Encode("<|endoftext|>"), V{100257});
  // Invalid UTF-8 is decoded as Node does: "\xff" and the truncated "\xe2\x82" are one U+FFFD each.
  EXPECT_EQ(gpt2.Encode("a\xff\xe2\x82"
                        "b"),
            (V{64, 6353, 65}));
  EXPECT_EQ(gpt2.Decode(gpt2.Encode("\xff")), "\uFFFD");
  EXPECT_EQ(SanitizeUtf8("a\xf0\x9f\x99"
                         "b\xed\xa0\x80"),
            "a\uFFFD"
            "b\uFFFD\uFFFD\uFFFD");
}

TEST(HfTokenizer, DecodeRoundTripsPlainText) {
  const fs::path dir = SharedTokenizerDir();
  if (dir.empty()) GTEST_SKIP() << "no shared/data/tokenizers folder (set OVERTRAIN_DATA_DIR)";
  for (const auto& file : kFiles) {
    const HfTokenizer tok = HfTokenizer::Load(dir / file);
    std::mt19937 rng(7);
    for (int i = 0; i < 500; ++i) {
      const std::string s = RandomString(rng, /*plain=*/true);
      const std::vector<int32_t> ids = tok.Encode(s);
      for (int32_t id : ids) ASSERT_TRUE(id >= 0 && id < tok.vocab_size()) << file;
      ASSERT_EQ(tok.Decode(ids), s) << file << " on '" << s << "'";
    }
    EXPECT_THROW(tok.Decode(std::vector<int32_t>{tok.vocab_size()}), Error);
  }
}

std::vector<uint8_t> Base64(std::string_view s) {
  std::vector<uint8_t> out;
  uint32_t acc = 0;
  int bits = 0;
  for (char c : s) {
    const char* alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const char* p = c ? std::strchr(alphabet, c) : nullptr;
    if (!p) continue;  // '=' padding
    acc = (acc << 6) | uint32_t(p - alphabet);
    if ((bits += 6) >= 8) out.push_back(uint8_t(acc >> (bits -= 8)));
  }
  return out;
}

// Published reference: Paloma's C4-100-domains documents ship GPT-2 ids (base64 of big-endian
// uint16) made by the Rust library; our encoding of `text` must give them back.
TEST(HfTokenizer, GptTwoIdsOfPalomaDocuments) {
  const fs::path dir = SharedTokenizerDir();
  if (dir.empty()) GTEST_SKIP() << "no shared/data/tokenizers folder (set OVERTRAIN_DATA_DIR)";
  const fs::path paloma =
      dir / ".." / "c4" / "c4_100_domains_5_www.theguardian.com_00000000.jsonl.gz";
  if (!fs::exists(paloma)) GTEST_SKIP() << "no shared/data/c4 Paloma file";
  const HfTokenizer gpt2 = HfTokenizer::Load(dir / kFiles[0]);
  std::istringstream lines(ReadMaybeGzip(paloma));
  size_t docs = 0, tokens = 0;
  for (std::string line; std::getline(lines, line);) {
    const auto j = nlohmann::json::parse(line);
    const std::vector<uint8_t> b = Base64(j.at("tokens").get<std::string>());
    std::vector<int32_t> want;
    for (size_t i = 0; i + 1 < b.size(); i += 2) want.push_back(int32_t(b[i]) << 8 | b[i + 1]);
    EXPECT_EQ(gpt2.Encode(j.at("text").get<std::string>()), want) << "document " << docs;
    ++docs;
    tokens += want.size();
  }
  EXPECT_EQ(docs, 10u);
  EXPECT_EQ(tokens, 6885u);  // shared/data/c4/README.md
}

// Encode throughput on the 2.3 MB C4 sample (printed, not asserted: the machine is shared).
TEST(HfTokenizer, EncodeThroughputOnC4) {
  const fs::path dir = SharedTokenizerDir();
  if (dir.empty()) GTEST_SKIP() << "no shared/data/tokenizers folder (set OVERTRAIN_DATA_DIR)";
  const fs::path c4 = dir / ".." / "c4" / "c4-sample.00000-of-00001.json.gz";
  if (!fs::exists(c4)) GTEST_SKIP() << "no shared/data/c4 sample";
  std::vector<std::string> texts;
  std::istringstream lines(ReadMaybeGzip(c4));
  size_t bytes = 0;
  for (std::string line; std::getline(lines, line);) {
    texts.push_back(nlohmann::json::parse(line).at("text").get<std::string>());
    bytes += texts.back().size();
  }
  for (const auto& file : {kFiles[0], kFiles[3]}) {
    const HfTokenizer tok = HfTokenizer::Load(dir / file);
    size_t n = 0;
    const auto t0 = std::chrono::steady_clock::now();
    for (const auto& t : texts) n += tok.Encode(t).size();
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    EXPECT_GT(n, bytes / 8) << file;  // English BPE: ~4 bytes per token
    std::printf("[ speed    ] %s: %zu bytes -> %zu tokens, %.1f MB/s\n", file.c_str(), bytes, n,
                bytes / s / 1e6);
  }
}

TEST(HfTokenizer, IdsEqualTheJsOracle) {
  const fs::path dir = SharedTokenizerDir();
  if (dir.empty()) GTEST_SKIP() << "no shared/data/tokenizers folder (set OVERTRAIN_DATA_DIR)";
  std::string out;
  OT_REQUIRE(RunCommand({"sh", "-c", "command -v node && command -v npm"}, "", &out) == 0,
             "node or npm is not installed: the JS oracle cannot run");
  std::string why;
  const fs::path package = FetchOracle(&why);
  OT_REQUIRE(!package.empty(), why);

  constexpr int kStrings =
      3000;  // per file; with the 4 files ~10 s of node, most of it loading the JSON
  std::mt19937 rng(2024);
  std::vector<std::string> texts;
  for (int i = 0; i < kStrings; ++i) texts.push_back(RandomString(rng, /*plain=*/false));
  // Plus real web text: the first kC4Docs documents of the C4 sample, where it is present.
  constexpr int kC4Docs = 200;
  if (const fs::path c4 = dir / ".." / "c4" / "c4-sample.00000-of-00001.json.gz"; fs::exists(c4)) {
    std::istringstream lines(ReadMaybeGzip(c4));
    std::string line;
    for (int i = 0; i < kC4Docs && std::getline(lines, line); ++i)
      texts.push_back(nlohmann::json::parse(line).at("text").get<std::string>());
  }
  const fs::path tmp = fs::temp_directory_path() / ("ot_hf_oracle_" + std::to_string(getpid()));
  fs::create_directories(tmp);
  {
    std::ofstream in(tmp / "in.txt");
    for (const auto& t : texts) in << 'x' << Hex(t) << '\n';
  }
  for (const auto& file : kFiles) {
    const HfTokenizer tok = HfTokenizer::Load(dir / file);
    ASSERT_EQ(RunCommand({"node", OracleScript().string(), package.string(), (dir / file).string(),
                          (tmp / "in.txt").string(), (tmp / "out.txt").string()},
                         "", &out, 300),
              0)
        << out;
    std::ifstream result(tmp / "out.txt");
    std::string line;
    int mismatches = 0;
    size_t bytes = 0;
    double seconds = 0;
    for (size_t i = 0; i < texts.size(); ++i) {
      ASSERT_TRUE(std::getline(result, line))
          << file << ": the oracle wrote fewer lines than strings";
      std::vector<int32_t> want;
      std::istringstream ls(line);
      for (int32_t id; ls >> id;) want.push_back(id);
      const auto t0 = std::chrono::steady_clock::now();
      const std::vector<int32_t> got = tok.Encode(texts[i]);
      seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      bytes += texts[i].size();
      if (got != want && ++mismatches <= 5)
        ADD_FAILURE() << file << ": string " << i << " (hex " << Hex(texts[i]) << ") oracle '"
                      << line << "', ours " << ::testing::PrintToString(got);
    }
    EXPECT_EQ(mismatches, 0) << file;
    std::printf("[ oracle   ] %s: %zu strings, %d mismatches, encode %.1f MB/s\n", file.c_str(),
                texts.size(), mismatches, bytes / seconds / 1e6);
  }
  fs::remove_all(tmp);
}

// Writes `text` to a temp file named `name` and returns the Error message Load gives for it.
std::string LoadError(const std::string& name, const std::string& text) {
  const fs::path p = fs::temp_directory_path() / (std::to_string(getpid()) + "_" + name);
  { std::ofstream(p, std::ios::binary) << text; }
  std::string message = "no error";
  try {
    HfTokenizer::Load(p);
  } catch (const Error& e) {
    message = e.what();
  }
  fs::remove(p);
  return message;
}

TEST(HfTokenizer, ErrorsNameTheFileAndTheType) {
  const std::string base =
      R"({"added_tokens": [], "normalizer": null, "post_processor": null, "decoder": null,
      "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": false, "use_regex": true},
      "model": {"type": "BPE", "vocab": {}, "merges": []}})";
  auto with = [&](const std::string& from, const std::string& to) {
    std::string s = base;
    s.replace(s.find(from), from.size(), to);
    return s;
  };
  std::string m = LoadError("wordpiece.json", with(R"("type": "BPE")", R"("type": "WordPiece")"));
  EXPECT_NE(m.find("wordpiece.json"), std::string::npos) << m;
  EXPECT_NE(m.find("model type 'WordPiece' is not supported"), std::string::npos) << m;
  m = LoadError("nfkc.json", with(R"("normalizer": null)", R"("normalizer": {"type": "NFKC"})"));
  EXPECT_NE(m.find("nfkc.json: normalizer type 'NFKC' is not supported"), std::string::npos) << m;
  m = LoadError("meta.json", with(R"("type": "ByteLevel", "add_prefix_space": false)",
                                  R"("type": "Metaspace")"));
  EXPECT_NE(m.find("meta.json: pre-tokenizer type 'Metaspace' is not supported"), std::string::npos)
      << m;
  m = LoadError("nobytes.json", base);  // an empty vocab lacks the 256 byte tokens
  EXPECT_NE(m.find("nobytes.json: the vocab lacks the byte-level token for byte 0"),
            std::string::npos)
      << m;
  m = LoadError("negative.json", with(R"("vocab": {})", R"("vocab": {"a": -1})"));
  EXPECT_NE(m.find("negative.json: vocab token 'a' has a negative id"), std::string::npos) << m;
  m = LoadError("truncated.json", base.substr(0, base.size() / 2));
  EXPECT_NE(m.find("truncated.json: not a readable tokenizer.json"), std::string::npos) << m;
  m = LoadError("corrupt.json.gz", std::string("\x1f\x8b\x08\x00garbage", 12));
  EXPECT_NE(m.find("corrupt.json.gz"), std::string::npos) << m;
  EXPECT_THROW(HfTokenizer::Load("/nonexistent/tokenizer.json"), Error);
}

// A minimal valid tokenizer.json: the 256 byte-level tokens (ids 0..255), then `extra_vocab` (JSON
// object members, e.g. R"("ab": 256)") and `added` (JSON array elements).
std::string TinyTokenizer(const std::string& extra_vocab = "", const std::string& added = "") {
  nlohmann::json vocab = nlohmann::json::object();
  int n = 0;
  for (int b = 0; b < 256; ++b) {
    const bool direct = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || b >= 174;
    const char32_t c = direct ? char32_t(b) : char32_t(256 + n++);
    std::string s;
    if (c < 0x80) {
      s += static_cast<char>(c);
    } else {
      s += static_cast<char>(0xc0 | (c >> 6));
      s += static_cast<char>(0x80 | (c & 0x3f));
    }
    vocab[s] = b;
  }
  std::string v = vocab.dump();
  if (!extra_vocab.empty()) v = v.substr(0, v.size() - 1) + "," + extra_vocab + "}";
  return R"({"added_tokens": [)" + added +
         R"(], "normalizer": null, "post_processor": null, "decoder": null,
      "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": false, "use_regex": true},
      "model": {"type": "BPE", "vocab": )" +
         v + R"(, "merges": []}})";
}

std::string Added(int64_t id, const std::string& content) {
  return R"({"id": )" + std::to_string(id) + R"(, "content": )" + nlohmann::json(content).dump() +
         R"(, "special": true})";
}

TEST(HfTokenizer, IdsAreBoundedBeforeAnythingIsAllocated) {
  ASSERT_EQ(LoadError("tiny.json", TinyTokenizer(R"("ab": 256)", Added(257, "<|eod|>"))),
            "no error");
  // 2^31-1 made a "vector larger than max_size()" error naming no file, 2^27 bad_alloc, 2^24 took
  // 1 GB, and 2^32 + 256 was truncated to the id 256.
  for (const int64_t id : {int64_t{2147483647}, int64_t{1} << 27, int64_t{1} << 24,
                           (int64_t{1} << 32) + 256, int64_t{259}}) {
    std::string m = LoadError("big.json", TinyTokenizer(R"("ab": )" + std::to_string(id)));
    EXPECT_NE(m.find("big.json: model.vocab[\"ab\"] = " + std::to_string(id) +
                     " is not a valid token id: expected an integer in [0, 257)"),
              std::string::npos)
        << m;
    m = LoadError("big.json",
                  TinyTokenizer(R"("ab": 256)", Added(256, "ab") + "," + Added(id, "x")));
    EXPECT_NE(m.find("big.json: added_tokens[1].id = " + std::to_string(id) +
                     " is not a valid token id: expected an integer in [0, 259)"),
              std::string::npos)
        << m;
  }
  std::string m = LoadError("big.json", TinyTokenizer(R"("ab": 1e3)"));
  EXPECT_NE(m.find("big.json: model.vocab[\"ab\"] = 1000.0 is not a valid token id"),
            std::string::npos)
      << m;
  m = LoadError("neg.json", TinyTokenizer("", Added(-1, "x")));
  EXPECT_NE(m.find("neg.json: added_tokens[0] has a negative id"), std::string::npos) << m;
}

TEST(HfTokenizer, DuplicateIdsAreRefused) {
  std::string m = LoadError("dup.json", TinyTokenizer(R"("ab": 256, "cd": 256)"));
  EXPECT_NE(m.find("dup.json: model.vocab tokens \"ab\" and \"cd\" share the id 256"),
            std::string::npos)
      << m;
  m = LoadError("dup.json", TinyTokenizer(R"("ab": 256)", Added(256, "<|eod|>")));
  EXPECT_NE(m.find("dup.json: model.vocab token \"ab\" and added_tokens[0] \"<|eod|>\" share the "
                   "id 256"),
            std::string::npos)
      << m;
  m = LoadError("dup.json", TinyTokenizer("", Added(256, "<a>") + "," + Added(256, "<b>")));
  EXPECT_NE(m.find("dup.json: added token \"<a>\" and added_tokens[1] \"<b>\" share the id 256"),
            std::string::npos)
      << m;
  // An added token repeating its vocab entry (as written, or byte-mapped: "  " is "ĠĠ") loads.
  const std::string ok = TinyTokenizer(R"("<|eod|>": 256, "\u0120\u0120": 257)",
                                       Added(256, "<|eod|>") + "," + Added(257, "  "));
  EXPECT_EQ(LoadError("ok.json", ok), "no error");
}

TEST(HfTokenizer, ManyAddedTokensLoadInLinearTime) {
  std::string added;
  const int n = 200000;
  for (int i = 0; i < n; ++i)
    added += (i ? "," : "") + Added(256 + i, "<t" + std::to_string(i) + ">");
  const fs::path p = fs::temp_directory_path() / (std::to_string(getpid()) + "_many.json");
  { std::ofstream(p, std::ios::binary) << TinyTokenizer("", added); }
  const auto start = std::chrono::steady_clock::now();
  const HfTokenizer tok = HfTokenizer::Load(p);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  fs::remove(p);
  std::printf("[ timing   ] %d added tokens load in %.2f s\n", n, seconds);
  EXPECT_EQ(tok.vocab_size(), 256 + n);
  EXPECT_EQ(tok.TokenId("<t199999>"), 256 + n - 1);
  EXPECT_EQ(tok.Encode("a<t12>b<t123>"), (std::vector<int32_t>{'a', 256 + 12, 'b', 256 + 123}));
  EXPECT_LT(seconds, 10) << "quadratic in the added tokens (200k took over 300 s)";
}

}  // namespace
}  // namespace ot::data
