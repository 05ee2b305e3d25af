// The evaluation and fine-tuning stages end to end on a tiny prepared data directory
// (docs/reliability.md cases 9, 25, 26): eval.json validates against its schema (required keys and
// types, lm-eval-style metric keys, each metric with its *_stderr) and states the perplexity
// definition; uniform logits (all-zero weights) give ppl == vocab; fine-tuning from a checkpoint
// records that the optimizer was reset.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <set>
#include <sstream>

#include "analysis/checkpoint_fixture.h"
#include "analysis/finetune.h"
#include "analysis/perturb_stage.h"
#include "analysis/suite.h"
#include "core/run_lock.h"
#include "data/lm_eval_tasks.h"
#include "data/task_tokens.h"
#include "data/tasks.h"
#include "data/token_file.h"
#include "data/tokenizer.h"
#include "engine/torch_plugin.h"
#include "train/metrics.h"

namespace ot {
namespace {

using namespace ot::testing;

// A data directory as `overtrain data prepare` leaves it: tokenizer.model, general.{train,val}.tok
// and a sentiment task (label choices " negative" / " positive"). Built once per test binary.
struct PreparedData {
  fs::path dir;
  int vocab = 0;
};
const PreparedData& Data() {
  static const PreparedData data = [] {
    PreparedData d;
    d.dir = TempDir("data");
    std::vector<std::string> texts;
    for (int i = 0; i < 40; ++i)
      texts.push_back("Review: the film was good and the plot was dull " + std::to_string(i) +
                      "\nSentiment: positive negative");
    std::vector<std::string_view> views(texts.begin(), texts.end());
    data::TokenizerOptions o;
    o.vocab_size = 300;
    o.num_threads = 1;
    const std::string model = data::TrainTokenizer(views, o);
    WriteFileAtomic(d.dir / "tokenizer.model", model);
    const data::Tokenizer tok = data::Tokenizer::FromModel(model, "eval-stage-test");
    d.vocab = tok.vocab_size();
    std::vector<int32_t> stream;
    for (int i = 0; stream.size() < 600; ++i) {
      for (int32_t t : tok.Encode(texts[i % texts.size()])) stream.push_back(t);
      stream.push_back(tok.eod_id());
    }
    data::WriteTokenFile(d.dir / "general.val.tok", stream, d.vocab, tok.eod_id());
    data::WriteTokenFile(d.dir / "general.train.tok", stream, d.vocab, tok.eod_id());
    std::vector<data::Document> reviews;
    for (int i = 0; i < 12; ++i)
      reviews.push_back(
          {i % 2 ? "the film was good" : "the plot was dull", "r" + std::to_string(i), i % 2});
    const auto examples = data::SentimentExamples(reviews);
    for (const char* split : {"train", "val"})
      data::WriteTaskSplit(d.dir / "tasks", data::TokenizeTask("sentiment", split, examples,
                                                               {" negative", " positive"}, tok));
    return d;
  }();
  return data;
}

ModelConfig DataModel() {
  ModelConfig m = TinyModel();
  m.vocab_size = Data().vocab;
  m.max_seq_len = 32;
  return m;
}

// Schema of a per-task result (lm-evaluation-harness shape: metric → value, metric_stderr,
// samples).
void ExpectTaskResultSchema(const nlohmann::json& r, const std::string& task, bool with_choices) {
  SCOPED_TRACE(task);
  ASSERT_TRUE(r.is_object());
  for (const char* key : {"loss", "loss_stderr", "ppl"}) {
    ASSERT_TRUE(r.contains(key)) << key;
    EXPECT_TRUE(r[key].is_number_float()) << key << " = " << r[key];
    EXPECT_TRUE(std::isfinite(r[key].get<double>())) << key;
  }
  for (const char* key : {"tokens", "samples"}) {
    ASSERT_TRUE(r.contains(key)) << key;
    EXPECT_TRUE(r[key].is_number_integer()) << key;
    EXPECT_GT(r[key].get<int64_t>(), 0) << key;
  }
  EXPECT_NEAR(r["ppl"].get<double>(), std::exp(r["loss"].get<double>()),
              1e-9 * r["ppl"].get<double>());
  if (with_choices) {
    for (const char* key : {"acc", "acc_norm"}) {
      ASSERT_TRUE(r.contains(key)) << key;
      ASSERT_TRUE(r.contains(std::string(key) + "_stderr")) << key;
      EXPECT_GE(r[key].get<double>(), 0.0);
      EXPECT_LE(r[key].get<double>(), 1.0);
    }
    EXPECT_TRUE(r["mc_samples"].is_number_integer());
  }
  // Every metric comes with its standard error (lm-eval's "<metric>_stderr"), and no key is
  // unknown.
  // Reference values that are not measurements carry no stderr: chance_acc, label_prior_loss.
  const std::set<std::string> known = {"loss",       "loss_stderr", "ppl",
                                       "tokens",     "samples",     "acc",
                                       "acc_stderr", "acc_norm",    "acc_norm_stderr",
                                       "mc_samples", "chance_acc",  "label_prior_loss"};
  for (const char* key : {"chance_acc", "label_prior_loss"})
    if (r.contains(key)) EXPECT_TRUE(r[key].is_number()) << key;
  for (const auto& [key, value] : r.items()) {
    EXPECT_TRUE(known.count(key)) << "unknown metric key '" << key << "'";
    if (key == "loss" || key == "acc" || key == "acc_norm") {
      EXPECT_TRUE(r.contains(key + "_stderr")) << key;
    }
  }
}

// Schema of an eval.json (docs/reliability.md case 26): required keys and types.
void ExpectEvalJsonSchema(const nlohmann::json& j, const std::vector<std::string>& tasks) {
  for (const char* key : {"results", "definitions", "window", "checkpoint", "config"})
    ASSERT_TRUE(j.contains(key)) << "eval.json lacks '" << key << "'";
  EXPECT_TRUE(j["window"].is_number_integer());
  ExpectTaskResultSchema(j["results"]["general"], "general", false);
  for (const auto& t : tasks) ExpectTaskResultSchema(j["results"][t], t, true);
  ASSERT_TRUE(j["definitions"].is_object());
  for (const auto& [key, value] : j["definitions"].items()) EXPECT_TRUE(value.is_string()) << key;
  // Case 25: the perplexity definition is stated in the results file itself.
  EXPECT_EQ(j["definitions"]["general"], PerplexityResult::kDefinition);
  for (const char* key : {"task loss", "acc", "acc_norm"})
    EXPECT_TRUE(j["definitions"].contains(key)) << key;
  const auto& ck = j["checkpoint"];
  EXPECT_TRUE(ck["dir"].is_string());
  EXPECT_TRUE(ck["tokens"].is_number_integer());
  EXPECT_TRUE(ck["epochs"].is_number());
  EXPECT_TRUE(j["config"].is_object() || j["config"].is_string());
}

TEST(EvalStage, EvalJsonFollowsItsSchemaAndUniformLogitsGivePerplexityVocab) {
  const fs::path root = TempDir("eval");
  const ModelConfig m = DataModel();
  // All-zero weights: every hidden state and logit is 0, so p = 1/V for every token.
  const std::vector<float> zeros(ParamLayout::ForModel(m).total(), 0.0f);
  const fs::path ck = SaveModelCheckpoint(root / "ck", m, m, zeros);
  EvalConfig config;
  config.checkpoint.dir = ck.string();
  config.suite.data_dir = Data().dir.string();
  config.suite.batch = 4;
  config.suite.windows = 8;
  config.suite.tasks = {"sentiment"};
  config.suite.max_examples = 6;
  ASSERT_EQ(RunEvalStage(config, root / "out"), 0);
  const nlohmann::json j = nlohmann::json::parse(ReadFile(root / "out" / "eval.json"));
  ExpectEvalJsonSchema(j, {"sentiment"});
  EXPECT_EQ(j["window"], 32);
  EXPECT_EQ(j["checkpoint"]["tokens"], 1234);
  EXPECT_EQ(j["results"]["general"]["samples"], 8);
  EXPECT_EQ(j["results"]["general"]["tokens"], 8 * 32);
  EXPECT_NEAR(j["results"]["general"]["ppl"].get<double>(), m.vocab_size, 1e-4 * m.vocab_size);
  EXPECT_NEAR(j["results"]["sentiment"]["ppl"].get<double>(), m.vocab_size, 1e-4 * m.vocab_size);
  EXPECT_DOUBLE_EQ(j["results"]["general"]["loss_stderr"].get<double>(),
                   0.0);  // every window is ln V
  fs::remove_all(root);
}

// An eval of checkpoint `ck` on the shared data: 4 rows per pass, 2 validation windows.
EvalConfig SmallEvalConfig(const fs::path& ck) {
  EvalConfig config;
  config.checkpoint.dir = ck.string();
  config.suite.data_dir = Data().dir.string();
  config.suite.batch = 4;
  config.suite.windows = 2;
  return config;
}

// A reused --out: an eval with task files writes lm_eval_results.json; a later eval without them
// into the same directory removes it (saying so on stderr) instead of leaving it next to the new
// eval.json naming the previous checkpoint. A file eval did not write is refused, not removed.
TEST(EvalStage, EvalWithoutTaskFilesRemovesTheLmEvalResultsOfAnEarlierEval) {
  const fs::path root = TempDir("eval_stale");
  const ModelConfig m = DataModel();
  const fs::path ck = SaveModelCheckpoint(root / "ck", m, m, InitFor(m));
  WriteFileAtomic(
      root / "quiz.jsonl",
      data::McDocJson({"a", "Review: good\nSentiment:", {" negative", " positive"}, 1}).dump() +
          "\n");
  EvalConfig config = SmallEvalConfig(ck);
  config.suite.task_files = {(root / "quiz.jsonl").string()};
  const fs::path out = root / "out";
  ASSERT_EQ(RunEvalStage(config, out), 0);
  ASSERT_TRUE(fs::exists(out / "lm_eval_results.json"));
  config.suite.task_files.clear();
  ::testing::internal::CaptureStderr();
  ASSERT_EQ(RunEvalStage(config, out), 0);
  const std::string err = ::testing::internal::GetCapturedStderr();
  EXPECT_FALSE(fs::exists(out / "lm_eval_results.json"));
  EXPECT_TRUE(fs::exists(out / "eval.json"));
  EXPECT_EQ(err, "overtrain eval: removed " + (out / "lm_eval_results.json").string() +
                     ", left by an earlier eval of " + fs::absolute(ck).string() +
                     "; this eval has no task or rolling files\n");
  WriteFileAtomic(out / "lm_eval_results.json", "{\"config\": {\"model\": \"hf\"}}\n");
  EXPECT_EQ(ErrorOf([&] { RunEvalStage(config, out); }),
            (out / "lm_eval_results.json").string() +
                ": exists and was not written by overtrain eval; move it away or choose another "
                "--out (eval writes its lm-eval results there)");
  EXPECT_TRUE(fs::exists(out / "lm_eval_results.json"));
  fs::remove_all(root);
}

// eval.log_samples: one JSON line per document, in file order, whose scores agree with the
// aggregate in lm_eval_results.json; the results list the file; a later eval into the same --out
// that logs no samples removes it (saying so), like the results file itself.
TEST(EvalStage, LogSamplesWritesOneLinePerDocumentThatAgreesWithTheAggregate) {
  const fs::path root = TempDir("eval_samples");
  const ModelConfig m = DataModel();
  const fs::path ck = SaveModelCheckpoint(root / "ck", m, m, InitFor(m));
  std::string quiz;
  for (int i = 0; i < 5; ++i)
    quiz += data::McDocJson({"q" + std::to_string(i),
                             "Review: good " + std::to_string(i) + "\nSentiment:",
                             {" negative", " positive", " dull"},
                             i % 3})
                .dump() +
            "\n";
  WriteFileAtomic(root / "quiz.jsonl", quiz);
  WriteFileAtomic(root / "wiki.txt", "the film was good and the plot was dull");
  EvalConfig config = SmallEvalConfig(ck);
  config.suite.task_files = {(root / "quiz.jsonl").string()};
  config.suite.rolling_files = {(root / "wiki.txt").string()};
  config.suite.log_samples = true;
  const fs::path out = root / "out";
  ASSERT_EQ(RunEvalStage(config, out), 0);
  const auto results = nlohmann::json::parse(ReadFile(out / "lm_eval_results.json"));
  EXPECT_EQ(results["samples"]["quiz"], "samples_quiz.jsonl");
  EXPECT_EQ(results["samples"]["wiki"], "samples_wiki.jsonl");
  std::istringstream lines(ReadFile(out / "samples_quiz.jsonl"));
  std::string line;
  int docs = 0;
  double acc = 0;
  while (std::getline(lines, line)) {
    const auto j = nlohmann::json::parse(line);
    EXPECT_EQ(j["doc_id"], docs);
    EXPECT_EQ(j["doc"]["id"], "q" + std::to_string(docs));
    EXPECT_EQ(j["target"], docs % 3);
    ASSERT_EQ(j["loglik"].size(), 3u);
    EXPECT_EQ(j["arguments"][2][1], "  dull");  // the delimiter, then the choice as written
    int best = 0;
    for (int c = 1; c < 3; ++c)
      if (j["loglik"][c].get<double>() > j["loglik"][best].get<double>()) best = c;
    EXPECT_EQ(j["pred"], best);
    EXPECT_EQ(j["acc"].get<double>(), best == docs % 3 ? 1.0 : 0.0);
    acc += j["acc"].get<double>();
    ++docs;
  }
  EXPECT_EQ(docs, 5);
  EXPECT_DOUBLE_EQ(acc / docs, results["results"]["quiz"]["acc,none"].get<double>());
  const auto wiki = nlohmann::json::parse(ReadFile(out / "samples_wiki.jsonl"));
  EXPECT_EQ(wiki["doc_id"], 0);
  EXPECT_NEAR(wiki["word_perplexity"].get<double>(),
              results["results"]["wiki"]["word_perplexity,none"].get<double>(), 1e-9);
  config.suite.log_samples = false;
  ::testing::internal::CaptureStderr();
  ASSERT_EQ(RunEvalStage(config, out), 0);
  const std::string err = ::testing::internal::GetCapturedStderr();
  EXPECT_FALSE(fs::exists(out / "samples_quiz.jsonl"));
  EXPECT_FALSE(fs::exists(out / "samples_wiki.jsonl"));
  EXPECT_NE(err.find("removed " + (out / "samples_quiz.jsonl").string()), std::string::npos) << err;
  config.suite.task_files.clear();
  config.suite.rolling_files.clear();
  config.suite.log_samples = true;
  EXPECT_EQ(ErrorOf([&] { RunEvalStage(config, out); }),
            "eval.log_samples = true but eval.task_files and eval.rolling_files are empty; "
            "expected task or rolling files to log the samples of");
  fs::remove_all(root);
}

TEST(FinetuneStage, RecordsThatTheOptimizerWasResetAndWritesAValidEvalJson) {
  const fs::path root = TempDir("finetune");
  const ModelConfig m = DataModel();
  const fs::path ck = SaveModelCheckpoint(root / "ck", m, m, InitFor(m));
  FinetuneConfig config;
  config.checkpoint.dir = ck.string();
  config.suite.data_dir = Data().dir.string();
  config.suite.batch = 4;
  config.suite.windows = 4;
  config.suite.max_examples = 4;
  config.ft.task = "sentiment";
  config.ft.optim.lr = 1e-3;
  config.ft.batch_size = 4;
  config.ft.tokens.value = 4 * 32 * 3;  // 3 steps
  config.ft.evals_during = 0;
  ASSERT_EQ(RunFinetuneStage(config, root / "out"), 0);
  const nlohmann::json j = nlohmann::json::parse(ReadFile(root / "out" / "eval.json"));
  ExpectEvalJsonSchema(j, {"sentiment"});
  ASSERT_TRUE(j.contains("finetune"));
  EXPECT_EQ(j["finetune"]["steps"], 3);
  const std::string optimizer = j["finetune"]["optimizer"].get<std::string>();
  EXPECT_NE(optimizer.find("reset"), std::string::npos) << optimizer;
  EXPECT_EQ(j["finetune"]["optimizer_reset"], true);
  EXPECT_EQ(j["finetune"]["pretrain_steps"], 20);  // the checkpoint's optimizer had taken 20 steps
  // The fine-tuning run counts its own steps from 1: nothing of the pre-training optimizer carried
  // over.
  const auto rows = ReadMetrics(root / "out" / "metrics.jsonl");
  ASSERT_FALSE(rows.empty());
  EXPECT_EQ(rows.front()["step"], 1);
  fs::remove_all(root);
}

// Issue 19: two user errors that reached internal checks. A window longer than the model's and a
// validation stream shorter than one window are each one sentence naming eval.seq_len.
TEST(EvalStage, WindowErrorsNameEvalSeqLen) {
  const fs::path root = TempDir("eval_windows");
  const ModelConfig m = DataModel();
  const fs::path ck = SaveModelCheckpoint(root / "ck", m, m, InitFor(m));
  EvalConfig config;
  config.checkpoint.dir = ck.string();
  config.suite.data_dir = Data().dir.string();
  config.suite.seq_len = 1000;
  std::string e = ErrorOf([&] { RunEvalStage(config, root / "out"); });
  EXPECT_EQ(e,
            "eval.seq_len = 1000 exceeds the model's max_seq_len 32; use at most 32 (0 = the "
            "model's own)");
  const fs::path data = root / "short";
  fs::create_directories(data);
  data::WriteTokenFile(data / "general.val.tok", std::vector<int32_t>(20, 1), Data().vocab, -1);
  config.suite.data_dir = data.string();
  config.suite.seq_len = 0;
  e = ErrorOf([&] { RunEvalStage(config, root / "out"); });
  EXPECT_EQ(e, "data.dir = '" + data.string() +
                   "': general.val.tok holds 20 tokens, fewer than one evaluation window of 33 "
                   "(eval.seq_len 32 + 1); lower eval.seq_len");
  fs::remove_all(root);
}

TEST(EvalStage, RefusesAModelWhoseTokenizerJsonIsNotTheDatas) {
  const fs::path root = TempDir("eval_tokenizer");
  const ModelConfig m = DataModel();
  const fs::path ck = SaveModelCheckpoint(root / "ck", m, m, InitFor(m));
  const fs::path data = root / "data";
  fs::copy(Data().dir, data, fs::copy_options::recursive);
  WriteFileAtomic(ck / "tokenizer.json", R"({"model": "the checkpoint's"})");
  WriteFileAtomic(data / "tokenizer.json", R"({"model": "the data's"})");
  EvalConfig config;
  config.checkpoint.dir = ck.string();
  config.suite.data_dir = data.string();
  const std::string e = ErrorOf([&] { RunEvalStage(config, root / "out"); });
  EXPECT_NE(e.find((ck / "tokenizer.json").string() + " differs from the data directory's " +
                   (data / "tokenizer.json").string()),
            std::string::npos)
      << e;
  EXPECT_FALSE(fs::exists(root / "out" / "eval.json"));
  // The same text in both, or a tokenizer.json on one side only, passes.
  WriteFileAtomic(data / "tokenizer.json", R"({"model": "the checkpoint's"})");
  EXPECT_EQ(ErrorOf([&] { CheckSameTokenizer(ck, data); }), "");
  fs::remove(data / "tokenizer.json");
  EXPECT_EQ(ErrorOf([&] { CheckSameTokenizer(ck, data); }), "");
  fs::remove_all(root);
}

// The stages on the torch backend (the LibTorch plugin, where this build has one) against the
// native engine on one checkpoint: the same evaluation numbers and the same perturbation draws to
// float32 rounding (tests/engine_torch: the models agree to ~1e-6 of the loss; 1e-5 relative
// here), and a fine-tuning run that names its backend.
// Reliability case 41: perturb takes the run lock, as pretrain and finetune do. A second perturb on
// the same --out is refused naming the holder, before it writes anything.
TEST(PerturbStage, ALockedOutIsRefusedNamingTheHolder) {
  const fs::path root = TempDir("perturb_lock");
  const ModelConfig m = DataModel();
  PerturbConfig perturb;
  perturb.checkpoint.dir = SaveModelCheckpoint(root / "ck", m, m, InitFor(m)).string();
  perturb.suite.data_dir = Data().dir.string();
  perturb.suite.batch = 4;
  perturb.suite.windows = 4;
  perturb.gammas = {1.0};
  perturb.draws = 1;
  {
    const RunDirLock holder = RunDirLock::Acquire(root / "out", "perturb run");  // another process
    const std::string e = ErrorOf([&] { RunPerturbStage(perturb, root / "out"); });
    EXPECT_NE(e.find((root / "out" / ".lock").string()), std::string::npos) << e;
    EXPECT_NE(e.find("in use by pid " + std::to_string(::getpid())), std::string::npos) << e;
    EXPECT_FALSE(fs::exists(root / "out" / "results.jsonl")) << "the refused run wrote results";
  }
  EXPECT_EQ(RunPerturbStage(perturb, root / "out"), 0);
  EXPECT_TRUE(fs::exists(root / "out" / "results.jsonl"));
  fs::remove_all(root);
}

TEST(Stages, TorchBackendEvaluatesPerturbsAndFineTunesAsNative) {
  const char* plugin = std::getenv("OVERTRAIN_TORCH_PLUGIN");
  if (plugin == nullptr || *plugin == '\0') GTEST_SKIP() << "built without LibTorch: no plugin";
  ASSERT_TRUE(TorchPluginAvailable()) << plugin;
  const fs::path root = TempDir("torch_stages");
  const ModelConfig m = DataModel();
  const fs::path ck = SaveModelCheckpoint(root / "ck", m, m, InitFor(m));
  const ComputeConfig torch{.backend = "torch", .device = "cpu"};
  EvalConfig eval;
  eval.checkpoint.dir = ck.string();
  eval.suite.data_dir = Data().dir.string();
  eval.suite.batch = 4;
  eval.suite.windows = 8;
  eval.suite.tasks = {"sentiment"};
  eval.suite.max_examples = 6;
  ASSERT_EQ(RunEvalStage(eval, root / "eval-native"), 0);
  eval.compute = torch;
  ASSERT_EQ(RunEvalStage(eval, root / "eval-torch"), 0);
  const auto a = nlohmann::json::parse(ReadFile(root / "eval-native" / "eval.json"))["results"];
  const auto b = nlohmann::json::parse(ReadFile(root / "eval-torch" / "eval.json"))["results"];
  for (const char* key : {"general", "sentiment"}) {
    const double la = a[key]["loss"].get<double>(), lb = b[key]["loss"].get<double>();
    EXPECT_NEAR(la, lb, 1e-5 * la) << key;
  }
  EXPECT_EQ(a["sentiment"]["acc"], b["sentiment"]["acc"]);
  PerturbConfig perturb;
  perturb.checkpoint.dir = ck.string();
  perturb.suite = eval.suite;
  perturb.gammas = {0.5, 2.0};
  perturb.draws = 2;
  ASSERT_EQ(RunPerturbStage(perturb, root / "perturb-native"), 0);
  perturb.compute = torch;
  ASSERT_EQ(RunPerturbStage(perturb, root / "perturb-torch"), 0);
  const auto rows = [](const fs::path& f) {
    std::vector<nlohmann::json> out;
    std::istringstream in(ReadFile(f));
    for (std::string line; std::getline(in, line);)
      if (!line.empty()) out.push_back(nlohmann::json::parse(line));
    return out;
  };
  const auto pa = rows(root / "perturb-native" / "results.jsonl"),
             pb = rows(root / "perturb-torch" / "results.jsonl");
  ASSERT_EQ(pa.size(), 4u);
  ASSERT_EQ(pb.size(), pa.size());
  for (size_t i = 0; i < pa.size(); ++i) {
    const double la = pa[i]["loss"].get<double>(), lb = pb[i]["loss"].get<double>();
    EXPECT_NEAR(la, lb, 1e-5 * la) << i;  // the same draw: the same weights, bit for bit
    EXPECT_GT(std::abs(la - pa[i]["base_loss"].get<double>()), 1e-3) << "the noise must matter";
  }
  FinetuneConfig ft;
  ft.checkpoint.dir = ck.string();
  ft.suite = eval.suite;
  ft.compute = torch;
  ft.ft.task = "sentiment";
  ft.ft.batch_size = 4;
  ft.ft.tokens.value = 4 * 32 * 3;
  ft.ft.evals_during = 0;
  ft.ft.wise_alphas = {0.5};
  ft.ft.l2sp = 0.1;
  ASSERT_EQ(RunFinetuneStage(ft, root / "ft-torch"), 0);
  const auto j = nlohmann::json::parse(ReadFile(root / "ft-torch" / "eval.json"));
  EXPECT_EQ(j["finetune"]["backend"].get<std::string>().rfind("torch (LibTorch", 0), 0u);
  EXPECT_TRUE(j["wise"].contains("0.5"));
  fs::remove_all(root);
}

}  // namespace
}  // namespace ot
