// Running the PyTorch reference (bench/reference.py under Debian's /usr/bin/python3) from C++: finding the
// script, a one-shot parity run, and a long-lived benchmark process driven over pipes so the caller can
// alternate timings with its own. Entry points: FindReferenceScript, CheckPythonTorch, RunReferenceParity,
// RunReferenceOptimParity, TorchBenchProcess, ReferenceModelJson.
#pragma once

#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "core/subprocess.h"
#include "model/config.h"

namespace ot {

inline constexpr const char* kReferencePython = "/usr/bin/python3";

// bench/reference.py: $OVERTRAIN_REFERENCE, else $OVERTRAIN_SOURCE_DIR/bench/, else found by walking up
// from the executable's directory and the working directory. Throws Error saying where it looked.
std::filesystem::path FindReferenceScript();

// Throws Error with the fix (scripts/setup.sh installs python3-torch) unless `python` imports torch.
void CheckPythonTorch(const std::string& python = kReferencePython);

// The architecture as reference.py reads it (resolved d_ff, norm name, ...).
nlohmann::json ReferenceModelJson(const ModelConfig& config);

// Runs `reference.py --parity in out --dtype dtype`; throws Error with how it ended and its stderr
// tail.
void RunReferenceParity(const std::filesystem::path& in, const std::filesystem::path& out,
                        const std::string& dtype = "float64", int threads = 2);

// Runs `reference.py --optim-parity in out` (float64 SGD, Lion, Muon); throws Error as RunReferenceParity.
void RunReferenceOptimParity(const std::filesystem::path& in, const std::filesystem::path& out);

// `reference.py --bench` as a child process: built and warmed up in the constructor, then Run(n) times n
// training steps (zero-grad, forward, backward, AdamW) and returns their seconds (wall, or the child's
// process CPU time with cpu_clock). The child blocks on a
// pipe between calls, so it uses no CPU while the caller measures itself.
class TorchBenchProcess {
 public:
  TorchBenchProcess(const ModelConfig& config, int B, int T, int threads, int warmup, bool cpu_clock = false);
  ~TorchBenchProcess();
  TorchBenchProcess(const TorchBenchProcess&) = delete;
  TorchBenchProcess& operator=(const TorchBenchProcess&) = delete;

  std::vector<double> Run(int steps);
  int64_t num_params() const { return num_params_; }

 private:
  nlohmann::json ReadReply();
  // stdin: commands; stdout: one JSON reply per line; stderr: kept for errors.
  std::optional<Child> child_;
  int64_t num_params_ = 0;
};

}  // namespace ot
