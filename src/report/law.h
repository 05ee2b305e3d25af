// The inflection law (docs/science.md §8): log T* = a + b·log N + c·log p over the curves that have
// a T*, with N the model's parameters and p the modification's size (γ for noise, η for
// fine-tuning), fit by least squares; each coefficient's interval is the percentile interval of the
// fits to the bootstrap replicates' T*s (tstar.h), so it carries every curve's own uncertainty.
// A term whose variable takes one value is left out (one size: log T* = a + c·log p). Entry
// points: LawPoint, FitLaw.
#pragma once

#include <span>
#include <string>
#include <vector>

#include "report/tstar.h"

namespace ot {

struct LawPoint {
  double params = 0;  // N
  double size = 0;    // p: γ or η
  TStar t;            // has == true, with `draws` from the same number of replicates everywhere
};

struct Coefficient {
  std::string name;  // "a", "b" (log N), "c" (log p)
  double value = 0, lo = 0, hi = 0;
};

struct LawFit {
  bool fitted = false;
  std::string why_not;             // when !fitted: "only 2 curves have a T*", ...
  std::vector<Coefficient> terms;  // a, then b when sizes vary, then c when p varies
  int points = 0, replicates = 0;
  double level = 0.95;
  const Coefficient* Term(const std::string& name) const;  // nullptr when left out
};

// Needs at least as many points as coefficients. With exactly as many the fit passes through every
// T* (no residual); its intervals then carry only the T*s' own uncertainty, as always.
LawFit FitLaw(std::span<const LawPoint> points, double level = 0.95);

}  // namespace ot
