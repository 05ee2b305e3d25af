// A checkpoint as evaluation sees it — our own checkpoint directory or a Hugging Face model
// directory — as the model blueprint, its layout and one parameter arena, plus the adapter that
// turns a backend into a LogProbModel (forward only). Entry points: LoadedModel, LoadModel,
// ReadModelConfig, CheckpointRef, DeclareCheckpointFields, PointOf, BackendScorer.
#pragma once

#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <span>
#include <vector>

#include "analysis/scoring.h"
#include "core/config.h"
#include "engine/backend.h"
#include "model/config.h"
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

// Loads a checkpoint for evaluation, validating before it allocates (docs/reliability.md case 34).
// Our checkpoint (config.json with an "overtrain" block): the block is parsed and bounds-checked,
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
// Refuses, naming both files, a checkpoint directory whose tokenizer.json differs (by content hash,
// gzip undone) from the one in the prepared data directory `data_dir`: the data's token ids would
// mean other text to the model. Nothing is checked when either directory lacks a tokenizer.json
// (our own checkpoints hold none; a SentencePiece data directory holds tokenizer.model).
void CheckSameTokenizer(const std::filesystem::path& checkpoint_dir,
                        const std::filesystem::path& data_dir);
// Only the blueprint of either kind of directory (LoadModel's first step; nothing else is read):
// `hf_model_type` (optional) gets the Hugging Face model_type, "" for our checkpoints.
ModelConfig ReadModelConfig(const std::filesystem::path& checkpoint_dir,
                            std::string* hf_model_type = nullptr);

// The checkpoint a stage reads and the pre-training it stands for. Our checkpoints carry their
// tokens (state.json); a Hugging Face import does not, so a study over a published series passes
// them, with the epochs of the corpus that model was pre-trained on (ours would be meaningless).
struct CheckpointRef {
  std::string dir;
  Size tokens{0};      // 0 = the checkpoint's own count (state.json; 0 for an import)
  double epochs = -1;  // < 0 = tokens / the prepared data's training tokens per epoch
};

// Declares checkpoint, checkpoint_tokens and checkpoint_epochs (and the rule that a directory is
// given) into any stage schema whose struct holds a CheckpointRef; `help` says what the stage does
// with the checkpoint.
template <typename S, typename Get>
void DeclareCheckpointFields(ConfigSchema<S>& schema, Get get, std::string help) {
  auto g = [get](S& s) -> CheckpointRef& { return get(s); };
  schema
      .Field("checkpoint",
             std::move(help) + " (an overtrain checkpoint or a Hugging Face model directory)",
             [g](S& s) -> std::string& { return g(s).dir; })
      .Field(
          "checkpoint_tokens",
          "pre-training tokens it stands for; 0 = its state.json (0 for an import)",
          [g](S& s) -> Size& { return g(s).tokens; }, AtLeast(0))
      .Field("checkpoint_epochs",
             "epochs of its pre-training corpus; < 0 = checkpoint tokens / the data dir's training "
             "tokens",
             [g](S& s) -> double& { return g(s).epochs; })
      .Rule({"checkpoint"}, [g](const S& s) {
        return g(const_cast<S&>(s)).dir.empty() ? "expected a checkpoint directory" : "";
      });
}

// Where a loaded checkpoint sits on the token axis: `ref`'s tokens and epochs where given, else the
// model's own tokens and their epochs of the prepared data.
struct CheckpointPoint {
  int64_t tokens = 0;
  double epochs = 0;
};
CheckpointPoint PointOf(const CheckpointRef& ref, const LoadedModel& model,
                        int64_t train_tokens_per_epoch);

// Scores with a backend's current weights (Backend::LogProbs): perturbation and WiSE-FT change the
// weights between calls on the backend itself. Windows are `seq_len` long (the backend's planned
// evaluation shape).
class BackendScorer : public LogProbModel {
 public:
  BackendScorer(Backend& backend, int batch, int seq_len)
      : backend_(backend), batch_(batch), seq_len_(seq_len) {}
  int max_seq_len() const override { return seq_len_; }
  int max_batch() const override { return batch_; }
  void LogProbs(const int32_t* inputs, const int32_t* targets, int B, int T,
                float* logprobs) override {
    backend_.LogProbs(inputs, targets, B, T, logprobs);
  }
  Backend& backend() { return backend_; }

 private:
  Backend& backend_;
  int batch_, seq_len_;
};

}  // namespace ot
