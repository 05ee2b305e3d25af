// The fixed checkpoint the manifest fuzz target verifies against: a tiny model and optimizer saved
// with SaveCheckpoint, so that its manifest.json (the seed) matches the files byte for byte and the
// fuzzer can reach the per-file and per-tensor hash checks. Entry point: SaveFixtureCheckpoint
// (fuzzer and seed tool).
#pragma once

#include <filesystem>
#include <vector>

#include "train/checkpoint.h"

namespace ot::fuzz {

inline void SaveFixtureCheckpoint(const std::filesystem::path& dir) {
  static const std::vector<float> embed = {0.5f, -1.0f, 2.0f, 0.25f, 0.0f, -3.0f};
  static const std::vector<float> norm = {1.0f, 1.0f, 1.0f};
  static const std::vector<float> m = {0.0f, 0.1f, -0.1f, 0.2f, 0.0f, 0.0f};
  CheckpointContents c;
  c.model = {{"model.embed_tokens.weight", {2, 3}, embed}, {"model.norm.weight", {3}, norm}};
  c.optimizer = {{"adam_m.model.embed_tokens.weight", {2, 3}, m}};
  c.config = {{"hidden_size", 3}, {"vocab_size", 2}};
  c.state = {{"step", 1}, {"tokens", 64}};
  SaveCheckpoint(dir, c);
}

}  // namespace ot::fuzz
