// A checkpoint as evaluation sees it — our own checkpoint directory or a Hugging Face model
// directory — as the model blueprint, its layout and one parameter arena, plus the adapter that
// turns the fast Decoder into a LogProbModel (forward only). Entry points: LoadedModel, LoadModel,
// ReadModelConfig, DecoderScorer.
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
  int64_t tokens = 0;  // pre-training tokens seen (state.json); 0 for a Hugging Face import
  int64_t step = 0;    // pre-training steps completed (state.json); 0 for a Hugging Face import
  std::filesystem::path dir;
  std::string hf_model_type;  // "" for our checkpoints, else llama, olmo, olmo2 or gpt_neox
  std::filesystem::path tokenizer_json;  // <dir>/tokenizer.json when present, else empty
};

// Loads a checkpoint for evaluation, validating before it allocates (reliability.md case 34). Our
// checkpoint (config.json with an "overtrain" block): the block is parsed and bounds-checked,
// model.safetensors' header is checked against the layout it implies (every missing, unexpected,
// wrong-shaped or non-F32 tensor in one error), the arena is filled with manifest and hashes
// verified. A Hugging Face directory (no "overtrain" block, a "model_type"): FromHfConfig maps
// config.json, the safetensors headers (single file or sharded index) are checked against the
// family's tensor names (CheckHfWeights), and the weights (F32, BF16, F16) convert tensor by tensor
// from the mapping into the arena (LoadHfWeights), with no copy of the model besides it. Either way
// the memory of the whole stage — the parameters, the copy read while loading (ours only),
// `stage`'s extra arenas and decoders (a DecoderPlan seq of 0 means the model's max_seq_len) — is
// checked against available memory before the arena is allocated, and NaN/Inf weights are refused,
// naming the tensor. Throws Error naming the file.
LoadedModel LoadModel(const std::filesystem::path& checkpoint_dir, MemoryPlan stage = {});
// Only the blueprint of either kind of directory (LoadModel's first step; nothing else is read):
// `hf_model_type` (optional) gets the Hugging Face model_type, "" for our checkpoints.
ModelConfig ReadModelConfig(const std::filesystem::path& checkpoint_dir, std::string* hf_model_type = nullptr);

// Scores with the fast Decoder over a parameter span the caller owns (and may change between calls:
// perturbation and WiSE-FT evaluate many arenas with one scorer). Windows are the model's
// max_seq_len.
class DecoderScorer : public LogProbModel {
 public:
  DecoderScorer(const ModelConfig& config, int batch, int seq_len = 0);
  void set_params(std::span<const float> params) { params_ = params; }
  int max_seq_len() const override { return seq_len_; }
  int max_batch() const override { return batch_; }
  void LogProbs(const int32_t* inputs, const int32_t* targets, int B, int T,
                float* logprobs) override;
  Decoder& decoder() { return *decoder_; }

 private:
  int batch_, seq_len_;
  std::unique_ptr<Decoder> decoder_;
  std::span<const float> params_;
};

}  // namespace ot
