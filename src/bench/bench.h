// `overtrain bench`: training throughput of the engine against the PyTorch reference
// (reference/reference.py) and against the GEMM-bound ceiling, measured alternately in one run
// (docs/performance.md's method). Entry points: BenchOptions, OptimStepTime, BenchRow,
// BenchShapeFor, RunBench, FormatBenchTable.
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "bench/gemm_trace.h"

namespace ot {

// A distribution of per-step throughputs.
struct TokensPerSecond {
  double median = 0, min = 0, max = 0;
};
// tokens / seconds of each timed call, summarised (median, slowest, fastest).
TokensPerSecond SummariseTokens(std::vector<double> seconds, double tokens);

struct BenchOptions {
  std::vector<std::string> configs = {"tiny", "small", "medium"};  // model presets
  int steps = 20;     // measured training steps per system and config (split over the rounds)
  int rounds = 5;     // alternations: each round runs overtrain, PyTorch, GEMMs-alone in turn
  int warmup = 3;     // untimed steps per system before the first round
  int threads = 2;    // OpenMP threads for overtrain, BLAS and torch.set_num_threads
  bool torch = true;  // false: skip the PyTorch reference (no ratio column)
  int peak_n = 2048;  // square SGEMM size for the peak
  uint64_t seed = 1;
  BenchClock clock = BenchClock::kWall;
  bool gemm_detail = false;  // also print the ceiling's time per GEMM shape  // kCpu: tokens per
                             // CPU-second (for oversubscribed machines)
  // Optimizers to time next to AdamW (OptimKinds, or "sam+<kind>" for SAM at radius sam_rho): each
  // gets the same engine step through MakeOptimizer and StepWithOracle, in the same rounds. Empty:
  // AdamW only, and no optimizer table.
  std::vector<std::string> optims;
  double sam_rho = 0.05;
  // Backends timed through Backend::TrainStep (AdamW): native (the CPU engine; also the GEMM
  // ceiling, the PyTorch script and the optimizer table) and/or torch on `device`.
  std::vector<std::string> backends = {"native"};
  std::string device = "cpu";      // the torch backend's compute.device
  std::string precision = "fp32";  // optim.precision of every timed step: fp32 | bf16
  double peak_tflops = 0;  // the device's dense peak for MFU (0: no MFU column; CPU rows use SGEMM)
};

// One optimizer's training step (forward, backward, update; SAM: two passes) in one config.
struct OptimStepTime {
  std::string name;  // Optimizer::Name(): "sgd", "sam+adamw", ...
  int passes = 1;
  TokensPerSecond tokens;
};

struct BenchRow {
  std::string config;
  int B = 0, T = 0;
  int64_t params = 0;
  double flops_per_token = 0;  // 6 N_matmul + 12 L T d
  double gemm_flops_per_token =
      0;                   // what the engine's SGEMM calls actually compute (causal blocks skipped)
  int64_t gemm_calls = 0;  // cblas_sgemm calls per step
  TokensPerSecond ours, torch;     // torch all zero when not measured
  TokensPerSecond torch_backend;   // the torch backend (BenchOptions::backends); zero when not run
  std::string torch_backend_name;  // Backend::Describe() of it
  TokensPerSecond ceiling;         // B*T / (time of the step's GEMMs alone)
  double sgemm_peak_gflops = 0;    // best square SGEMM in this run
  double arena_bytes = 0;          // params x 4 arenas (weights, grads, AdamW m and v)
  double activation_bytes = 0;  // the decoder's activations and scratch (Decoder::ActivationBytes)
  std::vector<GemmTrace::ShapeTime> gemm_detail;  // with BenchOptions::gemm_detail
  std::vector<OptimStepTime> optims;              // with BenchOptions::optims
  double OursGflops() const { return ours.median * flops_per_token * 1e-9; }
  double TorchGflops() const { return torch.median * flops_per_token * 1e-9; }
};

// The batch each preset is benchmarked at: docs/performance.md's shapes (tiny/small B 32 x T 128,
// medium B 16 x T 256); nano 32 x 64; anything else 8 x max_seq_len.
void BenchShapeFor(const std::string& preset, int* B, int* T);

// Runs the benchmark; progress lines go to `log` (may be null).
std::vector<BenchRow> RunBench(const BenchOptions& options, std::FILE* log);

// The table printed by `overtrain bench` (Markdown, one row per config) plus a legend.
std::string FormatBenchTable(const std::vector<BenchRow>& rows, const BenchOptions& options);

}  // namespace ot
