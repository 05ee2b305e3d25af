// The study config (declared once): data, model preset, the token-budget ladder and how it is
// produced (separate runs per budget / one series / WSD branches), schedule, seeds, the
// perturbation grid, the fine-tuning grid, evaluation sizes and the theory configuration. Entry
// points: StudyConfig, StudySchema, LoadStudyConfig.
#pragma once

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "core/config.h"
#include "engine/compute_config.h"
#include "model/config.h"
#include "optim/optim_config.h"

namespace ot {

// [checkpoints] series = [{dir = "...", tokens = "..."}, ...]: a study over published checkpoints
// (e.g. Pythia or OLMo revisions, Hugging Face model directories) instead of pre-training its own.
struct SeriesCheckpoint {
  std::string dir;  // a model directory (Hugging Face or overtrain checkpoint)
  Size tokens;      // the pre-training tokens it has seen
  bool operator==(const SeriesCheckpoint&) const = default;
};
struct CheckpointSeries {
  std::vector<SeriesCheckpoint> entries;
  bool empty() const { return entries.empty(); }
  static std::string SetFromToml(const toml::node& n, CheckpointSeries& out);
  static std::string PrintToml(const CheckpointSeries& v);
};

struct StudyConfig {
  struct Study {
    std::string name = "quick";
    std::string out;  // study directory; "" = runs/<name>
    std::vector<int64_t> seeds{1};
    std::vector<std::string>
        sizes;  // model presets compared side by side (one ladder each); empty = [model]
    std::vector<std::string>
        arms;      // named variants compared side by side (one ladder each); see arm_sets
    int jobs = 0;  // runs at a time; 0 = cores / threads_per_job
    int threads_per_job = 0;  // OMP threads per run; 0 = 1 for the nano preset, else 2
    // GPU planning (--dry-run with compute.device = cuda): the card's dense peak and the MFU the
    // estimate assumes (an H100 SXM's bf16 peak; 40% is the target, not a measurement).
    double gpu_peak_tflops = 989, gpu_mfu = 0.4;
    // Fair arms (study/tune_lr.h): before each ladder, sweep its pretrain.lr × each factor at one
    // reference budget (0 = the smallest ladder budget) and train the ladder at the best one.
    bool tune_lr = false;
    std::vector<double> tune_lr_factors{0.25, 0.5, 1, 2, 4};
    Size tune_lr_budget{0};
  } study;
  struct Data {
    std::string config;            // data prepare config file ("" = defaults)
    std::vector<std::string> set;  // extra data.* overrides, e.g. ["data.vocab_size=4096"]
    std::string data_dir;          // real task files and C4 (shared/data); "" = registry data only
    std::string cache_dir;         // fetched sources; "" = $OVERTRAIN_CACHE or ~/.cache/overtrain
    // {"prompt", "response"} JSON-lines files, each a fine-tuning task named by its file name
    // (data.pair_files of data prepare; list the names in finetune.tasks).
    std::vector<std::string> pair_files;
  } data;
  ModelConfig model = ModelConfig::Nano();
  struct Pretrain {
    std::string mode =
        "runs";  // runs (one cosine run per budget) | series (one run) | wsd (branches)
    std::vector<Size> ladder{Size{500000}, Size{1000000}, Size{2000000}, Size{4000000}};
    int batch_size = 16, seq_len = 64;
    std::string nan_policy = "abort";  // abort | skip-step
    // Data parallel under Slurm (--emit slurm): each pre-training run as one job of nodes x
    // tasks_per_node processes (train.batch_size must divide evenly). Local runs use one process.
    int nodes = 1, tasks_per_node = 1;
    OptimConfig optim;  // pretrain.*: every optimizer/schedule knob of the pretrain stage
  } pretrain;
  struct Perturb {
    std::vector<double> gammas{0.1, 0.2, 0.4};
    int draws = 5;
    std::vector<std::string> groups{"all"};
    // Each checkpoint is perturbed once per scale ("init" | "relative", model/noise.h); the report
    // keeps the scales apart.
    std::vector<std::string> scales{"init"};
  } perturb;
  struct Finetune {
    std::vector<std::string> tasks{"sentiment", "code"};
    std::vector<double> lrs{1e-4, 1e-3, 1e-2};  // the grid: each run's finetune.lr
    Size tokens{0};  // per run; 0 = 10% of the smallest pre-training budget
    std::vector<int64_t> seeds{
        1, 2, 3};  // data-order seeds: each point's standard error comes from these
    int batch_size = 16;
    double l2sp = 0.0, replay = 0.0;
    std::vector<double> wise_alphas;  // WiSE-FT blends evaluated per run
    OptimConfig optim{.lr = 1e-4,
                      .warmup_fraction = 0.1};  // finetune.* (all but lr, which the grid sets)
  } finetune;
  struct Diagnose {  // curvature per checkpoint (`overtrain diagnose`, analysis/diagnose.h)
    bool enabled = false;
    int batches = 4, max_iters = 30, probes = 8;
    double tol =
        1e-3;  // power iteration: converged when ‖Hv − λv‖/|λ| (≥ λ's relative error) is below it
  } diagnose;
  struct Eval {
    int batch = 16;
    int64_t windows = 256, c4_windows = 256, max_examples = 200, max_target_tokens = 256;
    // Benchmarks in lm-eval form (docs/lm_eval.md), scored on every base checkpoint and every
    // fine-tuned model with the same documents: the paper's Figure 1.
    std::vector<std::string> task_files, rolling_files;
    int64_t task_limit = 0;  // documents per file (0 = all)
    bool skip_long_docs = false;
    bool log_samples = false;  // samples_<task>.jsonl beside each run's eval.json
  } eval;
  struct Theory {
    std::string config = "configs/theory/reference.toml";  // "" = no theory panels
  } theory;
  struct Checkpoints {
    CheckpointSeries
        series;  // non-empty: these checkpoints replace pre-training (the paper's section 2)
    Size corpus_tokens{0};  // tokens per epoch of their pre-training corpus (epochs = tokens / it)
  } checkpoints;
  ComputeConfig
      compute;  // compute.*: the backend and device of every run (engine/compute_config.h)
  // [arms.<name>] tables: each arm's overrides of this study's own keys, as (key, TOML literal) in
  // file order, e.g. arms.sgd = {pretrain.kind = "sgd", pretrain.lr = 0.1}. An arm listed in
  // study.arms with no table is the baseline (no overrides).
  std::map<std::string, std::vector<std::pair<std::string, std::string>>> arm_sets;
  std::map<std::string, std::string> arm_origins;  // "<arm>.<key>" -> "file.toml:12" or "--set"
};

// One ladder of the study: an arm, a model size, both or neither.
struct StudyVariant {
  std::string arm, size;  // "" when the study has no arms / no sizes
  std::string tag;        // run-name prefix and directory: "", "arm-sgd/", "size-pico-32/",
                          // "arm-sgd/size-pico-32/"
  StudyConfig config;     // the study with the arm's overrides and the size's model applied
};
// Every (arm, size) of the study, arms outermost, in declaration order.
std::vector<StudyVariant> StudyVariants(const StudyConfig& c);
// The study with `arm`'s overrides applied and validated; throws Error naming the arm and key.
StudyConfig ConfigForArm(const StudyConfig& c, const std::string& arm);

const ConfigSchema<StudyConfig>& StudySchema();
// The model presets of the study: study.sizes, or the one [model] (named by its preset) when empty.
std::vector<std::string> StudySizes(const StudyConfig& c);
// The study with [model] set to `size`'s preset (keeping [model]'s vocabulary, which the data
// shares); `size` = the [model] preset itself returns c unchanged.
StudyConfig ConfigForSize(const StudyConfig& c, const std::string& size);

// The study's token budgets: checkpoints.series' tokens when it is set, else pretrain.ladder.
std::vector<int64_t> StudyBudgets(const StudyConfig& c);
// finetune.tokens, or 10% of the smallest budget (StudyBudgets) when it is 0.
int64_t FinetuneTokens(const StudyConfig& c);
// Defaults ← the model preset named in the file ← the file ← overrides; validated.
StudyConfig LoadStudyConfig(const std::string& path, const std::vector<std::string>& overrides);

}  // namespace ot
