// Findings and generated sentences (see verdict.h).
#include "report/verdict.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <map>

#include "core/config.h"

namespace ot {
namespace {

std::string Capitalize(std::string s) {
  if (!s.empty() && std::islower(static_cast<unsigned char>(s[0]))) s[0] = std::toupper(s[0]);
  return s;
}

// "a", "a and b", "a, b and c".
std::string JoinAnd(const std::vector<std::string>& items) {
  std::string out;
  for (size_t i = 0; i < items.size(); ++i) {
    if (i) out += i + 1 == items.size() ? " and " : ", ";
    out += items[i];
  }
  return out;
}

std::string ParamList(const std::vector<const Finding*>& family) {
  std::vector<std::string> v;
  for (const auto* f : family) v.push_back(FormatParam(f->curve.param));
  return JoinAnd(v);
}

// Compact token count: exact suffix form when it is short ("16M"), else 3 significant digits
// ("1.05M").
std::string TokenLabel(double tokens) {
  const std::string exact = FormatSize(static_cast<int64_t>(std::llround(tokens)));
  if (exact.size() <= 5 || tokens < 1e4) return exact;
  const std::pair<double, const char*> units[] = {{1e12, "T"}, {1e9, "B"}, {1e6, "M"}, {1e3, "K"}};
  for (const auto& [u, s] : units)
    if (tokens >= u) return fmt::format("{:.3g}{}", tokens / u, s);
  return exact;
}

}  // namespace

std::string FormatParam(double v) { return fmt::format("{:g}", v); }

std::string XAxis::Format(double x) const {
  if (!budgets) return fmt::format("step {:g}", x);
  for (const Budget& b : budgets->budgets)
    if (double(b.tokens) == x) {
      const std::string e = fmt::format("{:.3g}", b.epochs);
      return fmt::format("{} {} ({} epoch{}, {:.3g} {}/param)", TokenLabel(x), budgets->unit, e,
                         e == "1" ? "" : "s", b.tokens_per_param, budgets->unit);
    }
  return TokenLabel(x) + " " + budgets->unit;
}
std::string XAxis::Short(double x) const {
  return budgets ? TokenLabel(x) : fmt::format("{:g}", x);
}
std::string XAxis::Unit() const { return budgets ? budgets->unit : "steps"; }
std::string XAxis::Largest() const { return budgets ? "the largest budget" : "the last step"; }
std::string XAxis::Smallest() const { return budgets ? "the smallest budget" : "the first step"; }

Finding Analyze(std::string figure, std::string panel, Curve curve, const XAxis& axis,
                const InflectionOptions& options) {
  Finding f{std::move(figure), std::move(panel), std::move(curve), {}, axis};
  InflectionOptions o = options;
  o.format_x = [axis](double x) { return axis.Short(x); };
  o.deterministic = o.deterministic || f.curve.exact;
  f.result = FindInflection(f.curve.x, f.curve.y, f.curve.se, o);
  return f;
}

std::string NoInflectionReason(const Finding& f) {
  const auto& r = f.result;
  if (f.curve.x.size() < 3) return "too few points to locate one";
  switch (r.shape) {
    case CurveShape::kUShaped:
      return "";
    case CurveShape::kDecreasing:
      if (!r.interior) return "still decreasing at " + f.axis.Largest();
      return fmt::format("the rise after the minimum at {} is within the uncertainty",
                         f.axis.Short(r.x_min));
    case CurveShape::kIncreasing:
      if (!r.interior)
        return std::string(r.monotone_increasing ? "rising monotonically from " : "rising from ") +
               f.axis.Smallest();
      return fmt::format("the fall before the minimum at {} is within the uncertainty",
                         f.axis.Short(r.x_min));
    case CurveShape::kFlat:
      return "flat within the uncertainty";
    case CurveShape::kNotTested:
      return "not tested: no standard errors";
  }
  return "";
}

std::string DescribeCurve(const Finding& f) {
  const auto& r = f.result;
  if (r.u_shaped) return "U-shaped: minimum at " + f.axis.Format(r.x_min);
  return "no inflection inside the range (" + NoInflectionReason(f) + ")";
}

std::string DescribeCurvePredicate(const Finding& f) {
  if (f.result.u_shaped) return "is U-shaped with its minimum at " + f.axis.Format(f.result.x_min);
  return "has no inflection inside the range (" + NoInflectionReason(f) + ")";
}

std::string FamilyVerdict(const std::string& what, const std::string& param,
                          const std::vector<const Finding*>& family) {
  if (family.empty()) return "";
  std::vector<const Finding*> u, rest;
  for (const auto* f : family) (f->result.u_shaped ? u : rest).push_back(f);
  std::string out;
  if (!u.empty()) {
    std::vector<std::string> where;
    for (const auto* f : u)
      where.push_back(fmt::format("{} for {} = {}", f->axis.Format(f->result.x_min), param,
                                  FormatParam(f->curve.param)));
    out = Capitalize(what) + " turns upward after " + JoinAnd(where);
    const bool tail = std::all_of(family.end() - u.size(), family.end(),
                                  [](const Finding* f) { return f->result.u_shaped; });
    if (u.size() == family.size() && family.size() > 1) {
      out += fmt::format(" (every {})", param);
    } else if (tail && u.size() >= 2) {
      out += fmt::format(", i.e. for {} ≥ {}", param, FormatParam(u.front()->curve.param));
    }
    out += ".";
    if (u.size() >= 2) {
      bool non_increasing = true;
      for (size_t i = 1; i < u.size(); ++i)
        non_increasing = non_increasing && u[i]->result.x_min <= u[i - 1]->result.x_min;
      const double first = u.front()->result.x_min, last = u.back()->result.x_min;
      if (non_increasing && last < first)
        out += fmt::format(" Larger {} moves the minimum to fewer {}, as the paper predicts.",
                           param, u.front()->axis.Unit());
      else if (non_increasing)
        out += fmt::format(" The minimum sits at the same place for every U-shaped {}.", param);
      else
        out += fmt::format(" The minimum does not move monotonically to fewer {} with larger {}.",
                           u.front()->axis.Unit(), param);
    }
  }
  if (!rest.empty()) {
    // Group the curves without an interior inflection by their reason, in parameter order.
    std::vector<std::pair<std::string, std::vector<std::string>>> groups;
    for (const auto* f : rest) {
      const std::string reason = NoInflectionReason(*f);
      auto it =
          std::find_if(groups.begin(), groups.end(), [&](auto& g) { return g.first == reason; });
      if (it == groups.end()) groups.push_back({reason, {}}), it = groups.end() - 1;
      it->second.push_back(FormatParam(f->curve.param));
    }
    std::vector<std::string> parts;
    for (const auto& [reason, params] : groups)
      parts.push_back(fmt::format("{} = {}: {}", param, JoinAnd(params), reason));
    if (u.empty())
      out += fmt::format(
          "{} is not U-shaped within the range for any {}: no inflection inside the range "
          "({}).",
          Capitalize(what), param, fmt::join(parts, "; "));
    else
      out += fmt::format(" No inflection inside the range for {}.", fmt::join(parts, "; "));
  }
  // How sure: minima that cannot be told from their neighbours, and curves without error bars.
  for (const auto* f : u)
    if (f->result.has_uncertainty && !f->result.distinguishable)
      out += fmt::format(" For {} = {} the minimum's location is uncertain: {}.", param,
                         FormatParam(f->curve.param), f->result.uncertainty);
  return out;
}

std::string GrowthVerdict(const std::string& what, const std::string& param,
                          const std::vector<const Finding*>& family) {
  if (family.empty()) return "";
  std::vector<const Finding*> grow, other;
  for (const auto* f : family) (f->result.monotone_increasing ? grow : other).push_back(f);
  const std::string unit = family.front()->axis.Unit();
  if (other.empty())
    return fmt::format("{} grows monotonically with {} for all {} ({}).", Capitalize(what), unit,
                       param, ParamList(family));
  std::vector<std::string> shapes;
  for (const auto* f : other)
    shapes.push_back(
        fmt::format("{} = {}: {}", param, FormatParam(f->curve.param), ShapeName(f->result.shape)));
  if (grow.empty())
    return fmt::format("{} does not grow monotonically with {} for any {} ({}).", Capitalize(what),
                       unit, param, fmt::format("{}", fmt::join(shapes, "; ")));
  return fmt::format("{} grows monotonically with {} for {} = {}, but not for {}.",
                     Capitalize(what), unit, param, ParamList(grow), fmt::join(shapes, "; "));
}

}  // namespace ot
