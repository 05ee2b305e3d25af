// lm-eval's prefix token: what an empty context is scored after, and what the first window of a
// rolling log-likelihood starts with. lm-eval's HFLM uses the tokenizer's BOS token when it has one
// and its EOS token otherwise (HFLM.prefix_token_id). A Hugging Face tokenizer declares its BOS in
// tokenizer_config.json (`bos_token`); `overtrain data prepare` copies that file next to
// tokenizer.json. Entry point: LmEvalPrefixToken.
#pragma once

#include <cstdint>
#include <filesystem>

#include "data/text_tokenizer.h"

namespace ot::data {

inline constexpr const char* kHfTokenizerConfigFile = "tokenizer_config.json";

// The prefix token for `tokenizer`, the tokenizer of data directory `dir`: the id of
// tokenizer_config.json's bos_token when `dir` holds that file and the token is set (a string, or
// an object with "content"), else tokenizer.eod_id() (the EOS of every family we import, and of the
// project's own SentencePiece tokenizer, which has no BOS). Throws Error naming the file and key
// when the file is unreadable or names a token the tokenizer lacks.
int32_t LmEvalPrefixToken(const std::filesystem::path& dir, const TextTokenizer& tokenizer);

}  // namespace ot::data
