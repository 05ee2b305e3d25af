// kill -9 during training and during a checkpoint save (docs/reliability.md cases 1 and 7
// together): a child process (this test binary re-executed, so it starts with a fresh OpenMP
// runtime) trains the run directory and is SIGKILLed — by itself, like kill -9 — mid-run or in the
// middle of writing a checkpoint. The parent then resumes the directory and must reach final
// weights and moments bit-identical to an uninterrupted run; every checkpoint left behind verifies.
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
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

// issue 3's "done" run: the nano preset to 2M tokens with a 4-point ladder (1954 steps of 16 x 64)
// on a synthetic 4096-token affine chain; threads from OMP_NUM_THREADS.
PretrainConfig NanoConfig(const fs::path& root) {
  PretrainConfig c;
  c.model = ModelConfig::Nano();
  if (!fs::exists(root / "nano.tok")) {
    std::vector<int32_t> tokens(500000);
    const uint64_t key = RngKey(5, StreamId("nano-tokens"));
    int32_t t = 0;
    for (size_t i = 0; i < tokens.size(); ++i) {
      t = UniformAt(key, 2 * i) < 0.8
              ? (17 * t + 11) % 4096
              : static_cast<int32_t>(UniformAt(key, 2 * i + 1) * 4096) % 4096;
      tokens[i] = t;
    }
    data::WriteTokenFile(root / "nano.tok", tokens, 4096, -1);
  }
  c.data.train = (root / "nano.tok").string();
  c.train.budget.value = 2000000;
  c.train.ladder = {Size{500000}, Size{1000000}, Size{1500000}, Size{2000000}};
  c.train.log_every = 50;
  c.train.quiet = true;
  return c;
}

PretrainConfig ConfigFor(const std::string& mode, const fs::path& root) {
  return mode.rfind("nano", 0) == 0 ? NanoConfig(root) : KillConfig(root);
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
    if (mode == "run" || mode == "nano-run") raise(SIGKILL);
    // "save": die after 3000 more bytes of file output, i.e. inside the next checkpoint's files.
    SetWriteFault(3000, WriteFaultAction::kKill);
  };
  RunPretrain(ConfigFor(mode, root), run, hooks);
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
  const PretrainConfig c = ConfigFor(mode, root);
  const auto t0 = std::chrono::steady_clock::now();
  RunPretrain(c, root / "straight");
  const double straight_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (mode.rfind("nano", 0) == 0)
    std::printf("nano 2M-token run with a 4-point ladder: %.1f s\n", straight_s);

  const int status = SpawnChild(root.string() + "|" + (root / "killed").string() + "|" + mode +
                                "|" + std::to_string(at));
  ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << "child status " << status;
  // What the kill left: valid checkpoints only up to the last completed save (a torn save is a temp
  // dir).
  const auto before = ListCheckpoints(root / "killed" / "ckpt");
  ASSERT_FALSE(before.empty());
  EXPECT_LE(before.back().tokens, at * c.train.batch_size * c.train.seq_len);
  for (const auto& ck : before) EXPECT_TRUE(VerifyCheckpoint(ck.dir).empty()) << ck.dir;
  if (mode == "save") {
    bool partial = false;
    for (const auto& e : fs::directory_iterator(root / "killed" / "ckpt"))
      partial |= e.path().filename().string().find(".tmp-") != std::string::npos;
    EXPECT_TRUE(partial) << "the kill should have hit a save in progress";
  }

  const PretrainResult r = RunPretrain(c, root / "killed");
  EXPECT_GT(r.resumed_from_tokens, 0);
  EXPECT_EQ(r.steps, c.train.budget.value / (c.train.batch_size * c.train.seq_len) +
                         (c.train.budget.value % (c.train.batch_size * c.train.seq_len) != 0));
  const Weights a = ReadWeights(FinalCheckpoint(root / "straight"));
  const Weights b = ReadWeights(FinalCheckpoint(root / "killed"));
  EXPECT_TRUE(a.model == b.model) << "final weights differ after kill -9 and resume";
  EXPECT_TRUE(a.optimizer == b.optimizer) << "optimizer moments differ";
  EXPECT_EQ(DeterministicMetrics(root / "straight"), DeterministicMetrics(root / "killed"));
  for (const auto& ck : ListCheckpoints(root / "killed" / "ckpt"))
    EXPECT_TRUE(VerifyCheckpoint(ck.dir).empty()) << ck.dir;
  for (const auto& e : fs::directory_iterator(root / "killed" / "ckpt"))
    EXPECT_EQ(e.path().filename().string().find(".tmp-"), std::string::npos)
        << "partial dir left: " << e.path();
  fs::remove_all(root);
}

// "run": killed right after step 12 (last checkpoint at step 10); "save": killed inside writing the
// step-15 checkpoint (armed after step 14), so the newest valid one is step 10's.
INSTANTIATE_TEST_SUITE_P(Modes, KillDashNine,
                         ::testing::Values(std::make_pair(std::string("run"), int64_t{12}),
                                           std::make_pair(std::string("save"), int64_t{14})),
                         [](const auto& info) { return info.param.first; });

// The "done" criterion of issue 3 at full size (≈ 2 runs of the nano preset to 2M tokens; too slow
// for the default suite on a shared 2-core machine). Run with:
//   test_train --gtest_also_run_disabled_tests --gtest_filter='*NanoLadder*'
INSTANTIATE_TEST_SUITE_P(DISABLED_NanoLadder, KillDashNine,
                         ::testing::Values(std::make_pair(std::string("nano-run"), int64_t{1200})),
                         [](const auto& info) { return std::string("nano_run"); });

}  // namespace
}  // namespace ot
