// Checkpoint → arena for evaluation, and the Decoder-backed scorer.
#include "analysis/model_io.h"

#include <algorithm>

#include "core/check.h"
#include "core/fileio.h"
#include "train/checkpoint.h"
#include "train/model_check.h"
#include "train/pretrain.h"

namespace ot {

namespace {

// The model blueprint of config.json, parsed and bounds-checked. A problem here may come from a damaged
// file; the checkpoint's own verification then names the real cause.
ModelConfig ReadModelConfig(const std::filesystem::path& dir) {
  const auto cfg_path = dir / kConfigFile;
  try {
    nlohmann::json hf;
    try {
      hf = nlohmann::json::parse(ReadFile(cfg_path));
    } catch (const nlohmann::json::exception& e) {
      throw Error(cfg_path.string() + ": not valid JSON (" + e.what() + ")");
    }
    if (!hf.is_object() || !hf.contains("overtrain"))
      throw Error(cfg_path.string() + ": no \"overtrain\" block; expected a checkpoint written by overtrain");
    try {
      return ModelConfig::FromJson(hf["overtrain"]);  // validates, size bounds included
    } catch (const Error& e) {
      throw Error(cfg_path.string() + ": \"overtrain\" block: " + e.what());
    }
  } catch (const Error&) {
    const std::vector<std::string> damage = VerifyCheckpoint(dir);
    if (!damage.empty()) throw Error(damage.front());
    throw;
  }
}

}  // namespace

LoadedModel LoadModel(const std::filesystem::path& dir, MemoryPlan stage) {
  LoadedModel m;
  m.config = ReadModelConfig(dir);
  m.layout = ParamLayout::ForModel(m.config);
  CheckCheckpointLayout(dir, m.layout, "the model in " + (dir / kConfigFile).string());
  // Two checks, not one sum: the copy read from the file is freed before the stage builds its decoders.
  const std::string what = dir.string() + ": loading this checkpoint";
  CheckMemoryPlan(
      m.config, {.arenas = 2, .arenas_what = "parameters and the copy read from the file", .decoders = {}},
      what);
  stage.arenas += 1;
  stage.arenas_what = "parameters" + (stage.arenas_what.empty() ? "" : ", " + stage.arenas_what);
  for (auto& d : stage.decoders)
    d.seq = d.seq > 0 ? std::min(d.seq, m.config.max_seq_len) : m.config.max_seq_len;
  CheckMemoryPlan(m.config, stage, what);
  m.params.assign(m.layout.total(), 0.0f);
  const TrainState state = LoadTrainingCheckpoint(dir, m.layout, m.params, nullptr);
  m.tokens = state.tokens;
  m.step = state.step;
  m.dir = dir;
  return m;
}

DecoderScorer::DecoderScorer(const ModelConfig& config, int batch, int seq_len)
    : batch_(batch), seq_len_(seq_len > 0 ? seq_len : config.max_seq_len) {
  OT_CHECK(seq_len_ <= config.max_seq_len) << "window " << seq_len_ << " > model max " << config.max_seq_len;
  decoder_ = std::make_unique<Decoder>(config, batch_, seq_len_);
}

void DecoderScorer::LogProbs(const int32_t* inputs, const int32_t* targets, int B, int T, float* logprobs) {
  OT_CHECK(!params_.empty()) << "DecoderScorer used before set_params";
  decoder_->LogProbs(params_, inputs, targets, B, T, logprobs);
}

}  // namespace ot
