// The one tokenizer interface of the data layer and the stages: the project's SentencePiece BPE
// (tokenizer.model) and an imported Hugging Face tokenizer.json both implement it, and a prepared
// data directory holds exactly one of the two. Entry points: TextTokenizer, LoadDataTokenizer.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace ot::data {

inline constexpr const char* kSentencePieceFile = "tokenizer.model";
inline constexpr const char* kHfTokenizerFile = "tokenizer.json";
// The end-of-text token of the byte-level BPE families we import: GPT-2, GPT-NeoX / Pythia, OLMo-1
// and OLMo-2's dolma2 all name their end of document "<|endoftext|>".
inline constexpr const char* kHfEodToken = "<|endoftext|>";
// The largest vocabulary a data directory may hold: model/config.h's kMaxVocabSize (2^20), so that
// some model can read the ids; every id then fits a token file's uint32 (uint16 up to 65535).
inline constexpr int kMaxTokenizerVocab = 1 << 20;

class TextTokenizer {
 public:
  virtual ~TextTokenizer() = default;

  // Token ids of `text`; no end-of-document or begin token is added. Thread-safe.
  virtual std::vector<int32_t> Encode(std::string_view text) const = 0;
  // The bytes of `ids`, concatenated; throws Error on an id outside [0, vocab_size).
  virtual std::string Decode(std::span<const int32_t> ids) const = 0;
  // The bytes one token decodes to (acc_norm byte lengths); id in [0, vocab_size).
  virtual const std::string& TokenBytes(int32_t id) const = 0;
  virtual int vocab_size() const = 0;
  virtual int32_t eod_id() const = 0;  // the end-of-document token every document ends with
  // "sentencepiece" or "hf_json"; file_name() is what the data directory holds it as.
  virtual const char* kind() const = 0;
  virtual const char* file_name() const = 0;
};

// The tokenizer of a prepared data directory: tokenizer.model (SentencePiece) or tokenizer.json
// (Hugging Face; its end-of-document token is data.json's tokenizer.eod_token, else kHfEodToken).
// When data.json records the tokenizer's vocab_size and eod_id they must agree with the file.
// Throws Error naming the directory when it holds neither file or both, and naming the file on a
// mismatch.
std::unique_ptr<TextTokenizer> LoadDataTokenizer(const std::filesystem::path& dir);

}  // namespace ot::data
