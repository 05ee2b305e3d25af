// A Hugging Face model directory's weights as our layout: which HF tensor fills which arena block
// (llama/olmo/olmo2 use the layout's names; gpt_neox is renamed and its fused per-head q|k|v is
// split), the header check (missing, unexpected, wrong-shaped, wrong-dtype tensors listed together)
// and the load, tensor by tensor from the mapped file(s) into the float32 arena. Entry points:
// HfTensorSource, HfTensorSources, IsHfBuffer, HfWeightFiles, HfWeightMismatches, CheckHfWeights,
// LoadHfWeights.
#pragma once

#include <filesystem>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/safetensors.h"
#include "model/config.h"
#include "model/layout.h"

namespace ot {

// One tensor of the HF checkpoint and the contiguous arena block [offset, offset + numel) it fills.
// When qkv_heads > 0 the tensor is GPT-NeoX's query_key_value, whose rows (weight (3C, C) or bias
// (3C)) are grouped per head as (NH, 3, HS): source row h*3HS + p*HS + d (p = 0 q, 1 k, 2 v) goes
// to row p*C + h*HS + d of the block, our adjacent q_proj | k_proj | v_proj.
struct HfTensorSource {
  std::string name;            // the HF name, e.g. "gpt_neox.layers.0.attention.dense.weight"
  std::vector<int64_t> shape;  // the shape the config implies
  int64_t offset = 0;          // arena offset of the block
  int qkv_heads = 0;           // NH when the rows are NeoX's per-head q|k|v, else 0
};

// Every tensor `model_type`'s checkpoint of `config` holds, in layout order, covering the arena
// exactly once. `layout` is ParamLayout::ForModel(config).
std::vector<HfTensorSource> HfTensorSources(const ModelConfig& config,
                                            const std::string& model_type,
                                            const ParamLayout& layout);

// Non-parameter buffers older transformers saved (causal-mask "attention.bias" and
// "attention.masked_bias", "rotary_emb.inv_freq"): present in some files, never parameters.
bool IsHfBuffer(std::string_view name);

// The safetensors of an HF directory, mapped: model.safetensors.index.json with its shards when the
// index exists, else model.safetensors. Opening validates every header and extent (a truncated or
// corrupt shard is an Error naming its file); no payload is read.
class HfWeightFiles {
 public:
  static HfWeightFiles Open(const std::filesystem::path& dir);
  const std::map<std::string, const TensorView*>& tensors() const { return tensors_; }
  const std::string& what() const {
    return what_;
  }  // the file errors name (model.safetensors or the index)

 private:
  std::unique_ptr<SafetensorsFile> single_;
  std::unique_ptr<ShardedSafetensors> sharded_;
  std::map<std::string, const TensorView*> tensors_;
  std::string what_;
};

// Every disagreement between `sources` and the files' tensors: one sentence per kind that occurs
// (missing, unexpected, wrong shape, dtype other than F32/BF16/F16), each naming its first 10
// tensors and counting the rest. Buffers (IsHfBuffer) and, for a tied model, a saved lm_head.weight
// (transformers ties it to the embedding after loading) are not unexpected. Empty when they agree.
std::vector<std::string> HfWeightMismatches(std::span<const HfTensorSource> sources,
                                            const std::map<std::string, const TensorView*>& tensors,
                                            bool tied_head);

// Throws one Error naming files.what() and `model_source` that lists every HfWeightMismatches
// problem.
void CheckHfWeights(const HfWeightFiles& files, std::span<const HfTensorSource> sources,
                    bool tied_head, const std::string& model_source);

// Converts each source tensor (F32, BF16 or F16) straight from the mapping into its arena block (no
// other copy), then refuses NaN/Inf in one Error naming the file and the first 10 tensors that hold
// them. `arena` has the layout's total size; call CheckHfWeights first.
void LoadHfWeights(const HfWeightFiles& files, std::span<const HfTensorSource> sources,
                   std::span<float> arena);

}  // namespace ot
