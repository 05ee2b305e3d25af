// The PyTorch reference's child processes go through core/subprocess: argv (paths with quotes and
// spaces reach the script verbatim, no shell), and a script that dies is an Error quoting its
// stderr and how it ended, for the one-shot parity run and for the long-lived benchmark process.
// Stand-in scripts replace reference/reference.py (OVERTRAIN_REFERENCE); /usr/bin/python3 must
// import torch (scripts/setup.sh).
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "bench/torch_reference.h"
#include "core/check.h"
#include "core/fileio.h"

namespace ot {
namespace {
namespace fs = std::filesystem;

class TorchProcess : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("ot_torch_proc_" + std::to_string(getpid()) + " it's");
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override {
    unsetenv("OVERTRAIN_REFERENCE");
    fs::remove_all(dir_);
  }
  void UseScript(const std::string& python) {
    const fs::path script = dir_ / "reference.py";
    std::ofstream(script) << python;
    setenv("OVERTRAIN_REFERENCE", script.c_str(), 1);
  }
  fs::path dir_;
};

TEST_F(TorchProcess, ParityArgumentsArriveVerbatim) {
  UseScript("import sys\nopen(sys.argv[3], 'w').write('|'.join(sys.argv[1:]))\n");
  const fs::path in = dir_ / "in $HOME.safetensors", out = dir_ / "out.txt";
  RunReferenceParity(in, out, "float64", 1);
  EXPECT_EQ(ReadFile(out),
            "--parity|" + in.string() + "|" + out.string() + "|--dtype|float64|--threads|1");
}

TEST_F(TorchProcess, ParityFailureQuotesStderrAndExitCode) {
  UseScript(
      "import sys\nprint('Traceback: RuntimeError: shapes differ', "
      "file=sys.stderr)\nsys.exit(3)\n");
  try {
    RunReferenceParity(dir_ / "in", dir_ / "out", "float64", 1);
    FAIL() << "no Error";
  } catch (const Error& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("(exit code 3)"), std::string::npos) << m;
    EXPECT_NE(m.find("RuntimeError: shapes differ"), std::string::npos) << m;
  }
}

TEST_F(TorchProcess, BenchProcessThatDiesIsAnErrorWithItsStderr) {
  UseScript(R"(import sys, json
print(json.dumps({"ready": True, "params": 5}), flush=True)
for line in sys.stdin:
    if line.startswith("run 1"):
        print(json.dumps({"step_s": [0.5]}), flush=True)
    else:
        print("CUDA-less out of memory in step 2", file=sys.stderr, flush=True)
        sys.exit(7)
)");
  TorchBenchProcess bench(ModelConfig::Nano(), 2, 8, 1, 0);
  EXPECT_EQ(bench.num_params(), 5);
  EXPECT_EQ(bench.Run(1), std::vector<double>{0.5});
  try {
    bench.Run(2);
    FAIL() << "no Error";
  } catch (const Error& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("(exit code 7)"), std::string::npos) << m;
    EXPECT_NE(m.find("out of memory in step 2"), std::string::npos) << m;
  }
}

}  // namespace
}  // namespace ot
