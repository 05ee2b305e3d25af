// The narrow scoring interface evaluation is written against (docs/design.md, style rule 12;
// lm-eval's LM API): a model is anything that returns log p(target_t | inputs_<=t) for a batch of
// rows. Entry points: LogProbModel, LogLikelihood, RollingLogLikelihood, BatchLogLikelihoods.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace ot {

class LogProbModel {
 public:
  virtual ~LogProbModel() = default;
  virtual int max_seq_len() const = 0;
  virtual int max_batch() const = 0;
  // inputs, targets: (B,T) row-major; targets < 0 are ignored (their logprob is written as 0).
  // logprobs: (B,T). Rows must be scored independently of each other (no cross-row state).
  virtual void LogProbs(const int32_t* inputs, const int32_t* targets, int B, int T,
                        float* logprobs) = 0;
};

// One log-likelihood request: log p(continuation | context). Contexts longer than the model's
// window are truncated from the left (as lm-eval does); the continuation must fit in the window.
struct LoglikRequest {
  std::vector<int32_t> context;       // at least one token (e.g. the end-of-document token)
  std::vector<int32_t> continuation;  // at least one token
};

struct LoglikResult {
  double logprob = 0;      // sum over continuation tokens, accumulated in double
  bool is_greedy = false;  // reserved (needs full logits); always false in this engine
};

// Scores requests in batches of `batch` rows, each row padded to the model's window so a request's
// score does not depend on the batch it shares or its position (docs/reliability.md case 24).
std::vector<LoglikResult> BatchLogLikelihoods(LogProbModel& model,
                                              std::span<const LoglikRequest> requests, int batch);

double LogLikelihood(LogProbModel& model, const LoglikRequest& request);

// Sum of log p over the tokens doc[first_target..] (first_target >= 1), scored in disjoint
// prediction windows of the model's length, each window conditioned on up to max_seq_len preceding
// tokens (lm-eval's rolling log-likelihood with full-context windows). With first_target =
// |context| it is the log-likelihood of a continuation of any length. Returns {sum logprob, tokens
// scored}.
struct RollingResult {
  double logprob = 0;
  int64_t tokens = 0;
};
RollingResult RollingLogLikelihood(LogProbModel& model, std::span<const int32_t> doc, int batch,
                                   size_t first_target = 1);
// Many documents at once (rows of all documents share batches): one result per document.
std::vector<RollingResult> BatchRollingLogLikelihoods(LogProbModel& model,
                                                      std::span<const std::vector<int32_t>> docs,
                                                      std::span<const size_t> first_targets,
                                                      int batch);

}  // namespace ot
