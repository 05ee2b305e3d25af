// Export of a checkpoint as a transformers model directory (see hf_export.h, docs/export.md).
#include "train/hf_export.h"

#include <fmt/format.h>
#include <unistd.h>

#include "core/check.h"
#include "core/fileio.h"
#include "data/tokenizer_export.h"
#include "train/checkpoint.h"

namespace ot {

namespace fs = std::filesystem;

std::string HfExportFamily(const ModelConfig& m, std::string* why) {
  if (m.IsLlamaCompatible()) return "llama";
  // OLMo-1 in transformers is Llama with a weightless LayerNorm (eps fixed) and an optional
  // clip_qkv.
  ModelConfig as_llama = m;
  as_llama.norm = NormKind::kRmsNorm;
  as_llama.clip_qkv = 0;
  if (m.norm == NormKind::kLayerNorm && as_llama.IsLlamaCompatible()) {
    if (m.norm_eps == 1e-5) return "olmo";
    if (why)
      *why =
          fmt::format("model.norm_eps = {} but transformers' OlmoLayerNorm uses 1e-5", m.norm_eps);
    return "";
  }
  if (why) {
    const ModelConfig d;  // the defaults are the Llama switches
    if (m.norm != NormKind::kRmsNorm && m.norm != NormKind::kLayerNorm)
      *why = fmt::format("model.norm = {}", NormName(m.norm));
    else if (m.norm_placement != d.norm_placement)
      *why = fmt::format("model.norm_placement = {}", NormPlacementName(m.norm_placement));
    else if (m.mlp != d.mlp)
      *why = fmt::format("model.mlp = {}", MlpName(m.mlp));
    else if (m.attn_bias || m.mlp_bias)
      *why = m.attn_bias ? "model.attn_bias = true" : "model.mlp_bias = true";
    else if (m.qk_norm)
      *why = "model.qk_norm = true";
    else if (m.parallel_residual)
      *why = "model.parallel_residual = true";
    else if (m.rotary_pct != d.rotary_pct)
      *why = fmt::format("model.rotary_pct = {}", m.rotary_pct);
    else
      *why = fmt::format("model.clip_qkv = {} (only OLMo's layernorm models have it)", m.clip_qkv);
    *why += " has no Llama or OLMo counterpart in transformers";
  }
  return "";
}

nlohmann::json HfExportConfig(const nlohmann::json& checkpoint_config, const ModelConfig& m,
                              const std::string& family, int32_t bos_id, int32_t eos_id) {
  OT_CHECK(family == "llama" || family == "olmo") << "unknown export family " << family;
  const bool olmo = family == "olmo";
  nlohmann::json j = checkpoint_config.is_object() ? checkpoint_config : nlohmann::json::object();
  j.erase("overtrain");
  j["architectures"] = {olmo ? "OlmoForCausalLM" : "LlamaForCausalLM"};
  j["model_type"] = family;
  j["vocab_size"] = m.vocab_size;
  j["hidden_size"] = m.d_model;
  j["intermediate_size"] = m.ff_dim();
  j["num_hidden_layers"] = m.n_layers;
  j["num_attention_heads"] = m.n_heads;
  j["num_key_value_heads"] = m.kv_heads();
  j["max_position_embeddings"] = m.max_seq_len;
  j["rope_theta"] = m.rope_theta;
  j["tie_word_embeddings"] = m.tied_head;
  j["initializer_range"] = m.init_std;
  j["hidden_act"] = "silu";
  j["attention_bias"] = false;
  j["bos_token_id"] = bos_id;
  j["eos_token_id"] = eos_id;
  if (olmo) {
    j.erase("rms_norm_eps");
    j["clip_qkv"] = m.clip_qkv > 0 ? nlohmann::json(m.clip_qkv) : nlohmann::json(nullptr);
  } else {
    j["rms_norm_eps"] = m.norm_eps;
    j["mlp_bias"] = false;
  }
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
  r.family = HfExportFamily(m, &why);
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
    WriteFileAtomic(tmp / kConfigFile,
                    HfExportConfig(config, m, r.family, tok.bos_id, tok.eos_id).dump(2) + "\n");
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
