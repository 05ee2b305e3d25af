// Shared fixtures of the train tests: a pre-training config of the tiny model (common/
// checkpoint_util.h) on a synthetic learnable token file written with the data layer's writer, and
// helpers to read a run's final weights and moments and to damage checkpoint files. TempDir,
// ErrorOf and ResealManifest come from tests/common.
#pragma once

#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "common/checkpoint_util.h"
#include "common/test_util.h"
#include "core/fileio.h"
#include "core/rng.h"
#include "data/token_file.h"
#include "train/checkpoint.h"
#include "train/metrics.h"
#include "train/pretrain.h"

namespace ot::testing {

namespace fs = std::filesystem;

// A noisy affine chain over a 64-token vocabulary: next = (5·t + 3) mod 64 with probability 0.8,
// else uniform. Learnable (the loss falls well below ln 64) but not trivially.
inline void WriteSyntheticTokens(const fs::path& path, int64_t n, uint64_t seed) {
  std::vector<int32_t> tokens(n);
  const uint64_t key = RngKey(seed, StreamId("synthetic-tokens"));
  int32_t t = 0;
  for (int64_t i = 0; i < n; ++i) {
    const double u = UniformAt(key, 2 * i), w = UniformAt(key, 2 * i + 1);
    t = u < 0.8 ? (5 * t + 3) % 64 : static_cast<int32_t>(w * 64) % 64;
    tokens[i] = t;
  }
  data::WriteTokenFile(path, tokens, 64, -1);
}

// 4 x 16 = 64 tokens per step. The train file (2000 tokens) has floor((2000-16)/16) = 124 windows,
// so 31 batches per epoch; 40 steps cross one epoch boundary.
inline PretrainConfig TinyConfig(const fs::path& dir) {
  PretrainConfig c;
  c.model = TinyModel();
  if (!fs::exists(dir / "train.tok")) WriteSyntheticTokens(dir / "train.tok", 2000, 7);
  if (!fs::exists(dir / "val.tok")) WriteSyntheticTokens(dir / "val.tok", 600, 8);
  c.data.train = (dir / "train.tok").string();
  c.data.val = (dir / "val.tok").string();
  c.train.batch_size = 4;
  c.train.seq_len = 16;
  c.train.budget.value = 40 * 64;
  c.train.seed = 3;
  c.train.log_every = 1;
  c.train.eval_every = 10;
  c.train.eval_batches = 2;
  c.train.threads =
      1;  // tiny shapes: OpenMP hand-offs on a shared 2-core machine cost more than they save
  c.train.quiet = true;
  c.optim.lr = 1e-2;
  c.optim.warmup_fraction = 0.1;
  return c;
}

inline constexpr int64_t kTokensPerStep = 64;
inline constexpr int64_t kBatchesPerEpoch = 31;

// The model and optimizer tensors of a checkpoint, concatenated in file order.
struct Weights {
  std::vector<float> model, optimizer;
  nlohmann::json state;
};
inline Weights ReadWeights(const fs::path& ckpt) {
  Weights w;
  LoadedCheckpoint c = LoadCheckpoint(ckpt, true);
  for (const auto& n : c.model_order)
    w.model.insert(w.model.end(), c.model[n].data.begin(), c.model[n].data.end());
  for (const auto& n : c.optimizer_order)
    w.optimizer.insert(w.optimizer.end(), c.optimizer[n].data.begin(), c.optimizer[n].data.end());
  w.state = c.state;
  return w;
}

inline fs::path FinalCheckpoint(const fs::path& run) {
  auto newest = NewestValidCheckpoint(run / "ckpt");
  EXPECT_TRUE(newest.has_value()) << run;
  return newest.value_or(fs::path());
}

// metrics.jsonl rows without the wall-clock fields.
inline std::vector<nlohmann::json> DeterministicMetrics(const fs::path& run) {
  std::vector<nlohmann::json> rows;
  for (auto row : ReadMetrics(run / "metrics.jsonl")) {
    for (auto it = row.begin(); it != row.end();) {
      if (IsWallClockKey(it.key()))
        it = row.erase(it);
      else
        ++it;
    }
    rows.push_back(row);
  }
  return rows;
}

// Rewrites the JSON header of a safetensors file through `edit` (the byte buffer is kept; the
// header is re-padded to a multiple of 8), to craft malformed files that still hash consistently
// after ResealManifest.
inline void RewriteSafetensorsHeader(const fs::path& file,
                                     const std::function<void(nlohmann::json&)>& edit) {
  const std::string bytes = ReadFile(file);
  uint64_t n = 0;
  std::memcpy(&n, bytes.data(), 8);
  nlohmann::json header = nlohmann::json::parse(bytes.substr(8, n));
  edit(header);
  std::string text = header.dump();
  while ((8 + text.size()) % 8 != 0) text += ' ';
  const uint64_t n2 = text.size();
  std::string out(8, '\0');
  std::memcpy(out.data(), &n2, 8);
  WriteFileAtomic(file, out + text + bytes.substr(8 + n));
}

}  // namespace ot::testing
