// `overtrain bench --forward`: evaluation tokens/s of the engine (Decoder::LogProbs, what
// evaluation runs) against PyTorch (reference/reference.py --forward-bench, transformers-style
// modules) on the same random weights, written once to a safetensors file both load, timed
// alternately in one run (issue 13's target:
// >= 1.5x PyTorch at 2 threads on an imported model of >= 100M parameters).
// Entry points: ForwardBenchOptions, ForwardBenchArch, RunForwardBench, FormatForwardBenchTable.
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "bench/bench.h"
#include "bench/gemm_trace.h"
#include "model/config.h"

namespace ot {

struct ForwardBenchOptions {
  std::vector<std::string> archs = {"pythia-160m", "llama-134m"};  // ForwardBenchArch names
  int batch = 4;  // sequences per forward; LogProbs runs one per thread, so a multiple of --threads
  int seq = 512;  // tokens per sequence
  int reps = 10;  // timed forwards per system and arch (split over the rounds)
  int rounds = 5;   // alternations: each round runs overtrain, then PyTorch
  int warmup = 2;   // untimed forwards per system first
  int threads = 2;  // OpenMP threads for overtrain, torch.set_num_threads for PyTorch
  bool torch = true;
  uint64_t seed = 1;
  BenchClock clock = BenchClock::kWall;
};

struct ForwardBenchRow {
  std::string arch;
  int B = 0, T = 0;
  int64_t params = 0;
  TokensPerSecond ours, torch;  // torch all zero when not measured
  // max |log p_ours - log p_torch| over the batch's tokens, from one untimed forward each (-1
  // without torch): both sides must have computed the same model for the speeds to compare.
  double max_logprob_diff = -1;
};

// The benchmarked shapes, as ModelConfig: pythia-160m (gpt_neox: d 768, L 12, H 12, F 3072, V
// 50304, parallel residual, rotary_pct 0.25, LayerNorm with bias, biases, untied, T 2048),
// llama-134m (Llama with overtrain's default architecture: d 768, L 12, H 12, F 2048, V 32000,
// untied, T 2048), or any ModelConfig preset. Throws Error listing both kinds of names.
ModelConfig ForwardBenchArch(const std::string& name);
std::vector<std::string> ForwardBenchArchNames();  // the built-in ones

// Runs the benchmark; progress lines go to `log` (may be null). Writes each arch's weights into a
// temporary directory (removed on return).
std::vector<ForwardBenchRow> RunForwardBench(const ForwardBenchOptions& options, std::FILE* log);

// Markdown table (one row per arch) and a legend.
std::string FormatForwardBenchTable(const std::vector<ForwardBenchRow>& rows,
                                    const ForwardBenchOptions& options);

}  // namespace ot
