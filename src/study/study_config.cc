// The study schema.
#include "study/study_config.h"

#include <fmt/format.h>
#include <toml++/toml.h>

#include <algorithm>
#include <cctype>
#include <climits>

#include "model/noise.h"

namespace ot {

namespace {

bool IsArmName(const std::string& name) {
  return !name.empty() && std::all_of(name.begin(), name.end(), [](char ch) {
    return std::isalnum(static_cast<unsigned char>(ch)) || ch == '-' || ch == '_';
  });
}

// arms.<name>.<key> = value: one override of `name`; a later value of the same key replaces the
// earlier.
std::string SetArmEntry(StudyConfig& c, const std::string& subkey, const std::string& literal,
                        const std::string& where) {
  const auto dot = subkey.find('.');
  const std::string name = subkey.substr(0, dot);
  if (dot == std::string::npos || dot + 1 >= subkey.size() || !IsArmName(name))
    return "expects arms.<name>.<study key>, the name of letters, digits, '-' or '_'";
  const std::string key = subkey.substr(dot + 1);
  c.arm_origins[subkey] = where;
  auto& sets = c.arm_sets[name];
  for (auto& [k, v] : sets)
    if (k == key) return v = literal, "";
  sets.emplace_back(key, literal);
  return "";
}

std::string PrintArms(const StudyConfig& c) {
  std::string out;
  for (const auto& [name, sets] : c.arm_sets) {
    out += "[arms." + name + "]\n";
    for (const auto& [key, literal] : sets) out += key + " = " + literal + "\n";
  }
  return out;
}

StudyConfig WithoutArms(StudyConfig c) {
  c.study.arms.clear();
  c.arm_sets.clear();
  c.arm_origins.clear();
  return c;
}

std::string ArmsProblem(const StudyConfig& c) {
  for (size_t i = 0; i < c.study.arms.size(); ++i) {
    const std::string& name = c.study.arms[i];
    if (!IsArmName(name)) return "arm name '" + name + "': expected letters, digits, '-' or '_'";
    for (size_t j = 0; j < i; ++j)
      if (c.study.arms[j] == name) return "arm '" + name + "' is listed twice";
  }
  for (const auto& [name, sets] : c.arm_sets) {
    if (std::find(c.study.arms.begin(), c.study.arms.end(), name) == c.study.arms.end())
      return "[arms." + name + "] has overrides but '" + name + "' is not in study.arms";
    for (const auto& [key, literal] : sets)
      for (const char* shared :
           {"study.", "arms.", "data.", "theory.", "model.vocab_size", "checkpoints."})
        if (key.rfind(shared, 0) == 0)
          return "arm '" + name + "': key '" + key +
                 "' cannot vary per arm (the study's data, vocabulary, checkpoint series, "
                 "theory and study.* settings are shared by all arms)";
  }
  // Identical arms would run the same ladder twice under two names.
  std::map<std::vector<std::pair<std::string, std::string>>, std::string> seen;
  for (const auto& name : c.study.arms) {
    auto it = c.arm_sets.find(name);
    auto sets =
        it == c.arm_sets.end() ? std::vector<std::pair<std::string, std::string>>{} : it->second;
    std::sort(sets.begin(), sets.end());
    if (auto [at, fresh] = seen.emplace(sets, name); !fresh)
      return "arms '" + at->second + "' and '" + name + "' have identical overrides";
  }
  return "";  // each arm's own keys are checked by ConfigForArm, naming the arm's own lines
}

std::string SeriesProblem(const StudyConfig& c) {
  const auto& e = c.checkpoints.series.entries;
  if (e.empty()) return "";
  for (size_t i = 0; i < e.size(); ++i) {
    if (e[i].dir.empty()) return "entry " + std::to_string(i + 1) + ": dir is empty";
    if (e[i].tokens.value <= 0)
      return "entry " + std::to_string(i + 1) + " (" + e[i].dir + "): tokens must be > 0";
    for (size_t j = 0; j < i; ++j) {
      if (e[j].tokens.value == e[i].tokens.value)
        return "entries " + std::to_string(j + 1) + " and " + std::to_string(i + 1) +
               " have the same tokens (" + FormatSize(e[i].tokens.value) +
               "); each checkpoint is one point of the token axis";
      if (e[j].dir == e[i].dir) return "'" + e[i].dir + "' is listed twice";
    }
  }
  if (c.checkpoints.corpus_tokens.value <= 0)
    return "checkpoints.corpus_tokens must be set with a series: the tokens per epoch of the "
           "checkpoints' "
           "pre-training corpus, so that every budget is printed with its epochs";
  if (!c.study.sizes.empty())
    return "cannot be combined with study.sizes (the checkpoints fix the model)";
  if (c.study.seeds.size() > 1)
    return "cannot be combined with several study.seeds (pre-training seeds)";
  for (const auto& [name, sets] : c.arm_sets)
    for (const auto& [key, literal] : sets)
      if (key.rfind("pretrain.", 0) == 0 || key.rfind("model.", 0) == 0)
        return "arm '" + name + "' sets '" + key +
               "', but the checkpoints replace pre-training and fix the model";
  return "";
}

}  // namespace

std::string CheckpointSeries::SetFromToml(const toml::node& n, CheckpointSeries& out) {
  const char* expect =
      "expects an array of tables {dir = \"<model directory>\", tokens = <count, e.g. \"16M\">}";
  const auto* arr = n.as_array();
  if (!arr) return expect;
  CheckpointSeries s;
  for (size_t i = 0; i < arr->size(); ++i) {
    const auto* t = arr->get(i)->as_table();
    if (!t) return expect;
    SeriesCheckpoint e;
    bool have_dir = false, have_tokens = false;
    for (const auto& [k, v] : *t) {
      const std::string key(k.str());
      if (key == "dir" && v.is_string()) {
        e.dir = v.as_string()->get();
        have_dir = true;
      } else if (key == "tokens") {
        if (std::string err = config_detail::Set(v, e.tokens); !err.empty())
          return "entry " + std::to_string(i + 1) + ": tokens " + err;
        have_tokens = true;
      } else {
        return "entry " + std::to_string(i + 1) + ": unknown or mistyped key '" + key + "'; " +
               expect;
      }
    }
    if (!have_dir || !have_tokens) return "entry " + std::to_string(i + 1) + " " + expect;
    s.entries.push_back(std::move(e));
  }
  out = std::move(s);
  return "";
}

std::string CheckpointSeries::PrintToml(const CheckpointSeries& v) {
  std::string out = "[";
  for (size_t i = 0; i < v.entries.size(); ++i)
    out += (i ? ", " : "") + std::string("{dir = ") + config_detail::Print(v.entries[i].dir) +
           ", tokens = " + config_detail::Print(v.entries[i].tokens) + "}";
  return out + "]";
}

const ConfigSchema<StudyConfig>& StudySchema() {
  static const ConfigSchema<StudyConfig> schema = [] {
    using C = StudyConfig;
    ConfigSchema<C> s;
    s.Field("study.name", "study name (names the default output directory)",
            [](C& c) -> std::string& { return c.study.name; })
        .Field("study.out", "study directory (\"\" = runs/<name>)",
               [](C& c) -> std::string& { return c.study.out; })
        .Field(
            "study.seeds", "pre-training seeds (one ladder per seed)",
            [](C& c) -> std::vector<int64_t>& { return c.study.seeds; }, AtLeast(0))
        .Field("study.sizes",
               "model presets compared side by side, one ladder each (empty = [model])",
               [](C& c) -> std::vector<std::string>& { return c.study.sizes; })
        .Field("study.arms",
               "named arms compared side by side, one ladder each; [arms.<name>] holds an arm's "
               "overrides "
               "(an arm without a table is the baseline)",
               [](C& c) -> std::vector<std::string>& { return c.study.arms; })
        .Field(
            "study.jobs", "runs at a time (0 = cores / threads_per_job)",
            [](C& c) -> int& { return c.study.jobs; }, AtLeast(0))
        .Field(
            "study.threads_per_job", "OpenMP threads per run (0 = 1 for nano, else 2)",
            [](C& c) -> int& { return c.study.threads_per_job; }, AtLeast(0))
        .Field(
            "study.gpu_peak_tflops", "GPU planning: the card's dense peak TFLOP/s (H100 bf16: 989)",
            [](C& c) -> double& { return c.study.gpu_peak_tflops; }, Above(0))
        .Field(
            "study.gpu_mfu", "GPU planning: the model FLOPs utilisation the estimate assumes",
            [](C& c) -> double& { return c.study.gpu_mfu; }, Between(0.001, 1))
        .Field("study.tune_lr",
               "fair arms: before each ladder, sweep its pre-training LR (pretrain.lr × "
               "study.tune_lr_factors) at study.tune_lr_budget and train the ladder at the LR "
               "with the lowest validation loss",
               [](C& c) -> bool& { return c.study.tune_lr; })
        .Field(
            "study.tune_lr_factors",
            "the sweep's grid as multiples of each ladder's own pretrain.lr (study.tune_lr)",
            [](C& c) -> std::vector<double>& { return c.study.tune_lr_factors; }, Above(0))
        .Field(
            "study.tune_lr_budget",
            "the sweep's reference budget in tokens (0 = the smallest pretrain.ladder budget)",
            [](C& c) -> Size& { return c.study.tune_lr_budget; }, AtLeast(0))
        .Rule({"study.tune_lr", "study.tune_lr_factors", "checkpoints.series"},
              [](const C& c) -> std::string {
                if (!c.study.tune_lr) return "";
                if (!c.checkpoints.series.empty())
                  return "study.tune_lr needs pre-training; checkpoints.series replaces it";
                const auto& f = c.study.tune_lr_factors;
                if (f.size() < 2)
                  return "study.tune_lr_factors needs at least 2 factors (3 or more can show "
                         "an interior optimum)";
                for (size_t i = 0; i < f.size(); ++i)
                  for (size_t j = 0; j < i; ++j)
                    if (f[i] == f[j]) return fmt::format("factor {:g} is listed twice", f[i]);
                return "";
              })
        .Field("data.config", "data prepare config file (\"\" = defaults)",
               [](C& c) -> std::string& { return c.data.config; })
        .Field("data.set", "extra data.* overrides for prepare, e.g. [\"data.vocab_size=4096\"]",
               [](C& c) -> std::vector<std::string>& { return c.data.set; })
        .Field("data.data_dir", "real task files and C4 (shared/data); \"\" = registry data only",
               [](C& c) -> std::string& { return c.data.data_dir; })
        .Field("data.cache_dir", "fetched sources (\"\" = $OVERTRAIN_CACHE or ~/.cache/overtrain)",
               [](C& c) -> std::string& { return c.data.cache_dir; })
        .Field("data.pair_files",
               "JSON-lines files of {\"prompt\", \"response\"} pairs, each a fine-tuning task "
               "named by its file name, to list in finetune.tasks (loss on the response only; "
               "docs/tasks.md)",
               [](C& c) -> std::vector<std::string>& { return c.data.pair_files; });
    DeclareModelFields(s, [](C& c) -> ModelConfig& { return c.model; });
    s.Field(
         "pretrain.mode",
         "runs: one run per budget (schedule over its own budget); series: one run "
         "saved at each budget; wsd: warmup-stable trunk with decay branches",
         [](C& c) -> std::string& { return c.pretrain.mode; }, OneOf({"runs", "series", "wsd"}))
        .Field(
            "pretrain.ladder", "token budgets",
            [](C& c) -> std::vector<Size>& { return c.pretrain.ladder; }, AtLeast(1))
        .Field(
            "pretrain.batch_size", "sequences per step",
            [](C& c) -> int& { return c.pretrain.batch_size; }, AtLeast(1))
        .Field(
            "pretrain.seq_len", "tokens per sequence",
            [](C& c) -> int& { return c.pretrain.seq_len; }, AtLeast(1))
        .Field(
            "pretrain.nodes", "Slurm: nodes of each data-parallel pre-training job (--emit slurm)",
            [](C& c) -> int& { return c.pretrain.nodes; }, Between(1, 1 << 16))
        .Field(
            "pretrain.tasks_per_node",
            "Slurm: data-parallel processes per node of each pre-training job (--emit slurm)",
            [](C& c) -> int& { return c.pretrain.tasks_per_node; }, Between(1, 1 << 10))
        .Rule({"pretrain.batch_size", "pretrain.nodes", "pretrain.tasks_per_node"},
              [](const C& c) -> std::string {
                const int world = c.pretrain.nodes * c.pretrain.tasks_per_node;
                return c.pretrain.batch_size % world == 0
                           ? ""
                           : fmt::format(
                                 "pretrain.batch_size = {} must be a multiple of "
                                 "pretrain.nodes x pretrain.tasks_per_node = {}",
                                 c.pretrain.batch_size, world);
              })
        .Field(
            "pretrain.nan_policy", "on a NaN/Inf loss or gradient: abort or skip-step",
            [](C& c) -> std::string& { return c.pretrain.nan_policy; },
            OneOf({"abort", "skip-step"}))
        .Field(
            "perturb.gammas", "noise scales γ",
            [](C& c) -> std::vector<double>& { return c.perturb.gammas; }, AtLeast(0))
        .Field(
            "perturb.draws", "draws per γ", [](C& c) -> int& { return c.perturb.draws; },
            AtLeast(1))
        .Field("perturb.groups", "conditions: \"all\" or a group name each",
               [](C& c) -> std::vector<std::string>& { return c.perturb.groups; })
        .Field("perturb.scales",
               "noise scales, one perturbation run per checkpoint each: init (σ = γ·σ_init) and/or "
               "relative (σ = γ·rms(θ_t) per tensor at the checkpoint)",
               [](C& c) -> std::vector<std::string>& { return c.perturb.scales; })
        .Rule({"perturb.scales"},
              [](const C& c) -> std::string {
                if (c.perturb.scales.empty()) return "expected at least one of init, relative";
                for (size_t i = 0; i < c.perturb.scales.size(); ++i) {
                  const std::string& s = c.perturb.scales[i];
                  if (std::string err = OneOf(NoiseScaleNames())(s); !err.empty())
                    return "'" + s + "': " + err;
                  for (size_t j = 0; j < i; ++j)
                    if (c.perturb.scales[j] == s) return "'" + s + "' is listed twice";
                }
                return "";
              })
        .Field("finetune.tasks", "tasks (docs/tasks.md)",
               [](C& c) -> std::vector<std::string>& { return c.finetune.tasks; })
        .Field(
            "finetune.lrs", "learning-rate grid",
            [](C& c) -> std::vector<double>& { return c.finetune.lrs; }, Above(0))
        .Field("finetune.tokens",
               "tokens per fine-tuning run (0 = 10% of the smallest pre-training budget)",
               [](C& c) -> Size& { return c.finetune.tokens; })
        .Field(
            "finetune.seeds",
            "data-order seeds per (checkpoint, task, lr): >= 2 give standard errors",
            [](C& c) -> std::vector<int64_t>& { return c.finetune.seeds; }, AtLeast(0))
        .Field(
            "finetune.batch_size", "rows per step",
            [](C& c) -> int& { return c.finetune.batch_size; }, AtLeast(1))
        .Field(
            "finetune.l2sp", "L2-SP λ toward the pre-trained weights",
            [](C& c) -> double& { return c.finetune.l2sp; }, AtLeast(0))
        .Field(
            "finetune.replay", "fraction of steps on pre-training batches",
            [](C& c) -> double& { return c.finetune.replay; }, Between(0, 0.99))
        .Field(
            "finetune.wise_alphas",
            "WiSE-FT: also evaluate a*theta_ft + (1-a)*theta_pre for each a",
            [](C& c) -> std::vector<double>& { return c.finetune.wise_alphas; }, Between(0, 1))
        .Field("diagnose.enabled",
               "run `overtrain diagnose` (Hessian top eigenvalue, traces, logit scale) on every "
               "checkpoint",
               [](C& c) -> bool& { return c.diagnose.enabled; })
        .Field(
            "diagnose.batches", "training batches the Hessian's loss averages",
            [](C& c) -> int& { return c.diagnose.batches; }, AtLeast(1))
        .Field(
            "diagnose.max_iters", "power-iteration steps for the top eigenvalue",
            [](C& c) -> int& { return c.diagnose.max_iters; }, AtLeast(1))
        .Field(
            "diagnose.tol",
            "power iteration converges when the residual (a bound on the eigenvalue's relative "
            "error) is below it",
            [](C& c) -> double& { return c.diagnose.tol; }, Between(1e-12, 0.5))
        .Field(
            "diagnose.probes", "Hutchinson probes per trace",
            [](C& c) -> int& { return c.diagnose.probes; }, AtLeast(1))
        .Field(
            "eval.batch", "rows per forward pass", [](C& c) -> int& { return c.eval.batch; },
            AtLeast(1))
        .Field(
            "eval.windows", "general-validation windows",
            [](C& c) -> int64_t& { return c.eval.windows; }, AtLeast(0))
        .Field(
            "eval.c4_windows", "C4 windows", [](C& c) -> int64_t& { return c.eval.c4_windows; },
            AtLeast(0))
        .Field(
            "eval.max_examples", "task examples scored",
            [](C& c) -> int64_t& { return c.eval.max_examples; }, AtLeast(0))
        .Field(
            "eval.max_target_tokens", "target tokens scored per example",
            [](C& c) -> int64_t& { return c.eval.max_target_tokens; }, AtLeast(0))
        .Field("eval.task_files",
               "lm-eval multiple-choice task files (JSONL; docs/lm_eval.md) scored on every base "
               "checkpoint and every fine-tuned model (the report's Figure 1 panels and C9)",
               [](C& c) -> std::vector<std::string>& { return c.eval.task_files; })
        .Field("eval.rolling_files",
               "lm-eval rolling-loglikelihood files (.txt one document, .jsonl {\"text\"}) scored "
               "on every base checkpoint and every fine-tuned model",
               [](C& c) -> std::vector<std::string>& { return c.eval.rolling_files; })
        .Field(
            "eval.task_limit", "documents scored per task file (0 = all)",
            [](C& c) -> int64_t& { return c.eval.task_limit; }, AtLeast(0))
        .Field("eval.skip_long_docs",
               "skip (and count) a task-file document whose continuation exceeds the window, "
               "instead of stopping",
               [](C& c) -> bool& { return c.eval.skip_long_docs; })
        .Field("eval.log_samples",
               "also write each benchmark file's per-document scores as samples_<task>.jsonl "
               "beside every run's eval.json",
               [](C& c) -> bool& { return c.eval.log_samples; })
        .Field("theory.config", "theory config file (\"\" = no theory panels)",
               [](C& c) -> std::string& { return c.theory.config; })
        .Field("checkpoints.series",
               "published checkpoints replacing pre-training: [{dir = \"<Hugging Face model "
               "dir>\", tokens = "
               "\"<tokens seen>\"}, ...] (empty = pre-train the ladder)",
               [](C& c) -> CheckpointSeries& { return c.checkpoints.series; })
        .Field(
            "checkpoints.corpus_tokens",
            "tokens per epoch of the series' pre-training corpus, for the epochs printed next to "
            "every "
            "budget (e.g. \"300B\" for Pythia on the Pile); required with checkpoints.series",
            [](C& c) -> Size& { return c.checkpoints.corpus_tokens; }, AtLeast(0))
        .Rule({"checkpoints.series", "checkpoints.corpus_tokens", "study.sizes", "study.seeds"},
              SeriesProblem)
        .Rule({"model.preset", "model.vocab_size"},
              [](const C& c) { return ModelConfigProblem(c.model); })
        .Rule({"pretrain.seq_len", "model.max_seq_len"},
              [](const C& c) -> std::string {
                // With a series the checkpoints' model replaces [model] (ResolveSeries checks it
                // there).
                return c.pretrain.seq_len <= c.model.max_seq_len || !c.checkpoints.series.empty()
                           ? ""
                           : "pretrain.seq_len must be <= model.max_seq_len";
              })
        .Rule({"pretrain.ladder"},
              [](const C& c) -> std::string {
                return c.pretrain.ladder.empty() ? "expected at least one token budget" : "";
              })
        .Rule({"study.sizes"},
              [](const C& c) -> std::string {
                for (size_t i = 0; i < c.study.sizes.size(); ++i) {
                  const std::string& name = c.study.sizes[i];
                  std::string known;
                  bool ok = false;
                  for (const auto& n : ModelConfig::PresetNames())
                    ok |= n == name, known += (known.empty() ? "" : ", ") + n;
                  if (!ok) return "'" + name + "' is not a model preset; expected one of: " + known;
                  for (size_t j = 0; j < i; ++j)
                    if (c.study.sizes[j] == name) return "'" + name + "' is listed twice";
                }
                return "";
              })
        .Rule({"eval.log_samples", "eval.task_files", "eval.rolling_files"},
              [](const C& c) -> std::string {
                return c.eval.log_samples && c.eval.task_files.empty() &&
                               c.eval.rolling_files.empty()
                           ? "eval.log_samples = true expects task or rolling files to log "
                             "the samples of"
                           : "";
              })
        .Rule({"finetune.seeds"}, [](const C& c) -> std::string {
          if (c.finetune.seeds.empty()) return "expected at least one seed";
          for (size_t i = 0; i < c.finetune.seeds.size(); ++i)
            for (size_t j = i + 1; j < c.finetune.seeds.size(); ++j)
              if (c.finetune.seeds[i] == c.finetune.seeds[j])
                return "seed " + std::to_string(c.finetune.seeds[i]) + " is listed twice";
          return "";
        });
    s.Table({.prefix = "arms.",
             .help = "arm overrides: [arms.<name>] key = value, any study key but study.* "
                     "(study.arms lists the arms)",
             .set = SetArmEntry,
             .print = PrintArms})
        .Rule({"study.arms"}, ArmsProblem);
    DeclareOptimFields(s, "pretrain", [](C& c) -> OptimConfig& { return c.pretrain.optim; });
    DeclareComputeFields(s, [](C& c) -> ComputeConfig& { return c.compute; });
    DeclareOptimFields(s, "finetune", [](C& c) -> OptimConfig& { return c.finetune.optim; },
                       {"lr"});
    return s;
  }();
  return schema;
}

std::vector<std::string> StudySizes(const StudyConfig& c) {
  return c.study.sizes.empty() ? std::vector<std::string>{c.model.preset} : c.study.sizes;
}

StudyConfig ConfigForSize(const StudyConfig& c, const std::string& size) {
  if (c.study.sizes.empty()) return c;
  StudyConfig out = c;
  out.model = ModelConfig::FromPreset(size);
  out.model.vocab_size = c.model.vocab_size;
  return out;
}

StudyConfig ConfigForArm(const StudyConfig& c, const std::string& arm) {
  StudyConfig out = WithoutArms(c);
  const auto it = c.arm_sets.find(arm);
  if (it == c.arm_sets.end()) return out;
  // Each override is named by where the arm set it: "study.toml:19: [arms.sgd]".
  auto label = [&](const std::string& key) {
    const auto o = c.arm_origins.find(arm + "." + key);
    return (o == c.arm_origins.end() ? std::string("--set") : o->second) + ": [arms." + arm + "]";
  };
  ConfigOrigins origins;
  for (const auto& [key, literal] : it->second) {
    try {
      ApplyOverride(StudySchema(), key + "=" + literal, out, origins);
    } catch (const Error& e) {  // "--set: key 'k' ..." -> "<arm's line>: [arms.a]: key 'k' ..."
      const std::string what = e.what();
      throw Error(label(key) + ": " + (what.starts_with("--set: ") ? what.substr(7) : what));
    }
    origins[key] = label(key);
  }
  try {
    ValidateConfig(StudySchema(), out, origins);
  } catch (const Error& e) {  // a rule over keys the arm did not set: name the arm's first line
    const std::string what = e.what();
    if (!what.starts_with("default: ")) throw;
    throw Error(label(it->second.front().first) + ": " + what.substr(9));
  }
  return out;
}

std::vector<StudyVariant> StudyVariants(const StudyConfig& c) {
  std::vector<StudyVariant> out;
  const std::vector<std::string> arms =
      c.study.arms.empty() ? std::vector<std::string>{""} : c.study.arms;
  for (const std::string& arm : arms) {
    const StudyConfig ca = arm.empty() ? c : ConfigForArm(c, arm);
    for (const std::string& size : StudySizes(ca)) {
      StudyVariant v{.arm = arm, .size = ca.study.sizes.empty() ? "" : size};
      v.tag =
          (arm.empty() ? "" : "arm-" + arm + "/") + (v.size.empty() ? "" : "size-" + size + "/");
      v.config = ConfigForSize(ca, size);
      out.push_back(std::move(v));
    }
  }
  return out;
}

std::vector<int64_t> StudyBudgets(const StudyConfig& c) {
  std::vector<int64_t> out;
  if (!c.checkpoints.series.empty()) {
    for (const auto& e : c.checkpoints.series.entries) out.push_back(e.tokens.value);
  } else {
    for (const Size& n : c.pretrain.ladder) out.push_back(n.value);
  }
  return out;
}

int64_t FinetuneTokens(const StudyConfig& c) {
  if (c.finetune.tokens.value > 0) return c.finetune.tokens.value;
  int64_t smallest = INT64_MAX;
  for (int64_t n : StudyBudgets(c)) smallest = std::min(smallest, n);
  return std::max<int64_t>(1, smallest / 10);
}

StudyConfig LoadStudyConfig(const std::string& path, const std::vector<std::string>& overrides) {
  StudyConfig c = LoadConfigWithModelPreset(StudySchema(), path, overrides, StudyConfig{},
                                            [](StudyConfig& c) -> ModelConfig& { return c.model; });
  for (const auto& name : c.study.arms) (void)ConfigForArm(c, name);  // errors name the arm's line
  return c;
}

}  // namespace ot
