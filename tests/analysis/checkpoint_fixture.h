// Shared fixtures of the analysis tests: checkpoints of the tiny model (common/checkpoint_util.h)
// written straight through SaveCheckpoint (so a test can pair any config.json with any tensors, NaN
// included, under a consistent manifest), plus a hand-rewritten model.safetensors for dtype cases.
// ErrorOf and TempDir come from common/test_util.h.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "common/checkpoint_util.h"
#include "common/test_util.h"
#include "core/fileio.h"
#include "core/safetensors.h"
#include "model/hf_config.h"
#include "model/init.h"
#include "model/layout.h"
#include "train/checkpoint.h"
#include "train/pretrain.h"

namespace ot::testing {

namespace fs = std::filesystem;

// Saves a checkpoint whose config.json describes `config_model` and whose tensors are `params` laid
// out as `tensor_model` (the two may disagree). `hf_config` (optional) edits config.json before
// saving.
inline fs::path SaveModelCheckpoint(const fs::path& dir, const ModelConfig& config_model,
                                    const ModelConfig& tensor_model,
                                    const std::vector<float>& params,
                                    const std::function<void(nlohmann::json&)>& hf_config = {}) {
  const ParamLayout layout = ParamLayout::ForModel(tensor_model);
  CheckpointContents c;
  for (const auto& t : layout.tensors())
    c.model.push_back({t.name, t.shape, std::span<const float>(params).subspan(t.offset, t.size)});
  c.config = HfConfigJson(config_model);
  if (hf_config) hf_config(c.config);
  TrainState state;
  state.step = 20;
  state.tokens = 1234;
  c.state = state.ToJson();
  c.state["optimizer"] = {{"kind", "adamw"}, {"step", 20}};
  SaveCheckpoint(dir, c);
  return dir;
}

inline std::vector<float> InitFor(const ModelConfig& m, uint64_t seed = 5) {
  const ParamLayout layout = ParamLayout::ForModel(m);
  std::vector<float> p(layout.total());
  InitParams(layout, p, seed);
  return p;
}

// Replaces <dir>/model.safetensors with `tensors` and re-records it in the manifest, so that the
// checkpoint verifies and only the header's content is wrong.
inline void RewriteModelFile(const fs::path& dir, const std::vector<TensorToWrite>& tensors) {
  WriteSafetensorsFile(dir / kModelFile, tensors, {{"format", "pt"}});
  nlohmann::json manifest = nlohmann::json::parse(ReadFile(dir / kManifestFile));
  nlohmann::json hashes = nlohmann::json::object();
  for (const auto& t : tensors) hashes[t.name] = Xxh3Hex(t.bytes);
  manifest["tensors"][kModelFile] = hashes;
  WriteFileAtomic(dir / kManifestFile, manifest.dump(2));
  ResealManifest(dir);  // the file's size and xxh3
}

}  // namespace ot::testing
