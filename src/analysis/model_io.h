// A checkpoint as evaluation sees it: the model blueprint, its layout and one parameter arena, plus the
// adapter that turns the fast Decoder into a LogProbModel (forward only). Entry points: LoadedModel,
// LoadModel, DecoderScorer, CheckpointTokens.
#pragma once

#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <span>
#include <vector>

#include "analysis/scoring.h"
#include "model/config.h"
#include "model/decoder.h"
#include "model/layout.h"
#include "model/memory_plan.h"

namespace ot {

struct LoadedModel {
  ModelConfig config;
  ParamLayout layout;
  std::vector<float> params;
  int64_t tokens = 0;  // pre-training tokens seen (state.json)
  int64_t step = 0;    // pre-training steps completed (state.json)
  std::filesystem::path dir;
};

// Loads a checkpoint for evaluation, validating before it allocates (reliability.md case 34): config.json's
// "overtrain" block is parsed and bounds-checked, model.safetensors' header is checked against the layout
// it implies (every missing, unexpected, wrong-shaped or non-F32 tensor in one error), and the memory of
// the whole stage — the parameters, the copy read while loading, `stage`'s extra arenas and decoders (a
// DecoderPlan seq of 0 means the model's max_seq_len) — is checked against available memory. Only then
// is the arena allocated and filled (manifest and hashes verified); NaN/Inf weights are refused, naming
// the tensor. Throws Error naming the file.
LoadedModel LoadModel(const std::filesystem::path& checkpoint_dir, MemoryPlan stage = {});

// Scores with the fast Decoder over a parameter span the caller owns (and may change between calls:
// perturbation and WiSE-FT evaluate many arenas with one scorer). Windows are the model's max_seq_len.
class DecoderScorer : public LogProbModel {
 public:
  DecoderScorer(const ModelConfig& config, int batch, int seq_len = 0);
  void set_params(std::span<const float> params) { params_ = params; }
  int max_seq_len() const override { return seq_len_; }
  int max_batch() const override { return batch_; }
  void LogProbs(const int32_t* inputs, const int32_t* targets, int B, int T, float* logprobs) override;
  Decoder& decoder() { return *decoder_; }

 private:
  int batch_, seq_len_;
  std::unique_ptr<Decoder> decoder_;
  std::span<const float> params_;
};

}  // namespace ot
