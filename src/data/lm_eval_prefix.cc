// LmEvalPrefixToken (see lm_eval_prefix.h).
#include "data/lm_eval_prefix.h"

#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "core/check.h"
#include "core/fileio.h"
#include "data/hf_tokenizer.h"

namespace ot::data {

int32_t LmEvalPrefixToken(const std::filesystem::path& dir, const TextTokenizer& tokenizer) {
  const std::filesystem::path file = dir / kHfTokenizerConfigFile;
  if (!std::filesystem::exists(file)) return tokenizer.eod_id();
  nlohmann::json bos;
  try {
    bos = nlohmann::json::parse(ReadFile(file)).value("bos_token", nlohmann::json());
  } catch (const nlohmann::json::exception& e) {
    throw Error(file.string() + ": not valid JSON (" + e.what() + ")");
  }
  if (bos.is_object()) bos = bos.value("content", nlohmann::json());
  if (bos.is_null()) return tokenizer.eod_id();  // no BOS: HFLM falls back to the EOS token
  if (!bos.is_string())
    throw Error(file.string() + ": bos_token is a " + bos.type_name() +
                "; expected a string, an object with \"content\", or null");
  const std::string name = bos.get<std::string>();
  // By the token's content, as transformers looks it up (added tokens first, then the vocab).
  if (const auto* hf = dynamic_cast<const HfTokenizer*>(&tokenizer))
    if (const std::optional<int32_t> id = hf->TokenId(name)) return *id;
  throw Error(file.string() + ": bos_token '" + name + "' is not a token of the data directory's " +
              tokenizer.file_name() + "; expected one of its tokens, or null");
}

}  // namespace ot::data
