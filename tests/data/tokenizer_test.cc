// A tiny SentencePiece BPE trained on fixture text: lossless round trip on random bytes (valid
// UTF-8, invalid bytes, NUL, U+2581), ids in range, no end-of-document token from Encode,
// determinism of training.
#include "data/tokenizer.h"

#include <gtest/gtest.h>

#include <random>

#include "core/check.h"

namespace ot::data {
namespace {

std::vector<std::string> FixtureTexts() {
  const std::vector<std::string> words = {"the",   "model",  "loss",     "token", "data",  "train",
                                          "fine",  "tune",   "over",     "noise", "curve", "shape",
                                          "epoch", "budget", "résumé",   "naïve", "über",  "東京",
                                          "🙂",  "x=1;",   "def f(a):"};
  std::mt19937 rng(5);
  std::vector<std::string> texts;
  for (int d = 0; d < 60; ++d) {
    std::string t;
    for (int w = 0; w < 120; ++w) {
      t += words[rng() % words.size()];
      t += (w % 17 == 16) ? "\n" : (w % 7 == 6 ? ", " : " ");
    }
    texts.push_back(t);
  }
  return texts;
}

const Tokenizer& Tiny() {
  static const Tokenizer tok = [] {
    static const auto texts = FixtureTexts();
    std::vector<std::string_view> views(texts.begin(), texts.end());
    TokenizerOptions o;
    o.vocab_size = 400;
    o.num_threads = 1;
    return Tokenizer::FromModel(TrainTokenizer(views, o), "tiny");
  }();
  return tok;
}

std::string RandomBytes(std::mt19937& rng) {
  std::string s;
  const int n = rng() % 60;
  for (int i = 0; i < n; ++i) {
    switch (rng() % 9) {
      case 0:
        s += static_cast<char>(0x80 + rng() % 128);
        break;  // lone continuation / invalid lead
      case 1:
        s += "\xe2\x96\x81";
        break;  // U+2581, SentencePiece's space mark
      case 2:
        s += '\0';
        break;
      case 3:
        s += "  \t\n";
        break;
      case 4: {  // a random valid code point
        uint32_t cp = rng() % 0x10FFFF;
        if (cp >= 0xD800 && cp <= 0xDFFF) cp = 0x4E2D;
        if (cp < 0x80)
          s += static_cast<char>(cp);
        else if (cp < 0x800)
          s += static_cast<char>(0xC0 | (cp >> 6)), s += static_cast<char>(0x80 | (cp & 63));
        else if (cp < 0x10000)
          s += static_cast<char>(0xE0 | (cp >> 12)),
              s += static_cast<char>(0x80 | ((cp >> 6) & 63)),
              s += static_cast<char>(0x80 | (cp & 63));
        else
          s += static_cast<char>(0xF0 | (cp >> 18)),
              s += static_cast<char>(0x80 | ((cp >> 12) & 63)),
              s += static_cast<char>(0x80 | ((cp >> 6) & 63)),
              s += static_cast<char>(0x80 | (cp & 63));
        break;
      }
      case 5:
        s += "\xe6\x9d";
        break;  // truncated 3-byte sequence
      default:
        s += " the model";
        break;
    }
  }
  return s;
}

TEST(Tokenizer, RoundTripsRandomBytes) {
  const Tokenizer& tok = Tiny();
  EXPECT_EQ(tok.vocab_size(), 400);
  EXPECT_EQ(tok.eod_id(), 2);
  std::mt19937 rng(11);
  for (int i = 0; i < 2000; ++i) {
    const std::string s = RandomBytes(rng);
    const auto ids = tok.Encode(s);
    for (int32_t id : ids) {
      ASSERT_GE(id, 0);
      ASSERT_LT(id, tok.vocab_size());
      ASSERT_NE(id, tok.eod_id()) << "Encode must never emit the end-of-document token";
    }
    ASSERT_EQ(tok.Decode(ids), s) << "case " << i;
  }
}

TEST(Tokenizer, CompressesTrainingLikeTextAndKeepsWhitespace) {
  const Tokenizer& tok = Tiny();
  const std::string s = "the model loss over the budget\n  def f(a):\tx=1;";
  const auto ids = tok.Encode(s);
  EXPECT_LT(ids.size(), s.size() / 2) << "merges should cover frequent words";
  EXPECT_EQ(tok.Decode(ids), s);
  // Invalid bytes become their byte pieces.
  const auto bad = tok.Encode("\xff");
  ASSERT_EQ(bad.size(), 1u);
  EXPECT_EQ(bad[0], tok.ByteId(0xff));
  EXPECT_EQ(tok.TokenBytes(bad[0]), "\xff");
  // Control tokens decode to nothing; out-of-range ids throw.
  const std::vector<int32_t> with_eod = {tok.eod_id()};
  EXPECT_EQ(tok.Decode(with_eod), "");
  const std::vector<int32_t> out_of_range = {tok.vocab_size()};
  EXPECT_THROW(tok.Decode(out_of_range), Error);
}

TEST(Tokenizer, TrainingIsDeterministicAndModelLoadsBack) {
  const auto texts = FixtureTexts();
  std::vector<std::string_view> views(texts.begin(), texts.end());
  TokenizerOptions o;
  o.vocab_size = 400;
  o.num_threads = 2;
  // Another thread count gives the same vocabulary (the proto differs only in its num_threads
  // field).
  const Tokenizer a = Tokenizer::FromModel(TrainTokenizer(views, o), "two-threads");
  ASSERT_EQ(a.vocab_size(), Tiny().vocab_size());
  for (int32_t id = 0; id < a.vocab_size(); ++id)
    ASSERT_EQ(a.TokenBytes(id), Tiny().TokenBytes(id)) << id;
  const Tokenizer b = Tokenizer::FromModel(Tiny().serialized(), "copy");
  const std::string s = "the model loss over the budget";
  EXPECT_EQ(b.Encode(s), Tiny().Encode(s));
  EXPECT_THROW(Tokenizer::FromModel("not a model", "x.model"), Error);
}

}  // namespace
}  // namespace ot::data
