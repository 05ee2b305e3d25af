// Unit-level samples of a study's curves and their T*s (see tstar_curves.h).
#include "report/tstar_curves.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <set>
#include <tuple>

#include "core/rng.h"
#include "report/tables.h"

namespace ot {

namespace {

using Unit = std::pair<int64_t, int64_t>;

uint64_t RngSeed(uint64_t seed, const std::string& tag) {
  return RngKey(seed, StreamId(tag.c_str()));
}  // (outer cluster, unit within it)

// Values by (curve key, unit, x), turned into one Samples per curve key on the x values every unit
// of that key has (a budget some unit lacks is dropped, so every replicate's curve is complete).
template <typename Key>
struct Table {
  std::map<Key, std::map<Unit, std::map<double, double>>> values;

  void Add(const Key& key, Unit unit, double x, double y) { values[key][unit][x] = y; }

  Samples SamplesOf(const Key& key) const {
    Samples s;
    const auto& units = values.at(key);
    std::set<double> common;
    bool first = true;
    for (const auto& [unit, by_x] : units) {
      std::set<double> xs;
      for (const auto& [x, y] : by_x) xs.insert(x);
      if (first) common = xs, first = false;
      std::set<double> both;
      std::set_intersection(common.begin(), common.end(), xs.begin(), xs.end(),
                            std::inserter(both, both.end()));
      common = both;
    }
    s.x.assign(common.begin(), common.end());
    for (const auto& [unit, by_x] : units) {
      std::vector<double> y;
      for (double x : s.x) y.push_back(by_x.at(x));
      s.AddUnit(unit.first, std::move(y));
    }
    return s;
  }
};

// "8 draws × 2 pre-training seeds" from the units' clusters (names are plural; one drops the s).
std::string RestsOn(const Samples& s, const std::string& inner, const std::string& outer) {
  auto count = [](size_t n, const std::string& plural) {
    return fmt::format("{} {}", n, n == 1 ? plural.substr(0, plural.size() - 1) : plural);
  };
  std::map<int64_t, size_t> per;
  for (int64_t c : s.cluster) ++per[c];
  if (outer.empty()) return count(s.cluster.size(), inner);
  return count(per.empty() ? 0 : per.begin()->second, inner) + " × " + count(per.size(), outer);
}

void PerturbCurves(const StudyResults& r, const TStarOptions& o, std::vector<TStarCurve>& out) {
  Table<std::pair<std::string, double>> table;  // by (noise scale, γ): scales are never mixed
  for (const PerturbRow& row : *r.perturb)
    if (IsWholeModelGroup(row.group))
      table.Add({row.scale, row.gamma}, {row.seed, row.draw}, double(row.tokens), row.loss);
  std::set<std::string> scales;
  for (const auto& [key, units] : table.values) scales.insert(key.first);
  for (const std::string& scale : scales) {
    // One resampler per scale: every γ's curve resamples the same (seed, draw) units.
    std::vector<std::pair<double, Samples>> curves;
    for (const auto& [key, units] : table.values)
      if (key.first == scale) curves.emplace_back(key.second, table.SamplesOf(key));
    const Resampler resampler(curves.front().second.cluster, o.replicates,
                              RngSeed(o.seed, "perturb:" + scale));
    for (const auto& [gamma, s] : curves)
      if (s.cluster == curves.front().second.cluster)
        out.push_back({PerturbFamily(scale), "", gamma, false,
                       MeanCurveTStar(s, resampler, o.inflection, o.level),
                       RestsOn(s, "draws", "pre-training seeds")});
  }
}

void FinetuneCurves(const StudyResults& r, const TStarOptions& o, std::vector<TStarCurve>& out) {
  using Key = std::pair<std::string, double>;  // (task, lr)
  Table<Key> ood, id;
  std::set<std::string> tasks;
  for (const FinetuneRow& row : *r.finetune) {
    ood.Add({row.task, row.lr}, {row.seed, row.ft_seed}, double(row.tokens), row.ood_loss);
    id.Add({row.task, row.lr}, {row.seed, row.ft_seed}, double(row.tokens), row.id_loss);
    tasks.insert(row.task);
  }
  for (const std::string& task : tasks) {
    std::vector<std::pair<double, Samples>> ood_by_lr, id_by_lr;
    for (const auto& [key, units] : ood.values)
      if (key.first == task) {
        ood_by_lr.emplace_back(key.second, ood.SamplesOf(key));
        id_by_lr.emplace_back(key.second, id.SamplesOf(key));
      }
    // One resampler per task: every LR's curve (and the tuned curve) resample the same units.
    const Samples& first = ood_by_lr.front().second;
    const Resampler resampler(first.cluster, o.replicates, RngSeed(o.seed, "finetune:" + task));
    bool aligned = true;  // every LR has the same units and budgets (a complete grid)
    for (const auto& [lr, s] : ood_by_lr) {
      aligned = aligned && s.cluster == first.cluster && s.x == first.x;
      if (s.cluster != first.cluster) continue;  // an incomplete grid: no shared units
      out.push_back({"fine-tuned OOD", task, lr, false,
                     MeanCurveTStar(s, resampler, o.inflection, o.level),
                     RestsOn(s, "fine-tuning seeds", "pre-training seeds")});
    }
    if (!aligned) continue;
    // The tuned curve: per budget the LR with the lowest mean ID loss (ties: the smaller LR, as in
    // the tuned tables), re-chosen in every replicate.
    auto tuned = [&](std::span<const int> w, std::vector<double>* se) {
      std::vector<std::vector<double>> id_mean, ood_mean;
      for (size_t k = 0; k < id_by_lr.size(); ++k) {
        id_mean.push_back(id_by_lr[k].second.WeightedMean(w));
        ood_mean.push_back(ood_by_lr[k].second.WeightedMean(w));
      }
      std::vector<double> y(first.x.size());
      for (size_t i = 0; i < first.x.size(); ++i) {
        size_t best = 0;
        for (size_t k = 1; k < id_by_lr.size(); ++k)
          if (id_mean[k][i] < id_mean[best][i]) best = k;
        y[i] = ood_mean[best][i];
        if (se) {
          std::vector<double> v;
          for (const auto& unit : ood_by_lr[best].second.y) v.push_back(unit[i]);
          se->push_back(MeanAndSe(v).se);
        }
      }
      return y;
    };
    const std::vector<int> ones(first.cluster.size(), 1);
    std::vector<double> se;
    const std::vector<double> full = tuned(ones, &se);
    const bool significant = FindInflection(first.x, full, se, o.inflection).u_shaped;
    out.push_back(
        {"OOD at the tuned LR", task, 0, false,
         EstimateTStar(
             first.x, resampler, [&](std::span<const int> w) { return tuned(w, nullptr); },
             significant, o.level),
         RestsOn(first, "fine-tuning seeds", "pre-training seeds")});
  }
}

void TheoryCurves(const StudyResults& r, const TStarOptions& o, std::vector<TStarCurve>& out) {
  Table<std::pair<std::string, double>> table;  // (kind, γ or lr)
  for (const TheoryRow& row : *r.theory) {
    if (row.kind == "perturb")
      table.Add({row.kind, row.gamma}, {row.seed, 0}, double(row.step), row.loss_a);
    else if (row.kind == "finetune")
      table.Add({row.kind, row.lr}, {row.seed, 0}, double(row.step), row.loss_a);
  }
  for (const std::string kind : {"perturb", "finetune"}) {
    std::vector<std::pair<double, Samples>> curves;
    for (const auto& [key, units] : table.values)
      if (key.first == kind) curves.emplace_back(key.second, table.SamplesOf(key));
    if (curves.empty()) continue;
    // Seeds are the units (one each): the ordinary bootstrap over the lab's seeds.
    const Resampler resampler(curves.front().second.cluster, o.replicates,
                              RngSeed(o.seed, std::string("lab:") + kind));
    for (const auto& [param, s] : curves)
      if (s.cluster == curves.front().second.cluster)
        out.push_back(
            {kind == std::string("perturb") ? "lab: perturbed loss A" : "lab: fine-tuned loss A",
             "", param, true, MeanCurveTStar(s, resampler, o.inflection, o.level),
             RestsOn(s, "seeds", "")});
  }
}

}  // namespace

std::string PerturbFamily(const std::string& scale) {
  return scale == "init" ? "perturbed loss" : "perturbed loss, " + scale + " noise";
}

std::vector<TStarCurve> StudyTStars(const StudyResults& results, const TStarOptions& options) {
  std::vector<TStarCurve> out;
  if (results.perturb) PerturbCurves(results, options, out);
  if (results.finetune) FinetuneCurves(results, options, out);
  if (results.theory) TheoryCurves(results, options, out);
  return out;
}

uint64_t BootstrapSeed(const std::filesystem::path& study_dir) {
  std::filesystem::path dir = std::filesystem::absolute(study_dir).lexically_normal();
  if (dir.filename().empty()) dir = dir.parent_path();  // "runs/law/size-pico-16/"
  const std::string name = dir.filename().string();
  return RngKey(0, StreamId(name.c_str()));
}

std::string TStarX(double x, bool steps) {
  if (steps) return fmt::format("{:.0f}", x);
  if (x >= 1e9) return fmt::format("{:.3g}B", x / 1e9);
  if (x >= 1e6) return fmt::format("{:.3g}M", x / 1e6);
  if (x >= 1e3) return fmt::format("{:.3g}K", x / 1e3);
  return fmt::format("{:.3g}", x);
}

}  // namespace ot
