// LoadDataTokenizer: opens whichever tokenizer a prepared data directory holds and checks it
// against data.json.
#include "data/text_tokenizer.h"

#include <nlohmann/json.hpp>

#include "core/check.h"
#include "core/fileio.h"
#include "data/hf_tokenizer.h"
#include "data/tokenizer.h"

namespace ot::data {

namespace fs = std::filesystem;

std::unique_ptr<TextTokenizer> LoadDataTokenizer(const fs::path& dir) {
  const fs::path sp = dir / kSentencePieceFile, hf = dir / kHfTokenizerFile;
  const bool has_sp = fs::exists(sp), has_hf = fs::exists(hf);
  if (has_sp && has_hf)
    throw Error(dir.string() + ": holds both " + kSentencePieceFile + " and " + kHfTokenizerFile +
                "; a data directory has one tokenizer (re-run `overtrain data prepare`)");
  if (!has_sp && !has_hf)
    throw Error(dir.string() + ": expected " + kSentencePieceFile + " or " + kHfTokenizerFile +
                "; run `overtrain data prepare` first");
  // data.json (absent in hand-built directories) names the eod token and what the tokenizer was.
  nlohmann::json recorded = nlohmann::json::object();
  const fs::path manifest = dir / "data.json";
  if (fs::exists(manifest)) {
    try {
      recorded =
          nlohmann::json::parse(ReadFile(manifest)).value("tokenizer", nlohmann::json::object());
    } catch (const nlohmann::json::exception& e) {
      throw Error(manifest.string() + ": not valid JSON (" + e.what() + ")");
    }
  }
  std::unique_ptr<TextTokenizer> tok;
  if (has_sp) {
    tok = std::make_unique<Tokenizer>(Tokenizer::Load(sp));
  } else {
    const std::string eod = recorded.value("eod_token", std::string(kHfEodToken));
    tok = std::make_unique<HfTokenizer>(HfTokenizer::Load(hf, eod));
    if (tok->eod_id() < 0)
      throw Error(hf.string() + ": has no end-of-document token '" + eod +
                  "' (data.tokenizer_eod)");
  }
  const fs::path file = dir / tok->file_name();
  if (recorded.contains("kind") && recorded["kind"] != tok->kind())
    throw Error(manifest.string() + ": tokenizer.kind = " + recorded["kind"].dump() +
                " but the directory holds " + file.filename().string());
  for (const auto& [key, value] :
       {std::pair{"vocab_size", tok->vocab_size()}, std::pair{"eod_id", tok->eod_id()}})
    if (recorded.contains(key) && recorded[key] != value)
      throw Error(file.string() + ": " + key + " " + std::to_string(value) +
                  " differs from data.json's tokenizer." + key + " = " + recorded[key].dump() +
                  " (the tokenizer file was replaced)");
  return tok;
}

}  // namespace ot::data
