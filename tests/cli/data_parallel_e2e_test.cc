// Data parallelism through the real binary, launched as torchrun launches it (WORLD_SIZE, RANK,
// MASTER_ADDR, MASTER_PORT): two `overtrain pretrain` processes; rank 1 killed with SIGKILL after
// the first checkpoint; rank 0 must stop within the bound with a sentence naming rank 1, the
// checkpoint stays valid, and rerunning the same command resumes and finishes with weights
// bit-identical to an uninterrupted two-process run (docs/reliability.md case 44). Needs the
// LibTorch plugin (OVERTRAIN_TORCH_PLUGIN); skipped in a build without it.
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <thread>

#include "core/fileio.h"
#include "core/rng.h"
#include "core/subprocess.h"
#include "data/token_file.h"
#include "train/checkpoint.h"

namespace ot {
namespace {
namespace fs = std::filesystem;

std::string Var(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

fs::path Scratch() {
  fs::path p = fs::temp_directory_path() / ("ot_dp_e2e_" + std::to_string(getpid()));
  fs::remove_all(p);
  fs::create_directories(p);
  return p;
}

// A learnable stream over 64 tokens (the train tests' affine chain).
void WriteTokens(const fs::path& path) {
  std::vector<int32_t> tokens(40000);
  const uint64_t key = RngKey(7, StreamId("dp-e2e"));
  int32_t t = 0;
  for (size_t i = 0; i < tokens.size(); ++i) {
    t = UniformAt(key, 2 * i) < 0.8 ? (5 * t + 3) % 64
                                    : static_cast<int32_t>(UniformAt(key, 2 * i + 1) * 64) % 64;
    tokens[i] = t;
  }
  data::WriteTokenFile(path, tokens, 64, -1);
}

// One rank of `overtrain pretrain` into `dir`, rendezvous on 127.0.0.1:`port`.
Child StartRank(const fs::path& root, const fs::path& dir, int rank, int port) {
  ProcessSpec spec;
  spec.argv = {Var("OVERTRAIN_BIN"),
               "pretrain",
               "--set",
               "model.vocab_size=64",
               "--set",
               "model.d_model=32",
               "--set",
               "model.n_layers=1",
               "--set",
               "model.n_heads=2",
               "--set",
               "model.max_seq_len=16",
               "--set",
               "data.train=" + (root / "train.tok").string(),
               "--set",
               "train.batch_size=8",
               "--set",
               "train.seq_len=16",
               "--set",
               "train.budget=38400",  // 300 steps
               "--set",
               "train.checkpoint_every=3840",
               "--set",
               "train.keep_periodic=0",
               "--set",
               "train.threads=1",
               "--set",
               "train.quiet=true",
               "--out",
               dir.string()};
  spec.env = {"WORLD_SIZE=2",
              "RANK=" + std::to_string(rank),
              "MASTER_ADDR=127.0.0.1",
              "MASTER_PORT=" + std::to_string(port),
              "OVERTRAIN_DIST_TIMEOUT=60",
              "OMP_NUM_THREADS=1"};
  return Child::Spawn(spec);
}

void RunBoth(const fs::path& root, const fs::path& dir, int port) {
  Child r1 = StartRank(root, dir, 1, port);
  Child r0 = StartRank(root, dir, 0, port);
  const ExitStatus s0 = r0.Wait(300), s1 = r1.Wait(60);
  ASSERT_TRUE(s0.ok()) << r0.FailureMessage();
  ASSERT_TRUE(s1.ok()) << r1.FailureMessage();
}

TEST(DataParallelE2E, AKilledRankStopsTheOtherAndTheRerunResumesBitExactly) {
  const std::string plugin = Var("OVERTRAIN_TORCH_PLUGIN");
  if (plugin.empty()) GTEST_SKIP() << "built without LibTorch: no plugin";
  ASSERT_FALSE(Var("OVERTRAIN_BIN").empty()) << "run through ctest (OVERTRAIN_BIN is set there)";
  const fs::path root = Scratch();
  WriteTokens(root / "train.tok");
  const int port = 20000 + getpid() % 20000;
  RunBoth(root, root / "straight", port);

  const fs::path dir = root / "killed";
  Child r1 = StartRank(root, dir, 1, port + 1);
  Child r0 = StartRank(root, dir, 0, port + 1);
  // Wait for the first checkpoint, then kill rank 1.
  const auto t0 = std::chrono::steady_clock::now();
  while (ListCheckpoints(dir / "ckpt").empty()) {
    ASSERT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(120))
        << r0.OutputTail() << r1.OutputTail();
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  r1.Kill(SIGKILL);
  r1.Wait();
  const auto killed = std::chrono::steady_clock::now();
  const ExitStatus s0 = r0.Wait(90);
  const double stopped_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - killed).count();
  ASSERT_FALSE(s0.timed_out) << "rank 0 hangs after rank 1 died";
  EXPECT_EQ(s0.code, 1) << r0.OutputTail();
  EXPECT_LT(stopped_s, 60) << "rank 0 must stop within the rendezvous timeout";
  const std::string said = r0.OutputTail();
  EXPECT_NE(said.find("rank 1"), std::string::npos) << said;
  EXPECT_NE(said.find("run the same command again to resume"), std::string::npos) << said;
  const auto saved = ListCheckpoints(dir / "ckpt");
  ASSERT_FALSE(saved.empty());
  for (const auto& ck : saved) EXPECT_TRUE(VerifyCheckpoint(ck.dir).empty()) << ck.dir;
  std::printf("  rank 0 stopped %.2f s after rank 1 was killed: %s\n", stopped_s,
              said.substr(said.rfind("error:")).c_str());

  RunBoth(root, dir, port + 2);  // the same command: resumes from the newest checkpoint
  const auto a = ListCheckpoints(root / "straight" / "ckpt"), b = ListCheckpoints(dir / "ckpt");
  ASSERT_FALSE(a.empty());
  ASSERT_FALSE(b.empty());
  EXPECT_EQ(a.back().tokens, b.back().tokens);
  EXPECT_EQ(ReadFile(a.back().dir / "model.safetensors"),
            ReadFile(b.back().dir / "model.safetensors"))
      << "the resumed two-process run must end with the uninterrupted one's weights";
  EXPECT_EQ(ReadFile(a.back().dir / "optimizer.safetensors"),
            ReadFile(b.back().dir / "optimizer.safetensors"));
  fs::remove_all(root);
}

}  // namespace
}  // namespace ot
