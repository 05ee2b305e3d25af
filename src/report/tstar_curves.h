// T* for every curve of a study that can have one (docs/science.md §8): the perturbed loss per γ
// (per noise scale),
// the fine-tuned OOD loss per task and LR, the OOD loss at the tuned LR per task (the LR re-tuned
// on ID loss inside every bootstrap replicate), and the linear-network lab's task-A loss per γ and
// per η_ft. Units: (pre-training seed, draw), (pre-training seed, fine-tuning seed), or the lab's
// seeds; every curve of one family and ladder shares one Resampler, so a law fitted across its γs
// (or LRs) resamples each unit once. Entry point: StudyTStars.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "report/inflection.h"
#include "report/results.h"
#include "report/tstar.h"

namespace ot {

struct TStarCurve {
  std::string family;  // "perturbed loss" (init-scaled noise), "perturbed loss, relative noise",
                       // "fine-tuned OOD", "OOD at the tuned LR",
                       // "lab: perturbed loss A", "lab: fine-tuned loss A"
  std::string task;    // fine-tuning task; empty otherwise
  double param = 0;    // γ or LR (0 for the tuned curve)
  bool steps = false;  // x is training steps (the lab), not tokens
  TStar t;
  std::string rests_on;  // "8 draws × 2 pre-training seeds"
};

struct TStarOptions {
  InflectionOptions inflection;
  int replicates = 1000;
  uint64_t seed = 0;  // the bootstrap's; give each ladder its own
  double level = 0.95;
};

std::vector<TStarCurve> StudyTStars(const StudyResults& results, const TStarOptions& options);

// The perturbed-loss family of a noise scale: "perturbed loss" for "init" (the paper's, and the
// law's), "perturbed loss, relative noise" for "relative".
std::string PerturbFamily(const std::string& scale);

// The bootstrap seed of the ladder in `study_dir` (from its directory name, e.g. size-pico-16): its
// own report and the size comparison draw the same replicates, and two ladders never share them.
uint64_t BootstrapSeed(const std::filesystem::path& study_dir);

// "5.43M" (tokens) or "1.7e+03" style for steps: T* lies between budgets, so it is not a budget.
std::string TStarX(double x, bool steps);

}  // namespace ot
