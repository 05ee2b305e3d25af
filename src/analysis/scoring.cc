// Batched log-likelihood scoring over a LogProbModel.
#include "analysis/scoring.h"

#include <algorithm>

#include "core/check.h"

namespace ot {

namespace {
// One row to score: tokens (inputs + last target) and the positions whose targets count.
struct Row {
  std::vector<int32_t> tokens;  // length n+1: inputs are tokens[0..n-1], targets tokens[1..n]
  int first_scored = 0;         // first target index (0-based over the n targets) that counts
};

// Scores rows in batches; every row padded to the full window T. Returns per-row sum of logprobs.
std::vector<double> ScoreRows(LogProbModel& model, const std::vector<Row>& rows, int batch) {
  const int T = model.max_seq_len();
  batch = std::max(1, std::min(batch, model.max_batch()));
  std::vector<int32_t> inputs(static_cast<size_t>(batch) * T), targets(inputs.size());
  std::vector<float> logprobs(inputs.size());
  std::vector<double> sums(rows.size(), 0.0);
  for (size_t start = 0; start < rows.size(); start += batch) {
    const int B = static_cast<int>(std::min<size_t>(batch, rows.size() - start));
    std::fill(inputs.begin(), inputs.end(), 0);
    std::fill(targets.begin(), targets.end(), -1);
    for (int b = 0; b < B; ++b) {
      const Row& row = rows[start + b];
      const int n = static_cast<int>(row.tokens.size()) - 1;
      OT_CHECK(n >= 1 && n <= T) << "row of " << n << " targets for window " << T;
      for (int t = 0; t < n; ++t) {
        inputs[b * T + t] = row.tokens[t];
        if (t >= row.first_scored) targets[b * T + t] = row.tokens[t + 1];
      }
    }
    // Always run full (batch, T) shapes: the same GEMM shapes for every request, whatever B is.
    model.LogProbs(inputs.data(), targets.data(), batch, T, logprobs.data());
    for (int b = 0; b < B; ++b) {
      double s = 0;
      for (int t = 0; t < T; ++t)
        if (targets[b * T + t] >= 0) s += logprobs[b * T + t];
      sums[start + b] = s;
    }
  }
  return sums;
}
}  // namespace

std::vector<LoglikResult> BatchLogLikelihoods(LogProbModel& model,
                                              std::span<const LoglikRequest> requests, int batch) {
  const int T = model.max_seq_len();
  std::vector<Row> rows;
  rows.reserve(requests.size());
  for (const auto& r : requests) {
    OT_CHECK(!r.context.empty() && !r.continuation.empty()) << "empty context or continuation";
    OT_CHECK(static_cast<int>(r.continuation.size()) <= T)
        << "continuation of " << r.continuation.size() << " tokens exceeds the window " << T;
    // Keep the last (T + 1 - |continuation|) context tokens: inputs are T tokens at most.
    const size_t keep =
        std::min(r.context.size(), static_cast<size_t>(T + 1) - r.continuation.size());
    Row row;
    row.tokens.assign(r.context.end() - keep, r.context.end());
    row.tokens.insert(row.tokens.end(), r.continuation.begin(), r.continuation.end());
    row.first_scored = static_cast<int>(keep) - 1;
    rows.push_back(std::move(row));
  }
  const auto sums = ScoreRows(model, rows, batch);
  std::vector<LoglikResult> out(requests.size());
  for (size_t i = 0; i < out.size(); ++i) out[i].logprob = sums[i];
  return out;
}

double LogLikelihood(LogProbModel& model, const LoglikRequest& request) {
  return BatchLogLikelihoods(model, std::span(&request, 1), 1)[0].logprob;
}

std::vector<RollingResult> BatchRollingLogLikelihoods(LogProbModel& model,
                                                      std::span<const std::vector<int32_t>> docs,
                                                      std::span<const size_t> first_targets,
                                                      int batch) {
  OT_CHECK(docs.size() == first_targets.size()) << "one first_target per document";
  const size_t T = static_cast<size_t>(model.max_seq_len());
  std::vector<Row> rows;
  std::vector<size_t> owner;
  std::vector<RollingResult> results(docs.size());
  for (size_t d = 0; d < docs.size(); ++d) {
    const auto& doc = docs[d];
    const size_t first = first_targets[d];
    OT_CHECK(first >= 1) << "the first token of a document has no context";
    // Targets doc[q+1 .. q+len] for disjoint windows starting at q = first-1; each row starts up to
    // T-len tokens earlier so every window sees T inputs when the document allows.
    for (size_t q = first - 1; q + 1 < doc.size(); q += T) {
      const size_t len = std::min(T, doc.size() - 1 - q);
      const size_t begin = q + len >= T ? q + len - T : 0;
      Row row;
      row.tokens.assign(doc.begin() + begin, doc.begin() + q + len + 1);
      row.first_scored = static_cast<int>(q - begin);
      rows.push_back(std::move(row));
      owner.push_back(d);
      results[d].tokens += static_cast<int64_t>(len);
    }
  }
  const auto sums = ScoreRows(model, rows, batch);
  for (size_t r = 0; r < rows.size(); ++r) results[owner[r]].logprob += sums[r];
  return results;
}

RollingResult RollingLogLikelihood(LogProbModel& model, std::span<const int32_t> doc, int batch,
                                   size_t first_target) {
  std::vector<std::vector<int32_t>> docs{{doc.begin(), doc.end()}};
  std::vector<size_t> firsts{first_target};
  return BatchRollingLogLikelihoods(model, docs, firsts, batch)[0];
}

}  // namespace ot
