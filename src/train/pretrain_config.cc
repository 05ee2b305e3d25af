// The pretrain schema, declared once (see pretrain_config.h).
#include "train/pretrain_config.h"

#include <algorithm>

namespace ot {

const ConfigSchema<PretrainConfig>& PretrainSchema() {
  static const ConfigSchema<PretrainConfig> schema = [] {
    using C = PretrainConfig;
    ConfigSchema<C> s;
    DeclareModelFields(s, [](C& c) -> ModelConfig& { return c.model; });
    s.Field("data.train", "training token file", [](C& c) -> std::string& { return c.data.train; })
        .Field("data.val", "validation token file (optional; enables val/loss)",
               [](C& c) -> std::string& { return c.data.val; })
        .Field(
            "train.batch_size", "sequences per step B",
            [](C& c) -> int& { return c.train.batch_size; }, Between(1, kMaxBatchSize))
        .Field(
            "train.seq_len", "tokens per sequence T (<= model.max_seq_len)",
            [](C& c) -> int& { return c.train.seq_len; }, Between(1, kMaxSeqLen))
        .Field(
            "train.budget", "training tokens of this run; the schedule spans it",
            [](C& c) -> Size& { return c.train.budget; }, Above(0))
        .Field(
            "train.seed", "seed of init and data order",
            [](C& c) -> int64_t& { return c.train.seed; }, AtLeast(0))
        .Field(
            "train.ladder", "token counts: checkpoints (series), budgets (runs, wsd)",
            [](C& c) -> std::vector<Size>& { return c.train.ladder; }, Above(0))
        .Field(
            "train.ladder_mode",
            "series: one run saving at each ladder point; runs: one run per ladder budget; wsd: "
            "one "
            "warmup-stable trunk with a cooldown branch per ladder budget",
            [](C& c) -> std::string& { return c.train.ladder_mode; },
            OneOf({"series", "runs", "wsd"}))
        .Field("train.checkpoint_every", "tokens between periodic checkpoints (0 = off)",
               [](C& c) -> Size& { return c.train.checkpoint_every; })
        .Field(
            "train.keep_periodic",
            "newest periodic checkpoints kept; ladder and final checkpoints are always kept (0 = "
            "keep all)",
            [](C& c) -> int& { return c.train.keep_periodic; }, AtLeast(0))
        .Field(
            "train.log_every", "steps between metrics rows",
            [](C& c) -> int64_t& { return c.train.log_every; }, AtLeast(1))
        .Field(
            "train.eval_every", "steps between val evaluations (0 = at the end only)",
            [](C& c) -> int64_t& { return c.train.eval_every; }, AtLeast(0))
        .Field(
            "train.eval_batches", "val batches per evaluation",
            [](C& c) -> int& { return c.train.eval_batches; }, AtLeast(1))
        .Field(
            "train.nan_policy", "on a NaN/Inf loss or gradient: abort or skip-step",
            [](C& c) -> std::string& { return c.train.nan_policy; }, OneOf({"abort", "skip-step"}))
        .Field(
            "train.spike_sigma", "loss-spike threshold in running std devs (0 = off)",
            [](C& c) -> double& { return c.train.spike_sigma; }, AtLeast(0))
        .Field(
            "train.threads",
            "OpenMP threads (0 = OMP_NUM_THREADS, else 1 for d_model <= 64, else all cores)",
            [](C& c) -> int& { return c.train.threads; }, AtLeast(0))
        .Field("train.quiet", "no progress output", [](C& c) -> bool& { return c.train.quiet; })
        .Rule({"train.seq_len", "model.max_seq_len"},
              [](const C& c) {
                return c.train.seq_len <= c.model.max_seq_len
                           ? ""
                           : "train.seq_len = " + std::to_string(c.train.seq_len) +
                                 " must be <= model.max_seq_len = " +
                                 std::to_string(c.model.max_seq_len);
              })
        .Rule(
            {"train.budget", "train.batch_size", "train.seq_len"},
            [](const C& c) {
              const int64_t per_step = int64_t{c.train.batch_size} * c.train.seq_len;
              return c.train.budget.value >= per_step
                         ? ""
                         : "train.budget must cover at least one step of batch_size * seq_len = " +
                               std::to_string(per_step) + " tokens";
            })
        .Rule({"train.ladder", "train.budget"}, [](const C& c) {
          for (const auto& t : c.train.ladder)
            if (t.value > c.train.budget.value)
              return "ladder point " + FormatSize(t.value) +
                     " exceeds train.budget = " + FormatSize(c.train.budget.value);
          return std::string();
        });
    DeclareOptimFields(s, "optim", [](C& c) -> OptimConfig& { return c.optim; });
    DeclareComputeFields(s, [](C& c) -> ComputeConfig& { return c.compute; });
    return s;
  }();
  return schema;
}

PretrainConfig LoadPretrainConfig(const std::string& path,
                                  const std::vector<std::string>& overrides) {
  return LoadConfigWithModelPreset(PretrainSchema(), path, overrides, PretrainConfig{},
                                   [](PretrainConfig& c) -> ModelConfig& { return c.model; });
}

const std::vector<std::string>& ResumeMutableKeys() {
  static const std::vector<std::string> keys = {
      "train.log_every",   "train.eval_every",    "train.eval_batches", "train.checkpoint_every",
      "train.threads",     "train.quiet",         "train.ladder",       "data.val",
      "train.spike_sigma", "train.keep_periodic", "compute.backend",    "compute.device"};
  return keys;
}

std::string ResumeProblem(const PretrainConfig& saved, const PretrainConfig& resumed) {
  const auto& mutable_keys = ResumeMutableKeys();
  for (const auto& f : PretrainSchema().fields()) {
    if (std::find(mutable_keys.begin(), mutable_keys.end(), f.key) != mutable_keys.end()) continue;
    if (f.key == "model.preset") continue;  // a name only; the shape fields decide
    const std::string a = f.print(saved), b = f.print(resumed);
    if (a == b) continue;
    const bool shape = f.key.rfind("model.", 0) == 0;
    return std::string(shape ? "the model shape changed: " : "the training setup changed: ") +
           "key '" + f.key + "' was " + a + " in the saved run and is " + b +
           " now; resume with the saved value or start a new run directory";
  }
  return "";
}

}  // namespace ot
