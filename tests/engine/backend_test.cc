// The compute seam without LibTorch: the native backend's parameter-space operations (snapshots,
// noise, WiSE-FT blend, L2-SP pull) against the arena functions they wrap, host transfer round
// trips, the [compute] keys' sentences, the missing-plugin sentence, and the rendezvous variables
// of torchrun and Slurm.
#include "engine/backend.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <map>

#include "common/test_util.h"
#include "engine/collective_config.h"
#include "engine/native_backend.h"
#include "engine/torch_plugin.h"
#include "model/init.h"

namespace ot {
namespace {

ModelConfig Tiny() {
  ModelConfig c;
  c.vocab_size = 40;
  c.d_model = 16;
  c.n_layers = 1;
  c.n_heads = 2;
  c.max_seq_len = 8;
  return c;
}

std::vector<float> Init(const ModelConfig& c, uint64_t seed) {
  std::vector<float> p(ParamLayout::ForModel(c).total());
  InitParams(ParamLayout::ForModel(c), p, seed);
  return p;
}

TEST(NativeBackend, SnapshotsNoiseBlendAndPullAreTheArenaFunctions) {
  const ModelConfig c = Tiny();
  const ParamLayout layout = ParamLayout::ForModel(c);
  const std::vector<float> base = Init(c, 1);
  auto b = MakeBackend(c, {}, {.snapshots = 2}, base);
  b->SaveSnapshot(0);
  const NoiseSpec spec{.gamma = 0.5, .seed = 3, .draw = 1};
  b->AddNoise(spec);
  std::vector<float> expect(base.size());
  PerturbedCopy(layout, base, expect, spec);
  EXPECT_TRUE(HostParams(*b) == expect) << "noise on the backend is not model/noise.h's";
  EXPECT_FALSE(HostParams(*b) == base);
  b->SaveSnapshot(1);
  b->InterpolateToward(0, 0.25);
  std::vector<float> blend(base.size());
  Interpolate(expect, base, 0.25, blend);
  EXPECT_TRUE(HostParams(*b) == blend);
  b->RestoreSnapshot(1);
  b->InterpolateToward(0, 1.0);
  EXPECT_TRUE(HostParams(*b) == expect) << "alpha = 1 must keep the weights exactly";
  b->InterpolateToward(0, 0.0);
  EXPECT_TRUE(HostParams(*b) == base) << "alpha = 0 must give the snapshot exactly";
  b->RestoreSnapshot(1);
  b->PullToward(0, 0.1, 10.0);  // halfway back to the snapshot
  std::vector<float> pulled = expect;
  ApplyL2SpProximal(pulled, base, 0.1, 10.0);
  EXPECT_TRUE(HostParams(*b) == pulled);
  b->RestoreSnapshot(0);
  EXPECT_TRUE(HostParams(*b) == base) << "restoring is bit-exact";
  std::vector<float> other = Init(c, 2);
  b->WriteParams(other);
  EXPECT_TRUE(HostParams(*b) == other);
}

TEST(NativeBackend, OptimizerStateRoundTripsThroughTheHost) {
  const ModelConfig c = Tiny();
  auto b =
      MakeBackend(c, {}, {.train_batch = 2, .train_seq = 8, .optim = OptimConfig{}}, Init(c, 1));
  EXPECT_EQ(b->OptimizerName(), "adamw");
  EXPECT_EQ(b->OptimizerStateNames(), (std::vector<std::string>{"exp_avg", "exp_avg_sq"}));
  std::vector<int32_t> in(16), tg(16);
  for (int i = 0; i < 16; ++i) in[i] = tg[(i + 15) % 16] = (3 * i + 1) % c.vocab_size;
  const StepResult r = b->TrainStep(in.data(), tg.data(), 2, 8, 1e-2, {});
  EXPECT_EQ(r.bad_pass, 0);
  EXPECT_EQ(r.counted_tokens, 16);
  EXPECT_EQ(b->optimizer_steps(), 1);
  std::vector<float> m(b->layout().total());
  b->ReadOptimizerState("exp_avg", m);
  bool any = false;
  for (float x : m) any |= x != 0;
  EXPECT_TRUE(any) << "one AdamW step leaves a non-zero first moment";
  b->ResetOptimizer();
  b->ReadOptimizerState("exp_avg", m);
  for (float x : m) ASSERT_EQ(x, 0.0f);
  EXPECT_EQ(b->optimizer_steps(), 0);
}

TEST(ComputeConfig, DevicesAreCheckedInOneSentence) {
  EXPECT_EQ(ComputeProblem({}), "");
  EXPECT_EQ(ComputeProblem({.backend = "torch", .device = "cuda:1"}), "");
  EXPECT_EQ(ComputeProblem({.backend = "torch", .device = "gpu"}),
            "compute.device = 'gpu': expected cpu, cuda or cuda:N (N a GPU index)");
  EXPECT_EQ(ComputeProblem({.backend = "torch", .device = "cuda:x"}),
            "compute.device = 'cuda:x': expected cpu, cuda or cuda:N (N a GPU index)");
  EXPECT_EQ(ComputeProblem({.backend = "native", .device = "cuda"}),
            "compute.device = 'cuda' needs compute.backend = \"torch\" (the native engine runs on "
            "the CPU)");
}

TEST(TorchPlugin, AMissingPluginIsOneSentenceSayingHowToGetIt) {
  // Run in a child so this process's plugin state (loaded once) is not the one under test; the
  // threadsafe style re-executes the binary (a forked child of a process with OpenMP threads can
  // deadlock).
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  ASSERT_EXIT(
      {
        setenv("OVERTRAIN_TORCH_PLUGIN", "/nonexistent/libovertrain_torch.so", 1);
        try {
          MakeBackend(Tiny(), {.backend = "torch"}, {.eval_batch = 1, .eval_seq = 4},
                      Init(Tiny(), 1));
        } catch (const Error& e) {
          const std::string m = e.what();
          std::fprintf(stderr, "%s\n", m.c_str());
          std::exit(m.rfind("compute.backend = \"torch\": this build has no LibTorch plugin", 0) ==
                                0 &&
                            m.find("scripts/setup.sh test") != std::string::npos
                        ? 0
                        : 1);
        }
        std::exit(2);
      },
      ::testing::ExitedWithCode(0), "no LibTorch plugin");
}

// A vision transformer reaching the torch backend is refused in one sentence before the plugin
// loads (so with or without LibTorch in the build); the token decoder is not.
TEST(TorchPlugin, AVisionTransformerIsRefusedInOneSentence) {
  const ModelConfig vit = ModelConfig::VitPico();
  const std::string want =
      "model.input = patches (a vision transformer) is not supported by compute.backend = "
      "\"torch\", whose model is the token decoder only";
  EXPECT_EQ(TorchModelProblem(vit), want);
  EXPECT_EQ(TorchModelProblem(Tiny()), "");
  EXPECT_EQ(testing::ErrorOf([&] {
              MakeBackend(vit, {.backend = "torch"}, {.eval_batch = 1, .eval_seq = 17},
                          Init(vit, 1));
            }),
            want);
  // The native backend runs it through the image entry points (native_vision_test.cc), and its
  // token entry points refuse it.
  auto native = MakeBackend(vit, {}, {.image_batch = 1}, Init(vit, 1));
  std::vector<int32_t> tokens(17, 0);
  EXPECT_EQ(testing::ErrorOf([&] { native->Loss(tokens.data(), tokens.data(), 1, 17); }),
            "Loss takes token batches; model.input = patches (a vision transformer) runs through "
            "TrainStepImages, TrainStepPairs, EvalImages and FeaturesImages");
}

std::function<const char*(const char*)> Env(std::map<std::string, std::string> vars) {
  auto held = std::make_shared<std::map<std::string, std::string>>(std::move(vars));
  return [held](const char* name) -> const char* {
    auto it = held->find(name);
    return it == held->end() ? nullptr : it->second.c_str();
  };
}

TEST(Rendezvous, OneProcessWhenNothingIsSet) {
  const Rendezvous r = RendezvousFromEnvironment(Env({}));
  EXPECT_FALSE(r.distributed());
  EXPECT_EQ(r.world_size, 1);
  EXPECT_EQ(r.source, "");
}

TEST(Rendezvous, TorchrunVariables) {
  const Rendezvous r = RendezvousFromEnvironment(Env({{"WORLD_SIZE", "4"},
                                                      {"RANK", "2"},
                                                      {"LOCAL_RANK", "0"},
                                                      {"MASTER_ADDR", "node7"},
                                                      {"MASTER_PORT", "29500"}}));
  EXPECT_EQ(r.source, "torchrun");
  EXPECT_EQ(r.rank, 2);
  EXPECT_EQ(r.world_size, 4);
  EXPECT_EQ(r.master_addr, "node7");
  EXPECT_EQ(r.master_port, 29500);
}

TEST(Rendezvous, SlurmVariablesWithTheFirstHostOfTheNodeList) {
  // A batch script's allocation variables alone are not a launch: one process.
  EXPECT_FALSE(
      RendezvousFromEnvironment(Env({{"SLURM_NTASKS", "8"}, {"SLURM_PROCID", "0"}})).distributed());
  const Rendezvous r = RendezvousFromEnvironment(Env({{"SLURM_STEP_NUM_TASKS", "8"},
                                                      {"SLURM_NTASKS", "8"},
                                                      {"SLURM_PROCID", "5"},
                                                      {"SLURM_LOCALID", "1"},
                                                      {"SLURM_JOB_NODELIST", "gpu[03-05,09],cpu1"},
                                                      {"SLURM_JOB_ID", "123456"}}));
  EXPECT_EQ(r.source, "slurm");
  EXPECT_EQ(r.rank, 5);
  EXPECT_EQ(r.local_rank, 1);
  EXPECT_EQ(r.master_addr, "gpu03");
  EXPECT_EQ(r.master_port, 20000 + 123456 % 20000);
  EXPECT_EQ(FirstSlurmHost("a,b"), "a");
  EXPECT_EQ(FirstSlurmHost("n[08-12]x"), "n08x");
  EXPECT_EQ(FirstSlurmHost("solo"), "solo");
}

TEST(Rendezvous, BadValuesNameTheVariable) {
  const auto error = [](std::map<std::string, std::string> vars) {
    try {
      RendezvousFromEnvironment(Env(std::move(vars)));
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  EXPECT_EQ(error({{"WORLD_SIZE", "2"}, {"RANK", "2"}, {"MASTER_ADDR", "h"}, {"MASTER_PORT", "1"}}),
            "environment variable RANK = '2': expected an integer in [0, 1]");
  EXPECT_EQ(error({{"WORLD_SIZE", "two"}}),
            "environment variable WORLD_SIZE = 'two': expected an integer in [1, 1048576]");
  EXPECT_EQ(
      error({{"WORLD_SIZE", "2"}, {"RANK", "0"}, {"MASTER_ADDR", "h"}, {"MASTER_PORT", "70000"}}),
      "environment variable MASTER_PORT = '70000': expected an integer in [1, 65535]");
  EXPECT_NE(error({{"WORLD_SIZE", "2"}, {"RANK", "1"}}).find("needs MASTER_ADDR and MASTER_PORT"),
            std::string::npos);
  const Rendezvous file = RendezvousFromEnvironment(
      Env({{"WORLD_SIZE", "2"}, {"RANK", "1"}, {"OVERTRAIN_STORE", "/shared/store"}}));
  EXPECT_EQ(file.store_path, "/shared/store");
}

}  // namespace
}  // namespace ot
