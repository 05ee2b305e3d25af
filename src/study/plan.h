// A study as a graph of runs (docs/design.md "Layers"): each run is one invocation of an overtrain
// stage (`overtrain <stage> --config <dir>/run.toml --out <dir>`) whose id is the hash of its
// resolved config and of its dependencies' ids, so changing one field re-plans only the runs it
// reaches.
// Entry points: Run, Plan::{Add, TopologicalOrder, Find}, RunId.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

namespace ot {

struct Run {
  std::string stage;        // "data", "pretrain", "eval", "perturb", "finetune", "theory"
  std::string name;         // readable, unique within the study: "pretrain/tokens-2M"
  std::string config_toml;  // the stage's fully resolved config, written to <dir>/run.toml
  // Arguments after the binary; "{config}" and "{out}" are replaced by <dir>/run.toml and <dir>.
  // Empty = {stage, "--config", "{config}", "--out", "{out}"}.
  std::vector<std::string> argv = {};
  std::vector<std::string> deps = {};  // names of runs that must be complete first
  std::string id = {};                 // filled by Plan::Add: hash(stage, config, deps' ids)
  double cost_tokens = 0;  // estimated tokens processed (train + eval), for --dry-run and ETA
  std::map<std::string, std::string> labels = {};  // e.g. tokens=2000000, task=sentiment, lr=1e-4
  // Data-parallel processes of the run under Slurm (--emit slurm: one multi-task job, srun). Not
  // part of the id: the global batch, and so the result, is the same at any world size.
  int nodes = 1, tasks_per_node = 1;
};

// 16 hex digits of xxh3 over the text.
std::string HashHex(const std::string& text);

class Plan {
 public:
  // Adds a run; its deps must already be in the plan. Computes and returns its id.
  const Run& Add(Run run);
  const Run* Find(const std::string& name) const;
  const std::vector<Run>& runs() const { return runs_; }  // insertion order is a topological order
  // Directory of a run inside the study: <study>/<name>-<id8>.
  std::filesystem::path DirOf(const std::filesystem::path& study_dir, const Run& run) const;

 private:
  std::vector<Run> runs_;
  std::map<std::string, size_t> index_;
};

}  // namespace ot
