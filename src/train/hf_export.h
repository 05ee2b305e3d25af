// `overtrain export`: a directory Hugging Face transformers loads with from_pretrained, made from a
// checkpoint and the data directory it was trained on: config.json (the HF fields, completed from
// the model), model.safetensors (hard link, else copy), the tokenizer files and export.json
// (provenance). Which family a model exports as is HfExportType (model/hf_config.h).
// Entry points: HfExportConfig, ExportHfModel.
#pragma once

#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "model/config.h"

namespace ot {

// config.json of the export: the model's HF fields (HfConfigJson, model/hf_config.h) without the
// "overtrain" block, plus bos_token_id / eos_token_id. `m` must be exportable (HfExportType).
nlohmann::json HfExportConfig(const ModelConfig& m, int32_t bos_id, int32_t eos_id);

struct HfExportResult {
  std::string family, tokenizer_kind;
  std::vector<std::string> files;  // in the export directory
  bool linked = false;             // model.safetensors is a hard link to the checkpoint's
};

// Verifies `checkpoint` (VerifyCheckpoint), refuses a model no transformers family describes
// (HfExportType: llama, olmo, olmo2) and a
// tokenizer (LoadDataTokenizer(data_dir)) larger than the model's vocabulary, then writes `out`
// atomically (a temp dir renamed into place). Throws Error naming the path and the field; `out`
// must not exist.
HfExportResult ExportHfModel(const std::filesystem::path& checkpoint,
                             const std::filesystem::path& data_dir,
                             const std::filesystem::path& out);

}  // namespace ot
