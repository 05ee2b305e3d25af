// The study schema.
#include "study/study_config.h"

#include <algorithm>
#include <climits>

namespace ot {

const ConfigSchema<StudyConfig>& StudySchema() {
  static const ConfigSchema<StudyConfig> schema = [] {
    using C = StudyConfig;
    ConfigSchema<C> s;
    s.Field("study.name", "study name (names the default output directory)",
            [](C& c) -> std::string& { return c.study.name; })
        .Field("study.out", "study directory (\"\" = runs/<name>)", [](C& c) -> std::string& { return c.study.out; })
        .Field("study.seeds", "pre-training seeds (one ladder per seed)",
               [](C& c) -> std::vector<int64_t>& { return c.study.seeds; }, AtLeast(0))
        .Field("study.sizes", "model presets compared side by side, one ladder each (empty = [model])",
               [](C& c) -> std::vector<std::string>& { return c.study.sizes; })
        .Field("study.jobs", "runs at a time (0 = cores / threads_per_job)", [](C& c) -> int& { return c.study.jobs; },
               AtLeast(0))
        .Field("study.threads_per_job", "OpenMP threads per run (0 = 1 for nano, else 2)",
               [](C& c) -> int& { return c.study.threads_per_job; }, AtLeast(0))
        .Field("data.config", "data prepare config file (\"\" = defaults)",
               [](C& c) -> std::string& { return c.data.config; })
        .Field("data.set", "extra data.* overrides for prepare, e.g. [\"data.vocab_size=4096\"]",
               [](C& c) -> std::vector<std::string>& { return c.data.set; })
        .Field("data.data_dir", "real task files and C4 (shared/data); \"\" = registry data only",
               [](C& c) -> std::string& { return c.data.data_dir; })
        .Field("data.cache_dir", "fetched sources (\"\" = $OVERTRAIN_CACHE or ~/.cache/overtrain)",
               [](C& c) -> std::string& { return c.data.cache_dir; });
    DeclareModelFields(s, [](C& c) -> ModelConfig& { return c.model; });
    s.Field("pretrain.mode", "runs: one run per budget (schedule over its own budget); series: one run "
                             "saved at each budget; wsd: warmup-stable trunk with decay branches",
            [](C& c) -> std::string& { return c.pretrain.mode; }, OneOf({"runs", "series", "wsd"}))
        .Field("pretrain.ladder", "token budgets", [](C& c) -> std::vector<Size>& { return c.pretrain.ladder; },
               AtLeast(1))
        .Field("pretrain.batch_size", "sequences per step", [](C& c) -> int& { return c.pretrain.batch_size; },
               AtLeast(1))
        .Field("pretrain.seq_len", "tokens per sequence", [](C& c) -> int& { return c.pretrain.seq_len; }, AtLeast(1))
        .Field("pretrain.nan_policy", "on a NaN/Inf loss or gradient: abort or skip-step",
               [](C& c) -> std::string& { return c.pretrain.nan_policy; }, OneOf({"abort", "skip-step"}))
        .Field("perturb.gammas", "noise scales γ", [](C& c) -> std::vector<double>& { return c.perturb.gammas; },
               AtLeast(0))
        .Field("perturb.draws", "draws per γ", [](C& c) -> int& { return c.perturb.draws; }, AtLeast(1))
        .Field("perturb.groups", "conditions: \"all\" or a group name each",
               [](C& c) -> std::vector<std::string>& { return c.perturb.groups; })
        .Field("perturb.scale", "init-std | relative-norm", [](C& c) -> std::string& { return c.perturb.scale; },
               OneOf({"init-std", "relative-norm"}))
        .Field("finetune.tasks", "tasks (docs/tasks.md)", [](C& c) -> std::vector<std::string>& { return c.finetune.tasks; })
        .Field("finetune.lrs", "learning-rate grid", [](C& c) -> std::vector<double>& { return c.finetune.lrs; },
               Above(0))
        .Field("finetune.tokens", "tokens per fine-tuning run (0 = 10% of the smallest pre-training budget)",
               [](C& c) -> Size& { return c.finetune.tokens; })
        .Field("finetune.seeds", "data-order seeds per (checkpoint, task, lr): >= 2 give standard errors",
               [](C& c) -> std::vector<int64_t>& { return c.finetune.seeds; }, AtLeast(0))
        .Field("finetune.batch_size", "rows per step", [](C& c) -> int& { return c.finetune.batch_size; }, AtLeast(1))
        .Field("finetune.l2sp", "L2-SP λ toward the pre-trained weights", [](C& c) -> double& { return c.finetune.l2sp; },
               AtLeast(0))
        .Field("finetune.replay", "fraction of steps on pre-training batches",
               [](C& c) -> double& { return c.finetune.replay; }, Between(0, 0.99))
        .Field("finetune.wise_alphas", "WiSE-FT: also evaluate a*theta_ft + (1-a)*theta_pre for each a",
               [](C& c) -> std::vector<double>& { return c.finetune.wise_alphas; }, Between(0, 1))
        .Field("eval.batch", "rows per forward pass", [](C& c) -> int& { return c.eval.batch; }, AtLeast(1))
        .Field("eval.windows", "general-validation windows", [](C& c) -> int64_t& { return c.eval.windows; }, AtLeast(0))
        .Field("eval.c4_windows", "C4 windows", [](C& c) -> int64_t& { return c.eval.c4_windows; }, AtLeast(0))
        .Field("eval.max_examples", "task examples scored", [](C& c) -> int64_t& { return c.eval.max_examples; },
               AtLeast(0))
        .Field("eval.max_target_tokens", "target tokens scored per example",
               [](C& c) -> int64_t& { return c.eval.max_target_tokens; }, AtLeast(0))
        .Field("theory.config", "theory config file (\"\" = no theory panels)",
               [](C& c) -> std::string& { return c.theory.config; })
        .Rule({"model.preset", "model.vocab_size"}, [](const C& c) { return ModelConfigProblem(c.model); })
        .Rule({"pretrain.seq_len", "model.max_seq_len"}, [](const C& c) -> std::string {
          return c.pretrain.seq_len <= c.model.max_seq_len ? "" : "pretrain.seq_len must be <= model.max_seq_len";
        })
        .Rule({"pretrain.ladder"}, [](const C& c) -> std::string {
          return c.pretrain.ladder.empty() ? "expected at least one token budget" : "";
        })
        .Rule({"study.sizes"}, [](const C& c) -> std::string {
          for (size_t i = 0; i < c.study.sizes.size(); ++i) {
            const std::string& name = c.study.sizes[i];
            std::string known;
            bool ok = false;
            for (const auto& n : ModelConfig::PresetNames()) ok |= n == name, known += (known.empty() ? "" : ", ") + n;
            if (!ok) return "'" + name + "' is not a model preset; expected one of: " + known;
            for (size_t j = 0; j < i; ++j)
              if (c.study.sizes[j] == name) return "'" + name + "' is listed twice";
          }
          return "";
        })
        .Rule({"finetune.seeds"}, [](const C& c) -> std::string {
          if (c.finetune.seeds.empty()) return "expected at least one seed";
          for (size_t i = 0; i < c.finetune.seeds.size(); ++i)
            for (size_t j = i + 1; j < c.finetune.seeds.size(); ++j)
              if (c.finetune.seeds[i] == c.finetune.seeds[j])
                return "seed " + std::to_string(c.finetune.seeds[i]) + " is listed twice";
          return "";
        });
    DeclareOptimFields(s, "pretrain", [](C& c) -> OptimConfig& { return c.pretrain.optim; });
    DeclareOptimFields(s, "finetune", [](C& c) -> OptimConfig& { return c.finetune.optim; }, {"lr"});
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

int64_t FinetuneTokens(const StudyConfig& c) {
  if (c.finetune.tokens.value > 0) return c.finetune.tokens.value;
  int64_t smallest = INT64_MAX;
  for (const Size& n : c.pretrain.ladder) smallest = std::min(smallest, n.value);
  return std::max<int64_t>(1, smallest / 10);
}

StudyConfig LoadStudyConfig(const std::string& path, const std::vector<std::string>& overrides) {
  return LoadConfigWithModelPreset(StudySchema(), path, overrides, StudyConfig{},
                                   [](StudyConfig& c) -> ModelConfig& { return c.model; });
}

}  // namespace ot
