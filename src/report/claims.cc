// The claims table (docs/science.md §6): one row per claim of the paper with a verdict, the
// evidence with its uncertainty and the tokens/param range it rests on; and the flags on results
// that cannot carry the science (accuracy at chance, ID loss at the label prior, loss above ln V,
// data repeated, an LR optimum at the edge of its grid, a benchmark at chance). Entry points:
// Claims, Flags, BenchmarkClaim (C9).
#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "report/lr_sweep.h"
#include "report/sections.h"
#include "report/theory_claims.h"

namespace ot::report_detail {
namespace {

constexpr const char* kReproduced = "reproduced";
constexpr const char* kNotAtScale = "not at this scale";
constexpr const char* kContradicted = "contradicted";
constexpr const char* kNotMeasured =
    "not measured";  // the same words as theory_claims.h's verdicts
constexpr const char* kNotTested = "not tested";

const std::vector<const Finding*>* Family(const Ctx& ctx, const std::string& key) {
  auto it = ctx.families.find(key);
  return it == ctx.families.end() || it->second.empty() ? nullptr : &it->second;
}

std::string TppRange(const Ctx& ctx) {
  const auto& b = ctx.s.budgets;
  if (b.empty()) return "–";
  std::string out = fmt::format("{:.3g}–{:.3g} {}/param", b.front().tokens_per_param,
                                b.back().tokens_per_param, ctx.s.unit);
  if (b.front().tokens_per_nonembed_param > 0)
    out += fmt::format(" ({:.3g}–{:.3g} per non-embedding param)",
                       b.front().tokens_per_nonembed_param, b.back().tokens_per_nonembed_param);
  return out + fmt::format(", {:.2g}–{:.2g} epochs", b.front().epochs, b.back().epochs);
}

// "0.123 ± 0.004"
std::string ValueSeOf(const Curve& c, size_t i) {
  const double se = i < c.se.size() ? c.se[i] : kNaN;
  return std::isfinite(se) && se > 0 ? fmt::format("{:.3f} ± {:.3f}", c.y[i], se)
                                     : fmt::format("{:.3f}", c.y[i]);
}
std::string ValueSe(const Finding& f, size_t i) { return ValueSeOf(f.curve, i); }

bool AllTested(const std::vector<const Finding*>& fam) {
  return std::all_of(fam.begin(), fam.end(), [](const Finding* f) { return f->result.tested; });
}

// True (with `row` filled) when the family is absent (not measured) or has a curve without standard
// errors (not tested): the shared preamble of every claim about curves over tokens.
bool Untestable(const std::vector<const Finding*>* fam, ClaimRow& row) {
  if (!fam) return true;
  if (AllTested(*fam)) return false;
  row.verdict = kNotTested;
  row.evidence = "some curves carry no standard errors (one draw or one seed): no claim";
  return true;
}

// C1 / C3: a Δ that rises monotonically with tokens (beyond the noise) for every member of the
// family.
ClaimRow Growth(const Ctx& ctx, std::string id, std::string claim,
                const std::vector<const Finding*>* fam, const std::string& param,
                const std::string& what) {
  ClaimRow row{std::move(id), std::move(claim), kNotMeasured, "no results", TppRange(ctx)};
  if (Untestable(fam, row)) return row;
  std::vector<std::string> grow, flat, fall;
  for (const auto* f : *fam) {
    const std::string p = FormatParam(f->curve.param);
    if (f->result.monotone_increasing)
      grow.push_back(p);
    else if (f->result.shape == CurveShape::kDecreasing || f->result.monotone_decreasing)
      fall.push_back(p);
    else
      flat.push_back(p);
  }
  const Finding& mid = *(*fam)[fam->size() / 2];
  const size_t last = mid.curve.y.size() - 1;
  row.evidence =
      fmt::format("{} at {} = {}: {} at {} → {} at {}", what, param, FormatParam(mid.curve.param),
                  ValueSe(mid, 0), mid.axis.Short(mid.curve.x[0]), ValueSe(mid, last),
                  mid.axis.Short(mid.curve.x[last]));
  row.evidence +=
      fmt::format("; rises monotonically beyond {:g} s.e. for {} = {}", ctx.options.inflection.z,
                  param, grow.empty() ? "none" : fmt::format("{}", fmt::join(grow, ", ")));
  if (!flat.empty()) row.evidence += fmt::format("; not monotone for {}", fmt::join(flat, ", "));
  if (!fall.empty()) row.evidence += fmt::format("; falls for {}", fmt::join(fall, ", "));
  row.verdict = grow.size() == fam->size()       ? kReproduced
                : !fall.empty() && grow.empty()  ? kContradicted
                : grow.size() * 2 >= fam->size() ? kReproduced
                                                 : kNotAtScale;
  if (row.verdict == std::string(kReproduced) && grow.size() < fam->size())
    row.evidence += " (reproduced for most members)";
  return row;
}

// Where each curve's minimum lies along the ladder: its index if U-shaped, -1 before the range
// (rising from the first budget), n past it (still falling at the last), nullopt when flat.
std::optional<double> MinimumPosition(const Finding& f) {
  const auto& r = f.result;
  if (r.u_shaped) return double(r.argmin);
  if (r.shape == CurveShape::kIncreasing && r.argmin == 0) return -1.0;
  if (r.shape == CurveShape::kDecreasing && r.argmin + 1 == f.curve.x.size())
    return double(f.curve.x.size());
  return std::nullopt;
}

// C2 / C4: U-shaped in tokens, with the minimum earlier for a larger γ / LR.
ClaimRow UShape(const Ctx& ctx, std::string id, std::string claim,
                const std::vector<const Finding*>* fam, const std::string& param) {
  ClaimRow row{std::move(id), std::move(claim), kNotMeasured, "no results", TppRange(ctx)};
  if (Untestable(fam, row)) return row;
  std::vector<std::string> parts;
  std::vector<double> positions;  // in family (parameter) order, known ones only
  int u = 0;
  for (const auto* f : *fam) {
    const std::string p = FormatParam(f->curve.param);
    const auto pos = MinimumPosition(*f);
    if (f->result.u_shaped) {
      ++u;
      const size_t m = f->result.argmin;
      size_t right = m;
      for (size_t i = m + 1; i < f->curve.y.size(); ++i)
        if (f->curve.y[i] > f->curve.y[right]) right = i;
      parts.push_back(fmt::format("{} = {}: minimum {} at {}, rising to {} at {}", param, p,
                                  ValueSe(*f, m), f->axis.Short(f->result.x_min),
                                  ValueSe(*f, right), f->axis.Short(f->curve.x[right])));
    } else {
      parts.push_back(fmt::format("{} = {}: {}", param, p, NoInflectionReason(*f)));
    }
    if (pos) positions.push_back(*pos);
  }
  bool ordered = true;  // a larger parameter never moves the minimum later
  for (size_t i = 1; i < positions.size(); ++i)
    ordered = ordered && positions[i] <= positions[i - 1];
  const bool moves = positions.size() >= 2 && positions.back() < positions.front();
  row.evidence = fmt::format("{}", fmt::join(parts, "; "));
  if (u == 0) {
    row.verdict = kNotAtScale;
    row.evidence += " (no curve turns upward beyond the noise inside the range)";
  } else if (!ordered) {
    row.verdict = kContradicted;
    row.evidence += fmt::format(" (a larger {} does not move the minimum earlier)", param);
  } else {
    row.verdict = moves ? kReproduced : kNotAtScale;
    row.evidence += moves
                        ? fmt::format(" (larger {} ⇒ earlier minimum)", param)
                        : fmt::format(" (U-shaped, but the minimum does not move with {})", param);
  }
  return row;
}

// C5: with the LR tuned per checkpoint, ID keeps improving while OOD degrades (U-shaped or rising).
ClaimRow Tuned(const Ctx& ctx) {
  ClaimRow row{"C5", "With the LR tuned per checkpoint, ID keeps improving while OOD can degrade",
               kNotMeasured, "no results", TppRange(ctx)};
  std::vector<std::string> parts;
  int shown = 0, tested = 0;
  for (const auto& [key, fam] : ctx.families) {
    if (key.rfind("tuned.", 0) != 0 || key.size() < 4 || key.substr(key.size() - 4) != ".ood")
      continue;
    const std::string task = key.substr(6, key.size() - 10);
    const auto* id = Family(ctx, "tuned." + task + ".id");
    if (!id) continue;
    const Finding& fo = *fam.front();
    const Finding& fi = *id->front();
    if (!fo.result.tested || !fi.result.tested) {
      parts.push_back(task + ": not tested (no standard errors)");
      continue;
    }
    ++tested;
    const bool id_improves =
        fi.result.monotone_decreasing || fi.result.shape == CurveShape::kDecreasing;
    const bool ood_degrades = fo.result.u_shaped || fo.result.shape == CurveShape::kIncreasing;
    shown += id_improves && ood_degrades;
    parts.push_back(fmt::format("{}: ID {}; OOD {}", task, DescribeCurve(fi), DescribeCurve(fo)));
  }
  if (parts.empty()) return row;
  row.evidence = fmt::format("{}", fmt::join(parts, "; "));
  row.verdict = tested == 0 ? kNotTested : shown > 0 ? kReproduced : kNotAtScale;
  return row;
}

// C6: the optimal LR falls (or stays) as tokens grow; each optimum tested against its runner-up.
ClaimRow OptimalLr(const Ctx& ctx) {
  ClaimRow row{"C6", "The optimal fine-tuning LR falls (or stays) as tokens grow", kNotMeasured,
               "no results", TppRange(ctx)};
  std::map<std::string, std::vector<const FinetunePoint*>> by_task;
  for (const auto& p : ctx.s.tuned) by_task[p.task].push_back(&p);
  if (by_task.empty()) return row;
  std::vector<std::string> parts;
  bool any_rise = false, all_sure = true;
  for (const auto& [task, points] : by_task) {
    std::vector<std::string> seq;
    for (size_t i = 0; i < points.size(); ++i) {
      const FinetunePoint& best = *points[i];
      // Is the best LR's ID loss below every other LR's at this budget by more than z combined
      // s.e.?
      bool sure = std::isfinite(best.id_loss.se);
      for (const auto& p : ctx.s.finetune)
        if (p.task == task && p.tokens == best.tokens && p.lr != best.lr)
          sure = sure && std::isfinite(p.id_loss.se) &&
                 p.id_loss.mean - best.id_loss.mean >
                     ctx.options.inflection.z * std::hypot(p.id_loss.se, best.id_loss.se);
      all_sure = all_sure && sure;
      seq.push_back(FormatParam(best.lr) + (sure ? "" : "?"));
      if (i > 0 && best.lr > points[i - 1]->lr) any_rise = true;
    }
    parts.push_back(fmt::format("{}: {}", task, fmt::join(seq, " → ")));
  }
  row.evidence = fmt::format(
      "optimal LR per budget (best mean ID loss; '?' = within {:g} s.e. of another LR): {}",
      ctx.options.inflection.z, fmt::join(parts, "; "));
  row.verdict = any_rise ? (all_sure ? kContradicted : kNotTested) : kReproduced;
  if (!any_rise && !all_sure)
    row.evidence += " (non-increasing, though some optima are not distinguishable)";
  return row;
}

// C7 and C8 from the linear-network lab, over its init seeds (theory_claims.h: medians of each
// seed's argmin, flat curves and minima at the convergence edge labelled, too few seeds "not
// tested").
ClaimRow TheoryClaim(const Ctx& ctx, bool c8) {
  ClaimRow row{c8 ? "C8" : "C7",
               c8 ? "L2-SP toward the pre-trained weights delays the inflection and raises the "
                    "fine-tuning loss"
                  : "The linear network learns incrementally and shows the inflection, earlier for "
                    "larger γ and η_ft",
               kNotMeasured, "no theory results", "linear network (training steps, not tokens)"};
  if (!ctx.results.theory || ctx.results.theory->empty()) return row;
  const TheoryClaims t = SummarizeTheory(*ctx.results.theory);
  const ClaimVerdict& v = c8 ? t.c8 : t.c7;
  row.verdict = v.verdict;
  row.evidence = v.evidence;
  return row;
}

// How an accuracy curve moves with tokens, judged like a loss curve turned upside down (a peak of
// accuracy is a minimum of −accuracy): "peaks at 2M, then falls", "falls", "rises", "flat".
std::string AccuracyShape(const Ctx& ctx, const Curve& c, InflectionResult* out) {
  std::vector<double> negated(c.y.size());
  for (size_t i = 0; i < c.y.size(); ++i) negated[i] = -c.y[i];
  InflectionOptions options = ctx.options.inflection;
  options.format_x = [&ctx](double x) { return ctx.tokens.Short(x); };
  *out = FindInflection(c.x, negated, c.se, options);
  switch (out->shape) {
    case CurveShape::kUShaped:
      return fmt::format("peaks at {}, then falls", ctx.tokens.Short(out->x_min));
    case CurveShape::kIncreasing:
      return "falls";
    case CurveShape::kDecreasing:
      return "rises";
    case CurveShape::kFlat:
      return "flat";
    case CurveShape::kNotTested:
      return "not tested";
  }
  return "";
}

}  // namespace

ClaimRow BenchmarkClaim(const Ctx& ctx) {
  ClaimRow row{"C9",
               "After fine-tuning, benchmark accuracy falls past some pre-training budget while "
               "the base model's keeps rising",
               kNotMeasured, "no benchmark results (eval.task_files)", TppRange(ctx)};
  const double z = ctx.options.inflection.z;
  std::vector<std::string> parts;
  int members = 0, untested = 0, at_chance = 0, shown = 0;
  for (const auto& bench : BenchmarkNames(ctx, "acc")) {
    const double chance = BenchmarkChance(ctx, bench);
    for (const char* metric : {"acc", "acc_norm"}) {
      const Curve base = BenchmarkCurve(ctx, bench, metric, "", 0);
      for (const auto& task : BenchmarkTasks(ctx)) {
        const Curve ft = BenchmarkCurve(ctx, bench, metric, task, 0);
        if (base.x.empty() || ft.x.empty()) continue;
        ++members;
        const std::string head = fmt::format("{} {} ({}, tuned LR)", bench, metric, task);
        const std::string values =
            fmt::format("base {} at {} → {} at {}, fine-tuned {} at {} → {} at {} (chance {:.3f})",
                        ValueSeOf(base, 0), ctx.tokens.Short(base.x.front()),
                        ValueSeOf(base, base.y.size() - 1), ctx.tokens.Short(base.x.back()),
                        ValueSeOf(ft, 0), ctx.tokens.Short(ft.x.front()),
                        ValueSeOf(ft, ft.y.size() - 1), ctx.tokens.Short(ft.x.back()), chance);
        InflectionResult rb, rf;
        const std::string base_shape = AccuracyShape(ctx, base, &rb);
        const std::string ft_shape = AccuracyShape(ctx, ft, &rf);
        if (!rb.tested || !rf.tested) {
          ++untested;
          parts.push_back(head + ": not tested (no standard errors): " + values);
        } else if (AtChance(base, chance, z) && AtChance(ft, chance, z)) {
          ++at_chance;
          parts.push_back(head + ": " + values);
        } else {
          const bool ft_falls =
              rf.shape == CurveShape::kUShaped || rf.shape == CurveShape::kIncreasing;
          const bool base_rises = rb.shape == CurveShape::kDecreasing;
          shown += ft_falls && base_rises;
          parts.push_back(
              fmt::format("{}: fine-tuned {}, base {}: {}", head, ft_shape, base_shape, values));
        }
      }
    }
  }
  if (members == 0) return row;
  row.evidence = fmt::format("{}", fmt::join(parts, "; "));
  if (untested == members) {
    row.verdict = kNotTested;
  } else if (at_chance + untested == members) {
    row.verdict = kNotAtScale;
    row.evidence = fmt::format(
        "at chance: not informative at this scale (every curve within {:g} s.e. of chance): {}", z,
        row.evidence);
  } else {
    row.verdict = shown > 0 ? kReproduced : kNotAtScale;
  }
  return row;
}

namespace {

// Per benchmark and metric, the curves (base, fine-tuned per task and LR) within z s.e. of chance
// at every budget.
std::vector<std::string> BenchmarkFlags(const Ctx& ctx) {
  std::vector<std::string> flags;
  const double z = ctx.options.inflection.z;
  for (const auto& bench : BenchmarkNames(ctx, "acc")) {
    const double chance = BenchmarkChance(ctx, bench);
    for (const char* metric : {"acc", "acc_norm"}) {
      std::vector<std::string> which;
      if (AtChance(BenchmarkCurve(ctx, bench, metric, "", 0), chance, z)) which.push_back("base");
      for (const auto& task : BenchmarkTasks(ctx)) {
        std::vector<double> lrs;
        for (const auto& p : ctx.s.benchmarks)
          if (p.benchmark == bench && p.task == task) lrs.push_back(p.lr);
        for (double lr : Distinct(lrs))
          if (AtChance(BenchmarkCurve(ctx, bench, metric, task, lr), chance, z))
            which.push_back(task + " lr " + FormatParam(lr));
      }
      if (!which.empty())
        flags.push_back(fmt::format(
            "{} {}: at chance: not informative at this scale (within {:g} s.e. of chance {:.3f} "
            "at every budget) for {}",
            bench, metric, z, chance, fmt::join(which, ", ")));
    }
  }
  return flags;
}

}  // namespace

std::vector<ClaimRow> Claims(const Ctx& ctx) {
  std::vector<ClaimRow> rows;
  rows.push_back(Growth(ctx, "C1",
                        "At fixed γ, Δ (perturbed − base) rises monotonically with tokens",
                        Family(ctx, "perturb.delta"), "γ", "Δ"));
  rows.push_back(UShape(
      ctx, "C2", "The perturbed loss is U-shaped in tokens, with an earlier minimum for larger γ",
      Family(ctx, "perturb.loss"), "γ"));
  // C3 and C4 per task; the first task with results stands for the row, the others are appended.
  std::vector<std::string> tasks;
  for (const auto& [key, fam] : ctx.families)
    if (key.rfind("ft.", 0) == 0 && key.size() > 7 && key.substr(key.size() - 4) == ".deg")
      tasks.push_back(key.substr(3, key.size() - 7));
  auto per_task = [&](const std::string& id, const std::string& claim, auto make) {
    if (tasks.empty())
      return rows.push_back({id, claim, kNotMeasured, "no fine-tuning results", TppRange(ctx)});
    ClaimRow row = make(tasks.front());
    row.evidence = tasks.front() + ": " + row.evidence;
    for (size_t i = 1; i < tasks.size(); ++i) {
      const ClaimRow other = make(tasks[i]);
      row.evidence += fmt::format(" | {} ({}): {}", tasks[i], other.verdict, other.evidence);
    }
    rows.push_back(row);
  };
  const std::string c3 = "At a fixed fine-tuning LR, the OOD degradation rises with tokens";
  per_task("C3", c3, [&](const std::string& t) {
    return Growth(ctx, "C3", c3, Family(ctx, "ft." + t + ".deg"), "lr", "OOD degradation");
  });
  const std::string c4 = "The fine-tuned OOD loss is U-shaped in tokens, earlier for larger LR";
  per_task("C4", c4, [&](const std::string& t) {
    return UShape(ctx, "C4", c4, Family(ctx, "ft." + t + ".ood"), "lr");
  });
  rows.push_back(Tuned(ctx));
  rows.push_back(OptimalLr(ctx));
  rows.push_back(TheoryClaim(ctx, false));
  rows.push_back(TheoryClaim(ctx, true));
  rows.push_back(BenchmarkClaim(ctx));
  if (ctx.s.unit != "tokens") {  // a vision study: budgets are images seen; C7–C9 are text-only
    rows.resize(6);
    for (ClaimRow& r : rows)
      for (size_t at; (at = r.claim.find("tokens")) != std::string::npos;)
        r.claim.replace(at, 6, ctx.s.unit);
  }
  return rows;
}

std::vector<std::string> Flags(const Ctx& ctx) {
  std::vector<std::string> flags = BenchmarkFlags(ctx);
  const double z = ctx.options.inflection.z;
  for (const auto& b : ctx.s.budgets)
    if (b.epochs > 1)
      flags.push_back(fmt::format("data repeated: {} {} is {:.2g} epochs of the training set",
                                  ctx.tokens.Short(double(b.tokens)), ctx.s.unit, b.epochs));
  const double ln_v =
      ctx.results.study.vocab_size > 0 ? std::log(double(ctx.results.study.vocab_size)) : kNaN;
  std::map<std::string, std::vector<std::string>> chance, prior, above_uniform;
  for (const auto& p : ctx.s.finetune) {
    const std::string where =
        fmt::format("lr {} at {}", FormatParam(p.lr), ctx.tokens.Short(double(p.tokens)));
    if (std::isfinite(p.accuracy.mean) && std::isfinite(p.chance_accuracy.mean)) {
      const double se = std::isfinite(p.accuracy.se) && p.accuracy.se > 0 ? p.accuracy.se : 0.0;
      if (p.accuracy.mean <= p.chance_accuracy.mean + std::max(z * se, 0.02))
        chance[p.task].push_back(where);
    }
    if (std::isfinite(p.label_prior_loss.mean) && p.id_loss.mean >= 0.9 * p.label_prior_loss.mean)
      prior[p.task].push_back(where);
    if (std::isfinite(ln_v) && (p.ood_loss.mean > ln_v || p.id_loss.mean > ln_v))
      above_uniform[p.task].push_back(where);
  }
  auto list = [](const std::vector<std::string>& v) {
    return v.size() <= 4 ? fmt::format("{}", fmt::join(v, ", "))
                         : fmt::format("{}, … ({} points)",
                                       fmt::join(v.begin(), v.begin() + 4, ", "), v.size());
  };
  for (const auto& [task, v] : chance)
    flags.push_back(
        fmt::format("{}: accuracy at chance (within {:g} s.e. or 0.02) for {}", task, z, list(v)));
  for (const auto& [task, v] : prior)
    flags.push_back(
        fmt::format("{}: ID loss at the label prior (the model learned only the label frequencies) "
                    "for {}",
                    task, list(v)));
  for (const auto& [task, v] : above_uniform)
    flags.push_back(
        fmt::format("{}: loss above uniform (ln V = {:.3g}) for {}", task, ln_v, list(v)));
  if (ctx.results.lr_sweep)  // study.tune_lr: the pre-training LR's optimum at its grid's edge
    for (const LrSweep& s : SummarizeLrSweeps(*ctx.results.lr_sweep))
      if (std::string edge = LrSweepEdgeFlag(s); !edge.empty()) flags.push_back(edge);
  // An LR optimum at the edge of its grid: the true optimum may lie outside.
  std::map<std::string, std::vector<double>> grid;
  for (const auto& p : ctx.s.finetune) grid[p.task].push_back(p.lr);
  for (auto& [task, g] : grid) {
    g = Distinct(g);
    if (g.size() < 2) continue;
    std::vector<std::string> edge;
    for (const auto& p : ctx.s.tuned)
      if (p.task == task && (p.lr == g.front() || p.lr == g.back()))
        edge.push_back(
            fmt::format("{} at {}", FormatParam(p.lr), ctx.tokens.Short(double(p.tokens))));
    if (!edge.empty())
      flags.push_back(fmt::format("{}: the tuned LR sits at the edge of the grid [{}, {}] for {}",
                                  task, FormatParam(g.front()), FormatParam(g.back()), list(edge)));
  }
  return flags;
}

}  // namespace ot::report_detail
