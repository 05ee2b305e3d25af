// End to end through the real binary: the CI study (configs/ci.toml: registry data, nano, a
// 3-budget ladder, perturbation, fine-tuning, theory) runs to a report; a second invocation redoes
// nothing; a study killed with SIGKILL mid-run and restarted does not redo finished runs and ends
// with the same results as the uninterrupted study (issue 7's "prove it"). Also: arms, a study over
// published checkpoints, and the paper's Figure 1 (benchmark files scored on a published series
// before and after fine-tuning on prompt/response pairs, to a report with C9).
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <thread>
#include <vector>

#include "common/test_util.h"
#include "core/fileio.h"
#include "core/safetensors.h"
#include "data/tokenizer_fixture.h"
#include "data/util.h"
#include "model/hf_config.h"
#include "model/init.h"
#include "model/layout.h"

namespace {
namespace fs = std::filesystem;

using ot::testing::EnvVar;

std::string ReadAll(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

int Occurrences(const std::string& text, const std::string& what) {
  int n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

// Runs the study into `out` (plus extra --set overrides and flags such as --dry-run); returns its
// pid. Output goes to <out>.log.
pid_t StartStudy(const fs::path& out, const std::vector<std::string>& sets = {},
                 const std::vector<std::string>& flags = {}) {
  const std::string bin = EnvVar("OVERTRAIN_BIN"), src = EnvVar("OVERTRAIN_SOURCE_DIR");
  const pid_t pid = fork();
  if (pid == 0) {
    if (chdir(src.c_str()) != 0) _exit(126);
    const std::string log = out.string() + ".log";
    if (!freopen(log.c_str(), "a", stdout) || !freopen(log.c_str(), "a", stderr)) _exit(125);
    std::vector<std::string> args = {
        bin, "study", "--config", "configs/ci.toml", "--set", "study.out=" + out.string()};
    for (const auto& s : sets) args.insert(args.end(), {"--set", s});
    args.insert(args.end(), flags.begin(), flags.end());
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    execv(bin.c_str(), argv.data());
    _exit(127);
  }
  return pid;
}

int Wait(pid_t pid) {
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

// status.json of every completed run: name → modification time.
std::map<std::string, fs::file_time_type> Completed(const fs::path& study) {
  std::map<std::string, fs::file_time_type> out;
  if (!fs::exists(study)) return out;
  for (const auto& e : fs::recursive_directory_iterator(study))
    if (e.path().filename() == "status.json")
      out[e.path().parent_path().string()] = fs::last_write_time(e.path());
  return out;
}

class StudyE2E : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(EnvVar("OVERTRAIN_BIN").empty())
        << "run through ctest (OVERTRAIN_BIN is set there)";
    root_ = fs::temp_directory_path() / ("ot_study_e2e_" + std::to_string(getpid()));
    fs::remove_all(root_);
    fs::create_directories(root_);
  }
  void TearDown() override {
    if (!HasFailure() && EnvVar("OVERTRAIN_KEEP_TEST_DIRS").empty()) fs::remove_all(root_);
  }
  fs::path root_;
};

TEST_F(StudyE2E, RunsToAReportResumesAfterKillAndMatchesUninterrupted) {
  const fs::path a = root_ / "straight", b = root_ / "killed";
  ASSERT_EQ(Wait(StartStudy(a)), 0) << ReadAll(a.string() + ".log");
  for (const char* f :
       {"report/report.md", "report/index.html", "results/perturb.jsonl", "results/finetune.jsonl",
        "results/pretrain.jsonl", "results/theory.jsonl"}) {
    EXPECT_TRUE(fs::exists(a / f)) << f;
    EXPECT_GT(fs::file_size(a / f), 0u) << f;
  }
  bool figure = false;
  for (const auto& e : fs::directory_iterator(a / "report" / "figures"))
    figure |= e.path().extension() == ".png" && fs::file_size(e.path()) > 1000;
  EXPECT_TRUE(figure) << "no PNG figure";
  const std::string report = ReadAll(a / "report" / "report.md");
  EXPECT_NE(report.find("epoch"), std::string::npos) << "budgets must carry their epochs";

  // Again: nothing is redone.
  const auto before = Completed(a);
  ASSERT_EQ(Wait(StartStudy(a)), 0);
  EXPECT_EQ(Completed(a), before);
  EXPECT_NE(ReadAll(a.string() + ".log").find("0 runs done now"), std::string::npos);

  // Killed once at least one pre-training run has finished, then restarted.
  const pid_t pid = StartStudy(b);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::minutes(10);
  bool pretrain_done = false;
  while (!pretrain_done && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    for (const auto& [dir, t] : Completed(b))
      pretrain_done |= dir.find("budget-") != std::string::npos;
  }
  ASSERT_TRUE(pretrain_done) << ReadAll(b.string() + ".log");
  kill(pid, SIGKILL);
  Wait(pid);
  const auto survived = Completed(b);
  ASSERT_EQ(Wait(StartStudy(b)), 0) << ReadAll(b.string() + ".log");
  const auto after = Completed(b);
  for (const auto& [dir, t] : survived) EXPECT_EQ(after.at(dir), t) << dir << " was redone";
  for (const char* f :
       {"results/perturb.jsonl", "results/finetune.jsonl", "results/pretrain.jsonl"})
    EXPECT_EQ(ReadAll(a / f), ReadAll(b / f)) << f << " differs from the uninterrupted study";
}

// Two arms (AdamW and SAM around it) with diagnostics: one ladder and report per arm, and the
// comparison report with the at-a-glance table (λ_max from `overtrain diagnose`) and the ladders
// figure.
TEST_F(StudyE2E, ArmsGetTheirOwnLaddersAndAComparison) {
  const fs::path a = root_ / "arms";
  ASSERT_EQ(
      Wait(StartStudy(a, {"study.arms=[\"adamw\", \"sam\"]", "arms.sam.pretrain.sam_rho=0.05",
                          "pretrain.ladder=[\"60K\", \"120K\"]", "theory.config=\"\"",
                          "finetune.lrs=[3e-3]", "finetune.seeds=[1, 2]", "diagnose.enabled=true",
                          "diagnose.batches=1", "diagnose.max_iters=8", "diagnose.probes=2"})),
      0)
      << ReadAll(a.string() + ".log");
  for (const char* arm : {"arm-adamw", "arm-sam"}) {
    EXPECT_TRUE(fs::exists(a / arm / "report" / "report.md")) << arm;
    EXPECT_GT(fs::file_size(a / arm / "results" / "diagnostics.jsonl"), 0u) << arm;
  }
  const std::string report = ReadAll(a / "report" / "report.md");
  EXPECT_NE(report.find("At a glance"), std::string::npos) << report;
  EXPECT_NE(report.find("| arm-sam | "), std::string::npos) << report;
  EXPECT_NE(report.find("| arm-adamw | "), std::string::npos) << report;
  EXPECT_EQ(report.find("| not run |"), std::string::npos) << "every checkpoint was diagnosed:\n"
                                                           << report;
  EXPECT_TRUE(fs::exists(a / "report" / "figures" / "ladders.png"));
}

// Fair arms and both noise scales (issue 22): each arm's LR sweep runs before its ladder, the
// ladder trains at the LR the sweep chose (read when its runs start), the sweep's rows reach the
// results and both reports, and every checkpoint is perturbed under both scales, kept apart in the
// rows.
TEST_F(StudyE2E, TunedArmsTrainAtTheSweepsChoiceAndPerturbUnderBothScales) {
  const fs::path a = root_ / "tuned";
  ASSERT_EQ(
      Wait(StartStudy(
          a, {"study.arms=[\"adamw\", \"no-wd\"]", "arms.no-wd.pretrain.weight_decay=0.0",
              "study.tune_lr=true", "study.tune_lr_factors=[0.5, 2]",
              "pretrain.ladder=[\"60K\", \"120K\"]", "theory.config=\"\"", "finetune.lrs=[3e-3]",
              "finetune.seeds=[1]", "perturb.scales=[\"init\", \"relative\"]"})),
      0)
      << ReadAll(a.string() + ".log");
  for (const char* arm : {"adamw", "no-wd"}) {
    SCOPED_TRACE(arm);
    const std::string tag = std::string("arm-") + arm;
    const std::string sweep = ReadAll(a / tag / "results" / "lr_sweep.jsonl");
    EXPECT_EQ(std::count(sweep.begin(), sweep.end(), '\n'), 2) << sweep;
    EXPECT_EQ(Occurrences(sweep, "\"chosen\":true"), 1) << sweep;
    // The chosen LR, as the tune-lr run wrote it, is the LR every ladder run trained at.
    std::string chosen;
    for (const auto& e : fs::directory_iterator(a / "tune" / tag))
      if (e.path().filename().string().rfind("select-", 0) == 0)
        chosen = ReadAll(e.path() / "chosen_lr.txt");
    const size_t at = chosen.find("optim.lr=");
    ASSERT_NE(at, std::string::npos) << chosen;
    const std::string lr = chosen.substr(at + 9, chosen.find('\n', at) - at - 9);
    int ladder_runs = 0;
    for (const auto& e : fs::directory_iterator(a / "pretrain" / tag)) {
      EXPECT_NE(ReadAll(e.path() / "config.toml").find("\nlr = " + lr + "\n"), std::string::npos)
          << e.path() << " should train at the sweep's lr " << lr;
      ++ladder_runs;
    }
    EXPECT_EQ(ladder_runs, 2);
    const std::string perturb = ReadAll(a / tag / "results" / "perturb.jsonl");
    const int init = Occurrences(perturb, "\"scale\":\"init\""),
              relative = Occurrences(perturb, "\"scale\":\"relative\"");
    EXPECT_GT(init, 0);
    EXPECT_EQ(init, relative);
    const std::string report = ReadAll(a / tag / "report" / "report.md");
    EXPECT_NE(report.find("Pre-training learning rate (study.tune_lr)"), std::string::npos);
    EXPECT_NE(report.find("Noise scale 'relative'"), std::string::npos);
  }
  const std::string comparison = ReadAll(a / "report" / "report.md");
  EXPECT_NE(comparison.find("Pre-training LR per ladder"), std::string::npos) << comparison;
}

// Three tiny Llama directories in Hugging Face layout under `root` (config.json without an
// overtrain block, model.safetensors of seeded random weights, GPT-2's tokenizer.json) at 1M, 2M
// and 4M tokens; returns the checkpoints.series override that names them.
std::string PublishedSeries(const fs::path& root, const fs::path& tokenizers) {
  const std::string tokenizer = ot::data::ReadMaybeGzip(tokenizers / "gpt2" / "tokenizer.json.gz");
  ot::ModelConfig m;
  m.vocab_size = 50304;  // GPT-2's 50257 padded to a multiple of 64, as Pythia pads
  m.d_model = 32;
  m.n_layers = 2;
  m.n_heads = 4;
  m.n_kv_heads = 2;
  m.max_seq_len = 128;
  const ot::ParamLayout layout = ot::ParamLayout::ForModel(m);
  nlohmann::json config = ot::HfConfigJson(m);
  config.erase("overtrain");
  std::string series = "checkpoints.series=[";
  const char* tokens[] = {"1M", "2M", "4M"};
  for (int k = 0; k < 3; ++k) {
    const fs::path dir = root / ("published-" + std::to_string(k));
    fs::create_directories(dir);
    std::vector<float> params(layout.total());
    ot::InitParams(layout, params, 100 + k);
    std::vector<ot::TensorToWrite> tensors;
    for (const auto& t : layout.tensors())
      tensors.push_back(
          ot::F32Tensor(t.name, t.shape, std::span<const float>(params).subspan(t.offset, t.size)));
    ot::WriteSafetensorsFile(dir / "model.safetensors", tensors, {});
    ot::WriteFileAtomic(dir / "config.json", config.dump(2));
    ot::WriteFileAtomic(dir / "tokenizer.json", tokenizer);
    series += std::string(k ? ", " : "") + "{dir = \"" + dir.string() + "\", tokens = \"" +
              tokens[k] + "\"}";
  }
  return series + "]";
}

// A study over published checkpoints (checkpoints.series): the three directories of
// PublishedSeries replace pre-training; the data is prepared with their tokenizer, and
// perturbation, fine-tuning, evaluation and the report run as usual, at the series' token counts
// and epochs.
TEST_F(StudyE2E, PublishedCheckpointSeriesReplacesPretraining) {
  const fs::path tokenizers = ot::data::testing::SharedTokenizerDir();
  if (tokenizers.empty()) {
    if (EnvVar("CI") == "true") FAIL() << "no shared/data/tokenizers (CI=true)";
    GTEST_SKIP() << "no shared/data/tokenizers folder (set OVERTRAIN_DATA_DIR)";
  }
  const std::string series = PublishedSeries(root_, tokenizers);
  const fs::path a = root_ / "series";
  ASSERT_EQ(
      Wait(StartStudy(a, {series, "checkpoints.corpus_tokens=\"2M\"", "theory.config=\"\"",
                          "finetune.lrs=[3e-3]", "finetune.tokens=\"8K\"", "perturb.draws=1"})),
      0)
      << ReadAll(a.string() + ".log");
  EXPECT_EQ(ReadAll(a.string() + ".log").find("pretrain/"), std::string::npos)
      << "nothing is pre-trained";
  // Every checkpoint evaluated, perturbed and fine-tuned at its series tokens and epochs.
  const std::string pretrain = ReadAll(a / "results" / "pretrain.jsonl");
  for (const char* expect : {"\"tokens\":1000000", "\"tokens\":2000000", "\"tokens\":4000000",
                             "\"epochs\":0.5", "\"epochs\":2.0"})
    EXPECT_NE(pretrain.find(expect), std::string::npos) << expect << " in\n" << pretrain;
  EXPECT_NE(ReadAll(a / "results" / "finetune.jsonl").find("\"tokens\":4000000"),
            std::string::npos);
  EXPECT_NE(ReadAll(a / "results" / "perturb.jsonl").find("\"tokens\":2000000"), std::string::npos);
  const std::string report = ReadAll(a / "report" / "report.md");
  EXPECT_NE(report.find("epoch"), std::string::npos) << report;
  // The data was tokenized with the checkpoints' tokenizer.
  bool hf_tokenized = false;
  for (const auto& e : fs::recursive_directory_iterator(a))
    hf_tokenized |= e.path().filename() == "tokenizer.json" &&
                    e.path().parent_path().filename().string().rfind("prepare", 0) == 0;
  EXPECT_TRUE(hf_tokenized) << "the prepared data holds no tokenizer.json";
}

// The paper's Figure 1 end to end: the published series of PublishedSeries fine-tuned on GSM8K's
// question/answer pairs from shared/data as a prompt/response file (data.pair_files), with a short
// two-choice task file (eval.task_files, eval.task_limit) scored on every base checkpoint and every
// fine-tuned model. The report has the Figure 1 panels, the benchmarks table and the C9 row, which
// random-weight models at this scale leave at chance, flagged as such rather than read as a curve.
TEST_F(StudyE2E, Figure1BenchmarksBeforeAndAfterFineTuningAreFlaggedAtChance) {
  const fs::path tokenizers = ot::data::testing::SharedTokenizerDir();
  const fs::path gsm8k = tokenizers.parent_path() / "gsm8k" / "train.jsonl.gz";
  if (tokenizers.empty() || !fs::exists(gsm8k)) {
    if (EnvVar("CI") == "true") FAIL() << "no shared/data/tokenizers or gsm8k (CI=true)";
    GTEST_SKIP() << "no shared/data/tokenizers or gsm8k folder (set OVERTRAIN_DATA_DIR)";
  }
  const std::string series = PublishedSeries(root_, tokenizers);
  std::string pairs;
  int n = 0;
  const std::string records = ot::data::ReadMaybeGzip(gsm8k);  // outlives the lines viewing it
  for (const auto& [number, line] : ot::data::NonBlankLines(records, "gsm8k")) {
    const auto j = nlohmann::json::parse(line);
    pairs +=
        nlohmann::json{{"prompt", "Question: " + j["question"].get<std::string>() + "\nAnswer:"},
                       {"response", " " + j["answer"].get<std::string>()}}
            .dump() +
        "\n";
    if (++n == 40) break;
  }
  ot::WriteFileAtomic(root_ / "gsm8k_pairs.jsonl", pairs);
  std::string docs;
  for (int i = 0; i < 20; ++i)
    docs += nlohmann::json{{"context",
                            "Question: Is " + std::to_string(3 * i + 1) + " even or odd?\nAnswer:"},
                           {"choices", {"even", "odd"}},
                           {"gold", (3 * i + 1) % 2}}
                .dump() +
            "\n";
  ot::WriteFileAtomic(root_ / "parity.jsonl", docs);
  const fs::path a = root_ / "fig1";
  const std::vector<std::string> sets = {
      series,
      "checkpoints.corpus_tokens=\"2M\"",
      "theory.config=\"\"",
      "perturb.gammas=[0.5]",
      "perturb.draws=1",
      "finetune.tasks=[\"gsm8k_pairs\"]",
      "data.pair_files=[\"" + (root_ / "gsm8k_pairs.jsonl").string() + "\"]",
      "finetune.lrs=[1e-3, 3e-3]",
      "finetune.seeds=[1, 2]",
      "finetune.tokens=\"2K\"",
      "eval.windows=8",
      "eval.task_files=[\"" + (root_ / "parity.jsonl").string() + "\"]",
      "eval.task_limit=16"};
  // --dry-run shows what the benchmarks cost: 16 documents of 2 choices, one window (64) each, on
  // 3 base checkpoints and 3 x 2 x 2 fine-tuned models.
  ASSERT_EQ(Wait(StartStudy(root_ / "fig1-dry", sets, {"--dry-run"})), 0);
  EXPECT_NE(ReadAll(root_ / "fig1-dry.log")
                .find("benchmarks (eval.task_files, eval.rolling_files): 1 file(s), 16 documents, "
                      "~2048 tokens per evaluation, scored on 15 models"),
            std::string::npos)
      << ReadAll(root_ / "fig1-dry.log");
  const auto t0 = std::chrono::steady_clock::now();
  ASSERT_EQ(Wait(StartStudy(a, sets)), 0) << ReadAll(a.string() + ".log");
  std::fprintf(stderr, "[figure 1 study: %.1f s]\n",
               std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  // Every base checkpoint and every fine-tuned model scored the same 16 documents.
  const std::string rows = ReadAll(a / "results" / "benchmarks.jsonl");
  int base = 0, finetuned = 0;
  std::istringstream lines(rows);
  for (std::string line; std::getline(lines, line);) {
    const auto j = nlohmann::json::parse(line);
    EXPECT_EQ(j["benchmark"], "parity") << line;
    EXPECT_EQ(j["samples"], 16) << line;
    EXPECT_DOUBLE_EQ(j["chance_acc"].get<double>(), 0.5) << line;
    (j["model"] == "base" ? base : finetuned) += 1;
    if (j["model"] == "finetuned") EXPECT_EQ(j["task"], "gsm8k_pairs") << line;
  }
  EXPECT_EQ(base, 3) << rows;
  EXPECT_EQ(finetuned, 3 * 2 * 2) << rows;
  EXPECT_TRUE(fs::exists(a / "report" / "tables" / "benchmarks.csv"));
  EXPECT_GT(fs::file_size(a / "report" / "figures" / "fig1_benchmark_parity.png"), 1000u);
  const std::string report = ReadAll(a / "report" / "report.md");
  EXPECT_NE(report.find("6. Benchmarks after fine-tuning (the paper's Figure 1)"),
            std::string::npos)
      << report;
  const size_t c9 = report.find("| C9 |");
  ASSERT_NE(c9, std::string::npos) << report;
  const std::string row = report.substr(c9, report.find('\n', c9) - c9);
  EXPECT_NE(row.find("**not at this scale**"), std::string::npos) << row;
  EXPECT_NE(row.find("at chance: not informative at this scale"), std::string::npos) << row;
  EXPECT_NE(report.find("parity acc: at chance: not informative at this scale"), std::string::npos)
      << "the flags list the benchmark:\n"
      << report;
}

}  // namespace
