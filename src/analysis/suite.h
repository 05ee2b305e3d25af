// The evaluation suite every stage shares: general-validation perplexity (the OOD probe that plays
// C4's role), the real C4 sample's perplexity, and per task the ID loss on held-out targets and
// multiple-choice / label accuracy. Results in lm-evaluation-harness shape (task → metric → value,
// *_stderr, samples). Task files in lm-eval form (docs/lm_eval.md) are scored alongside, in
// lm-eval's results layout. Entry points: EvalSuiteConfig, DeclareEvalFields, EvalSuite::Run,
// EvalConfig, RunEvalStage.
#pragma once

#include <filesystem>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "analysis/lm_eval.h"
#include "analysis/metrics.h"
#include "analysis/model_io.h"
#include "core/config.h"
#include "data/task_tokens.h"
#include "data/text_tokenizer.h"
#include "data/token_file.h"
#include "engine/compute_config.h"

namespace ot {

struct EvalSuiteConfig {
  std::string data_dir;            // a prepared data directory (overtrain data prepare)
  int batch = 16;                  // rows per forward pass
  int seq_len = 0;                 // window; 0 = the model's max_seq_len
  int64_t windows = 64;            // general-validation windows scored (0 = all)
  bool c4 = true;                  // also the C4 sample (c4.val.tok) when the data dir has it
  int64_t c4_windows = 64;         // C4 windows scored (0 = all)
  std::vector<std::string> tasks;  // task suites: ID loss + accuracy where the task has choices
  int64_t max_examples = 200;      // per task (0 = all)
  int64_t max_target_tokens =
      256;  // per example: only the first N target tokens are scored (0 = all)
  // Benchmarks in lm-eval form (docs/lm_eval.md), tokenized with the data dir's tokenizer.
  std::vector<std::string> task_files;     // multiple-choice files (JSONL context/choices/gold)
  std::vector<std::string> rolling_files;  // rolling files (.txt one document, .jsonl {"text"})
  std::string target_delimiter = " ";      // between context and choice (lm-eval's default)
  int64_t task_limit = 0;                  // documents per task file (0 = all; lm-eval's --limit)
  // A task-file document with a choice longer than the window: skipped and counted (true), or an
  // error that stops the evaluation (false).
  bool skip_long_docs = false;
  // Per-document samples of the task and rolling files, written beside the results as
  // samples_<task>.jsonl (lm-eval's --log_samples; McSamples, RollingSamples).
  bool log_samples = false;
};

// Declares data.dir and the [eval] section into any schema whose struct holds an EvalSuiteConfig.
template <typename S, typename Get>
void DeclareEvalFields(ConfigSchema<S>& schema, Get get) {
  auto g = [get](S& s) -> EvalSuiteConfig& { return get(s); };
  schema
      .Field("data.dir", "prepared data directory (overtrain data prepare --out)",
             [g](S& s) -> std::string& { return g(s).data_dir; })
      .Field(
          "eval.batch", "rows per forward pass", [g](S& s) -> int& { return g(s).batch; },
          Between(1, kMaxBatchSize))
      .Field(
          "eval.seq_len", "window length; 0 = the model's max_seq_len",
          [g](S& s) -> int& { return g(s).seq_len; }, Between(0, kMaxSeqLen))
      .Field(
          "eval.windows", "general-validation windows scored (0 = all)",
          [g](S& s) -> int64_t& { return g(s).windows; }, AtLeast(0))
      .Field("eval.c4", "also score the C4 sample (c4.val.tok) when present",
             [g](S& s) -> bool& { return g(s).c4; })
      .Field(
          "eval.c4_windows", "C4 windows scored (0 = all)",
          [g](S& s) -> int64_t& { return g(s).c4_windows; }, AtLeast(0))
      .Field(
          "eval.max_target_tokens", "target tokens scored per task example (0 = all)",
          [g](S& s) -> int64_t& { return g(s).max_target_tokens; }, AtLeast(0))
      .Field("eval.tasks", "task suites to score (ID loss, accuracy)",
             [g](S& s) -> std::vector<std::string>& { return g(s).tasks; })
      .Field(
          "eval.max_examples", "examples per task (0 = all)",
          [g](S& s) -> int64_t& { return g(s).max_examples; }, AtLeast(0))
      .Field("eval.task_files", "lm-eval multiple-choice task files (JSONL; docs/lm_eval.md)",
             [g](S& s) -> std::vector<std::string>& { return g(s).task_files; })
      .Field("eval.rolling_files",
             "lm-eval rolling-loglikelihood files (.txt one document, .jsonl {\"text\"})",
             [g](S& s) -> std::vector<std::string>& { return g(s).rolling_files; })
      .Field("eval.target_delimiter", "string between a task file's context and each choice",
             [g](S& s) -> std::string& { return g(s).target_delimiter; })
      .Field(
          "eval.task_limit", "documents scored per task file (0 = all)",
          [g](S& s) -> int64_t& { return g(s).task_limit; }, AtLeast(0))
      .Field("eval.skip_long_docs",
             "skip (and count in n-samples) a task-file document whose continuation exceeds the "
             "window, instead of stopping",
             [g](S& s) -> bool& { return g(s).skip_long_docs; })
      .Field("eval.log_samples",
             "also write each task file's per-document scores as samples_<task>.jsonl (lm-eval's "
             "--log_samples)",
             [g](S& s) -> bool& { return g(s).log_samples; });
}

// The evaluation window of `suite` for `model`: eval.seq_len, or the model's max_seq_len when 0.
// Throws Error naming eval.seq_len when it exceeds the model's max_seq_len.
int EvalWindow(const EvalSuiteConfig& suite, const ModelConfig& model);

// The backend shape an evaluation suite scores with (eval.batch rows of EvalWindow tokens).
BackendPlan EvalPlan(const EvalSuiteConfig& suite, const ModelConfig& model);

// Per task file, the per-document samples of one evaluation (EvalSuite::samples).
using LmEvalSampleSet = std::vector<std::pair<std::string, std::vector<nlohmann::json>>>;

// Holds the data once (validation tokens, task splits, tokenizer byte lengths) and scores whatever
// weights the backend holds when Run or GeneralLoss is called (the backend must be planned with
// EvalPlan's evaluation shape).
class EvalSuite {
 public:
  EvalSuite(const EvalSuiteConfig& config, Backend& backend);
  // Full suite for the backend's current weights: {"results": {...}, "definitions": {...}}, plus
  // "lm_eval" (the task files' results in lm-eval's layout, LmEvalResults) when task or rolling
  // files are configured.
  nlohmann::json Run();
  // The per-document samples of the last Run, per task file in config order (eval.log_samples;
  // empty otherwise).
  const LmEvalSampleSet& samples() const { return samples_; }
  // Only the general-validation loss (the perturbation probe).
  PerplexityResult GeneralLoss();
  int64_t train_tokens_per_epoch() const { return train_tokens_; }

 private:
  nlohmann::json ScoreTask(const data::TaskSplit& split);
  void LoadLmEvalTasks(const data::TextTokenizer& tokenizer, const ModelConfig& model);
  EvalSuiteConfig config_;
  BackendScorer scorer_;
  std::vector<int32_t> general_, c4_;
  std::vector<data::TaskSplit> tasks_;
  std::vector<std::vector<int>> choice_bytes_;  // per task: byte length of each shared label
  std::map<std::string, std::vector<std::vector<int>>> example_choice_bytes_;
  std::vector<McTokenized> lm_mc_;
  std::vector<RollingTokenized> lm_rolling_;
  LmEvalSampleSet samples_;
  int64_t train_tokens_ = 0;
};

// Writes `samples` as <out>/samples_<task>.jsonl, one document per line, and lists the files in
// lm_eval["samples"] ({task: file name}). Removes the samples files that `stale` (an earlier
// results file's "samples" block in the same --out) lists and this run did not rewrite; returns
// their paths.
std::vector<std::string> WriteLmEvalSamples(const std::filesystem::path& out,
                                            const LmEvalSampleSet& samples, nlohmann::json& lm_eval,
                                            const nlohmann::json& stale);

// `overtrain eval`: a checkpoint + a suite → <out>/eval.json, and <out>/lm_eval_results.json
// (lm-eval's results file: the "lm_eval" block plus "config" and "date") when task or rolling files
// are configured.
struct EvalConfig {
  CheckpointRef checkpoint;  // the directory and the pre-training it stands for
  EvalSuiteConfig suite;
  ComputeConfig compute;  // compute.*: the backend that scores
};
const ConfigSchema<EvalConfig>& EvalSchema();
int RunEvalStage(const EvalConfig& config, const std::filesystem::path& out);

}  // namespace ot
