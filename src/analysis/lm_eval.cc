// lm-eval multiple-choice and rolling-log-likelihood scoring, and lm-eval's results layout.
#include "analysis/lm_eval.h"

#include <cmath>
#include <tuple>

#include "analysis/metrics.h"
#include "core/check.h"

namespace ot {

EncodedPair EncodePair(const EncodeFn& encode, int32_t prefix_token, std::string_view context,
                       std::string_view continuation) {
  const std::string_view kept = data::RstripPython(context);
  const std::string moved = std::string(context.substr(kept.size())) + std::string(continuation);
  EncodedPair out;
  if (kept.empty()) {
    // lm-eval: an empty context is the prefix token (the end-of-document token here). A context of
    // only whitespace ends up the same way, its whitespace leading the continuation.
    out.context = {prefix_token};
    out.continuation = encode(moved);
    return out;
  }
  std::vector<int32_t> whole = encode(std::string(kept) + moved);
  out.context = encode(kept);
  const size_t n = std::min(out.context.size(), whole.size());
  out.continuation.assign(whole.begin() + static_cast<std::ptrdiff_t>(n), whole.end());
  return out;
}

McTokenized TokenizeMcTask(const data::McTaskFile& file, const EncodeFn& encode,
                           int32_t prefix_token, const McTaskOptions& options, int max_seq_len) {
  McTokenized t;
  t.name = file.name;
  t.path = file.path;
  t.options = options;
  t.original = static_cast<int64_t>(file.docs.size());
  const size_t n =
      options.limit > 0 ? std::min<size_t>(file.docs.size(), options.limit) : file.docs.size();
  for (size_t d = 0; d < n; ++d) {
    const data::McDoc& doc = file.docs[d];
    McTokenized::Doc out;
    out.gold = doc.gold;
    out.index = static_cast<int64_t>(d);
    out.doc = doc;
    bool too_long = false;
    for (size_t c = 0; c < doc.choices.size(); ++c) {
      const std::string& choice = doc.choices[c];
      EncodedPair pair =
          EncodePair(encode, prefix_token, doc.context, options.target_delimiter + choice);
      const std::string where =
          file.path + ": document id " + doc.id + ", choice " + std::to_string(c);
      if (pair.continuation.empty())
        throw Error(where +
                    " encodes to no tokens after the context; expected a non-empty continuation");
      if (static_cast<int>(pair.continuation.size()) > max_seq_len) {
        if (options.skip_long) {
          too_long = true;
          break;
        }
        throw Error(where + " is " + std::to_string(pair.continuation.size()) +
                    " tokens; expected at most the window of " + std::to_string(max_seq_len) +
                    " (eval.seq_len; or set eval.skip_long_docs = true to skip and count such "
                    "documents)");
      }
      out.requests.push_back({std::move(pair.context), std::move(pair.continuation)});
      out.chars.push_back(data::Utf8Chars(choice));
      out.bytes.push_back(static_cast<int64_t>(choice.size()));
    }
    if (too_long)
      ++t.skipped;
    else
      t.docs.push_back(std::move(out));
  }
  return t;
}

namespace {
// np.argmax: the first index of the largest value.
int Argmax(std::span<const double> v) {
  int best = 0;
  for (size_t i = 1; i < v.size(); ++i)
    if (v[i] > v[best]) best = static_cast<int>(i);
  return best;
}
}  // namespace

McTaskScores ScoreMcTask(LogProbModel& model, const McTokenized& task, int batch) {
  std::vector<LoglikRequest> requests;
  for (const auto& doc : task.docs)
    requests.insert(requests.end(), doc.requests.begin(), doc.requests.end());
  const auto results = BatchLogLikelihoods(model, requests, batch);
  McTaskScores s;
  s.n = static_cast<int64_t>(task.docs.size());
  std::vector<double> hit, hit_norm, hit_bytes;
  size_t k = 0;
  for (const auto& doc : task.docs) {
    const size_t n = doc.requests.size();
    std::vector<double> ll(n), per_char(n), per_byte(n);
    for (size_t c = 0; c < n; ++c, ++k) {
      ll[c] = results[k].logprob;
      per_char[c] = ll[c] / static_cast<double>(doc.chars[c]);
      per_byte[c] = ll[c] / static_cast<double>(doc.bytes[c]);
    }
    s.pred.push_back(Argmax(ll));
    s.pred_norm.push_back(Argmax(per_char));
    s.pred_bytes.push_back(Argmax(per_byte));
    hit.push_back(s.pred.back() == doc.gold ? 1.0 : 0.0);
    hit_norm.push_back(s.pred_norm.back() == doc.gold ? 1.0 : 0.0);
    hit_bytes.push_back(s.pred_bytes.back() == doc.gold ? 1.0 : 0.0);
    s.loglik.push_back(std::move(ll));
  }
  OT_CHECK(k == results.size()) << "scored " << results.size() << " requests, used " << k;
  std::tie(s.acc, s.acc_stderr) = MeanStderr(hit);
  std::tie(s.acc_norm, s.acc_norm_stderr) = MeanStderr(hit_norm);
  std::tie(s.acc_bytes, s.acc_bytes_stderr) = MeanStderr(hit_bytes);
  return s;
}

RollingTokenized TokenizeRollingTask(const data::RollingTaskFile& file, const EncodeFn& encode,
                                     int32_t prefix_token) {
  RollingTokenized t;
  t.name = file.name;
  t.path = file.path;
  for (const std::string& text : file.docs) {
    std::vector<int32_t> doc{prefix_token};
    const auto ids = encode(text);
    doc.insert(doc.end(), ids.begin(), ids.end());
    t.docs.push_back(std::move(doc));
    t.words.push_back(data::CountWords(text));
    t.bytes.push_back(static_cast<int64_t>(text.size()));
  }
  return t;
}

RollingTaskScores ScoreRollingTask(LogProbModel& model, const RollingTokenized& task, int batch) {
  // first_target 1: the prefix token is context only; every text token is predicted exactly once,
  // in disjoint windows of max_seq_len targets each conditioned on the max_seq_len tokens before
  // its last target (lm-eval's get_rolling_token_windows(context_len=1) + make_disjoint_window).
  const std::vector<size_t> firsts(task.docs.size(), 1);
  const auto results = BatchRollingLogLikelihoods(model, task.docs, firsts, batch);
  RollingTaskScores s;
  s.docs = static_cast<int64_t>(task.docs.size());
  for (size_t d = 0; d < results.size(); ++d) {
    s.loglik += results[d].logprob;
    s.tokens += results[d].tokens;
    s.words += task.words[d];
    s.bytes += task.bytes[d];
  }
  s.per_doc = results;
  OT_CHECK(s.words > 0 && s.bytes > 0) << "rolling task " << task.name << " has no text";
  s.word_perplexity = std::exp(-s.loglik / static_cast<double>(s.words));
  s.byte_perplexity = std::exp(-s.loglik / static_cast<double>(s.bytes));
  s.bits_per_byte = -s.loglik / static_cast<double>(s.bytes) / std::log(2.0);
  return s;
}

namespace {
constexpr double kTaskVersion = 1.0;  // of the task-file formats (docs/lm_eval.md)

nlohmann::json Metric(const char* name, const char* aggregation, bool higher_is_better) {
  return {{"metric", name}, {"aggregation", aggregation}, {"higher_is_better", higher_is_better}};
}

// lm-eval writes "N/A" for the stderr of a mean over fewer than two samples.
nlohmann::json Stderr(double value, int64_t n) {
  return n > 1 ? nlohmann::json(value) : nlohmann::json("N/A");
}
}  // namespace

nlohmann::json LmEvalResults(std::span<const McTokenized> mc,
                             std::span<const McTaskScores> mc_scores,
                             std::span<const RollingTokenized> rolling,
                             std::span<const RollingTaskScores> rolling_scores) {
  OT_CHECK(mc.size() == mc_scores.size() && rolling.size() == rolling_scores.size())
      << "one score per task";
  nlohmann::json j = {
      {"results", nlohmann::json::object()},  {"group_subtasks", nlohmann::json::object()},
      {"configs", nlohmann::json::object()},  {"versions", nlohmann::json::object()},
      {"n-shot", nlohmann::json::object()},   {"higher_is_better", nlohmann::json::object()},
      {"n-samples", nlohmann::json::object()}};
  auto common = [&](const std::string& name, int64_t original, int64_t effective) {
    j["group_subtasks"][name] = nlohmann::json::array();
    j["versions"][name] = kTaskVersion;
    j["n-shot"][name] = 0;
    j["n-samples"][name] = {{"original", original}, {"effective", effective}};
  };
  for (size_t i = 0; i < mc.size(); ++i) {
    const McTokenized& t = mc[i];
    const McTaskScores& s = mc_scores[i];
    common(t.name, t.original, s.n);
    // The accuracy of guessing: mean over the scored documents of 1 / (number of choices).
    double chance = 0;
    for (const auto& doc : t.docs) chance += 1.0 / static_cast<double>(doc.requests.size());
    if (!t.docs.empty()) chance /= static_cast<double>(t.docs.size());
    if (t.options.skip_long) j["n-samples"][t.name]["skipped_too_long"] = t.skipped;
    j["results"][t.name] = {{"alias", t.name},
                            {"acc,none", s.acc},
                            {"acc_stderr,none", Stderr(s.acc_stderr, s.n)},
                            {"acc_norm,none", s.acc_norm},
                            {"acc_norm_stderr,none", Stderr(s.acc_norm_stderr, s.n)},
                            {"acc_bytes,none", s.acc_bytes},
                            {"acc_bytes_stderr,none", Stderr(s.acc_bytes_stderr, s.n)}};
    j["higher_is_better"][t.name] = {{"acc", true}, {"acc_norm", true}, {"acc_bytes", true}};
    j["configs"][t.name] = {
        {"task", t.name},
        {"dataset_path", t.path},
        {"output_type", "multiple_choice"},
        {"test_split", "all"},
        {"doc_to_text", "{{context}}"},
        {"doc_to_target", "{{gold}}"},
        {"doc_to_choice", "{{choices}}"},
        {"target_delimiter", t.options.target_delimiter},
        {"fewshot_delimiter", "\n\n"},
        {"num_fewshot", 0},
        {"metric_list",
         {Metric("acc", "mean", true), Metric("acc_norm", "mean", true),
          Metric("acc_bytes", "mean", true)}},
        {"metadata",
         {{"version", kTaskVersion},
          {"acc_norm", "argmax of loglikelihood / len(choice) in Unicode characters (lm-eval)"},
          {"acc_bytes", "argmax of loglikelihood / len(choice) in UTF-8 bytes"},
          {"chance_acc", chance}}}};
  }
  for (size_t i = 0; i < rolling.size(); ++i) {
    const RollingTokenized& t = rolling[i];
    const RollingTaskScores& s = rolling_scores[i];
    common(t.name, s.docs, s.docs);
    // lm-eval has no stderr for its weighted perplexities (not bootstrapped by default): "N/A".
    j["results"][t.name] = {{"alias", t.name},
                            {"word_perplexity,none", s.word_perplexity},
                            {"word_perplexity_stderr,none", "N/A"},
                            {"byte_perplexity,none", s.byte_perplexity},
                            {"byte_perplexity_stderr,none", "N/A"},
                            {"bits_per_byte,none", s.bits_per_byte},
                            {"bits_per_byte_stderr,none", "N/A"}};
    j["higher_is_better"][t.name] = {
        {"word_perplexity", false}, {"byte_perplexity", false}, {"bits_per_byte", false}};
    j["configs"][t.name] = {{"task", t.name},
                            {"dataset_path", t.path},
                            {"output_type", "loglikelihood_rolling"},
                            {"test_split", "all"},
                            {"doc_to_text", ""},
                            {"doc_to_target", "{{text}}"},
                            {"num_fewshot", 0},
                            {"metric_list",
                             {Metric("word_perplexity", "weighted_perplexity", false),
                              Metric("byte_perplexity", "weighted_perplexity", false),
                              Metric("bits_per_byte", "bits_per_byte", false)}},
                            {"metadata",
                             {{"version", kTaskVersion},
                              {"loglikelihood", s.loglik},
                              {"tokens", s.tokens},
                              {"words", s.words},
                              {"bytes", s.bytes}}}};
  }
  return j;
}

}  // namespace ot
