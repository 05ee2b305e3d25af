// The theory lab: pre-train the linear network, measure every checkpoint (learned spectrum,
// perturbed loss, fine-tuning with/without L2-SP, the L2-SP sweep of claim C8), once per seed, find
// the inflection points, write results.jsonl
// (docs/formats.md). Entry points: RunTheory, FindInflection, WriteTheoryResults,
// FormatTheoryTable, TheoryMain (the CLI's call).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "theory/linear_net.h"

namespace ot::theory {

struct PerturbResult {
  double gamma = 0;
  double mc_mean = 0, mc_se = 0;  // Monte-Carlo over K draws
  double closed = 0;              // exact expectation
};

struct FinetuneResult {
  double lr = 0, lambda = 0;
  double loss_a = 0;  // pre-training (population) loss after fine-tuning: forgetting
  double loss_b = 0;  // fine-tuning (population) loss after fine-tuning
};

struct CheckpointResult {
  int64_t seed = 0;  // the replicate's seed (TheoryConfig::seed + replicate index)
  int64_t step = 0;
  double base_loss = 0;                  // L_A = ½‖W₂W₁ − A‖²
  VectorXd singular_values;              // of W₂W₁, descending
  double w1_sq = 0, w2_sq = 0;           // ‖W₁‖², ‖W₂‖²
  std::vector<PerturbResult> perturb;    // one per γ
  std::vector<FinetuneResult> finetune;  // one per (lr, λ), lr-major
  std::vector<FinetuneResult> l2sp;      // one per l2sp.lambdas entry, on teacher l2sp.teacher
};

// The minimum of one curve over the checkpoints. `inside` is false when the minimum sits at either
// end of the checkpoint list ("no inflection inside the range").
struct Inflection {
  std::string curve;  // "perturb" (Monte-Carlo), "perturb_closed", "finetune", "l2sp"
  int64_t seed = 0;
  double gamma = 0, lr = 0, lambda = 0;
  int64_t min_step = 0;
  double min_value = 0;
  bool inside = false;
  double end_rise =
      0;  // (last value − minimum) / |minimum|: near 0 means the curve plateaus after its minimum
};

struct TheoryResults {
  TheoryConfig config;
  VectorXd teacher_spectrum;
  std::vector<CheckpointResult> checkpoints;  // seed-major, then ascending step
  std::vector<Inflection> inflections;        // seed-major
};

TheoryResults RunTheory(const TheoryConfig& config);

// Index of the first minimum of `values` (same length as `steps`, ≥ 1) as an Inflection (curve
// unset).
Inflection FindInflection(std::span<const int64_t> steps, std::span<const double> values);

// Writes DIR/results.jsonl (docs/formats.md rows), DIR/inflections.jsonl and DIR/config.toml, each
// atomically.
void WriteTheoryResults(const TheoryResults& results, const std::string& dir);

// A short text table (one line per checkpoint of the first seed) followed by the inflection
// points (per seed when there are several).
std::string FormatTheoryTable(const TheoryResults& results);

// `overtrain theory`: load config (+ overrides), print it or run, write results, print the table.
// `out` = "" writes to runs/theory/<config file stem>. Returns the exit code.
int TheoryMain(const std::string& config_path, const std::vector<std::string>& overrides,
               const std::string& out, bool print_config);

}  // namespace ot::theory
