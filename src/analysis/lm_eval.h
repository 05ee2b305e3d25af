// lm-evaluation-harness semantics over a LogProbModel (docs/lm_eval.md): multiple-choice task files
// scored as (context, target_delimiter + choice) requests with acc / acc_norm (per character) /
// acc_bytes (per UTF-8 byte), rolling-log-likelihood files with word_perplexity / byte_perplexity /
// bits_per_byte, per-document samples, and the results JSON in lm-eval's layout. Entry points:
// EncodePair, TokenizeMcTask, ScoreMcTask, TokenizeRollingTask, ScoreRollingTask, McSamples,
// RollingSamples, LmEvalResults.
#pragma once

#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "analysis/scoring.h"
#include "data/lm_eval_tasks.h"

namespace ot {

// Text → token ids with no special tokens (data::TextTokenizer::Encode: SentencePiece or
// tokenizer.json).
using EncodeFn = std::function<std::vector<int32_t>(std::string_view)>;

// lm-eval's HFLM._encode_pair: trailing whitespace of the context moves to the front of the
// continuation; context ids = Encode(context), continuation ids = Encode(context + continuation)
// after the first |context ids| tokens. An empty context is [prefix_token] with continuation
// Encode(continuation).
struct EncodedPair {
  std::vector<int32_t> context, continuation;
};
EncodedPair EncodePair(const EncodeFn& encode, int32_t prefix_token, std::string_view context,
                       std::string_view continuation);

struct McTaskOptions {
  std::string target_delimiter = " ";  // lm-eval's default; put between context and each choice
  int64_t limit = 0;                   // first N documents (0 = all), lm-eval's --limit
  bool skip_long = false;  // skip (and count) documents with a choice longer than the window
};

// A task file's requests, tokenized once: per document, one LoglikRequest per choice, and the
// lengths acc_norm / acc_bytes divide by (of the choice string without the delimiter, as lm-eval's
// completion_len = len(choice)).
struct McTokenized {
  std::string name, path;
  int64_t original = 0;  // documents in the file (n-samples "original")
  int64_t skipped = 0;   // documents left out for a choice longer than the window (skip_long)
  struct Doc {
    std::vector<LoglikRequest> requests;
    std::vector<int64_t> chars, bytes;
    int gold = -1;
    int64_t index = 0;  // position in the file (skip_long leaves gaps)
    data::McDoc doc;    // the file's document as read (for per-document samples)
  };
  std::vector<Doc> docs;  // the first `limit` ("effective")
  McTaskOptions options;
};
// Throws Error naming the file, document id and choice when a choice encodes to no tokens or to
// more tokens than the window `max_seq_len` holds (lm-eval would score a cut continuation).
McTokenized TokenizeMcTask(const data::McTaskFile& file, const EncodeFn& encode,
                           int32_t prefix_token, const McTaskOptions& options, int max_seq_len);

struct McTaskScores {
  int64_t n = 0;
  double acc = 0, acc_stderr = 0, acc_norm = 0, acc_norm_stderr = 0, acc_bytes = 0,
         acc_bytes_stderr = 0;
  std::vector<std::vector<double>> loglik;       // per document, per choice
  std::vector<int> pred, pred_norm, pred_bytes;  // per document: argmax (first index on ties)
};
// acc: argmax_i loglik_i; acc_norm: argmax_i loglik_i / chars_i; acc_bytes: argmax_i loglik_i /
// bytes_i; each a mean of 0/1 hits with stderr = sample std / sqrt(n) (lm-eval's mean_stderr).
McTaskScores ScoreMcTask(LogProbModel& model, const McTokenized& task, int batch);

// A rolling task tokenized once: per document [prefix_token] + Encode(text), its words and UTF-8
// bytes.
struct RollingTokenized {
  std::string name, path;
  std::vector<std::vector<int32_t>> docs;
  std::vector<int64_t> words, bytes;
};
RollingTokenized TokenizeRollingTask(const data::RollingTaskFile& file, const EncodeFn& encode,
                                     int32_t prefix_token);

struct RollingTaskScores {
  int64_t docs = 0, tokens = 0, words = 0, bytes = 0;
  double loglik = 0;  // summed over documents, nats
  double word_perplexity = 0, byte_perplexity = 0, bits_per_byte = 0;
  std::vector<RollingResult> per_doc;  // each document's log-likelihood and tokens scored
};
// Each document's total log-likelihood over lm-eval's disjoint rolling windows (every token scored
// once, each window with up to max_seq_len tokens of context; BatchRollingLogLikelihoods); then
// lm-eval's weighted aggregates: word_perplexity = exp(-sum loglik / sum words), byte_perplexity =
// exp(-sum loglik / sum bytes), bits_per_byte = -sum loglik / sum bytes / ln 2.
RollingTaskScores ScoreRollingTask(LogProbModel& model, const RollingTokenized& task, int batch);

// Per-document samples (lm-eval's --log_samples), one JSON object per scored document in file
// order. Multiple choice: "doc_id" (position in the file), "doc" (id, context, choices, gold as
// read), "target" (gold), "arguments" ([context, delimiter + choice] per choice), "loglik" (per
// choice, nats), "continuation_tokens" (per choice), "pred" / "pred_norm" / "pred_bytes" and the
// 0/1 "acc" / "acc_norm" / "acc_bytes" they earn. lm-eval's "is_greedy" is left out: this engine
// scores the target tokens only, not the full logits. Rolling: "doc_id", "loglik", "tokens"
// (scored), "words", "bytes", "word_perplexity", "byte_perplexity", "bits_per_byte" of that
// document alone.
std::vector<nlohmann::json> McSamples(const McTokenized& task, const McTaskScores& scores);
std::vector<nlohmann::json> RollingSamples(const RollingTokenized& task,
                                           const RollingTaskScores& scores);

// The results in lm-eval's layout: "results" {task: {"alias", "<metric>,none",
// "<metric>_stderr,none"}}, "group_subtasks", "configs", "versions", "n-shot", "higher_is_better",
// "n-samples" {original, effective}. The caller adds "config" (model, checkpoint) and "date".
nlohmann::json LmEvalResults(std::span<const McTokenized> mc,
                             std::span<const McTaskScores> mc_scores,
                             std::span<const RollingTokenized> rolling,
                             std::span<const RollingTaskScores> rolling_scores);

}  // namespace ot
