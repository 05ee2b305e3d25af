// The layout check of a checkpoint (docs/reliability.md case 36): its tensors against the model its
// own config.json describes. Used by VerifyCheckpoint, so that verification, resume's choice of
// checkpoint and loading agree. Entry points: TensorShapes, CheckpointLayoutProblems.
#pragma once

#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

namespace ot {

// (name, shape) of each tensor of a safetensors file, in file order.
using TensorShapes = std::vector<std::pair<std::string, std::vector<int64_t>>>;

// Every disagreement between the tensors of checkpoint `dir` and the model of its config.json, one
// sentence each naming the file and tensor: a config.json "overtrain" block that is not a valid
// model; a model tensor missing, unexpected, or of another shape than the layout's; an optimizer
// tensor not named
// "<state>.<parameter>" or of another shape than its parameter; an optimizer state lacking a
// parameter. Empty when config.json has no "overtrain" block (a checkpoint not written for an
// overtrain model).
std::vector<std::string> CheckpointLayoutProblems(const std::filesystem::path& dir,
                                                  const nlohmann::json& config,
                                                  const TensorShapes& model,
                                                  const TensorShapes& optimizer);

}  // namespace ot
