// Checkpoint → arena for evaluation, and the Decoder-backed scorer.
#include "analysis/model_io.h"

#include "core/check.h"
#include "core/fileio.h"
#include "train/pretrain.h"

namespace ot {

LoadedModel LoadModel(const std::filesystem::path& dir) {
  const auto cfg_path = dir / "config.json";
  nlohmann::json hf;
  try {
    hf = nlohmann::json::parse(ReadFile(cfg_path));
  } catch (const nlohmann::json::exception& e) {
    throw Error(cfg_path.string() + ": not valid JSON (" + e.what() + ")");
  }
  if (!hf.contains("overtrain"))
    throw Error(cfg_path.string() + ": no \"overtrain\" block; expected a checkpoint written by overtrain");
  LoadedModel m;
  m.config = ModelConfig::FromJson(hf["overtrain"]);
  m.config.Validate();
  m.layout = ParamLayout::ForModel(m.config);
  m.params.assign(m.layout.total(), 0.0f);
  const TrainState state = LoadTrainingCheckpoint(dir, m.layout, m.params, nullptr);
  m.tokens = state.tokens;
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
