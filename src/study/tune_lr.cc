// The tune-lr stage: the sweep's evaluations → lr_sweep.jsonl and the chosen LR.
#include "study/tune_lr.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "core/fileio.h"
#include "core/run_lock.h"

namespace ot {
namespace fs = std::filesystem;
using nlohmann::json;

const ConfigSchema<TuneLrConfig>& TuneLrSchema() {
  static const ConfigSchema<TuneLrConfig> schema = [] {
    using C = TuneLrConfig;
    ConfigSchema<C> s;
    s.Field("tune.arm", "the ladder's arm, for the rows (\"\" = the study has no arms)",
            [](C& c) -> std::string& { return c.arm; })
        .Field("tune.seed", "the sweep's pre-training seed, for the rows",
               [](C& c) -> int64_t& { return c.seed; })
        .Field(
            "tune.lrs", "the grid's pre-training learning rates",
            [](C& c) -> std::vector<double>& { return c.lrs; }, Above(0))
        .Field(
            "tune.factors", "each lr as a multiple of the ladder's pretrain.lr",
            [](C& c) -> std::vector<double>& { return c.factors; }, Above(0))
        .Field("tune.evals", "per lr, the eval run directory holding its eval.json",
               [](C& c) -> std::vector<std::string>& { return c.evals; })
        .Rule({"tune.lrs", "tune.factors", "tune.evals"}, [](const C& c) -> std::string {
          if (c.lrs.empty()) return "expected at least one learning rate";
          return c.factors.size() == c.lrs.size() && c.evals.size() == c.lrs.size()
                     ? ""
                     : fmt::format(
                           "tune.lrs ({}), tune.factors ({}) and tune.evals ({}) must "
                           "have one entry per grid point",
                           c.lrs.size(), c.factors.size(), c.evals.size());
        });
    return s;
  }();
  return schema;
}

std::vector<LrSweepRow> ChooseLr(std::vector<LrSweepRow> rows) {
  LrSweepRow* best = nullptr;
  for (auto& r : rows) {
    r.chosen = false;
    if (!r.val_loss) continue;
    if (!best || *r.val_loss < *best->val_loss ||
        (*r.val_loss == *best->val_loss && r.lr < best->lr))
      best = &r;
  }
  if (!best) {
    std::string lrs;
    for (const auto& r : rows) lrs += (lrs.empty() ? "" : ", ") + fmt::format("{:g}", r.lr);
    throw Error("tune-lr: no learning rate of the sweep (" + lrs +
                ") reached a finite validation loss; lower pretrain.lr or study.tune_lr_factors");
  }
  best->chosen = true;
  return rows;
}

namespace {

std::optional<double> FiniteNumber(const json& object, const char* key) {
  if (!object.contains(key) || !object[key].is_number()) return std::nullopt;
  const double v = object[key].get<double>();
  return std::isfinite(v) ? std::optional<double>(v) : std::nullopt;
}

// One grid point from its evaluation.
LrSweepRow ReadPoint(const TuneLrConfig& c, size_t i) {
  const fs::path file = fs::path(c.evals[i]) / "eval.json";
  LrSweepRow row{.arm = c.arm, .seed = c.seed, .lr = c.lrs[i], .factor = c.factors[i]};
  try {
    const json e = json::parse(ReadFile(file));
    row.tokens = e.at("checkpoint").at("tokens").get<int64_t>();
    row.epochs = e.at("checkpoint").at("epochs").get<double>();
    const json& general = e.at("results").at("general");
    row.val_loss = FiniteNumber(general, "loss");
    row.val_loss_stderr = FiniteNumber(general, "loss_stderr");
  } catch (const json::exception& e) {
    throw Error(file.string() + ": not the eval.json of a checkpoint (" + e.what() +
                "); expected checkpoint.tokens, checkpoint.epochs and results.general.loss");
  }
  return row;
}

}  // namespace

int RunTuneLrStage(const TuneLrConfig& config, const fs::path& out) {
  const RunDirLock lock = RunDirLock::Acquire(out, "tune-lr run");
  std::vector<LrSweepRow> rows;
  for (size_t i = 0; i < config.lrs.size(); ++i) rows.push_back(ReadPoint(config, i));
  rows = ChooseLr(std::move(rows));
  std::string lines;
  double chosen = 0;
  for (const auto& r : rows) {
    lines += ToJson(r).dump() + "\n";
    if (r.chosen) chosen = r.lr;
    std::fprintf(stderr, "tune-lr: %s lr %g (x%g) at %lld tokens: val loss %s%s\n",
                 r.arm.empty() ? "" : ("arm " + r.arm + ",").c_str(), r.lr, r.factor,
                 static_cast<long long>(r.tokens),
                 r.val_loss ? fmt::format("{:.4f}", *r.val_loss).c_str() : "not finite",
                 r.chosen ? "  <- chosen" : "");
  }
  WriteFileAtomic(out / kLrSweepFile, lines);
  // fmt's "{}" is the shortest text that reads back as the same double.
  WriteFileAtomic(out / kChosenLrFile,
                  fmt::format("# the LR sweep's choice (study.tune_lr): lowest validation loss\n"
                              "optim.lr={}\n",
                              chosen));
  return 0;
}

int64_t TuneLrBudget(const StudyConfig& c) {
  if (c.study.tune_lr_budget.value > 0) return c.study.tune_lr_budget.value;
  return std::min_element(c.pretrain.ladder.begin(), c.pretrain.ladder.end(),
                          [](const Size& a, const Size& b) { return a.value < b.value; })
      ->value;
}

}  // namespace ot
