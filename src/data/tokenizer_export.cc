// Tokenizer files for transformers' from_pretrained (see tokenizer_export.h and docs/export.md for
// which fields transformers reads and what it then does with our model).
#include "data/tokenizer_export.h"

#include "core/check.h"
#include "core/fileio.h"
#include "data/hf_tokenizer.h"
#include "data/tokenizer.h"

namespace ot::data {

namespace fs = std::filesystem;

namespace {

// transformers' AddedToken as save_pretrained writes it into added_tokens_decoder.
nlohmann::json SpecialToken(const std::string& content) {
  return {{"content", content}, {"lstrip", false},      {"normalized", false},
          {"rstrip", false},    {"single_word", false}, {"special", true}};
}

void WriteJson(const fs::path& path, const nlohmann::json& j, std::vector<std::string>& files) {
  WriteFileAtomic(path, j.dump(2) + "\n");
  files.push_back(path.filename().string());
}

}  // namespace

nlohmann::json LlamaTokenizerConfig(int model_max_length) {
  return {
      {"tokenizer_class", "LlamaTokenizer"},
      {"add_bos_token", false},
      {"add_eos_token", false},
      {"add_prefix_space", false},
      {"legacy", true},
      {"bos_token", "<s>"},
      {"eos_token", "</s>"},
      {"unk_token", "<unk>"},
      {"pad_token", nullptr},
      {"clean_up_tokenization_spaces", false},
      {"spaces_between_special_tokens", false},
      {"use_default_system_prompt", false},
      {"sp_model_kwargs", nlohmann::json::object()},
      {"model_max_length", model_max_length},
      {"added_tokens_decoder",
       {{"0", SpecialToken("<unk>")}, {"1", SpecialToken("<s>")}, {"2", SpecialToken("</s>")}}}};
}

HfTokenizerExport WriteHfTokenizerFiles(const fs::path& data_dir, const fs::path& out_dir,
                                        int model_max_length) {
  const std::unique_ptr<TextTokenizer> tok = LoadDataTokenizer(data_dir);
  const fs::path source = data_dir / tok->file_name();
  HfTokenizerExport e;
  e.kind = tok->kind();
  e.vocab_size = tok->vocab_size();
  nlohmann::json config, special;
  if (const auto* sp = dynamic_cast<const Tokenizer*>(tok.get())) {
    // LlamaTokenizer's fast conversion fixes ids 0..2 as <unk>, <s>, </s>, and its defaults name
    // them.
    const bool llama_ids = sp->vocab_size() > 2 && sp->unk_id() == 0 && sp->bos_id() == 1 &&
                           sp->eod_id() == 2 && sp->Piece(0) == "<unk>" && sp->Piece(1) == "<s>" &&
                           sp->Piece(2) == "</s>";
    if (!llama_ids)
      throw Error(source.string() +
                  ": expected LlamaTokenizer's ids 0 <unk>, 1 <s>, 2 </s> (the ids " +
                  "`overtrain data prepare` trains with)");
    WriteFileAtomic(out_dir / kSentencePieceFile, sp->serialized());
    e.files.push_back(kSentencePieceFile);
    e.bos_id = sp->bos_id();
    e.eos_id = sp->eod_id();
    config = LlamaTokenizerConfig(model_max_length);
    special = {{"bos_token", "<s>"}, {"eos_token", "</s>"}, {"unk_token", "<unk>"}};
  } else {
    const auto* hf = dynamic_cast<const HfTokenizer*>(tok.get());
    OT_CHECK(hf) << "a data tokenizer of unknown kind " << tok->kind();
    // The file as prepare copied it (plain JSON), byte for byte.
    WriteFileAtomic(out_dir / kHfTokenizerFile, ReadFile(source));
    e.files.push_back(kHfTokenizerFile);
    // GPT-NeoX / OLMo style: the end-of-text token is also the begin token; neither is added.
    e.bos_id = e.eos_id = hf->eod_id();
    const std::string& eod = hf->eod_token();
    config = {{"tokenizer_class", "PreTrainedTokenizerFast"},
              {"add_bos_token", false},
              {"add_eos_token", false},
              {"bos_token", eod},
              {"eos_token", eod},
              {"clean_up_tokenization_spaces", false},
              {"model_max_length", model_max_length}};
    special = {{"bos_token", eod}, {"eos_token", eod}};
  }
  WriteJson(out_dir / "tokenizer_config.json", config, e.files);
  WriteJson(out_dir / "special_tokens_map.json", special, e.files);
  return e;
}

}  // namespace ot::data
