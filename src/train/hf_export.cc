// Export of a checkpoint as a transformers model directory (see hf_export.h, docs/export.md).
#include "train/hf_export.h"

#include <fmt/format.h>
#include <unistd.h>

#include "core/check.h"
#include "core/fileio.h"
#include "data/tokenizer_export.h"
#include "model/hf_config.h"
#include "train/checkpoint.h"

namespace ot {

namespace fs = std::filesystem;

nlohmann::json HfExportConfig(const ModelConfig& m, int32_t bos_id, int32_t eos_id) {
  nlohmann::json j = HfConfigJson(m);
  OT_CHECK(j.contains("model_type")) << "HfExportConfig of a model no family exports";
  j.erase("overtrain");
  j["bos_token_id"] = bos_id;
  j["eos_token_id"] = eos_id;
  return j;
}

HfExportResult ExportHfModel(const fs::path& checkpoint, const fs::path& data_dir,
                             const fs::path& out) {
  if (fs::exists(out))
    throw Error("--out " + out.string() +
                ": already exists; give a new directory (the export is never merged)");
  const std::vector<std::string> problems = VerifyCheckpoint(checkpoint);
  if (!problems.empty())
    throw Error(checkpoint.string() + ": not a valid checkpoint (" + problems.front() + ")");
  const fs::path config_path = checkpoint / kConfigFile;
  nlohmann::json config;
  try {
    config = nlohmann::json::parse(ReadFile(config_path));
  } catch (const nlohmann::json::exception& e) {
    throw Error(config_path.string() + ": not valid JSON (" + e.what() + ")");
  }
  if (!config.is_object() || !config.contains("overtrain"))
    throw Error(config_path.string() +
                ": has no \"overtrain\" block; only overtrain checkpoints are exported");
  const ModelConfig m = ModelConfig::FromJson(config["overtrain"]);
  HfExportResult r;
  std::string why;
  r.family = HfExportType(m, &why);
  if (r.family.empty()) throw Error(config_path.string() + ": cannot export: " + why);

  const fs::path tmp = out.string() + ".tmp-" + std::to_string(getpid());
  fs::remove_all(tmp);
  fs::create_directories(tmp);
  try {
    const data::HfTokenizerExport tok = data::WriteHfTokenizerFiles(data_dir, tmp, m.max_seq_len);
    if (tok.vocab_size > m.vocab_size)
      throw Error(fmt::format(
          "{}: the tokenizer's vocabulary {} is larger than the model's vocab_size {} ({})",
          data_dir.string(), tok.vocab_size, m.vocab_size, config_path.string()));
    r.tokenizer_kind = tok.kind;
    WriteFileAtomic(tmp / kConfigFile, HfExportConfig(m, tok.bos_id, tok.eos_id).dump(2) + "\n");
    r.files.push_back(kConfigFile);
    // The weights: checkpoints are immutable, so a hard link is safe; another filesystem gets a
    // copy.
    std::error_code ec;
    fs::create_hard_link(checkpoint / kModelFile, tmp / kModelFile, ec);
    r.linked = !ec;
    if (ec) fs::copy_file(checkpoint / kModelFile, tmp / kModelFile);
    r.files.push_back(kModelFile);
    r.files.insert(r.files.end(), tok.files.begin(), tok.files.end());
    const nlohmann::json provenance = {
        {"format", "overtrain-hf-export"},
        {"version", 1},
        {"checkpoint", fs::absolute(checkpoint).lexically_normal().string()},
        {"data", fs::absolute(data_dir).lexically_normal().string()},
        {"family", r.family},
        {"tokenizer", tok.kind},
        {"model_vocab_size", m.vocab_size},
        {"tokenizer_vocab_size", tok.vocab_size},
        {"files", r.files}};
    WriteFileAtomic(tmp / "export.json", provenance.dump(2) + "\n");  // last: a complete export
    r.files.push_back("export.json");
    SyncDirectory(tmp);
    if (!out.parent_path().empty()) fs::create_directories(out.parent_path());
    fs::rename(tmp, out);
  } catch (...) {
    std::error_code ignored;
    fs::remove_all(tmp, ignored);
    throw;
  }
  return r;
}

}  // namespace ot
