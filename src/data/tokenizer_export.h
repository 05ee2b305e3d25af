// The tokenizer files of an exported Hugging Face model directory, written from a prepared data
// directory's tokenizer (docs/export.md): tokenizer.model + a LlamaTokenizer tokenizer_config.json
// for our SentencePiece BPE, tokenizer.json + a PreTrainedTokenizerFast config for an imported one;
// and special_tokens_map.json. Entry points: WriteHfTokenizerFiles, LlamaTokenizerConfig.
#pragma once

#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "data/text_tokenizer.h"

namespace ot::data {

struct HfTokenizerExport {
  std::string kind;  // TextTokenizer::kind()
  int vocab_size = 0;
  int32_t bos_id = -1, eos_id = -1;  // for config.json's bos_token_id / eos_token_id
  std::vector<std::string> files;    // written into out_dir, in order
};

// tokenizer_config.json for our SentencePiece model under transformers' LlamaTokenizer: no <s> is
// added (our documents start without one), legacy = true and add_prefix_space = false (encode is
// then sp_model.encode(text): no dummy-prefix space, as the model was trained); model_max_length =
// T.
nlohmann::json LlamaTokenizerConfig(int model_max_length);

// Writes the tokenizer files of `data_dir`'s tokenizer (LoadDataTokenizer) into `out_dir` (which
// exists). A SentencePiece model must have LlamaTokenizer's ids (0 <unk>, 1 <s>, 2 </s>); Error
// naming the file otherwise.
HfTokenizerExport WriteHfTokenizerFiles(const std::filesystem::path& data_dir,
                                        const std::filesystem::path& out_dir, int model_max_length);

}  // namespace ot::data
