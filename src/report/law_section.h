// The size comparison's law section (docs/science.md §8): T* per ladder and curve, and the fitted
// laws log T* = a + b·log N + c·log γ (perturbation), a′ + b′·log N + c′·log η (fine-tuning, per
// task) and a″ + b″·log N (OOD at the tuned LR), with bootstrap intervals, b − 1 (constant tokens
// per parameter?), and the linear-network lab's c and c′ beside them. Entry point: LawSection.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "report/document.h"
#include "report/law.h"
#include "report/sensitivity.h"
#include "report/tstar_curves.h"

namespace ot {

struct LadderTStars {
  std::string name;   // the ladder's preset
  double params = 0;  // N: all parameters
  std::vector<TStarCurve> curves;
  std::vector<DeltaGrowth> growth;  // Δ's growth along the ladder (the arms' sensitivity)
};

struct LawRow {
  std::string label;     // "perturbation", "fine-tuning, code", "lab: perturbed loss A (steps)"
  std::string variable;  // "γ", "η", or "" (the tuned-LR curve: size only)
  LawFit fit;
};
// Every law the ladders (and the lab) support, fitted or with why not.
std::vector<LawRow> FitLaws(const std::vector<LadderTStars>& ladders,
                            const std::vector<TStarCurve>& lab);
// "perturbation: T* ∝ γ^-1.9 [-2.3, -1.5]"; empty without a fitted c.
std::string ExponentSentence(const LawRow& row);

// Appends the section to `doc` and writes tables_dir/law.csv (one row per fitted coefficient).
// `lab` holds the lab's curves (shared by all ladders), empty when the study ran no theory.
void LawSection(Document& doc, const std::vector<LadderTStars>& ladders,
                const std::vector<TStarCurve>& lab, const std::filesystem::path& tables_dir);

}  // namespace ot
