// Least-squares fit of the inflection law with bootstrap intervals (see law.h).
#include "report/law.h"

#include <fmt/format.h>

#include <Eigen/Dense>
#include <algorithm>
#include <cmath>
#include <set>

namespace ot {

const Coefficient* LawFit::Term(const std::string& name) const {
  for (const Coefficient& c : terms)
    if (c.name == name) return &c;
  return nullptr;
}

LawFit FitLaw(std::span<const LawPoint> points, double level) {
  LawFit fit;
  fit.level = level;
  fit.points = static_cast<int>(points.size());
  std::set<double> sizes, params;
  for (const LawPoint& p : points) sizes.insert(p.size), params.insert(p.params);
  std::vector<std::string> names{"a"};
  if (params.size() > 1) names.push_back("b");
  if (sizes.size() > 1) names.push_back("c");
  if (names.size() == 1) {
    fit.why_not = "the curves with a T* share one model size and one modification size";
    return fit;
  }
  if (points.size() < names.size()) {
    fit.why_not = fmt::format("only {} curve(s) have a T*; {} coefficients need at least {}",
                              points.size(), names.size(), names.size());
    return fit;
  }
  const size_t replicates = points.front().t.draws.size();
  for (const LawPoint& p : points)
    if (p.t.draws.size() != replicates) {
      fit.why_not = "the curves' T*s come from different numbers of bootstrap replicates";
      return fit;
    }
  Eigen::MatrixXd design(points.size(), names.size());
  for (size_t i = 0; i < points.size(); ++i) {
    int col = 0;
    design(i, col++) = 1.0;
    if (params.size() > 1) design(i, col++) = std::log(points[i].params);
    if (sizes.size() > 1) design(i, col++) = std::log(points[i].size);
  }
  const auto qr = design.colPivHouseholderQr();
  if (qr.rank() < static_cast<Eigen::Index>(names.size())) {
    fit.why_not =
        "model size and modification size vary together: their exponents cannot be told apart";
    return fit;
  }
  auto solve = [&](auto value_of) {
    Eigen::VectorXd y(points.size());
    for (size_t i = 0; i < points.size(); ++i) y(i) = std::log(value_of(points[i]));
    return Eigen::VectorXd(qr.solve(y));
  };
  const Eigen::VectorXd estimate = solve([](const LawPoint& p) { return p.t.t_star; });
  std::vector<std::vector<double>> draws(names.size());
  for (size_t r = 0; r < replicates; ++r) {
    const Eigen::VectorXd b = solve([r](const LawPoint& p) { return p.t.draws[r]; });
    for (size_t k = 0; k < names.size(); ++k) draws[k].push_back(b(k));
  }
  for (size_t k = 0; k < names.size(); ++k)
    fit.terms.push_back({names[k], estimate(k),
                         replicates ? Percentile(draws[k], 0.5 * (1 - level)) : estimate(k),
                         replicates ? Percentile(draws[k], 1 - 0.5 * (1 - level)) : estimate(k)});
  fit.replicates = static_cast<int>(replicates);
  fit.fitted = true;
  return fit;
}

}  // namespace ot
