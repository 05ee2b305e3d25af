// Checkpoint directories (docs/design.md "Artifacts"): model.safetensors, optimizer.safetensors,
// config.json, state.json and manifest.json (written last: format version, size + xxh3 of every
// file and of every tensor), written into `<dir>.tmp-<pid>`, fsynced, then renamed into place. A
// directory without a valid manifest is not a checkpoint. Entry points: SaveCheckpoint,
// LoadCheckpoint, VerifyCheckpoint, NewestValidCheckpoint, CleanPartialCheckpoints,
// PruneCheckpoints, InspectCheckpoint.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <ostream>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace ot {

namespace fs = std::filesystem;

inline constexpr int kCheckpointFormatVersion = 1;
inline constexpr const char* kModelFile = "model.safetensors";
inline constexpr const char* kOptimizerFile = "optimizer.safetensors";
inline constexpr const char* kConfigFile = "config.json";
inline constexpr const char* kStateFile = "state.json";
inline constexpr const char* kManifestFile = "manifest.json";

// A named F32 tensor owned by the caller (e.g. a view into the parameter arena).
struct NamedTensor {
  std::string name;  // HF-style for the model ("model.layers.0.self_attn.q_proj.weight")
  std::vector<int64_t> shape;
  std::span<const float> data;  // numel(shape) floats
};

struct CheckpointContents {
  std::vector<NamedTensor> model;      // -> model.safetensors
  std::vector<NamedTensor> optimizer;  // -> optimizer.safetensors (may be empty)
  nlohmann::json config;               // -> config.json (HF architecture fields; an object or null)
  nlohmann::json state;  // -> state.json (step, tokens, schedule, rng, data cursor, ...)
  // -> model.safetensors __metadata__. "format" = "pt" is added (transformers requires it), and
  // "overtrain_config" defaults to config.dump() when the caller does not give the run config
  // itself.
  std::map<std::string, std::string> metadata;
};

// Writes the checkpoint atomically: a crash at any point leaves either no `dir` (only
// `<dir>.tmp-<pid>`, which CleanPartialCheckpoints removes) or the complete new one. An existing
// `dir` is replaced atomically. Errors (disk full, permissions) throw Error after removing the temp
// dir; other checkpoints are untouched.
void SaveCheckpoint(const fs::path& dir, const CheckpointContents& contents);

struct LoadedTensor {
  std::vector<int64_t> shape;
  std::vector<float> data;
};

struct LoadedCheckpoint {
  fs::path dir;
  std::map<std::string, LoadedTensor> model, optimizer;   // optimizer empty when loaded without it
  std::vector<std::string> model_order, optimizer_order;  // names in file order
  nlohmann::json config, state, manifest;
  std::map<std::string, std::string> metadata;  // model.safetensors __metadata__
};

// Verifies the manifest (version, sizes, xxh3) of the files it reads, then loads them. Throws Error
// naming the file (and the tensor, for a damaged payload) on the first problem found.
LoadedCheckpoint LoadCheckpoint(const fs::path& dir, bool with_optimizer = true,
                                bool verified = false);

// Every problem with `dir`, one sentence each naming the file (and tensor); empty when the
// checkpoint is valid. Re-hashes every file, then makes the structural checks of loading on the
// files whose hashes match (docs/reliability.md case 36): safetensors headers parse (offsets,
// layout, sizes), tensors are F32, config.json and state.json are JSON objects, and the tensors
// match the model config.json describes (CheckpointLayoutProblems). A checkpoint that verifies
// therefore loads.
std::vector<std::string> VerifyCheckpoint(const fs::path& dir);

// VerifyCheckpoint as an Error (its first problem, and how many more): the one verification every
// loader runs — LoadCheckpoint calls it unless its caller already did (`verified`).
void RequireValidCheckpoint(const fs::path& dir);

// Checkpoint directories are named tokens-<N> (N = tokens seen).
std::string CheckpointDirName(int64_t tokens);
std::optional<int64_t> CheckpointTokens(
    const fs::path& dir);  // nullopt unless the name is tokens-<N>

struct CheckpointEntry {
  int64_t tokens = 0;
  fs::path dir;
};
// All tokens-<N> directories under `root` (valid or not), ascending by N; temp dirs excluded.
std::vector<CheckpointEntry> ListCheckpoints(const fs::path& root);
// A tokens-<N> directory passed over because it does not verify, with its problems.
struct SkippedCheckpoint {
  fs::path dir;
  std::vector<std::string> problems;
};
// The tokens-<N> directory with the largest N that verifies; nullopt if none (or root is missing).
// Each newer directory that failed verification is appended to `skipped` (when given), newest
// first, so that the caller can say which checkpoint it skipped and why.
std::optional<fs::path> NewestValidCheckpoint(const fs::path& root,
                                              std::vector<SkippedCheckpoint>* skipped = nullptr);
// Removes `*.tmp-<pid>` directories left by interrupted saves (not those of other live processes).
// Returns what it removed.
std::vector<fs::path> CleanPartialCheckpoints(const fs::path& root);
// Removes every checkpoint whose token count is not in `keep_tokens`, except the newest valid one.
// Returns what it removed.
std::vector<fs::path> PruneCheckpoints(const fs::path& root, const std::set<int64_t>& keep_tokens);

// The parameter group of an HF-style tensor name: "embed", "attn", "mlp", "norm", "head" or
// "other".
std::string TensorGroupFromName(std::string_view name);

// Human-readable summary: verification, state, config, metadata, tensors with shapes and L2 norms,
// and norms per group. Returns whether the checkpoint verified (a damaged one lists its problems
// only).
bool InspectCheckpoint(const fs::path& dir, std::ostream& out);

}  // namespace ot
