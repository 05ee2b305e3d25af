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
            "train.threads", "OpenMP threads (0 = OMP_NUM_THREADS, else 1 for d_model <= 64, else all cores)",
            [](C& c) -> int& { return c.train.threads; }, AtLeast(0))
        .Field("train.quiet", "no progress output", [](C& c) -> bool& { return c.train.quiet; })
        .Field(
            "optim.kind", "optimizer", [](C& c) -> std::string& { return c.optim.kind; },
            OneOf({"adamw"}))
        .Field(
            "optim.lr", "peak learning rate", [](C& c) -> double& { return c.optim.lr; }, Above(0))
        .Field(
            "optim.lr_min", "final learning rate of cosine/linear/wsd decay",
            [](C& c) -> double& { return c.optim.lr_min; }, AtLeast(0))
        .Field(
            "optim.beta1", "AdamW beta1", [](C& c) -> double& { return c.optim.beta1; },
            Between(0, 0.999999))
        .Field(
            "optim.beta2", "AdamW beta2", [](C& c) -> double& { return c.optim.beta2; },
            Between(0, 0.999999))
        .Field(
            "optim.eps", "AdamW epsilon", [](C& c) -> double& { return c.optim.eps; }, Above(0))
        .Field(
            "optim.weight_decay", "decoupled weight decay",
            [](C& c) -> double& { return c.optim.weight_decay; }, AtLeast(0))
        .Field("optim.decay_groups", "parameter groups that get weight decay",
               [](C& c) -> std::vector<std::string>& { return c.optim.decay_groups; })
        .Field(
            "optim.clip", "max global gradient norm (0 = off)",
            [](C& c) -> double& { return c.optim.clip; }, AtLeast(0))
        .Field("optim.warmup", "warmup tokens (0 = use warmup_fraction)",
               [](C& c) -> Size& { return c.optim.warmup; })
        .Field(
            "optim.warmup_fraction", "warmup as a share of the budget (when warmup = 0)",
            [](C& c) -> double& { return c.optim.warmup_fraction; }, Between(0, 1))
        .Field(
            "optim.schedule", "cosine | constant | linear | wsd",
            [](C& c) -> std::string& { return c.optim.schedule; },
            OneOf({"cosine", "constant", "linear", "wsd"}))
        .Field(
            "optim.wsd_decay_fraction", "WSD: share of the budget in the final decay",
            [](C& c) -> double& { return c.optim.wsd_decay_fraction; }, Between(0, 1))
        .Rule({"train.seq_len", "model.max_seq_len"},
              [](const C& c) {
                return c.train.seq_len <= c.model.max_seq_len
                           ? ""
                           : "train.seq_len = " + std::to_string(c.train.seq_len) +
                                 " must be <= model.max_seq_len = " + std::to_string(c.model.max_seq_len);
              })
        .Rule({"train.budget", "train.batch_size", "train.seq_len"},
              [](const C& c) {
                const int64_t per_step = int64_t{c.train.batch_size} * c.train.seq_len;
                return c.train.budget.value >= per_step
                           ? ""
                           : "train.budget must cover at least one step of batch_size * seq_len = " +
                                 std::to_string(per_step) + " tokens";
              })
        .Rule({"train.ladder", "train.budget"},
              [](const C& c) {
                for (const auto& t : c.train.ladder)
                  if (t.value > c.train.budget.value)
                    return "ladder point " + FormatSize(t.value) + " exceeds train.budget = " +
                           FormatSize(c.train.budget.value);
                return std::string();
              })
        .Rule({"optim.lr_min", "optim.lr"},
              [](const C& c) {
                return c.optim.lr_min <= c.optim.lr ? "" : "optim.lr_min must be <= optim.lr";
              })
        .Rule({"optim.decay_groups"}, [](const C& c) {
          for (const auto& g : c.optim.decay_groups)
            if (g != "embed" && g != "attn" && g != "mlp" && g != "norm" && g != "head")
              return "'" + g + "' is not a parameter group; expected embed, attn, mlp, norm or head";
          return std::string();
        });
    return s;
  }();
  return schema;
}

PretrainConfig LoadPretrainConfig(const std::string& path, const std::vector<std::string>& overrides) {
  return LoadConfigWithModelPreset(PretrainSchema(), path, overrides, PretrainConfig{},
                                   [](PretrainConfig& c) -> ModelConfig& { return c.model; });
}

const std::vector<std::string>& ResumeMutableKeys() {
  static const std::vector<std::string> keys = {
      "train.log_every",   "train.eval_every",   "train.eval_batches", "train.checkpoint_every",
      "train.threads",     "train.quiet",        "train.ladder",       "data.val",
      "train.spike_sigma", "train.keep_periodic"};
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
    return std::string(shape ? "the model shape changed: " : "the training setup changed: ") + "key '" +
           f.key + "' was " + a + " in the saved run and is " + b +
           " now; resume with the saved value or start a new run directory";
  }
  return "";
}

}  // namespace ot
