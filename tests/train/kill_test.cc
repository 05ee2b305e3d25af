// kill -9 during training and during a checkpoint save (reliability.md 1 and 7 together): a child process
// (this test binary re-executed, so it starts with a fresh OpenMP runtime) trains the run directory and is
// SIGKILLed — by itself, like kill -9 — mid-run or in the middle of writing a checkpoint. The parent then
// resumes the directory and must reach final weights and moments bit-identical to an uninterrupted run;
// every checkpoint left behind verifies.
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>

#include "core/fileio.h"
#include "train_fixture.h"

extern char** environ;

namespace ot {
namespace {

using namespace ot::testing;

constexpr const char* kChildEnv = "OT_TRAIN_KILL_CHILD";  // "<root>|<run>|<mode>|<step>"

PretrainConfig KillConfig(const fs::path& root) {
  PretrainConfig c = TinyConfig(root);
  c.train.checkpoint_every.value = 5 * kTokensPerStep;  // periodic checkpoints every 5 steps
  return c;
}

// The child's body: runs only when re-executed by the parent with kChildEnv set.
TEST(KillChild, Run) {
  const char* spec = std::getenv(kChildEnv);
  if (!spec) GTEST_SKIP() << "only runs as the child of KillDashNine tests";
  std::string s = spec;
  auto next = [&s] {
    const auto bar = s.find('|');
    std::string head = s.substr(0, bar);
    s = bar == std::string::npos ? "" : s.substr(bar + 1);
    return head;
  };
  const fs::path root = next(), run = next();
  const std::string mode = next();
  const int64_t at = std::stoll(next());
  PretrainHooks hooks;
  hooks.after_step = [&](const StepInfo& info, Trainer&) {
    if (info.step != at) return;
    if (mode == "run") raise(SIGKILL);
    // "save": die after 3000 more bytes of file output, i.e. inside the next checkpoint's files.
    SetWriteFault(3000, WriteFaultAction::kKill);
  };
  RunPretrain(KillConfig(root), run, hooks);
  FAIL() << "the child should have been killed";
}

// Re-executes this binary as the child; returns its wait status.
int SpawnChild(const std::string& spec) {
  const std::string env_entry = std::string(kChildEnv) + "=" + spec;
  std::vector<std::string> env_strings;
  for (char** e = environ; *e; ++e) env_strings.emplace_back(*e);
  env_strings.push_back(env_entry);
  std::vector<char*> envp;
  for (auto& e : env_strings) envp.push_back(e.data());
  envp.push_back(nullptr);
  std::string exe = fs::read_symlink("/proc/self/exe").string();
  std::string filter = "--gtest_filter=KillChild.Run";
  char* argv[] = {exe.data(), filter.data(), nullptr};
  pid_t pid = 0;
  EXPECT_EQ(posix_spawn(&pid, exe.c_str(), nullptr, nullptr, argv, envp.data()), 0);
  int status = 0;
  waitpid(pid, &status, 0);
  return status;
}

class KillDashNine : public ::testing::TestWithParam<std::pair<std::string, int64_t>> {};

TEST_P(KillDashNine, ResumeReachesTheUninterruptedWeights) {
  const auto [mode, at] = GetParam();
  const fs::path root = TempDir("kill_" + mode);
  const PretrainConfig c = KillConfig(root);
  RunPretrain(c, root / "straight");

  const int status = SpawnChild(root.string() + "|" + (root / "killed").string() + "|" + mode + "|" +
                                std::to_string(at));
  ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << "child status " << status;
  // What the kill left: valid checkpoints only up to the last completed save (a torn save is a temp dir).
  const auto before = ListCheckpoints(root / "killed" / "ckpt");
  ASSERT_FALSE(before.empty());
  EXPECT_LE(before.back().tokens, at * kTokensPerStep);
  for (const auto& ck : before) EXPECT_TRUE(VerifyCheckpoint(ck.dir).empty()) << ck.dir;
  if (mode == "save") {
    bool partial = false;
    for (const auto& e : fs::directory_iterator(root / "killed" / "ckpt"))
      partial |= e.path().filename().string().find(".tmp-") != std::string::npos;
    EXPECT_TRUE(partial) << "the kill should have hit a save in progress";
  }

  const PretrainResult r = RunPretrain(c, root / "killed");
  EXPECT_GT(r.resumed_from_tokens, 0);
  EXPECT_EQ(r.steps, 40);
  const Weights a = ReadWeights(FinalCheckpoint(root / "straight"));
  const Weights b = ReadWeights(FinalCheckpoint(root / "killed"));
  EXPECT_TRUE(a.model == b.model) << "final weights differ after kill -9 and resume";
  EXPECT_TRUE(a.optimizer == b.optimizer) << "optimizer moments differ";
  EXPECT_EQ(DeterministicMetrics(root / "straight"), DeterministicMetrics(root / "killed"));
  for (const auto& ck : ListCheckpoints(root / "killed" / "ckpt"))
    EXPECT_TRUE(VerifyCheckpoint(ck.dir).empty()) << ck.dir;
  for (const auto& e : fs::directory_iterator(root / "killed" / "ckpt"))
    EXPECT_EQ(e.path().filename().string().find(".tmp-"), std::string::npos) << "partial dir left: " << e.path();
  fs::remove_all(root);
}

// "run": killed right after step 12 (last checkpoint at step 10); "save": killed inside writing the
// step-15 checkpoint (armed after step 14), so the newest valid one is step 10's.
INSTANTIATE_TEST_SUITE_P(Modes, KillDashNine,
                         ::testing::Values(std::make_pair(std::string("run"), int64_t{12}),
                                           std::make_pair(std::string("save"), int64_t{14})),
                         [](const auto& info) { return info.param.first; });

}  // namespace
}  // namespace ot
