// The project tokenizer: a SentencePiece BPE (byte fallback, identity normalisation, no dummy
// prefix) with a lossless byte-level wrapper: Decode(Encode(x)) == x for any bytes, invalid UTF-8
// included. It is the "sentencepiece" TextTokenizer. Entry points: TrainTokenizer, Tokenizer::Load
// / FromModel, Encode, Decode, eod_id, vocab_size.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "data/text_tokenizer.h"

namespace sentencepiece {
class SentencePieceProcessor;
}

namespace ot::data {

struct TokenizerOptions {
  int vocab_size = 8192;
  int num_threads = 2;
  double character_coverage = 0.9995;
  bool split_digits = true;
};

// Trains a BPE model on `texts` (each split into lines; lines longer than 16 KB are cut) and
// returns the serialized model proto (what tokenizer.model holds). SentencePiece's progress log is
// captured and shown only on failure. Ids: 0 <unk>, 1 <s>, 2 </s> (= end of document), then 256
// byte pieces, then merges.
std::string TrainTokenizer(const std::vector<std::string_view>& texts,
                           const TokenizerOptions& options);

class Tokenizer final : public TextTokenizer {
 public:
  static Tokenizer Load(const std::filesystem::path& model_path);  // throws Error naming the path
  static Tokenizer FromModel(const std::string& serialized_model, const std::string& where);
  Tokenizer(Tokenizer&&) noexcept;
  Tokenizer& operator=(Tokenizer&&) noexcept;
  ~Tokenizer() override;

  // Token ids of `text` (no end-of-document token appended). Invalid UTF-8 bytes, NUL and U+2581
  // are emitted as byte pieces. Thread-safe.
  std::vector<int32_t> Encode(std::string_view text) const override;
  // The exact bytes of `ids`; control ids (<s>, </s>, <unk>) decode to nothing. Ids out of range
  // throw.
  std::string Decode(std::span<const int32_t> ids) const override;
  // The bytes of one token ("" for control tokens); e.g. for acc_norm byte lengths.
  const std::string& TokenBytes(int32_t id) const override { return bytes_of_[id]; }

  int vocab_size() const override { return static_cast<int>(bytes_of_.size()); }
  int32_t eod_id() const override { return eod_id_; }
  const char* kind() const override { return "sentencepiece"; }
  const char* file_name() const override { return kSentencePieceFile; }
  // The model's piece string of `id` ("<s>", "<0x0A>", U+2581 for a space), its <unk> and <s> ids.
  std::string Piece(int32_t id) const;
  int32_t unk_id() const;
  int32_t bos_id() const;
  int32_t ByteId(uint8_t b) const { return byte_ids_[b]; }
  const std::string& serialized() const { return serialized_; }

 private:
  Tokenizer();
  std::unique_ptr<sentencepiece::SentencePieceProcessor> sp_;
  std::string serialized_;
  std::vector<std::string> bytes_of_;
  int32_t byte_ids_[256] = {};
  int32_t eod_id_ = -1;
};

}  // namespace ot::data
