// Plain-language findings from curves: each curve's inflection analysis and sentences over a family
// of curves (one per γ, LR, λ). Entry points: Analyze, DescribeCurve, FamilyVerdict, GrowthVerdict.
// Wording is generated from the data; a minimum at an end of the ladder is "no inflection inside
// the range".
#pragma once

#include <string>
#include <vector>

#include "report/inflection.h"
#include "report/tables.h"

namespace ot {

// How a curve's x axis reads in text: token budgets (with epochs and tokens/param) or training
// steps.
struct XAxis {
  const Summaries* budgets = nullptr;  // null = x is a step count
  std::string Format(double x) const;  // "64M tokens (2 epochs, 20 tokens/param)" or "step 400"
  std::string Short(double x) const;   // "64M" or "400"
  std::string Unit() const;            // "tokens" or "steps"
  std::string Largest() const;         // "the largest budget" or "the last step"
  std::string Smallest() const;        // "the smallest budget" or "the first step"
};

struct Finding {
  std::string figure, panel;  // where the curve is drawn ("fig2_perturb", "perturbed loss")
  Curve curve;
  InflectionResult result;
  XAxis axis;
};

Finding Analyze(std::string figure, std::string panel, Curve curve, const XAxis& axis,
                const InflectionOptions& options);

// "U-shaped: minimum at 64M tokens (2 epochs, ...)" or "no inflection inside the range (still
// decreasing at the largest budget)".
std::string DescribeCurve(const Finding& f);
// The same as a predicate: "is U-shaped with its minimum at ..." / "has no inflection inside the
// range (...)".
std::string DescribeCurvePredicate(const Finding& f);
// Why a non-U curve has no inflection inside the range ("still decreasing at the largest budget",
// ...).
std::string NoInflectionReason(const Finding& f);

// Sentences about where `what` ("the perturbed loss") turns upward across a family of curves
// indexed by `param` ("γ"), ordered by Curve::param: which members are U-shaped and where, whether
// a larger parameter moves the minimum earlier, which have no inflection inside the range and why,
// and how sure (curves without standard errors are the caller's to mention once).
std::string FamilyVerdict(const std::string& what, const std::string& param,
                          const std::vector<const Finding*>& family);

// "Δ grows monotonically with tokens for all γ (0.01, 0.1)." or which members do not, and their
// shapes.
std::string GrowthVerdict(const std::string& what, const std::string& param,
                          const std::vector<const Finding*>& family);

std::string FormatParam(double v);  // "%g"

}  // namespace ot
