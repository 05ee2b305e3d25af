// The pre-training LR sweeps of study.tune_lr (results/lr_sweep.jsonl, docs/formats.md): one sweep
// per (arm, seed, reference budget), its grid sorted by lr, the chosen LR, and whether that choice
// sits at the grid's edge (then the true optimum may lie outside the grid). Entry points:
// LrSweep, SummarizeLrSweeps, LrSweepEdgeFlag.
#pragma once

#include <string>
#include <vector>

#include "core/result_rows.h"

namespace ot {

struct LrSweep {
  std::string arm;
  int64_t seed = 0, tokens = 0;
  double epochs = 0;
  std::vector<LrSweepRow> points;  // increasing lr
  int chosen = -1;                 // index into points; -1 when no row is marked chosen
  bool at_edge() const {
    return chosen >= 0 && points.size() > 1 &&
           (chosen == 0 || chosen + 1 == static_cast<int>(points.size()));
  }
};

std::vector<LrSweep> SummarizeLrSweeps(const std::vector<LrSweepRow>& rows);

// "" for an interior choice; else the flag, e.g. "arm sgd: the best LR (0.1, × 4) is at the grid's
// edge (its largest LR): widen the grid (study.tune_lr_factors)".
std::string LrSweepEdgeFlag(const LrSweep& sweep);

}  // namespace ot
