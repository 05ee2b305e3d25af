// The shared evaluation suite and the `overtrain eval` stage.
#include "analysis/suite.h"

#include <fmt/format.h>

#include <chrono>
#include <cmath>
#include <map>
#include <set>

#include "core/check.h"
#include "core/fileio.h"
#include "data/lm_eval_prefix.h"
#include "data/text_tokenizer.h"
#include "engine/data_parallel.h"
#include "train/trainer.h"

namespace ot {
namespace fs = std::filesystem;

static std::vector<int32_t> ReadTokens(const fs::path& path) {
  return data::TokenFile::Open(path).ReadAll();
}

int EvalWindow(const EvalSuiteConfig& suite, const ModelConfig& model) {
  if (suite.seq_len > model.max_seq_len)
    throw Error(
        fmt::format("eval.seq_len = {} exceeds the model's max_seq_len {}; use at most {} "
                    "(0 = the model's own)",
                    suite.seq_len, model.max_seq_len, model.max_seq_len));
  return suite.seq_len > 0 ? suite.seq_len : model.max_seq_len;
}

BackendPlan EvalPlan(const EvalSuiteConfig& suite, const ModelConfig& model) {
  return {.eval_batch = suite.batch, .eval_seq = EvalWindow(suite, model)};
}

EvalSuite::EvalSuite(const EvalSuiteConfig& config, Backend& backend)
    : config_(config), scorer_(backend, config.batch, EvalWindow(config, backend.config())) {
  const ModelConfig& model = backend.config();
  const fs::path dir = config.data_dir;
  if (config.data_dir.empty())
    throw Error("data.dir: expected a prepared data directory, got nothing");
  if (!fs::exists(dir / "general.val.tok"))
    throw Error("data.dir = '" + config.data_dir +
                "': no general.val.tok; run `overtrain data prepare` first");
  general_ = ReadTokens(dir / "general.val.tok");
  if (fs::exists(dir / "general.train.tok"))
    train_tokens_ = static_cast<int64_t>(data::ReadTokenHeader(dir / "general.train.tok").tokens);
  if (config.c4 && fs::exists(dir / "c4.val.tok")) c4_ = ReadTokens(dir / "c4.val.tok");
  // A perplexity window is T + 1 tokens (T targets after one context token): a shorter stream has
  // none to score.
  const int window = scorer_.max_seq_len();
  for (const auto& [name, stream] :
       {std::pair{"general.val.tok", std::cref(general_)}, std::pair{"c4.val.tok", std::cref(c4_)}})
    if (!stream.get().empty() && stream.get().size() <= static_cast<size_t>(window))
      throw Error(
          fmt::format("data.dir = '{}': {} holds {} tokens, fewer than one evaluation "
                      "window of {} (eval.seq_len {} + 1); lower eval.seq_len",
                      config.data_dir, name, stream.get().size(), window + 1, window));
  for (const auto& v : {std::cref(general_), std::cref(c4_)})
    for (int32_t t : v.get())
      if (t >= model.vocab_size)
        throw Error("data.dir = '" + config.data_dir + "': token " + std::to_string(t) +
                    " >= the model's vocab_size " + std::to_string(model.vocab_size));
  if (config.log_samples && config.task_files.empty() && config.rolling_files.empty())
    throw Error(
        "eval.log_samples = true but eval.task_files and eval.rolling_files are empty; expected "
        "task or rolling files to log the samples of");
  if (config.tasks.empty() && config.task_files.empty() && config.rolling_files.empty()) return;
  const auto tokenizer = data::LoadDataTokenizer(dir);
  LoadLmEvalTasks(*tokenizer, model);
  auto bytes_of = [&](const std::vector<std::vector<int32_t>>& choices) {
    std::vector<int> out;
    for (const auto& c : choices) out.push_back(static_cast<int>(tokenizer->Decode(c).size()));
    return out;
  };
  for (const auto& task : config.tasks) {
    data::TaskSplit split = data::ReadTaskSplit(dir / "tasks", task, "val");
    if (split.vocab_size > model.vocab_size)
      throw Error(fmt::format("task '{}' was tokenized with vocab {} but the model has {}", task,
                              split.vocab_size, model.vocab_size));
    choice_bytes_.push_back(bytes_of(split.labels));
    auto& per_example = example_choice_bytes_[task];
    for (const auto& r : split.records) per_example.push_back(bytes_of(r.choices));
    tasks_.push_back(std::move(split));
  }
}

void EvalSuite::LoadLmEvalTasks(const data::TextTokenizer& tokenizer, const ModelConfig& model) {
  if (config_.task_files.empty() && config_.rolling_files.empty()) return;
  if (tokenizer.vocab_size() > model.vocab_size)
    throw Error(
        fmt::format("data.dir = '{}': the tokenizer has {} tokens but the model's vocab_size is {}",
                    config_.data_dir, tokenizer.vocab_size(), model.vocab_size));
  // The data directory's tokenizer (LoadDataTokenizer: SentencePiece or tokenizer.json).
  const EncodeFn encode = [&tokenizer](std::string_view text) { return tokenizer.Encode(text); };
  const McTaskOptions options{.target_delimiter = config_.target_delimiter,
                              .limit = config_.task_limit,
                              .skip_long = config_.skip_long_docs};
  // lm-eval's prefix token: the tokenizer's BOS when it declares one, else its EOS (HFLM).
  const int32_t prefix = data::LmEvalPrefixToken(config_.data_dir, tokenizer);
  std::set<std::string> names;
  auto unique = [&](const std::string& name, const std::string& path) {
    if (!names.insert(name).second)
      throw Error("eval.task_files / eval.rolling_files: '" + path + "' names a second task '" +
                  name + "'; expected distinct file names");
  };
  for (const auto& path : config_.task_files) {
    const data::McTaskFile file = data::LoadMcTaskFile(path);
    unique(file.name, path);
    lm_mc_.push_back(TokenizeMcTask(file, encode, prefix, options, scorer_.max_seq_len()));
  }
  for (const auto& path : config_.rolling_files) {
    const data::RollingTaskFile file = data::LoadRollingTaskFile(path);
    unique(file.name, path);
    lm_rolling_.push_back(TokenizeRollingTask(file, encode, prefix));
  }
}

PerplexityResult EvalSuite::GeneralLoss() {
  return StreamPerplexity(scorer_, general_, config_.batch, config_.windows);
}

static nlohmann::json PerplexityJson(const PerplexityResult& r) {
  return {{"loss", r.loss},
          {"loss_stderr", r.loss_stderr},
          {"ppl", r.ppl},
          {"tokens", r.tokens},
          {"samples", r.windows}};
}

nlohmann::json EvalSuite::ScoreTask(const data::TaskSplit& split) {
  const size_t n = config_.max_examples > 0
                       ? std::min<size_t>(split.records.size(), config_.max_examples)
                       : split.records.size();
  OT_CHECK(n > 0) << "task " << split.task << " has no validation examples";
  // ID loss: nats per target token (target + end-of-document, the fine-tuning loss) given the
  // prompt.
  std::vector<std::vector<int32_t>> docs(n);
  std::vector<size_t> firsts(n);
  for (size_t i = 0; i < n; ++i) {
    auto prompt = split.Prompt(i);
    auto target = split.Target(i);
    const bool cut = config_.max_target_tokens > 0 &&
                     static_cast<int64_t>(target.size()) >= config_.max_target_tokens;
    if (cut) target = target.first(config_.max_target_tokens);
    auto& doc = docs[i];
    if (prompt.empty())
      doc.push_back(split.eod_id);  // whole-document tasks: condition on a document start
    doc.insert(doc.end(), prompt.begin(), prompt.end());
    doc.insert(doc.end(), target.begin(), target.end());
    if (!cut) doc.push_back(split.eod_id);
    firsts[i] = prompt.empty() ? 1 : prompt.size();
  }
  const auto scored = BatchRollingLogLikelihoods(scorer_, docs, firsts, config_.batch);
  double nll = 0;
  int64_t tokens = 0;
  std::vector<double> per_example(n);
  for (size_t i = 0; i < n; ++i) {
    nll -= scored[i].logprob;
    tokens += scored[i].tokens;
    per_example[i] = -scored[i].logprob / std::max<int64_t>(1, scored[i].tokens);
  }
  nlohmann::json out = {{"loss", nll / tokens},
                        {"loss_stderr", MeanStderr(per_example).second},
                        {"ppl", std::exp(nll / tokens)},
                        {"tokens", tokens},
                        {"samples", n}};
  // Accuracy by log-likelihood of each choice after the prompt.
  const size_t task_index = &split - tasks_.data();
  std::vector<McItem> items;
  for (size_t i = 0; i < n; ++i) {
    if (split.records[i].gold < 0) continue;
    const auto& choices = split.Choices(i);
    if (choices.size() < 2) continue;
    McItem item;
    auto prompt = split.Prompt(i);
    item.context.assign(prompt.begin(), prompt.end());
    if (item.context.empty()) item.context.push_back(split.eod_id);
    item.choices = choices;
    item.choice_bytes = split.records[i].choices.empty() ? choice_bytes_[task_index]
                                                         : example_choice_bytes_[split.task][i];
    item.gold = split.records[i].gold;
    items.push_back(std::move(item));
  }
  if (!items.empty()) {
    double chance = 0;
    for (const auto& item : items) chance += 1.0 / static_cast<double>(item.choices.size());
    out["chance_acc"] = chance / static_cast<double>(items.size());
    if (!split.labels.empty()) {
      // The ID loss a model reaches by learning only the label frequencies: the label entropy
      // spread over the scored tokens (the other target tokens, e.g. end-of-document, cost ~0 once
      // learned).
      std::map<int, double> counts;
      for (const auto& item : items) counts[item.gold] += 1;
      double entropy = 0;
      for (const auto& [label, count] : counts) {
        const double p = count / static_cast<double>(items.size());
        entropy -= p * std::log(p);
      }
      out["label_prior_loss"] = entropy * static_cast<double>(n) / static_cast<double>(tokens);
    }
    const McScores mc = MultipleChoice(scorer_, items, config_.batch);
    out["acc"] = mc.acc;
    out["acc_stderr"] = mc.acc_stderr;
    out["acc_norm"] = mc.acc_norm;
    out["acc_norm_stderr"] = mc.acc_norm_stderr;
    out["mc_samples"] = mc.n;
  }
  return out;
}

nlohmann::json EvalSuite::Run() {
  nlohmann::json results;
  results["general"] =
      PerplexityJson(StreamPerplexity(scorer_, general_, config_.batch, config_.windows));
  if (!c4_.empty())
    results["c4"] =
        PerplexityJson(StreamPerplexity(scorer_, c4_, config_.batch, config_.c4_windows));
  for (const auto& split : tasks_) results[split.task] = ScoreTask(split);
  nlohmann::json lm_eval;
  if (!lm_mc_.empty() || !lm_rolling_.empty()) {
    std::vector<McTaskScores> mc;
    for (const auto& t : lm_mc_) mc.push_back(ScoreMcTask(scorer_, t, config_.batch));
    std::vector<RollingTaskScores> rolling;
    for (const auto& t : lm_rolling_)
      rolling.push_back(ScoreRollingTask(scorer_, t, config_.batch));
    lm_eval = LmEvalResults(lm_mc_, mc, lm_rolling_, rolling);
    samples_.clear();
    if (config_.log_samples) {
      for (size_t i = 0; i < lm_mc_.size(); ++i)
        samples_.emplace_back(lm_mc_[i].name, McSamples(lm_mc_[i], mc[i]));
      for (size_t i = 0; i < lm_rolling_.size(); ++i)
        samples_.emplace_back(lm_rolling_[i].name, RollingSamples(lm_rolling_[i], rolling[i]));
    }
  }
  nlohmann::json out = {
      {"results", results},
      {"definitions",
       {{"general", PerplexityResult::kDefinition},
        {"c4", PerplexityResult::kDefinition},
        {"task loss",
         "nats per target token (target and its end-of-document token) given the prompt; rolling "
         "full-context windows when longer than the window; first max_examples validation "
         "examples, "
         "first max_target_tokens target tokens of each"},
        {"acc",
         "argmax of the summed log-likelihood of each choice after the prompt (lm-eval acc)"},
        {"acc_norm", "argmax of log-likelihood divided by the choice's UTF-8 byte length"},
        {"chance_acc", "mean over examples of 1 / number of choices"},
        {"label_prior_loss",
         "label entropy of the scored examples x examples / scored tokens: the task loss of a "
         "model "
         "that learned only the label frequencies"}}},
      {"window", scorer_.max_seq_len()}};
  if (!lm_eval.is_null()) out["lm_eval"] = std::move(lm_eval);
  return out;
}

const ConfigSchema<EvalConfig>& EvalSchema() {
  static const ConfigSchema<EvalConfig> schema = [] {
    ConfigSchema<EvalConfig> s;
    DeclareCheckpointFields(
        s, [](EvalConfig& c) -> CheckpointRef& { return c.checkpoint; }, "checkpoint to evaluate");
    DeclareEvalFields(s, [](EvalConfig& c) -> EvalSuiteConfig& { return c.suite; });
    DeclareComputeFields(s, [](EvalConfig& c) -> ComputeConfig& { return c.compute; });
    return s;
  }();
  return schema;
}

namespace {

// An lm_eval_results.json in `out` that an earlier `overtrain eval` wrote (its "config" names model
// "overtrain"); a file of any other origin is refused rather than overwritten or removed.
bool HasOurLmEvalResults(const fs::path& out, std::string* checkpoint, nlohmann::json* samples) {
  const fs::path path = out / "lm_eval_results.json";
  if (!fs::exists(path)) return false;
  const nlohmann::json j = nlohmann::json::parse(ReadFile(path), nullptr, false);
  if (j.is_discarded() || !j.is_object() || !j.contains("config") || !j["config"].is_object() ||
      j["config"].value("model", "") != "overtrain")
    throw Error(path.string() +
                ": exists and was not written by overtrain eval; move it away or choose another "
                "--out (eval writes its lm-eval results there)");
  *checkpoint = j["config"].value("checkpoint", "an unknown checkpoint");
  if (j.contains("samples")) *samples = j["samples"];
  return true;
}

}  // namespace

std::vector<std::string> WriteLmEvalSamples(const fs::path& out, const LmEvalSampleSet& samples,
                                            nlohmann::json& lm_eval, const nlohmann::json& stale) {
  std::set<std::string> written;
  for (const auto& [task, lines] : samples) {
    std::string text;
    for (const auto& line : lines) text += line.dump() + "\n";
    const std::string name = "samples_" + task + ".jsonl";
    WriteFileAtomic(out / name, text);
    lm_eval["samples"][task] = name;
    written.insert(name);
  }
  std::vector<std::string> removed;
  if (!stale.is_object()) return removed;
  for (const auto& [task, file] : stale.items()) {
    // Only our own file names, never a path: a tampered results file cannot steer the removal.
    if (!file.is_string()) continue;
    const std::string name = file.get<std::string>();
    if (name != "samples_" + task + ".jsonl" || name.find('/') != std::string::npos ||
        written.count(name) != 0)
      continue;
    if (fs::remove(out / name)) removed.push_back((out / name).string());
  }
  return removed;
}

int RunEvalStage(const EvalConfig& config, const fs::path& out) {
  RequireOneProcess("overtrain eval");
  CheckSameTokenizer(config.checkpoint.dir, config.suite.data_dir);
  std::string stale_checkpoint;
  nlohmann::json stale_samples;
  const bool stale = HasOurLmEvalResults(out, &stale_checkpoint, &stale_samples);
  LoadedModel model = LoadModel(
      config.checkpoint.dir,
      {.arenas = 0,
       .arenas_what = "",
       .decoders = {{config.suite.batch, config.suite.seq_len, "eval.batch", "eval.seq_len"}}});
  ApplyThreadPolicy(0, model.config);
  const std::unique_ptr<Backend> backend = MakeBackend(
      model.config, config.compute, EvalPlan(config.suite, model.config), std::move(model.params));
  EvalSuite suite(config.suite, *backend);
  nlohmann::json j = suite.Run();
  const CheckpointPoint point = PointOf(config.checkpoint, model, suite.train_tokens_per_epoch());
  j["checkpoint"] = {{"dir", fs::absolute(model.dir).string()},
                     {"tokens", point.tokens},
                     {"epochs", point.epochs},
                     {"hf_model_type", model.hf_model_type},
                     {"params", model.config.NumParams()},
                     {"train_tokens_per_epoch", suite.train_tokens_per_epoch()}};
  j["config"] = {{"model", model.config.ToJson()}, {"eval", PrintConfig(EvalSchema(), config)}};
  fs::create_directories(out);
  if (j.contains("lm_eval")) {
    // lm-eval's results file: its task blocks, the run's "config" and the "date" (unix seconds).
    nlohmann::json lm = j["lm_eval"];
    const std::string dir = fs::absolute(model.dir).string();
    lm["config"] = {{"model", "overtrain"},
                    {"model_args", "checkpoint=" + dir},
                    {"checkpoint", dir},
                    {"tokens", model.tokens},
                    {"batch_size", config.suite.batch},
                    {"window", j["window"]},
                    {"limit", config.suite.task_limit > 0 ? nlohmann::json(config.suite.task_limit)
                                                          : nlohmann::json(nullptr)},
                    {"bootstrap_iters", 0},
                    {"model_config", model.config.ToJson()}};
    const auto now = std::chrono::system_clock::now().time_since_epoch();
    lm["date"] = std::chrono::duration<double>(now).count();
    for (const auto& path : WriteLmEvalSamples(out, suite.samples(), lm, stale_samples))
      fmt::print(stderr, "overtrain eval: removed {}, left by an earlier eval of {}\n", path,
                 stale_checkpoint);
    if (lm.contains("samples")) j["lm_eval"]["samples"] = lm["samples"];
    WriteFileAtomic(out / "lm_eval_results.json", lm.dump(2) + "\n");
  } else if (stale) {
    // A reused --out: the file would otherwise sit next to this eval.json naming another run.
    nlohmann::json none = nlohmann::json::object();
    for (const auto& path : WriteLmEvalSamples(out, {}, none, stale_samples))
      fmt::print(stderr, "overtrain eval: removed {}, left by an earlier eval of {}\n", path,
                 stale_checkpoint);
    fs::remove(out / "lm_eval_results.json");
    fmt::print(stderr,
               "overtrain eval: removed {}, left by an earlier eval of {}; this eval has no task "
               "or rolling files\n",
               (out / "lm_eval_results.json").string(), stale_checkpoint);
  }
  WriteFileAtomic(out / "eval.json", j.dump(2) + "\n");
  return 0;
}

}  // namespace ot
