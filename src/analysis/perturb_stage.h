// `overtrain perturb`: progressive sensitivity under Gaussian noise (paper §3.3). For one
// checkpoint, for each γ and draw k: θ + γ·s·z (model/noise.h), loss on the general validation
// set (the OOD probe), Δ vs the unperturbed loss. Every draw starts from the exact pre-trained
// bits. Rows: docs/formats.md. Entry points: PerturbConfig, PerturbSchema, RunPerturbStage.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "analysis/suite.h"

namespace ot {

struct PerturbConfig {
  CheckpointRef checkpoint;  // the directory and the pre-training it stands for
  EvalSuiteConfig suite;
  std::vector<double> gammas{0.1, 0.2, 0.4};
  int draws = 5;
  int64_t seed = 0;
  std::vector<std::string> groups{"all"};  // each entry is one condition: "all" or a group name
  std::string scale = "init";              // init | relative (model/noise.h)
  ComputeConfig compute;                   // compute.*: the backend that perturbs and scores
};

const ConfigSchema<PerturbConfig>& PerturbSchema();

// Writes <out>/results.jsonl; returns 0.
int RunPerturbStage(const PerturbConfig& config, const std::filesystem::path& out);

}  // namespace ot
