// A Hugging Face tokenizer.json (plain or .gz) of model type BPE with byte-level pre-tokenization:
// GPT-2, GPT-NeoX / Pythia / OLMo-1, OLMo-2 dolma2. Ids equal those of the
// `@huggingface/tokenizers` JS library; the "hf_json" TextTokenizer. Entry points:
// HfTokenizer::Load, Encode, Decode, TokenBytes, TokenId, vocab_size, eod_id.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "data/text_tokenizer.h"

namespace ot::data {

// What is supported (anything else is an Error naming the file and the type):
//   normalizer      null | NFC
//   pre_tokenizer   ByteLevel(add_prefix_space=false)
//                   | Sequence[Split(Regex, invert=true, Removed)..., ByteLevel(use_regex=false)]
//   model           BPE (no dropout, byte fallback, subword prefix/suffix; ignore_merges honoured)
//   decoder         null | ByteLevel
//   post_processor  null | ByteLevel (adds nothing to the ids)
// Added tokens are split out first (longest match, as the JS library does): the not-normalized ones
// on the raw text, the normalized ones after the normalizer; lstrip/rstrip trim neighbouring
// whitespace.
//
// Input that is not valid UTF-8 is first decoded as a browser / Node does (WHATWG: each maximal
// invalid subsequence becomes U+FFFD), which is what the JS oracle sees for the same bytes. So
// Decode(Encode(x)) == x holds for valid UTF-8 x that the normalizer leaves unchanged and that has
// no whitespace next to an lstrip/rstrip token.
class HfTokenizer final : public TextTokenizer {
 public:
  // Throws ot::Error naming `path` on a missing, truncated or corrupt file and on an unsupported
  // type. `eod_token` names the end-of-document token; eod_id() is -1 when the file lacks it.
  static HfTokenizer Load(const std::filesystem::path& path,
                          std::string_view eod_token = kHfEodToken);

  HfTokenizer(HfTokenizer&&) noexcept;
  HfTokenizer& operator=(HfTokenizer&&) noexcept;
  ~HfTokenizer() override;

  // No special tokens are added (GPT-2/NeoX/dolma2 post-processors add none). Encode and Decode
  // keep no state: several threads may call them on one tokenizer.
  std::vector<int32_t> Encode(std::string_view text) const override;
  // ByteLevel decoder: vocab tokens map back to bytes, added tokens give their content. The result
  // can be invalid UTF-8 when `ids` cut a character. Throws Error on an id outside [0, vocab_size).
  std::string Decode(std::span<const int32_t> ids) const override;
  // What Decode gives for one id: its bytes through the ByteLevel map, or an added token's content.
  const std::string& TokenBytes(int32_t id) const override;

  // Id of a vocab or added token given as written in tokenizer.json (e.g. "<|endoftext|>", "Ġthe").
  std::optional<int32_t> TokenId(std::string_view token) const;
  int vocab_size() const override;  // largest id + 1
  int32_t eod_id() const override;
  const std::string& eod_token() const;  // as given to Load
  const char* kind() const override { return "hf_json"; }
  const char* file_name() const override { return kHfTokenizerFile; }

  struct Impl;

 private:
  explicit HfTokenizer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// XXH3-64 (16 hex digits) of a tokenizer.json's text (gzip undone): equal for the same tokenizer
// file, whether plain or compressed, so two files can be compared without parsing them.
std::string HfTokenizerHash(const std::filesystem::path& path);

// Node/WHATWG UTF-8 decoding: valid input unchanged, each maximal invalid subsequence -> U+FFFD.
std::string SanitizeUtf8(std::string_view bytes);

}  // namespace ot::data
