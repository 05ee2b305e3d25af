// `overtrain export`: a directory Hugging Face transformers loads with from_pretrained, made from a
// checkpoint and the data directory it was trained on: config.json (the HF fields, completed from
// the model), model.safetensors (hard link, else copy), the tokenizer files and export.json
// (provenance). Entry points: HfExportFamily, HfExportConfig, ExportHfModel.
#pragma once

#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "model/config.h"

namespace ot {

// The transformers family a model exports as: "llama" when IsLlamaCompatible(), "olmo" for OLMo-1's
// non-parametric LayerNorm with otherwise Llama switches (clip_qkv allowed; norm_eps must be 1e-5,
// which transformers' OlmoLayerNorm hard-codes), else "" with `why` naming the first field in the
// way.
std::string HfExportFamily(const ModelConfig& m, std::string* why);

// config.json of the export: `checkpoint_config` (the checkpoint's config.json) without its
// "overtrain" block, every architecture field rewritten from `m` (so that it describes the
// tensors), plus bos_token_id / eos_token_id.
nlohmann::json HfExportConfig(const nlohmann::json& checkpoint_config, const ModelConfig& m,
                              const std::string& family, int32_t bos_id, int32_t eos_id);

struct HfExportResult {
  std::string family, tokenizer_kind;
  std::vector<std::string> files;  // in the export directory
  bool linked = false;             // model.safetensors is a hard link to the checkpoint's
};

// Verifies `checkpoint` (VerifyCheckpoint), refuses a model no transformers family describes and a
// tokenizer (LoadDataTokenizer(data_dir)) larger than the model's vocabulary, then writes `out`
// atomically (a temp dir renamed into place). Throws Error naming the path and the field; `out`
// must not exist.
HfExportResult ExportHfModel(const std::filesystem::path& checkpoint,
                             const std::filesystem::path& data_dir,
                             const std::filesystem::path& out);

}  // namespace ot
