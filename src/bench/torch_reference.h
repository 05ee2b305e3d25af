// Running the PyTorch reference (reference/reference.py under Debian's /usr/bin/python3) from C++:
// finding the script, a one-shot parity run, and a long-lived benchmark process driven over pipes
// so the caller can alternate timings with its own (training steps, or evaluation forwards). Entry
// points: FindReferenceScript, CheckPythonTorch, RunReferenceParity, RunReferenceOptimParity,
// TorchBenchProcess, ReferenceModelJson.
#pragma once

#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "core/subprocess.h"
#include "model/config.h"

namespace ot {

inline constexpr const char* kReferencePython = "/usr/bin/python3";

// reference/reference.py: $OVERTRAIN_REFERENCE, else $OVERTRAIN_SOURCE_DIR/bench/, else found by
// walking up from the executable's directory and the working directory. Throws Error saying where
// it looked.
std::filesystem::path FindReferenceScript();

// Throws Error with the fix (scripts/setup.sh installs python3-torch) unless `python` imports
// torch.
void CheckPythonTorch(const std::string& python = kReferencePython);

// The architecture as reference.py reads it: ModelConfig::ToJson with d_ff resolved (ff_dim()).
nlohmann::json ReferenceModelJson(const ModelConfig& config);

// Runs `reference.py --parity in out --dtype dtype`; throws Error with how it ended and its stderr
// tail.
void RunReferenceParity(const std::filesystem::path& in, const std::filesystem::path& out,
                        const std::string& dtype = "float64", int threads = 2);

// Runs `reference.py --optim-parity in out` (float64 SGD, Lion, Muon); throws Error as
// RunReferenceParity.
void RunReferenceOptimParity(const std::filesystem::path& in, const std::filesystem::path& out);

// `reference.py --bench` or `--forward-bench` as a child process, built and warmed up in the
// constructor. Run(n) times n training steps (zero-grad, forward, backward, AdamW), or n forward
// passes (no-grad forward, log_softmax, gather of the targets' log-probs), and returns their
// seconds (wall, or the child's process CPU time with cpu_clock). The child blocks on a pipe
// between calls, so it uses no CPU while the caller measures itself.
class TorchBenchProcess {
 public:
  // Training steps of `config` at (B, T) on torch's own random weights and tokens.
  TorchBenchProcess(const ModelConfig& config, int B, int T, int threads, int warmup,
                    bool cpu_clock = false);
  // Forward passes on the weights, `batch.inputs` / `batch.targets` and `bench.model` in `weights`
  // (the same file the caller evaluates): a safetensors file of canonical tensor names
  // (ParamLayout).
  static std::unique_ptr<TorchBenchProcess> Forward(const std::filesystem::path& weights,
                                                    int threads, int warmup,
                                                    bool cpu_clock = false);
  ~TorchBenchProcess();
  TorchBenchProcess(const TorchBenchProcess&) = delete;
  TorchBenchProcess& operator=(const TorchBenchProcess&) = delete;

  std::vector<double> Run(int steps);
  // What the last Run's last step returned: the loss (training), or the sum of the targets'
  // log-probs (forward), so the caller can check that both sides computed the same function.
  double last_value() const { return last_value_; }
  int64_t num_params() const { return num_params_; }
  // Forward mode: the targets' log-probs (B*T, row-major, 0 where ignored) from one untimed
  // forward.
  std::vector<double> LogProbs();

 private:
  TorchBenchProcess(std::vector<std::string> argv, std::string times_key);
  nlohmann::json ReadReply();
  // stdin: commands; stdout: one JSON reply per line; stderr: kept for errors.
  std::optional<Child> child_;
  std::string times_key_;  // "step_s" or "forward_s"
  int64_t num_params_ = 0;
  double last_value_ = 0;
};

}  // namespace ot
