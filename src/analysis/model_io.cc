// Checkpoint or Hugging Face directory → arena for evaluation, and the Decoder-backed scorer.
#include "analysis/model_io.h"

#include <algorithm>

#include "core/check.h"
#include "core/fileio.h"
#include "data/hf_tokenizer.h"
#include "model/hf_config.h"
#include "model/hf_weights.h"
#include "train/checkpoint.h"
#include "train/model_check.h"
#include "train/pretrain.h"

namespace ot {

namespace {

// config.json, parsed. A problem here may come from a damaged checkpoint of ours; its verification
// then names the real cause.
nlohmann::json ReadConfigJson(const std::filesystem::path& cfg_path) {
  try {
    return nlohmann::json::parse(ReadFile(cfg_path));
  } catch (const nlohmann::json::exception& e) {
    throw Error(cfg_path.string() + ": not valid JSON (" + e.what() + ")");
  }
}

// Our checkpoint's model blueprint, from the "overtrain" block, parsed and bounds-checked.
ModelConfig ReadOvertrainConfig(const std::filesystem::path& cfg_path, const nlohmann::json& hf) {
  try {
    return ModelConfig::FromJson(hf["overtrain"]);  // validates, size bounds included
  } catch (const Error& e) {
    throw Error(cfg_path.string() + ": \"overtrain\" block: " + e.what());
  }
}

// `stage` plus the parameters themselves, with each decoder's seq 0 resolved to the model's.
MemoryPlan WithParameters(MemoryPlan stage, const ModelConfig& config) {
  stage.arenas += 1;
  stage.arenas_what = "parameters" + (stage.arenas_what.empty() ? "" : ", " + stage.arenas_what);
  for (auto& d : stage.decoders)
    d.seq = d.seq > 0 ? std::min(d.seq, config.max_seq_len) : config.max_seq_len;
  return stage;
}

void LoadOvertrainCheckpoint(LoadedModel& m, const MemoryPlan& stage) {
  const std::filesystem::path& dir = m.dir;
  m.layout = ParamLayout::ForModel(m.config);
  // Before anything is allocated: the headers against config.json, in the grouped sentence a user
  // reads best (missing / unexpected / wrong shape / wrong dtype, ten of each), then the one
  // verification every loader runs (hashes and the structural checks).
  CheckCheckpointLayout(dir, m.layout, "the model in " + (dir / kConfigFile).string());
  RequireValidCheckpoint(dir);
  // Two checks, not one sum: the copy read from the file is freed before the stage builds its
  // decoders.
  const std::string what = dir.string() + ": loading this checkpoint";
  CheckMemoryPlan(
      m.config,
      {.arenas = 2, .arenas_what = "parameters and the copy read from the file", .decoders = {}},
      what);
  CheckMemoryPlan(m.config, WithParameters(stage, m.config), what);
  m.params.assign(m.layout.total(), 0.0f);
  const TrainState state = LoadCheckpointParams(dir, m.layout, m.params, /*verified=*/true);
  m.tokens = state.tokens;
  m.step = state.step;
}

// A Hugging Face directory: weights straight from the mapped safetensors into the arena (no read
// copy).
void LoadHfModel(LoadedModel& m, const MemoryPlan& stage) {
  const std::filesystem::path& dir = m.dir;
  m.layout = ParamLayout::ForModel(m.config);
  const HfWeightFiles files = HfWeightFiles::Open(dir);
  const std::vector<HfTensorSource> sources = HfTensorSources(m.config, m.hf_model_type, m.layout);
  CheckHfWeights(files, sources, m.config.tied_head,
                 "the " + m.hf_model_type + " model in " + (dir / kConfigFile).string());
  CheckMemoryPlan(m.config, WithParameters(stage, m.config), dir.string() + ": loading this model");
  m.params.assign(m.layout.total(), 0.0f);
  LoadHfWeights(files, sources, m.params);
}

}  // namespace

ModelConfig ReadModelConfig(const std::filesystem::path& dir, std::string* hf_model_type) {
  const auto cfg_path = dir / kConfigFile;
  // Ours when it has a manifest or an "overtrain" block; then damage explains a bad config.json
  // best.
  const bool ours = std::filesystem::exists(dir / kManifestFile);
  nlohmann::json hf;
  try {
    hf = ReadConfigJson(cfg_path);
    if (ours && !(hf.is_object() && hf.contains("overtrain")))
      throw Error(cfg_path.string() +
                  ": no \"overtrain\" block; expected a checkpoint written by overtrain");
  } catch (const Error&) {
    if (!ours) throw;
    const std::vector<std::string> damage = VerifyCheckpoint(dir);
    if (!damage.empty()) throw Error(damage.front());
    throw;
  }
  if (hf_model_type) hf_model_type->clear();
  if (hf.is_object() && hf.contains("overtrain")) {
    try {
      return ReadOvertrainConfig(cfg_path, hf);
    } catch (const Error&) {
      const std::vector<std::string> damage = VerifyCheckpoint(dir);
      if (!damage.empty()) throw Error(damage.front());
      throw;
    }
  }
  if (hf.is_object() && hf.contains("model_type")) {
    ModelConfig config = FromHfConfig(hf, cfg_path.string());
    // FromHfConfig checked it is a known string
    if (hf_model_type) *hf_model_type = hf["model_type"].get<std::string>();
    return config;
  }
  throw Error(
      cfg_path.string() +
      ": neither an \"overtrain\" block nor a \"model_type\"; expected a checkpoint written by "
      "overtrain or a Hugging Face model directory");
}

LoadedModel LoadModel(const std::filesystem::path& dir, MemoryPlan stage) {
  LoadedModel m;
  m.dir = dir;
  m.config = ReadModelConfig(dir, &m.hf_model_type);
  if (m.hf_model_type.empty()) {
    LoadOvertrainCheckpoint(m, stage);
  } else {
    LoadHfModel(m, stage);
  }
  if (std::filesystem::exists(dir / "tokenizer.json")) m.tokenizer_json = dir / "tokenizer.json";
  return m;
}

void CheckSameTokenizer(const std::filesystem::path& checkpoint_dir,
                        const std::filesystem::path& data_dir) {
  const auto model = checkpoint_dir / data::kHfTokenizerFile,
             data = data_dir / data::kHfTokenizerFile;
  if (!std::filesystem::exists(model) || !std::filesystem::exists(data)) return;
  const std::string a = data::HfTokenizerHash(model), b = data::HfTokenizerHash(data);
  if (a != b)
    throw Error(model.string() + " differs from the data directory's " + data.string() + " (XXH3 " +
                a + " vs " + b +
                "); the model must be evaluated on data prepared with its own tokenizer");
}

CheckpointPoint PointOf(const CheckpointRef& ref, const LoadedModel& model,
                        int64_t train_tokens_per_epoch) {
  CheckpointPoint p;
  p.tokens = ref.tokens.value > 0 ? ref.tokens.value : model.tokens;
  p.epochs = ref.epochs >= 0 ? ref.epochs
             : train_tokens_per_epoch > 0
                 ? static_cast<double>(p.tokens) / static_cast<double>(train_tokens_per_epoch)
                 : 0.0;
  return p;
}

}  // namespace ot
