// Run outputs → results/*.jsonl.
#include "study/collect.h"

#include <fmt/format.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "core/fileio.h"
#include "core/result_rows.h"
#include "study/execute.h"
#include "study/tune_lr.h"

namespace ot {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

json ReadJson(const fs::path& path) {
  try {
    return json::parse(ReadFile(path));
  } catch (const json::exception& e) {
    throw Error(path.string() + ": not valid JSON (" + e.what() + ")");
  }
}

std::optional<double> OptionalNumber(const json& obj, const char* key) {
  if (obj.contains(key) && obj[key].is_number()) return obj[key].get<double>();
  return std::nullopt;
}

// One BenchmarkRow per task of an eval.json's "lm_eval" block (none without one); `proto` holds the
// model's fields (tokens, seed, base or fine-tuned). A stderr lm-eval writes as "N/A" (fewer than
// 2 documents) is absent.
std::string BenchmarkRows(const json& eval, const BenchmarkRow& proto) {
  if (!eval.contains("lm_eval")) return "";
  const json& lm = eval["lm_eval"];
  std::string out;
  for (const auto& [name, r] : lm["results"].items()) {
    BenchmarkRow row = proto;
    row.benchmark = name;
    row.samples = lm["n-samples"][name].value("effective", int64_t{0});
    row.acc = OptionalNumber(r, "acc,none");
    row.acc_stderr = OptionalNumber(r, "acc_stderr,none");
    row.acc_norm = OptionalNumber(r, "acc_norm,none");
    row.acc_norm_stderr = OptionalNumber(r, "acc_norm_stderr,none");
    row.bits_per_byte = OptionalNumber(r, "bits_per_byte,none");
    const json& meta = lm["configs"][name]["metadata"];
    row.chance_acc = OptionalNumber(meta, "chance_acc");
    out += ToJson(row).dump() + "\n";
  }
  return out;
}

constexpr double kNoBase = 0;  // never written: a missing base task is an error below

}  // namespace

int CollectResults(const StudyConfig& c, const StudyPlan& sp, const fs::path& study_dir,
                   const fs::path& results_root) {
  const Plan& plan = sp.plan;
  int skipped = 0;
  auto done_dir = [&](const std::string& name) -> std::optional<fs::path> {
    const Run* run = plan.Find(name);
    if (!run) return std::nullopt;
    const fs::path dir = plan.DirOf(study_dir, *run);
    if (!IsComplete(dir, *run)) {
      ++skipped;
      return std::nullopt;
    }
    return dir;
  };
  std::string pretrain_rows, perturb_rows, finetune_rows, diagnose_rows, benchmark_rows;
  int64_t params = 0, per_epoch = 0;
  for (const auto& ck : sp.checkpoints) {
    json base;
    if (auto dir = done_dir(ck.eval_run)) {
      base = ReadJson(*dir / "eval.json");
      const json& r = base["results"];
      params = base["checkpoint"].value("params", int64_t{0});
      per_epoch = base["checkpoint"].value("train_tokens_per_epoch", int64_t{0});
      PretrainRow typed{
          .tokens = base["checkpoint"]["tokens"].get<int64_t>(),
          .epochs = base["checkpoint"]["epochs"].get<double>(),
          .seed = ck.seed,
          .base_loss = r["general"]["loss"].get<double>(),
          .base_ppl = r["general"]["ppl"].get<double>(),
          .base_loss_stderr = OptionalNumber(r["general"], "loss_stderr"),
          .c4_loss = r.contains("c4") ? OptionalNumber(r["c4"], "loss") : std::nullopt};
      json row = ToJson(typed);
      row["budget"] = ck.budget;
      for (const auto& task : c.finetune.tasks)
        if (r.contains(task)) row["task/" + task + "/loss"] = r[task]["loss"];
      pretrain_rows += row.dump() + "\n";
      benchmark_rows += BenchmarkRows(
          base, {.tokens = typed.tokens, .epochs = typed.epochs, .seed = ck.seed, .model = "base"});
    }
    for (const auto& name : ck.perturb_runs)
      if (auto dir = done_dir(name)) {
        std::ifstream in(*dir / "results.jsonl");
        for (std::string line; std::getline(in, line);)
          if (!line.empty()) perturb_rows += line + "\n";
      }
    if (!ck.diagnose_run.empty())
      if (auto dir = done_dir(ck.diagnose_run)) {
        json d = ReadJson(*dir / "diagnostics.json");  // docs/formats.md: one object per checkpoint
        d["budget"] = ck.budget;
        d["seed"] = ck.seed;
        diagnose_rows += d.dump() + "\n";
      }
    for (const auto& name : ck.finetune_runs) {
      auto dir = done_dir(name);
      if (!dir || base.is_null()) continue;
      const json ft = ReadJson(*dir / "eval.json");
      const std::string task = ft["finetune"]["task"];
      const json& r = ft["results"];
      const json& b = base["results"];
      FinetuneRow typed{
          .tokens = ft["checkpoint"]["tokens"].get<int64_t>(),
          .epochs = ft["checkpoint"]["epochs"].get<double>(),
          .seed = ck.seed,
          .ft_seed = ft["finetune"].value("seed", int64_t{0}),
          .task = task,
          .lr = ft["finetune"]["lr"].get<double>(),
          .id_loss = r[task]["loss"].get<double>(),
          .ood_loss = r["general"]["loss"].get<double>(),
          .c4_loss = r.contains("c4") ? OptionalNumber(r["c4"], "loss") : std::nullopt,
          .accuracy = OptionalNumber(r[task], "acc"),
          .chance_accuracy = OptionalNumber(r[task], "chance_acc"),
          .label_prior_loss = OptionalNumber(r[task], "label_prior_loss"),
          .base_id_loss = b.contains(task) ? b[task]["loss"].get<double>() : kNoBase,
          .base_ood_loss = b["general"]["loss"].get<double>()};
      if (!b.contains(task))
        throw Error(fmt::format("{}: the base evaluation has no task '{}'", ck.eval_run, task));
      json row = ToJson(typed);
      finetune_rows += row.dump() + "\n";
      benchmark_rows += BenchmarkRows(ft, {.tokens = typed.tokens,
                                           .epochs = typed.epochs,
                                           .seed = ck.seed,
                                           .model = "finetuned",
                                           .task = task,
                                           .lr = typed.lr,
                                           .ft_seed = typed.ft_seed});
    }
  }
  // A published series' epochs are of its own pre-training corpus, not of the data prepared here.
  if (!c.checkpoints.series.empty()) per_epoch = c.checkpoints.corpus_tokens.value;
  const fs::path results = (results_root.empty() ? study_dir : results_root) / "results";
  fs::create_directories(results);
  std::vector<double> lrs = c.finetune.lrs;
  json study = {{"name", c.study.name},
                {"preset", c.model.preset},
                {"params", params},
                {"train_tokens_per_epoch", per_epoch},
                {"seeds", c.study.seeds.size()},
                {"tasks", c.finetune.tasks},
                {"gammas", c.perturb.gammas},
                {"scales", c.perturb.scales},
                {"lrs", lrs},
                {"pretrain_mode", c.pretrain.mode},
                {"vocab_size", c.model.vocab_size},
                {"embedding_params",
                 int64_t{c.model.vocab_size} * c.model.d_model * (c.model.tied_head ? 1 : 2)}};
  WriteFileAtomic(results / "study.json", study.dump(2) + "\n");
  WriteFileAtomic(results / "pretrain.jsonl", pretrain_rows);
  WriteFileAtomic(results / "perturb.jsonl", perturb_rows);
  WriteFileAtomic(results / "finetune.jsonl", finetune_rows);
  WriteFileAtomic(results / "diagnostics.jsonl", diagnose_rows);
  WriteFileAtomic(results / "benchmarks.jsonl", benchmark_rows);
  if (c.study.tune_lr) {  // the LR sweeps' rows, one file for the variants in `sp`
    std::string sweep_rows;
    for (const auto& [tag, name] : sp.lr_sweep_runs)
      if (auto dir = done_dir(name)) sweep_rows += ReadFile(*dir / kLrSweepFile);
    WriteFileAtomic(results / kLrSweepFile, sweep_rows);
  }
  if (!sp.theory_run.empty())
    if (auto dir = done_dir(sp.theory_run))
      WriteFileAtomic(results / "theory.jsonl", ReadFile(*dir / "results.jsonl"));
  return skipped;
}

}  // namespace ot
