// Checkpoint tensors against the model config.json describes (see checkpoint_layout.h).
#include "train/checkpoint_layout.h"

#include <fmt/format.h>

#include <map>
#include <set>

#include "core/check.h"
#include "model/config.h"
#include "model/layout.h"
#include "train/checkpoint.h"

namespace ot {

std::vector<std::string> CheckpointLayoutProblems(const std::filesystem::path& dir,
                                                  const nlohmann::json& config,
                                                  const TensorShapes& model,
                                                  const TensorShapes& optimizer) {
  if (!config.is_object() || !config.contains("overtrain")) return {};
  const std::string config_path = (dir / kConfigFile).string();
  const std::string model_path = (dir / kModelFile).string(),
                    optimizer_path = (dir / kOptimizerFile).string();
  ParamLayout layout;
  try {
    const ModelConfig m = ModelConfig::FromJson(config["overtrain"]);
    m.Validate();
    layout = ParamLayout::ForModel(m);
  } catch (const std::exception& e) {  // Error, or a JSON type error from a damaged block
    return {config_path + ": the \"overtrain\" model block is invalid: " + e.what()};
  }
  std::map<std::string, std::vector<int64_t>> expected;
  for (const TensorInfo& t : layout.tensors()) expected[t.name] = t.shape;
  auto shape_text = [](const std::vector<int64_t>& shape) {
    return fmt::format("[{}]", fmt::join(shape, ", "));
  };

  std::vector<std::string> problems;
  std::set<std::string> seen;
  for (const auto& [name, shape] : model) {
    auto it = expected.find(name);
    if (it == expected.end()) {
      problems.push_back(fmt::format("{}: unexpected tensor '{}' (not in the model of config.json)",
                                     model_path, name));
      continue;
    }
    seen.insert(name);
    if (shape != it->second)
      problems.push_back(
          fmt::format("{}: tensor '{}' has shape {}, the model of config.json needs {}", model_path,
                      name, shape_text(shape), shape_text(it->second)));
  }
  for (const TensorInfo& t : layout.tensors())
    if (!seen.count(t.name))
      problems.push_back(fmt::format("{}: tensor '{}' of the model of config.json is missing",
                                     model_path, t.name));

  // Optimizer tensors: "<state>.<parameter>" (e.g. "adam_m.model.norm.weight"), each state
  // complete.
  std::map<std::string, std::set<std::string>> states;
  for (const auto& [name, shape] : optimizer) {
    const size_t dot = name.find('.');
    auto it = dot == std::string::npos ? expected.end() : expected.find(name.substr(dot + 1));
    if (it == expected.end()) {
      problems.push_back(
          fmt::format("{}: tensor '{}' is not '<state>.<parameter>' for a parameter of the model",
                      optimizer_path, name));
      continue;
    }
    states[name.substr(0, dot)].insert(it->first);
    if (shape != it->second)
      problems.push_back(fmt::format("{}: tensor '{}' has shape {}, its parameter has {}",
                                     optimizer_path, name, shape_text(shape),
                                     shape_text(it->second)));
  }
  for (const auto& [state, params] : states)
    for (const TensorInfo& t : layout.tensors())
      if (!params.count(t.name))
        problems.push_back(
            fmt::format("{}: tensor '{}.{}' is missing", optimizer_path, state, t.name));
  return problems;
}

}  // namespace ot
