// Claims C7 and C8 (docs/science.md §6) from the linear-network lab's rows, for the report's claims
// table: each curve's shape per seed (argmin, U depth, flat, convergence edge), medians over seeds,
// and one verdict per claim. Entry points: AnalyzeTheoryCurve, SummarizeTheory.
#pragma once

#include <cstdint>
#include <limits>
#include <span>
#include <string>
#include <vector>

#include "report/results.h"

namespace ot {

// A curve whose (max − min)/min over the checkpoints is below this is "flat": its argmin is decided
// by tiny differences (docs/science.md §6, C8) and means nothing.
inline constexpr double kFlatSpread = 0.05;

// The learned spectrum counts as converged from the first checkpoint after which every singular
// value stays within this fraction of its value at the last checkpoint.
inline constexpr double kConvergedTolerance = 0.05;

struct ClaimVerdict {
  // reproduced | not at this scale | contradicted | not measured | not tested (too few seeds)
  std::string verdict = "not measured";
  std::string evidence;  // one or two sentences with the numbers behind it
};

// One curve (one seed, one condition) over pre-training checkpoints.
struct TheoryCurveShape {
  int64_t argmin_step = 0;
  double min_value = 0;
  double depth = 0;   // U depth: max after the minimum − minimum (0 when the minimum is last)
  double spread = 0;  // (max − min) / min over all checkpoints
  bool flat = false;  // spread < kFlatSpread
  // Minimum at the last checkpoint, or where the base has converged with < kFlatSpread rise after.
  bool at_edge = false;
  bool converged = false;  // the base converged within the range (else at_edge = still falling)
  bool at_start = false;   // minimum at the first checkpoint
  // The rise after the minimum is within 2 s.e. (curves with s.e.) or under kFlatSpread of it
  // (deterministic curves): the curve stops falling rather than turning up.
  bool plateau = false;
  // The U's rise is larger than 2 combined standard errors of the two points (only when the curve
  // has standard errors; otherwise `tested` is false).
  bool tested = false, significant = false;
  // "U" | "flat: argmin not meaningful" | "minimum at the pre-training convergence edge" |
  // "minimum at the first checkpoint" | "plateau after the minimum (...)".
  std::string Label() const;
  bool IsU() const { return !flat && !at_edge && !at_start && !plateau; }
};

// `steps` ascending, `values` the curve (same length ≥ 1), `se` empty or per-point standard errors,
// `converged_step` the first checkpoint where the base has converged (max when it never does).
TheoryCurveShape AnalyzeTheoryCurve(std::span<const int64_t> steps, std::span<const double> values,
                                    std::span<const double> se = {},
                                    int64_t converged_step = std::numeric_limits<int64_t>::max());

// One condition (a γ, an η_ft, or a λ) summarised over seeds.
struct ConditionSummary {
  double param = 0;                      // γ, η_ft or λ
  double lr = 0;                         // η_ft (fine-tuning conditions)
  int64_t ft_steps = 0;                  // fine-tuning steps (0 = unknown)
  std::vector<int64_t> seeds;            // seeds, ascending
  std::vector<TheoryCurveShape> shapes;  // one per seed, same order
  // Quartiles of the per-seed argmin step, interpolated in log2(step) (the grid is geometric).
  double argmin_median = 0, argmin_q1 = 0, argmin_q3 = 0;
  double depth_median = 0;   // median U depth (absolute, in loss units)
  double spread_median = 0;  // median (max − min)/min
  int flat = 0, at_edge = 0, at_start = 0, plateau = 0, u_shaped = 0;  // seeds with each label
  // Fine-tuning only: L_B after fine-tuning from the last checkpoint (the converged base), median
  // and range over seeds.
  double loss_b_median = 0, loss_b_lo = 0, loss_b_hi = 0;
  int Seeds() const { return static_cast<int>(seeds.size()); }
};

struct TheoryClaims {
  ClaimVerdict c7, c8;
  std::vector<ConditionSummary> perturb;   // per γ, ascending
  std::vector<ConditionSummary> finetune;  // per η_ft at the smallest λ, ascending
  std::vector<ConditionSummary> l2sp;      // per λ, ascending
  std::string l2sp_source;   // "l2sp" (the C8 sweep) | "finetune" (λ > 0 on the C7 teacher) | ""
  int seeds = 0;             // distinct seeds in the rows
  bool incremental = false;  // every seed learns its singular values largest first
};

// Every number above from the lab's rows (any order; seeds grouped by TheoryRow::seed). Rows of
// kind "l2sp" are the C8 sweep; without them C8 falls back to "finetune" rows with several λ.
TheoryClaims SummarizeTheory(const std::vector<TheoryRow>& rows);

}  // namespace ot
