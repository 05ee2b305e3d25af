// Study config → stage configs → run graph.
#include "study/planner.h"

#include <fmt/format.h>

#include "analysis/diagnose.h"
#include "analysis/finetune.h"
#include "analysis/perturb_stage.h"
#include "analysis/suite.h"
#include "core/fileio.h"
#include "data/hf_tokenizer.h"
#include "data/lm_eval_tasks.h"
#include "data/prepare.h"
#include "study/tune_lr.h"
#include "train/checkpoint.h"
#include "train/pretrain_config.h"

namespace ot {
namespace fs = std::filesystem;

namespace {

// Checkpoint directory name the trainer uses for a token target (it saves after the first step that
// reaches it; steps hold B*T tokens).
std::string CkptName(int64_t tokens, int B, int T) {
  const int64_t per_step = int64_t{B} * T;
  return CheckpointDirName((tokens + per_step - 1) / per_step * per_step);
}

std::string DataConfigText(const StudyConfig& c) {
  std::vector<std::string> sets = c.data.set;
  sets.push_back("data.vocab_size=" + std::to_string(c.model.vocab_size));
  if (!c.data.data_dir.empty())
    sets.push_back("data.data_dir=\"" + fs::absolute(c.data.data_dir).string() + "\"");
  if (!c.data.cache_dir.empty())
    sets.push_back("data.cache_dir=\"" + fs::absolute(c.data.cache_dir).string() + "\"");
  if (!c.data.pair_files.empty()) {
    std::vector<std::string> files;
    for (const auto& f : c.data.pair_files) files.push_back(fs::absolute(f).string());
    sets.push_back("data.pair_files=" + config_detail::Print(files));
  }
  const data::DataConfig d = LoadConfig(data::DataConfigSchema(), c.data.config, sets);
  return PrintConfig(data::DataConfigSchema(), d);
}

PretrainConfig PretrainFor(const StudyConfig& c, const fs::path& data_dir, int64_t seed) {
  PretrainConfig p;
  p.model = c.model;
  p.data.train = (data_dir / "general.train.tok").string();
  p.data.val = (data_dir / "general.val.tok").string();
  p.train.batch_size = c.pretrain.batch_size;
  p.train.seq_len = c.pretrain.seq_len;
  p.train.seed = seed;
  p.train.log_every = 20;
  p.train.quiet = true;
  p.train.nan_policy = c.pretrain.nan_policy;
  p.optim = c.pretrain.optim;  // every optimizer knob, declared once (optim/optim_config.h)
  p.compute = c.compute;
  return p;
}

EvalSuiteConfig SuiteFor(const StudyConfig& c, const fs::path& data_dir) {
  EvalSuiteConfig e;
  e.data_dir = data_dir.string();
  e.batch = c.eval.batch;
  e.seq_len = c.pretrain.seq_len;
  e.windows = c.eval.windows;
  e.c4_windows = c.eval.c4_windows;
  e.max_examples = c.eval.max_examples;
  e.max_target_tokens = c.eval.max_target_tokens;
  e.tasks = c.finetune.tasks;
  // Absolute: the runs read them from their own directories.
  for (const auto& f : c.eval.task_files) e.task_files.push_back(fs::absolute(f).string());
  for (const auto& f : c.eval.rolling_files) e.rolling_files.push_back(fs::absolute(f).string());
  e.task_limit = c.eval.task_limit;
  e.skip_long_docs = c.eval.skip_long_docs;
  e.log_samples = c.eval.log_samples;
  return e;
}

// The benchmark files' cost per evaluation, read once at planning (so a missing or malformed file
// stops the study before any run): every multiple-choice request is one row of the window T, and a
// rolling document costs at most its UTF-8 bytes in tokens (a token holds at least one byte).
BenchmarkCost CostOfBenchmarks(const StudyConfig& c, int T) {
  BenchmarkCost cost;
  for (const auto& path : c.eval.task_files) {
    const data::McTaskFile file = data::LoadMcTaskFile(path);
    const size_t n = c.eval.task_limit > 0 ? std::min<size_t>(file.docs.size(), c.eval.task_limit)
                                           : file.docs.size();
    ++cost.files;
    cost.documents += static_cast<int64_t>(n);
    for (size_t i = 0; i < n; ++i)
      cost.tokens_per_eval += static_cast<double>(file.docs[i].choices.size()) * T;
  }
  for (const auto& path : c.eval.rolling_files) {
    const data::RollingTaskFile file = data::LoadRollingTaskFile(path);
    ++cost.files;
    cost.documents += static_cast<int64_t>(file.docs.size());
    for (const auto& doc : file.docs) cost.tokens_per_eval += static_cast<double>(doc.size()) + T;
  }
  return cost;
}

std::string LrLabel(double lr) { return fmt::format("{:g}", lr); }

// study.tune_lr: the variant's LR sweep at its first seed — per factor, one pre-training run to the
// reference budget and its evaluation on the general validation set — then the tune-lr run that
// picks the LR. Sweep runs skip NaN steps instead of aborting: a diverging LR is a result of the
// sweep (a high loss), not a failure that would stop the ladder. Returns the tune-lr run's name.
std::string AddLrSweep(Plan& plan, const StudyVariant& v, const fs::path& data_dir,
                       const fs::path& study_dir) {
  const StudyConfig& cs = v.config;
  const int64_t budget = TuneLrBudget(cs), seed = cs.study.seeds.front();
  const int B = cs.pretrain.batch_size, T = cs.pretrain.seq_len;
  TuneLrConfig tc{.arm = v.arm, .seed = seed};
  std::vector<std::string> evals;
  for (double factor : cs.study.tune_lr_factors) {
    PretrainConfig p = PretrainFor(cs, data_dir, seed);
    p.optim.lr = cs.pretrain.optim.lr * factor;
    p.train.budget = Size{budget};
    p.train.ladder_mode = "series";
    p.train.nan_policy = "skip-step";
    const std::string name = "tune/" + v.tag + "lr-" + LrLabel(p.optim.lr);
    const Run& train = plan.Add({.stage = "pretrain",
                                 .name = name,
                                 .config_toml = PrintConfig(PretrainSchema(), p),
                                 .deps = {"data/prepare"},
                                 .cost_tokens = budget * (p.optim.sam_rho > 0 ? 2.0 : 1.0),
                                 .nodes = cs.pretrain.nodes,
                                 .tasks_per_node = cs.pretrain.tasks_per_node});
    const fs::path ckpt = plan.DirOf(study_dir, train) / "ckpt" / CkptName(budget, B, T);
    EvalConfig ev{.checkpoint = {.dir = ckpt.string()},
                  .suite = SuiteFor(cs, data_dir),
                  .compute = cs.compute};
    ev.suite.tasks.clear();  // the criterion is the general validation loss alone
    ev.suite.c4_windows = 0;
    const Run& eval = plan.Add({.stage = "eval",
                                .name = name + "/eval",
                                .config_toml = PrintConfig(EvalSchema(), ev),
                                .deps = {name},
                                .cost_tokens = static_cast<double>(cs.eval.windows) * T});
    tc.lrs.push_back(p.optim.lr);
    tc.factors.push_back(factor);
    tc.evals.push_back(plan.DirOf(study_dir, eval).string());
    evals.push_back(eval.name);
  }
  const std::string select = "tune/" + v.tag + "select";
  plan.Add({.stage = "tune-lr",
            .name = select,
            .config_toml = PrintConfig(TuneLrSchema(), tc),
            .deps = evals});
  return select;
}

}  // namespace

StudyPlan PlanForVariant(const StudyPlan& plan, const std::string& tag) {
  StudyPlan out = plan;
  std::erase_if(out.checkpoints, [&](const StudyCheckpoint& ck) { return ck.variant != tag; });
  std::erase_if(out.lr_sweep_runs, [&](const auto& entry) { return entry.first != tag; });
  return out;
}

StudyConfig ResolveSeries(const StudyConfig& c) {
  if (c.checkpoints.series.empty()) return c;
  StudyConfig out = c;
  const auto& entries = c.checkpoints.series.entries;
  auto entry = [&](size_t i) {
    return fmt::format("checkpoints.series entry {} ('{}')", i + 1, entries[i].dir);
  };
  ModelConfig model;
  for (size_t i = 0; i < entries.size(); ++i) {
    ModelConfig m;
    try {
      m = ReadModelConfig(entries[i].dir);
    } catch (const Error& e) {
      throw Error(entry(i) + ": " + e.what());
    }
    if (i == 0) {
      model = m;
    } else if (!(m == model)) {
      throw Error(
          entry(i) +
          ": its model differs from entry 1's; a series is one model at several token counts");
    }
  }
  // The data is tokenized with entry 1's tokenizer, so every entry must hold the same one.
  const fs::path tokenizer = fs::absolute(entries[0].dir) / "tokenizer.json";
  std::string tokenizer_hash;
  for (size_t i = 0; i < entries.size(); ++i) {
    const fs::path own = fs::absolute(entries[i].dir) / "tokenizer.json";
    if (!fs::exists(own))
      throw Error(
          entry(i) +
          ": no tokenizer.json; the study tokenizes its data with the checkpoints' own tokenizer");
    const std::string hash = data::HfTokenizerHash(own);
    if (i == 0)
      tokenizer_hash = hash;
    else if (hash != tokenizer_hash)
      throw Error(entry(i) + ": its tokenizer " + own.string() + " differs from entry 1's " +
                  tokenizer.string() + " (XXH3 " + hash + " vs " + tokenizer_hash +
                  "); a series is one model, tokenized one way");
  }
  if (c.pretrain.seq_len > model.max_seq_len)
    throw Error(
        fmt::format("pretrain.seq_len = {} (the evaluation and fine-tuning window) exceeds the "
                    "checkpoints' max_position_embeddings {}",
                    c.pretrain.seq_len, model.max_seq_len));
  out.model = model;
  out.data.set.push_back("data.tokenizer_json=" + config_detail::Print(tokenizer.string()));
  return out;
}

StudyPlan BuildStudyPlan(const StudyConfig& c, const fs::path& study_dir) {
  StudyPlan sp;
  Plan& plan = sp.plan;

  // Data: fetch (idempotent, cached outside the study) then prepare.
  Run fetch{
      .stage = "data-fetch", .name = "data/fetch", .config_toml = "# fetch the registry sources\n"};
  fetch.argv = {"data", "fetch"};
  if (!c.data.cache_dir.empty())
    fetch.argv.insert(fetch.argv.end(), {"--cache", fs::absolute(c.data.cache_dir).string()});
  plan.Add(fetch);
  Run prepare{.stage = "data",
              .name = "data/prepare",
              .config_toml = DataConfigText(c),
              .deps = {"data/fetch"}};
  prepare.argv = {"data", "prepare", "--config", "{config}", "--out", "{out}"};
  prepare.cost_tokens = 2e6;
  const fs::path data_dir = plan.DirOf(study_dir, plan.Add(prepare));
  sp.data_run = "data/prepare";

  for (const StudyVariant& variant : StudyVariants(c)) {
    const StudyConfig& cs = variant.config;  // everything below reads the variant's own config
    const int B = cs.pretrain.batch_size, T = cs.pretrain.seq_len;
    const BenchmarkCost bench = CostOfBenchmarks(cs, T);
    if (sp.benchmarks.files == 0) sp.benchmarks = bench;  // the same files in every variant
    const double eval_tokens =
        static_cast<double>(cs.eval.windows + cs.eval.c4_windows) * T + bench.tokens_per_eval;
    // study.tune_lr: the ladder's pre-training runs wait for the sweep and read its choice.
    std::string sweep, chosen_lr;
    if (cs.study.tune_lr) {
      sweep = AddLrSweep(plan, variant, data_dir, study_dir);
      sp.lr_sweep_runs[variant.tag] = sweep;
      chosen_lr = (plan.DirOf(study_dir, *plan.Find(sweep)) / kChosenLrFile).string();
    }
    for (int64_t seed : c.study.seeds) {
      const std::string seed_tag =
          variant.tag + (c.study.seeds.size() > 1 ? fmt::format("seed-{}/", seed) : "");
      PretrainConfig base = PretrainFor(cs, data_dir, seed);
      auto add_pretrain = [&](const std::string& name, PretrainConfig p, double cost) {
        Run r{.stage = "pretrain",
              .name = name,
              .config_toml = PrintConfig(PretrainSchema(), p),
              .deps = {"data/prepare"},
              .cost_tokens = cost * (p.optim.sam_rho > 0 ? 2.0 : 1.0),
              .nodes = cs.pretrain.nodes,
              .tasks_per_node = cs.pretrain.tasks_per_node};
        if (!sweep.empty()) {
          r.config_toml =
              "# optim.lr below is replaced when the run starts by the LR sweep's "
              "choice (study.tune_lr): --set-from " +
              chosen_lr + "\n" + r.config_toml;
          r.argv = {"pretrain", "--config", "{config}", "--set-from", chosen_lr, "--out", "{out}"};
          r.deps.push_back(sweep);
        }
        return plan.DirOf(study_dir, plan.Add(r));
      };
      std::vector<StudyCheckpoint> ckpts;
      if (!cs.checkpoints.series.empty()) {  // published checkpoints: no pre-training runs
        for (const SeriesCheckpoint& e : cs.checkpoints.series.entries) {
          const fs::path dir = fs::absolute(e.dir).lexically_normal();
          StudyCheckpoint ck{seed, e.tokens.value, "",          dir,
                             {},   variant.size,   variant.arm, variant.tag};
          ck.ref = {
              .dir = dir.string(),
              .tokens = e.tokens,
              .epochs = static_cast<double>(e.tokens.value) / cs.checkpoints.corpus_tokens.value};
          ckpts.push_back(std::move(ck));
        }
      } else if (cs.pretrain.mode == "runs") {
        for (const Size& n : cs.pretrain.ladder) {
          PretrainConfig p = base;
          p.train.budget = n;
          p.train.ladder_mode = "series";
          const std::string name = "pretrain/" + seed_tag + "budget-" + FormatSize(n.value);
          const fs::path dir = add_pretrain(name, p, static_cast<double>(n.value));
          ckpts.push_back({seed,
                           n.value,
                           name,
                           dir / "ckpt" / CkptName(n.value, B, T),
                           {},
                           variant.size,
                           variant.arm,
                           variant.tag});
        }
      } else {
        int64_t max_budget = 0;
        for (const Size& n : cs.pretrain.ladder) max_budget = std::max(max_budget, n.value);
        PretrainConfig p = base;
        p.train.budget.value = max_budget;
        p.train.ladder = cs.pretrain.ladder;
        p.train.ladder_mode = cs.pretrain.mode;
        const std::string name = "pretrain/" + seed_tag + cs.pretrain.mode;
        double cost = static_cast<double>(max_budget);
        if (cs.pretrain.mode == "wsd")
          for (const Size& n : cs.pretrain.ladder)
            cost += cs.pretrain.optim.wsd_decay_fraction * n.value;
        const fs::path dir = add_pretrain(name, p, cost);
        for (const Size& n : cs.pretrain.ladder) {
          const fs::path ckpt =
              cs.pretrain.mode == "series"
                  ? dir / "ckpt" / CkptName(n.value, B, T)
                  : dir / ("branch-" + FormatSize(n.value)) / "ckpt" / CkptName(n.value, B, T);
          ckpts.push_back({seed, n.value, name, ckpt, {}, variant.size, variant.arm, variant.tag});
        }
      }
      for (auto& ck : ckpts) {
        if (ck.ref.dir.empty()) ck.ref.dir = ck.dir.string();  // our checkpoints carry their tokens
        // The runs measuring a checkpoint wait for the run that makes it (none for a published
        // one).
        const std::vector<std::string> ck_deps = {ck.pretrain_run.empty() ? "data/prepare"
                                                                          : ck.pretrain_run};
        const std::string tag = seed_tag + "tokens-" + FormatSize(ck.budget);
        const EvalSuiteConfig suite = SuiteFor(cs, data_dir);
        EvalConfig ev{.checkpoint = ck.ref, .suite = suite, .compute = cs.compute};
        ck.eval_run = "eval/" + tag;
        plan.Add({.stage = "eval",
                  .name = ck.eval_run,
                  .config_toml = PrintConfig(EvalSchema(), ev),
                  .deps = ck_deps,
                  .cost_tokens = eval_tokens});
        sp.benchmarks.evaluations += bench.files > 0;
        // One run per noise scale; "/scale-<name>" only when there are several (so a study of one
        // scale keeps its run names).
        for (const std::string& scale : cs.perturb.scales) {
          PerturbConfig pc{.checkpoint = ck.ref,
                           .suite = suite,
                           .gammas = cs.perturb.gammas,
                           .draws = cs.perturb.draws,
                           .seed = ck.seed,
                           .groups = cs.perturb.groups,
                           .scale = scale,
                           .compute = cs.compute};
          pc.suite.tasks.clear();
          pc.suite.task_files.clear();  // the probe is the general loss alone
          pc.suite.rolling_files.clear();
          pc.suite.log_samples = false;
          std::string name = "perturb/" + tag;
          if (cs.perturb.scales.size() > 1) name += "/scale-" + scale;
          plan.Add({.stage = "perturb",
                    .name = name,
                    .config_toml = PrintConfig(PerturbSchema(), pc),
                    .deps = ck_deps,
                    .cost_tokens = cs.perturb.gammas.size() * cs.perturb.draws *
                                   cs.perturb.groups.size() *
                                   static_cast<double>(cs.eval.windows * T) / 3.0});
          ck.perturb_runs.push_back(name);
        }
        if (cs.diagnose.enabled) {
          DiagnoseConfig dc{.checkpoint = ck.ref,
                            .suite = suite,
                            .batches = cs.diagnose.batches,
                            .max_iters = cs.diagnose.max_iters,
                            .tol = cs.diagnose.tol,
                            .probes = cs.diagnose.probes,
                            .seed = ck.seed,
                            .gammas = cs.perturb.gammas,
                            .compute = cs.compute};
          dc.suite.tasks.clear();
          dc.suite.task_files.clear();
          dc.suite.rolling_files.clear();
          dc.suite.log_samples = false;
          ck.diagnose_run = "diagnose/" + tag;
          const double hvp_passes = 1 + 2.0 * cs.diagnose.max_iters + 4.0 * cs.diagnose.probes;
          plan.Add({.stage = "diagnose",
                    .name = ck.diagnose_run,
                    .config_toml = PrintConfig(DiagnoseSchema(), dc),
                    .deps = ck_deps,
                    .cost_tokens = hvp_passes * cs.diagnose.batches * cs.eval.batch * T});
        }
        const int64_t ft_tokens = FinetuneTokens(cs);
        for (const auto& task : cs.finetune.tasks) {
          for (double lr : cs.finetune.lrs) {
            for (int64_t ft_seed : cs.finetune.seeds) {
              FinetuneConfig fc;
              fc.checkpoint = ck.ref;
              fc.suite = suite;
              fc.compute = cs.compute;
              fc.suite.tasks = {task};
              fc.ft.task = task;
              fc.ft.optim = cs.finetune.optim;
              fc.ft.optim.lr = lr;
              fc.ft.tokens = Size{ft_tokens};
              fc.ft.batch_size = cs.finetune.batch_size;
              fc.ft.seq_len = T;
              fc.ft.seed = ft_seed;  // the data order; the checkpoint carries the pre-training seed
              fc.ft.l2sp = cs.finetune.l2sp;
              fc.ft.replay = cs.finetune.replay;
              fc.ft.wise_alphas = cs.finetune.wise_alphas;
              std::string name = "finetune/" + tag + "/" + task + "/lr-" + LrLabel(lr);
              if (cs.finetune.seeds.size() > 1) name += fmt::format("/seed-{}", ft_seed);
              plan.Add({.stage = "finetune",
                        .name = name,
                        .config_toml = PrintConfig(FinetuneSchema(), fc),
                        .deps = ck_deps,
                        .cost_tokens = static_cast<double>(ft_tokens) + eval_tokens});
              ck.finetune_runs.push_back(name);
              sp.benchmarks.evaluations += bench.files > 0;
            }
          }
        }
        sp.checkpoints.push_back(ck);
      }
    }
  }
  if (!c.theory.config.empty()) {
    std::string text;
    try {
      text = ReadFile(c.theory.config);
    } catch (const Error&) {
      throw Error("theory.config = '" + c.theory.config + "': cannot read the theory config file");
    }
    plan.Add({.stage = "theory", .name = "theory", .config_toml = text, .cost_tokens = 1e5});
    sp.theory_run = "theory";
  }
  return sp;
}

}  // namespace ot
