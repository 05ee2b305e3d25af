// Checks a checkpoint against the model it is loaded into (docs/reliability.md cases 18 and 34),
// for every stage that loads one (resume, WSD branches, eval, perturb, finetune): the tensor
// headers against the layout before any arena is allocated, every problem listed together; and the
// loaded weights for NaN/Inf, as saving refuses them. Entry points: TensorHeader, LayoutMismatches,
// CheckCheckpointLayout, NonFiniteTensors.
#pragma once

#include <filesystem>
#include <span>
#include <string>
#include <vector>

#include "model/layout.h"

namespace ot {

// What a safetensors header declares about one tensor.
struct TensorHeader {
  std::string name, dtype;  // dtype as safetensors spells it: "F32", "F16", ...
  std::vector<int64_t> shape;
};

// Every disagreement between `layout` (F32 tensors) and `tensors`: one sentence per kind that
// occurs (missing, unexpected, wrong shape, wrong dtype), each naming its first 10 tensors and how
// many more. Empty when they agree.
std::vector<std::string> LayoutMismatches(const ParamLayout& layout,
                                          std::span<const TensorHeader> tensors);

// Parses only the header of <dir>/model.safetensors (nothing is sized from config.json, no payload
// is read) and throws one Error listing every LayoutMismatches problem, naming the file and
// `model_source`
// ("the model in config.json", "the configured model"). When the header does not parse and
// VerifyCheckpoint finds the checkpoint damaged, the damage is reported instead: it is the cause.
void CheckCheckpointLayout(const std::filesystem::path& dir, const ParamLayout& layout,
                           const std::string& model_source);

// "" when every value of `arena` (laid out as `layout`) is finite, else one sentence naming the
// tensors holding NaN or Inf (first 10, with counts), each prefixed by `prefix` (e.g. "exp_avg.").
std::string NonFiniteTensors(const ParamLayout& layout, std::span<const float> arena,
                             const std::string& prefix = "");

}  // namespace ot
