// Test pieces shared by the layers that write and read checkpoints (train, analysis): the tiny
// model both fixtures train or save, and resealing a checkpoint's manifest after a test has damaged
// or replaced a file on purpose. Entry points: TinyModel, ResealManifest.
#pragma once

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

#include "common/test_util.h"
#include "core/fileio.h"
#include "model/config.h"
#include "train/checkpoint.h"

namespace ot::testing {

// V 64, d 32, L 1, 2 heads, T 16, RMSNorm, tied: 6 tensors.
inline ModelConfig TinyModel() {
  ModelConfig c;
  c.vocab_size = 64;
  c.d_model = 32;
  c.n_layers = 1;
  c.n_heads = 2;
  c.max_seq_len = 16;
  return c;
}

// Re-records every file's size and xxh3 in <dir>'s manifest, as if the damaged files had been
// written that way: the hashes then match and only structural checks can fail.
inline void ResealManifest(const std::filesystem::path& dir) {
  nlohmann::json manifest = nlohmann::json::parse(ReadFile(dir / kManifestFile));
  for (auto& [name, entry] : manifest["files"].items()) {
    const std::string bytes = ReadFile(dir / name);
    entry["size"] = bytes.size();
    entry["xxh3"] = Xxh3Hex(bytes);
  }
  WriteFileAtomic(dir / kManifestFile, manifest.dump(2));
}

}  // namespace ot::testing
