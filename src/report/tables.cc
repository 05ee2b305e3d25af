// Aggregation (mean ± s.e. over draws/seeds, tuned-LR view) and tidy CSV tables (see tables.h).
#include "report/tables.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <tuple>

#include "core/check.h"

namespace ot {

MeanSe MeanAndSe(std::span<const double> values) {
  MeanSe r;
  r.n = static_cast<int64_t>(values.size());
  if (values.empty()) return r;
  double sum = 0;
  for (double v : values) sum += v;
  r.mean = sum / values.size();
  if (values.size() < 2) return r;
  double ss = 0;
  for (double v : values) ss += (v - r.mean) * (v - r.mean);
  r.se = std::sqrt(ss / (values.size() - 1) / values.size());
  return r;
}

const Budget& Summaries::At(int64_t tokens) const {
  for (const Budget& b : budgets)
    if (b.tokens == tokens) return b;
  OT_CHECK(false) << "no budget with " << tokens << " tokens";
  return budgets.front();
}

std::vector<std::string> Summaries::PerturbScales() const {
  std::vector<std::string> out;
  for (const auto& p : perturb)
    if (std::find(out.begin(), out.end(), p.scale) == out.end()) out.push_back(p.scale);
  const auto init = std::find(out.begin(), out.end(), "init");
  if (init != out.end()) std::rotate(out.begin(), init, init + 1);
  return out;
}

namespace {

MeanSe Over(const std::vector<double>& v) { return MeanAndSe(v); }

// Optional values (c4_loss, accuracy): aggregate the present ones only.
template <typename Rows, typename Get>
MeanSe OverPresent(const Rows& rows, Get get) {
  std::vector<double> v;
  for (const auto* row : rows)
    if (auto x = get(*row)) v.push_back(*x);
  return MeanAndSe(v);
}

template <typename Rows, typename Get>
MeanSe OverAll(const Rows& rows, Get get) {
  std::vector<double> v;
  for (const auto* row : rows) v.push_back(get(*row));
  return Over(v);
}

}  // namespace

std::vector<BenchmarkPoint> SummarizeBenchmarks(std::span<const BenchmarkRow> rows) {
  using Key = std::tuple<std::string, std::string, std::string, std::string, double, int64_t>;
  std::map<Key, std::vector<std::pair<double, std::optional<double>>>> values;  // (value, stderr)
  std::map<Key, std::pair<std::vector<double>, std::vector<double>>> extra;     // chance, samples
  for (const auto& r : rows) {
    const std::pair<const char*, std::pair<std::optional<double>, std::optional<double>>>
        metrics[] = {{"acc", {r.acc, r.acc_stderr}},
                     {"acc_norm", {r.acc_norm, r.acc_norm_stderr}},
                     {"bits_per_byte", {r.bits_per_byte, std::nullopt}}};
    for (const auto& [metric, v] : metrics) {
      if (!v.first) continue;
      const Key key{r.benchmark, metric, r.model, r.task, r.lr, r.tokens};
      values[key].push_back({*v.first, v.second});
      if (r.chance_acc) extra[key].first.push_back(*r.chance_acc);
      extra[key].second.push_back(double(r.samples));
    }
  }
  std::vector<BenchmarkPoint> out;
  for (const auto& [key, v] : values) {
    BenchmarkPoint p;
    std::tie(p.benchmark, p.metric, p.model, p.task, p.lr, p.tokens) = key;
    std::vector<double> y, se;
    for (const auto& [value, stderr_] : v) {
      y.push_back(value);
      if (stderr_) se.push_back(*stderr_);
    }
    p.value = MeanAndSe(y);
    p.seed_se = p.value.se;  // NaN from one seed
    if (se.size() == y.size()) p.binomial_se = MeanAndSe(se).mean;
    const double b = std::isfinite(p.binomial_se) ? p.binomial_se : 0.0;
    const double k = std::isfinite(p.seed_se) ? p.seed_se : 0.0;
    p.value.se = std::isfinite(p.binomial_se) || std::isfinite(p.seed_se) ? std::hypot(b, k) : kNaN;
    const auto& [chance, samples] = extra.at(key);
    p.chance = chance.empty() ? kNaN : MeanAndSe(chance).mean;
    p.samples = static_cast<int64_t>(MeanAndSe(samples).mean);
    out.push_back(p);
  }
  return out;
}

Summaries Summarize(const StudyResults& results) {
  Summaries s;
  s.unit = results.study.unit;
  // Budgets and their epochs, from every file that has rows.
  std::map<int64_t, std::vector<double>> epochs;
  if (results.pretrain)
    for (const auto& r : *results.pretrain) epochs[r.tokens].push_back(r.epochs);
  if (results.perturb)
    for (const auto& r : *results.perturb) epochs[r.tokens].push_back(r.epochs);
  if (results.finetune)
    for (const auto& r : *results.finetune) epochs[r.tokens].push_back(r.epochs);
  if (results.benchmarks)
    for (const auto& r : *results.benchmarks) epochs[r.tokens].push_back(r.epochs);
  for (const auto& [tokens, e] : epochs)
    s.budgets.push_back(
        {tokens, MeanAndSe(e).mean, double(tokens) / double(results.study.params),
         results.study.embedding_params > 0 && results.study.params > results.study.embedding_params
             ? double(tokens) / double(results.study.params - results.study.embedding_params)
             : 0.0});

  if (results.pretrain) {
    std::map<int64_t, std::vector<const PretrainRow*>> by;
    for (const auto& r : *results.pretrain) by[r.tokens].push_back(&r);
    for (const auto& [tokens, rows] : by) {
      PretrainPoint p{tokens, OverAll(rows, [](auto& r) { return r.base_loss; }),
                      OverAll(rows, [](auto& r) { return r.base_ppl; }),
                      OverPresent(rows, [](auto& r) { return r.c4_loss; })};
      // One seed: the evaluation's own sampling error over windows is the uncertainty there is.
      if (rows.size() == 1 && rows[0]->base_loss_stderr)
        p.base_loss.se = *rows[0]->base_loss_stderr;
      s.pretrain.push_back(p);
    }
  }
  if (results.perturb) {
    std::map<std::tuple<std::string, std::string, double, int64_t>, std::vector<const PerturbRow*>>
        by;
    for (const auto& r : *results.perturb) by[{r.scale, r.group, r.gamma, r.tokens}].push_back(&r);
    for (const auto& [key, rows] : by) {
      const auto& [scale, group, gamma, tokens] = key;
      s.perturb.push_back({tokens, scale, group, gamma,
                           OverAll(rows, [](auto& r) { return r.loss; }),
                           OverAll(rows, [](auto& r) { return r.delta; }),
                           OverAll(rows, [](auto& r) { return r.base_loss; })});
    }
  }
  if (results.finetune) {
    std::map<std::tuple<std::string, double, int64_t>, std::vector<const FinetuneRow*>> by;
    for (const auto& r : *results.finetune) by[{r.task, r.lr, r.tokens}].push_back(&r);
    for (const auto& [key, rows] : by) {
      const auto& [task, lr, tokens] = key;
      FinetunePoint p;
      p.tokens = tokens;
      p.task = task;
      p.lr = lr;
      p.id_loss = OverAll(rows, [](auto& r) { return r.id_loss; });
      p.ood_loss = OverAll(rows, [](auto& r) { return r.ood_loss; });
      p.c4_loss = OverPresent(rows, [](auto& r) { return r.c4_loss; });
      p.accuracy = OverPresent(rows, [](auto& r) { return r.accuracy; });
      p.base_id_loss = OverAll(rows, [](auto& r) { return r.base_id_loss; });
      p.base_ood_loss = OverAll(rows, [](auto& r) { return r.base_ood_loss; });
      p.chance_accuracy = OverPresent(rows, [](auto& r) { return r.chance_accuracy; });
      p.label_prior_loss = OverPresent(rows, [](auto& r) { return r.label_prior_loss; });
      s.finetune.push_back(p);
    }
    // Tuned-LR view: per (task, tokens) the lr whose mean ID loss is lowest (ties: the smaller lr).
    std::map<std::pair<std::string, int64_t>, const FinetunePoint*> best;
    for (const auto& p : s.finetune) {
      auto& b = best[{p.task, p.tokens}];
      if (!b || p.id_loss.mean < b->id_loss.mean) b = &p;
    }
    for (const auto& [key, p] : best) s.tuned.push_back(*p);
  }
  if (results.benchmarks) s.benchmarks = SummarizeBenchmarks(*results.benchmarks);
  if (results.theory) {
    using Key = std::tuple<std::string, double, double, double, int64_t>;
    std::map<Key, std::vector<const TheoryRow*>> by;
    for (const auto& r : *results.theory)
      by[{r.kind, r.gamma, r.lr, r.lambda, r.step}].push_back(&r);
    for (const auto& [key, rows] : by) {
      TheoryPoint p;
      std::tie(p.kind, p.gamma, p.lr, p.lambda, p.step) = key;
      const double k = double(rows.size());
      for (const auto* r : rows) {
        p.loss_a += r->loss_a / k;
        p.loss_a_closed += r->loss_a_closed / k;
        p.loss_b += r->loss_b / k;
        p.base_loss += r->base_loss / k;
        p.loss_a_se += r->loss_a_se * r->loss_a_se / (k * k);  // se of a mean of independent means
      }
      p.loss_a_se = std::sqrt(p.loss_a_se);
      s.theory.push_back(p);
    }
  }
  return s;
}

// ----------------------------------------------------------------------------------------------------
// CSV

CsvWriter::CsvWriter(const std::filesystem::path& path, const std::vector<std::string>& header)
    : path_(path), columns_(header.size()) {
  for (const auto& h : header) Cell(h);
  EndRow();
}

CsvWriter& CsvWriter::Cell(const std::string& v) {
  if (cells_++) row_ += ',';
  if (v.find_first_of(",\"\n") == std::string::npos) {
    row_ += v;
  } else {
    row_ += '"';
    for (char c : v) row_ += c == '"' ? std::string("\"\"") : std::string(1, c);
    row_ += '"';
  }
  return *this;
}
CsvWriter& CsvWriter::Cell(double v) {
  return Cell(std::isfinite(v) ? fmt::format("{:.8g}", v) : "");
}
CsvWriter& CsvWriter::Cell(int64_t v) { return Cell(fmt::format("{}", v)); }

void CsvWriter::EndRow() {
  OT_CHECK(cells_ == columns_) << path_ << ": row has " << cells_ << " cells, header " << columns_;
  text_ += row_ + '\n';
  row_.clear();
  cells_ = 0;
}

void CsvWriter::Close() {
  std::ofstream out(path_, std::ios::binary | std::ios::trunc);
  out << text_;
  out.close();
  if (!out) throw Error(fmt::format("{}: could not be written", path_.string()));
}

namespace {

double Opt(const std::optional<double>& v) { return v ? *v : kNaN; }

void Ms(CsvWriter& w, const MeanSe& m) { w.Cell(m.mean).Cell(m.se); }

void BudgetCells(CsvWriter& w, const Summaries& s, int64_t tokens) {
  const Budget& b = s.At(tokens);
  w.Cell(tokens).Cell(b.epochs).Cell(b.tokens_per_param);
}

void WriteFinetunePoints(const std::filesystem::path& path, const Summaries& s,
                         const std::vector<FinetunePoint>& points, const char* lr_column) {
  CsvWriter w(path, {"tokens", "epochs", "tokens_per_param", "task", lr_column, "n", "id_loss_mean",
                     "id_loss_se", "ood_loss_mean", "ood_loss_se", "c4_loss_mean", "c4_loss_se",
                     "accuracy_mean", "accuracy_se", "base_id_loss_mean", "base_ood_loss_mean"});
  for (const auto& p : points) {
    BudgetCells(w, s, p.tokens);
    w.Cell(p.task).Cell(p.lr).Cell(p.id_loss.n);
    Ms(w, p.id_loss);
    Ms(w, p.ood_loss);
    Ms(w, p.c4_loss);
    Ms(w, p.accuracy);
    w.Cell(p.base_id_loss.mean).Cell(p.base_ood_loss.mean);
    w.EndRow();
  }
  w.Close();
}

}  // namespace

std::vector<std::string> WriteTables(const StudyResults& results, const Summaries& s,
                                     const std::filesystem::path& dir) {
  std::filesystem::create_directories(dir);
  std::vector<std::string> written;
  auto track = [&](const char* name) {
    written.push_back(name);
    return dir / name;
  };
  if (!s.budgets.empty()) {
    CsvWriter w(track("budgets.csv"), {"tokens", "epochs", "tokens_per_param"});
    for (const auto& b : s.budgets) {
      BudgetCells(w, s, b.tokens);
      w.EndRow();
    }
    w.Close();
  }
  if (results.pretrain) {
    CsvWriter w(track("pretrain.csv"), {"tokens", "epochs", "tokens_per_param", "seed", "base_loss",
                                        "base_ppl", "c4_loss"});
    for (const auto& r : *results.pretrain) {
      w.Cell(r.tokens).Cell(r.epochs).Cell(s.At(r.tokens).tokens_per_param).Cell(r.seed);
      w.Cell(r.base_loss).Cell(r.base_ppl).Cell(Opt(r.c4_loss));
      w.EndRow();
    }
    w.Close();
    CsvWriter a(track("pretrain_summary.csv"),
                {"tokens", "epochs", "tokens_per_param", "n", "base_loss_mean", "base_loss_se",
                 "base_ppl_mean", "base_ppl_se", "c4_loss_mean", "c4_loss_se"});
    for (const auto& p : s.pretrain) {
      BudgetCells(a, s, p.tokens);
      a.Cell(p.base_loss.n);
      Ms(a, p.base_loss);
      Ms(a, p.base_ppl);
      Ms(a, p.c4_loss);
      a.EndRow();
    }
    a.Close();
  }
  if (results.perturb) {
    CsvWriter w(track("perturb.csv"), {"tokens", "epochs", "tokens_per_param", "seed", "scale",
                                       "gamma", "draw", "group", "loss", "base_loss", "delta"});
    for (const auto& r : *results.perturb) {
      w.Cell(r.tokens).Cell(r.epochs).Cell(s.At(r.tokens).tokens_per_param).Cell(r.seed);
      w.Cell(r.scale)
          .Cell(r.gamma)
          .Cell(r.draw)
          .Cell(r.group)
          .Cell(r.loss)
          .Cell(r.base_loss)
          .Cell(r.delta);
      w.EndRow();
    }
    w.Close();
    CsvWriter a(track("perturb_summary.csv"),
                {"tokens", "epochs", "tokens_per_param", "scale", "group", "gamma", "n",
                 "loss_mean", "loss_se", "delta_mean", "delta_se", "base_loss_mean"});
    for (const auto& p : s.perturb) {
      BudgetCells(a, s, p.tokens);
      a.Cell(p.scale).Cell(p.group).Cell(p.gamma).Cell(p.loss.n);
      Ms(a, p.loss);
      Ms(a, p.delta);
      a.Cell(p.base_loss.mean);
      a.EndRow();
    }
    a.Close();
  }
  if (results.finetune) {
    CsvWriter w(track("finetune.csv"),
                {"tokens", "epochs", "tokens_per_param", "seed", "task", "lr", "id_loss",
                 "ood_loss", "c4_loss", "accuracy", "base_id_loss", "base_ood_loss"});
    for (const auto& r : *results.finetune) {
      w.Cell(r.tokens).Cell(r.epochs).Cell(s.At(r.tokens).tokens_per_param).Cell(r.seed);
      w.Cell(r.task).Cell(r.lr).Cell(r.id_loss).Cell(r.ood_loss).Cell(Opt(r.c4_loss));
      w.Cell(Opt(r.accuracy)).Cell(r.base_id_loss).Cell(r.base_ood_loss);
      w.EndRow();
    }
    w.Close();
    WriteFinetunePoints(track("finetune_summary.csv"), s, s.finetune, "lr");
    WriteFinetunePoints(track("finetune_tuned.csv"), s, s.tuned, "best_lr");
    CsvWriter o(track("finetune_optimal_lr.csv"),
                {"task", "tokens", "epochs", "tokens_per_param", "optimal_lr"});
    for (const auto& p : s.tuned) {
      o.Cell(p.task);
      BudgetCells(o, s, p.tokens);
      o.Cell(p.lr);
      o.EndRow();
    }
    o.Close();
  }
  if (results.benchmarks) {
    CsvWriter w(track("benchmarks.csv"), {"benchmark", "metric", "model", "task", "lr", "tokens",
                                          "epochs", "tokens_per_param", "n", "mean", "se",
                                          "binomial_se", "seed_se", "chance", "samples"});
    for (const auto& p : s.benchmarks) {
      w.Cell(p.benchmark).Cell(p.metric).Cell(p.model).Cell(p.task).Cell(p.lr);
      BudgetCells(w, s, p.tokens);
      w.Cell(p.value.n);
      Ms(w, p.value);
      w.Cell(p.binomial_se).Cell(p.seed_se).Cell(p.chance).Cell(p.samples);
      w.EndRow();
    }
    w.Close();
  }
  if (results.theory) {
    CsvWriter w(track("theory.csv"), {"kind", "step", "gamma", "lr", "lambda", "loss_a",
                                      "loss_a_se", "loss_a_closed", "loss_b", "base_loss"});
    for (const auto& p : s.theory) {
      const bool pert = p.kind == "perturb", ft = p.kind == "finetune" || p.kind == "l2sp";
      w.Cell(p.kind).Cell(p.step).Cell(pert ? p.gamma : kNaN).Cell(ft ? p.lr : kNaN);
      w.Cell(ft ? p.lambda : kNaN).Cell(p.loss_a).Cell(pert ? p.loss_a_se : kNaN);
      w.Cell(pert ? p.loss_a_closed : kNaN).Cell(ft ? p.loss_b : kNaN);
      w.Cell(p.kind == "base" ? kNaN : p.base_loss);
      w.EndRow();
    }
    w.Close();
  }
  return written;
}

}  // namespace ot
