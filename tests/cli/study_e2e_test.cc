// End to end through the real binary: the CI study (configs/ci.toml: registry data, nano, a 3-budget
// ladder, perturbation, fine-tuning, theory) runs to a report; a second invocation redoes nothing; a study
// killed with SIGKILL mid-run and restarted does not redo finished runs and ends with the same results as
// the uninterrupted study (issue 7's "prove it").
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <thread>

namespace {
namespace fs = std::filesystem;

std::string Env(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

std::string ReadAll(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Runs the study into `out`; returns the exit code. Output goes to <out>.log.
pid_t StartStudy(const fs::path& out) {
  const std::string bin = Env("OVERTRAIN_BIN"), src = Env("OVERTRAIN_SOURCE_DIR");
  const pid_t pid = fork();
  if (pid == 0) {
    if (chdir(src.c_str()) != 0) _exit(126);
    const std::string log = out.string() + ".log";
    if (!freopen(log.c_str(), "a", stdout) || !freopen(log.c_str(), "a", stderr)) _exit(125);
    const std::string set = "study.out=" + out.string();
    execl(bin.c_str(), bin.c_str(), "study", "--config", "configs/ci.toml", "--set", set.c_str(),
          static_cast<char*>(nullptr));
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
    if (e.path().filename() == "status.json") out[e.path().parent_path().string()] = fs::last_write_time(e.path());
  return out;
}

class StudyE2E : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(Env("OVERTRAIN_BIN").empty()) << "run through ctest (OVERTRAIN_BIN is set there)";
    root_ = fs::temp_directory_path() / ("ot_study_e2e_" + std::to_string(getpid()));
    fs::remove_all(root_);
    fs::create_directories(root_);
  }
  void TearDown() override {
    if (!HasFailure()) fs::remove_all(root_);
  }
  fs::path root_;
};

TEST_F(StudyE2E, RunsToAReportResumesAfterKillAndMatchesUninterrupted) {
  const fs::path a = root_ / "straight", b = root_ / "killed";
  ASSERT_EQ(Wait(StartStudy(a)), 0) << ReadAll(a.string() + ".log");
  for (const char* f : {"report/report.md", "report/index.html", "results/perturb.jsonl", "results/finetune.jsonl",
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
    for (const auto& [dir, t] : Completed(b)) pretrain_done |= dir.find("budget-") != std::string::npos;
  }
  ASSERT_TRUE(pretrain_done) << ReadAll(b.string() + ".log");
  kill(pid, SIGKILL);
  Wait(pid);
  const auto survived = Completed(b);
  ASSERT_EQ(Wait(StartStudy(b)), 0) << ReadAll(b.string() + ".log");
  const auto after = Completed(b);
  for (const auto& [dir, t] : survived) EXPECT_EQ(after.at(dir), t) << dir << " was redone";
  for (const char* f : {"results/perturb.jsonl", "results/finetune.jsonl", "results/pretrain.jsonl"})
    EXPECT_EQ(ReadAll(a / f), ReadAll(b / f)) << f << " differs from the uninterrupted study";
}

}  // namespace
