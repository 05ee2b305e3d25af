// Per-document samples of lm-eval task files (lm-eval's --log_samples): what each document was
// asked, what the model answered and what it earned, so a surprising accuracy can be traced to the
// documents behind it.
#include <cmath>

#include "analysis/lm_eval.h"
#include "core/check.h"

namespace ot {

std::vector<nlohmann::json> McSamples(const McTokenized& task, const McTaskScores& scores) {
  OT_CHECK(scores.loglik.size() == task.docs.size()) << "one score per document of " << task.name;
  std::vector<nlohmann::json> out;
  out.reserve(task.docs.size());
  for (size_t d = 0; d < task.docs.size(); ++d) {
    const McTokenized::Doc& doc = task.docs[d];
    nlohmann::json arguments = nlohmann::json::array(), tokens = nlohmann::json::array();
    for (size_t c = 0; c < doc.doc.choices.size(); ++c) {
      arguments.push_back({doc.doc.context, task.options.target_delimiter + doc.doc.choices[c]});
      tokens.push_back(doc.requests[c].continuation.size());
    }
    auto hit = [&](int pred) { return pred == doc.gold ? 1.0 : 0.0; };
    out.push_back({{"doc_id", doc.index},
                   {"doc",
                    {{"id", doc.doc.id},
                     {"context", doc.doc.context},
                     {"choices", doc.doc.choices},
                     {"gold", doc.doc.gold}}},
                   {"target", doc.gold},
                   {"arguments", std::move(arguments)},
                   {"loglik", scores.loglik[d]},
                   {"continuation_tokens", std::move(tokens)},
                   {"pred", scores.pred[d]},
                   {"pred_norm", scores.pred_norm[d]},
                   {"pred_bytes", scores.pred_bytes[d]},
                   {"acc", hit(scores.pred[d])},
                   {"acc_norm", hit(scores.pred_norm[d])},
                   {"acc_bytes", hit(scores.pred_bytes[d])}});
  }
  return out;
}

std::vector<nlohmann::json> RollingSamples(const RollingTokenized& task,
                                           const RollingTaskScores& scores) {
  OT_CHECK(scores.per_doc.size() == task.docs.size()) << "one score per document of " << task.name;
  std::vector<nlohmann::json> out;
  out.reserve(task.docs.size());
  for (size_t d = 0; d < task.docs.size(); ++d) {
    const double ll = scores.per_doc[d].logprob;
    const auto words = static_cast<double>(task.words[d]);
    const auto bytes = static_cast<double>(task.bytes[d]);
    // A document of no words (or bytes) has no per-word (per-byte) rate: null, not inf.
    auto rate = [](double value, double n) {
      return n > 0 ? nlohmann::json(value) : nlohmann::json(nullptr);
    };
    out.push_back({{"doc_id", d},
                   {"loglik", ll},
                   {"tokens", scores.per_doc[d].tokens},
                   {"words", task.words[d]},
                   {"bytes", task.bytes[d]},
                   {"word_perplexity", rate(std::exp(-ll / words), words)},
                   {"byte_perplexity", rate(std::exp(-ll / bytes), bytes)},
                   {"bits_per_byte", rate(-ll / bytes / std::log(2.0), bytes)}});
  }
  return out;
}

}  // namespace ot
