// The study's result rows, declared once: each row type lists its fields in one Visit function, and
// the writers (perturb stage, study collector, test fixtures) and the reader (overtrain report)
// both go through it, so a key cannot drift between them. Entry points: PretrainRow, PerturbRow,
// FinetuneRow, BenchmarkRow, LrSweepRow, ToJson, FromJson (strict: an error names "<where>: key
// '<key>'").
// Layout: docs/formats.md.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

namespace ot {

// One evaluated base checkpoint (results/pretrain.jsonl).
struct PretrainRow {
  int64_t tokens = 0;
  double epochs = 0;
  int64_t seed = 0;
  double base_loss = 0, base_ppl = 0;
  std::optional<double> base_loss_stderr;  // over evaluation windows (the probe's sampling error)
  std::optional<double> c4_loss;
  // Vision (overtrain vision-study): accuracy on the pre-training test set (supervised), and the
  // linear probe on the downstream set (fit on training features, scored on the test split).
  std::optional<double> accuracy, probe_loss, probe_accuracy;
};

// One perturbation draw (results/perturb.jsonl, written by `overtrain perturb`).
struct PerturbRow {
  int64_t tokens = 0;
  double epochs = 0;
  int64_t seed = 0;
  double gamma = 0;
  int64_t draw = 0;
  std::string group;  // "all" = every tensor with sigma_init > 0; "backbone" = all but a ViT's head
  double loss = 0, base_loss = 0, delta = 0;
  std::string scale = "init";  // the noise scale, "init" | "relative" (model/noise.h)
};

// One fine-tuning run (results/finetune.jsonl).
struct FinetuneRow {
  int64_t tokens = 0;
  double epochs = 0;
  int64_t seed = 0;     // pre-training seed
  int64_t ft_seed = 0;  // fine-tuning data order
  std::string task;
  double lr = 0;
  double id_loss = 0, ood_loss = 0;
  std::optional<double> c4_loss, accuracy;
  std::optional<double> chance_accuracy;  // 1 / number of choices, when the task has choices
  std::optional<double>
      label_prior_loss;  // ID loss of predicting only the label prior (label tasks)
  double base_id_loss = 0, base_ood_loss = 0;
  std::optional<double> ood_accuracy;  // vision: accuracy of the retention measure
};

// One benchmark file (an lm-eval task file, eval.task_files / eval.rolling_files) scored on a base
// checkpoint or on a fine-tuned model (results/benchmarks.jsonl): the paper's Figure 1.
struct BenchmarkRow {
  int64_t tokens = 0;
  double epochs = 0;
  int64_t seed = 0;       // pre-training seed
  std::string model;      // "base" | "finetuned"
  std::string task;       // the fine-tuning task ("" for a base row)
  double lr = 0;          // the fine-tuning LR (0 for a base row)
  int64_t ft_seed = 0;    // the fine-tuning data order (0 for a base row)
  std::string benchmark;  // the task file's name (its file name without extensions)
  int64_t samples = 0;    // documents scored
  // Multiple-choice files: lm-eval's acc and acc_norm (per character) with their binomial standard
  // errors, and the accuracy of guessing (mean 1 / number of choices).
  std::optional<double> acc, acc_stderr, acc_norm, acc_norm_stderr, chance_acc;
  std::optional<double> bits_per_byte;  // rolling files
};

// One point of a ladder's pre-training LR sweep (results/lr_sweep.jsonl, written by `overtrain
// tune-lr`, study.tune_lr): the sweep's checkpoint at the reference budget, at lr = factor × the
// ladder's own pretrain.lr.
struct LrSweepRow {
  std::string arm;   // the ladder's arm, "" when the study has none
  int64_t seed = 0;  // the pre-training seed the sweep ran at (the study's first)
  int64_t tokens = 0;
  double epochs = 0;
  double lr = 0, factor = 0;
  std::optional<double> val_loss;         // general validation loss; null when it is not finite
  std::optional<double> val_loss_stderr;  // over evaluation windows
  bool chosen = false;  // the lowest val_loss (ties: the smaller lr); the ladder's LR
};

// The group of a perturbation over the whole model: "all", or "backbone" on a ViT (whose
// perturbation leaves the head alone): the rows the report's figures, sizes and arms read.
inline bool IsWholeModelGroup(const std::string& group) {
  return group == "all" || group == "backbone";
}

nlohmann::json ToJson(const PretrainRow& row);
nlohmann::json ToJson(const LrSweepRow& row);
nlohmann::json ToJson(const PerturbRow& row);
nlohmann::json ToJson(const FinetuneRow& row);
nlohmann::json ToJson(const BenchmarkRow& row);

// `where` names the row in errors ("results/perturb.jsonl:12"). Unknown keys are ignored; optional
// fields may be absent or null.
PretrainRow PretrainRowFromJson(const nlohmann::json& object, const std::string& where);
PerturbRow PerturbRowFromJson(const nlohmann::json& object, const std::string& where);
FinetuneRow FinetuneRowFromJson(const nlohmann::json& object, const std::string& where);
BenchmarkRow BenchmarkRowFromJson(const nlohmann::json& object, const std::string& where);
LrSweepRow LrSweepRowFromJson(const nlohmann::json& object, const std::string& where);

}  // namespace ot
