// Perplexity and multiple-choice metrics.
#include "analysis/metrics.h"

#include <cmath>
#include <tuple>

#include "core/check.h"

namespace ot {

std::pair<double, double> MeanStderr(std::span<const double> values) {
  const double n = static_cast<double>(values.size());
  if (values.empty()) return {0.0, 0.0};
  double mean = 0;
  for (double v : values) mean += v;
  mean /= n;
  if (values.size() < 2) return {mean, 0.0};
  double ss = 0;
  for (double v : values) ss += (v - mean) * (v - mean);
  return {mean, std::sqrt(ss / (n - 1)) / std::sqrt(n)};
}

PerplexityResult StreamPerplexity(LogProbModel& model, std::span<const int32_t> tokens, int batch,
                                  int64_t max_windows) {
  const int T = model.max_seq_len();
  const int64_t available = tokens.size() > static_cast<size_t>(T) ? (tokens.size() - 1) / T : 0;
  const int64_t windows = max_windows > 0 ? std::min(available, max_windows) : available;
  OT_CHECK(windows > 0) << "token stream of " << tokens.size()
                        << " tokens is shorter than one window of " << T + 1;
  std::vector<LoglikRequest> requests(windows);
  for (int64_t w = 0; w < windows; ++w) {
    // Window w of `windows` spread evenly over the whole stream (the same ones for every checkpoint
    // and condition), so the probe represents the set rather than its first documents.
    const int64_t index = w * available / windows;
    const auto* p = tokens.data() + index * T;
    requests[w].context.assign(p, p + 1);
    requests[w].continuation.assign(p + 1, p + T + 1);
  }
  const auto scores = BatchLogLikelihoods(model, requests, batch);
  std::vector<double> window_loss(windows);
  double total = 0;
  for (int64_t w = 0; w < windows; ++w) {
    window_loss[w] = -scores[w].logprob / T;
    total += -scores[w].logprob;
  }
  PerplexityResult r;
  r.tokens = windows * T;
  r.windows = windows;
  r.loss = total / static_cast<double>(r.tokens);
  r.loss_stderr = MeanStderr(window_loss).second;
  r.ppl = std::exp(r.loss);
  return r;
}

McScores MultipleChoice(LogProbModel& model, std::span<const McItem> items, int batch) {
  std::vector<LoglikRequest> requests;
  for (const auto& item : items) {
    OT_CHECK(item.choices.size() == item.choice_bytes.size() && !item.choices.empty())
        << "multiple-choice item needs choices with byte lengths";
    OT_CHECK(item.gold >= 0 && item.gold < static_cast<int>(item.choices.size()))
        << "gold out of range";
    for (const auto& c : item.choices) requests.push_back({item.context, c});
  }
  const auto scores = BatchLogLikelihoods(model, requests, batch);
  McScores out;
  std::vector<double> hit, hit_norm;
  size_t k = 0;
  for (const auto& item : items) {
    int best = 0, best_norm = 0;
    double best_lp = -INFINITY, best_lp_norm = -INFINITY;
    for (size_t c = 0; c < item.choices.size(); ++c, ++k) {
      const double lp = scores[k].logprob;
      const double lp_norm = lp / std::max(1, item.choice_bytes[c]);
      if (lp > best_lp) best_lp = lp, best = static_cast<int>(c);
      if (lp_norm > best_lp_norm) best_lp_norm = lp_norm, best_norm = static_cast<int>(c);
    }
    out.predicted.push_back(best);
    out.predicted_norm.push_back(best_norm);
    hit.push_back(best == item.gold ? 1.0 : 0.0);
    hit_norm.push_back(best_norm == item.gold ? 1.0 : 0.0);
  }
  std::tie(out.acc, out.acc_stderr) = MeanStderr(hit);
  std::tie(out.acc_norm, out.acc_norm_stderr) = MeanStderr(hit_norm);
  out.n = static_cast<int64_t>(items.size());
  return out;
}

}  // namespace ot
