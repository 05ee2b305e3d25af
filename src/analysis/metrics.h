// Evaluation metrics over a LogProbModel: token-level perplexity of a packed token stream and
// multiple-choice accuracy (acc and acc_norm by choice length in bytes, as lm-evaluation-harness).
// Entry points: StreamPerplexity, MultipleChoice, MeanStderr.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "analysis/scoring.h"

namespace ot {

struct PerplexityResult {
  double loss = 0;         // mean negative log-likelihood per scored token, nats
  double loss_stderr = 0;  // standard error of the per-window mean losses
  double ppl = 0;          // exp(loss)
  int64_t tokens = 0, windows = 0;
  // Stated in every results file (docs/reliability.md case 25).
  static constexpr const char* kDefinition =
      "token-level: documents packed with end-of-document tokens, non-overlapping windows of T+1 "
      "tokens "
      "(stride T, no context carried across windows), every target token of a window scored; when "
      "fewer "
      "windows than the stream holds are asked for, window w of n is the (w * available / n)-th, "
      "spread "
      "evenly over the whole stream; ppl = exp(mean nats per token)";
};

// Scores the first `max_windows` windows (all when <= 0) of length T = model.max_seq_len().
PerplexityResult StreamPerplexity(LogProbModel& model, std::span<const int32_t> tokens, int batch,
                                  int64_t max_windows = 0);

struct McItem {
  std::vector<int32_t> context;
  std::vector<std::vector<int32_t>> choices;  // tokenised continuations (with their leading space)
  std::vector<int> choice_bytes;              // UTF-8 byte length of each choice's text (acc_norm)
  int gold = -1;
};

struct McScores {
  double acc = 0, acc_stderr = 0, acc_norm = 0, acc_norm_stderr = 0;
  int64_t n = 0;
  std::vector<int> predicted, predicted_norm;  // per item
};

// acc: argmax of sum log p(choice); acc_norm: argmax of sum log p(choice) / bytes(choice). Ties go
// to the lower index. Standard errors as lm-eval: sample std / sqrt(n).
McScores MultipleChoice(LogProbModel& model, std::span<const McItem> items, int batch);

// Mean and its standard error (sample std / sqrt(n)); stderr 0 for n < 2.
std::pair<double, double> MeanStderr(std::span<const double> values);

}  // namespace ot
