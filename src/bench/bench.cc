// The benchmark loop: per config, warm up both systems, then rounds of (overtrain steps, PyTorch
// steps, the step's GEMMs alone), and one table (see bench.h).
#include "bench/bench.h"

#include <fmt/format.h>
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <memory>

#include "bench/gemm_trace.h"
#include "bench/torch_reference.h"
#include "core/check.h"
#include "core/rng.h"
#include "model/config.h"
#include "model/decoder.h"
#include "model/init.h"
#include "model/layout.h"
#include "optim/optim_config.h"
#include "optim/optimizer.h"

namespace ot {

namespace {

// The engine's training step exactly as the trainer runs it, minus data loading and logging.
class EngineStep {
 public:
  EngineStep(const ModelConfig& config, int B, int T, uint64_t seed)
      : config_(config), B_(B), T_(T), layout_(ParamLayout::ForModel(config)) {
    params_.assign(layout_.total(), 0.0f);
    grads_.assign(layout_.total(), 0.0f);
    InitParams(layout_, params_, seed);
    optimizer_ = MakeOptimizer(OptimConfig{}, layout_);  // AdamW, the defaults
    const uint64_t key = RngKey(seed, StreamId("bench-tokens"));
    tokens_.resize(static_cast<size_t>(B) * (T + 1));
    for (size_t i = 0; i < tokens_.size(); ++i)
      tokens_[i] = static_cast<int32_t>(UniformAt(key, i) * config.vocab_size) % config.vocab_size;
    inputs_.resize(static_cast<size_t>(B) * T);
    targets_.resize(inputs_.size());
    for (int b = 0; b < B; ++b)
      for (int t = 0; t < T; ++t) {
        inputs_[b * T + t] = tokens_[b * (T + 1) + t];
        targets_[b * T + t] = tokens_[b * (T + 1) + t + 1];
      }
    decoder_ = std::make_unique<Decoder>(config, B, T);
  }

  // One forward/backward pass: the trainer's gradient oracle.
  float Pass(std::span<const float> params, std::span<float> grads) {
    std::fill(grads.begin(), grads.end(), 0.0f);
    const float loss = decoder_->Forward(params, inputs_.data(), targets_.data(), B_, T_);
    decoder_->Backward(params, grads);
    return loss;
  }

  // A step with `optimizer` (default: this engine's AdamW); SAM takes its second pass through the
  // oracle.
  float Step(Optimizer* optimizer = nullptr) {
    const float loss = Pass(params_, grads_);
    (optimizer ? *optimizer : *optimizer_)
        .StepWithOracle(
            params_, grads_, 1e-4,
            [this](std::span<const float> p, std::span<float> g) { return Pass(p, g); });
    return loss;
  }

  std::vector<double> TimeSteps(int n, BenchClock clock, Optimizer* optimizer = nullptr) {
    std::vector<double> out;
    for (int i = 0; i < n; ++i) {
      const double t0 = ReadClock(clock);
      Step(optimizer);
      out.push_back(ReadClock(clock) - t0);
    }
    return out;
  }

  int64_t num_params() const { return layout_.total(); }
  const ParamLayout& layout() const { return layout_; }
  double activation_bytes() const { return static_cast<double>(decoder_->ActivationBytes()); }

 private:
  ModelConfig config_;
  int B_, T_;
  ParamLayout layout_;
  std::vector<float> params_, grads_;
  std::vector<int32_t> tokens_, inputs_, targets_;
  std::unique_ptr<Optimizer> optimizer_;
  std::unique_ptr<Decoder> decoder_;
};

// The optimizer a --optim entry names: a kind, or "sam+<kind>" for SAM at radius `sam_rho`.
std::unique_ptr<Optimizer> BenchOptimizer(const std::string& entry, double sam_rho,
                                          const ParamLayout& layout) {
  OptimConfig c;
  const bool sam = entry.starts_with("sam+");
  c.kind = sam ? entry.substr(4) : entry;
  if (sam) c.sam_rho = sam_rho;
  return MakeOptimizer(c, layout, "bench --optim");
}

}  // namespace

TokensPerSecond SummariseTokens(std::vector<double> seconds, double tokens) {
  OT_CHECK(!seconds.empty()) << "no timed calls";
  std::sort(seconds.begin(), seconds.end());
  const size_t n = seconds.size();
  const double median_s = n % 2 ? seconds[n / 2] : 0.5 * (seconds[n / 2 - 1] + seconds[n / 2]);
  return {tokens / median_s, tokens / seconds.back(), tokens / seconds.front()};
}

void BenchShapeFor(const std::string& preset, int* B, int* T) {
  if (preset == "nano" || preset.starts_with("pico"))
    *B = 32, *T = 64;
  else if (preset == "tiny" || preset == "small")
    *B = 32, *T = 128;
  else if (preset == "medium")
    *B = 16, *T = 256;
  else
    *B = 8, *T = ModelConfig::FromPreset(preset).max_seq_len;
}

std::vector<BenchRow> RunBench(const BenchOptions& options, std::FILE* log) {
  if (options.steps < 1)
    throw Error("bench --steps = " + std::to_string(options.steps) + " must be >= 1");
  if (options.rounds < 1 || options.rounds > options.steps)
    throw Error("bench --rounds = " + std::to_string(options.rounds) + " must be in [1, --steps]");
  if (options.threads < 1) throw Error("bench --threads must be >= 1");
  for (const auto& name : options.configs) ModelConfig::FromPreset(name);  // fail before any work
  if (!options.optims.empty() && !(options.sam_rho > 0))
    throw Error("bench --sam-rho = " + std::to_string(options.sam_rho) + " must be > 0");
  for (const auto& entry : options.optims)
    BenchOptimizer(entry, options.sam_rho,
                   ParamLayout::ForModel(ModelConfig::FromPreset("pico-16")));
  omp_set_num_threads(options.threads);
  std::vector<BenchRow> rows;
  for (const auto& name : options.configs) {
    BenchRow row;
    row.config = name;
    const ModelConfig config = ModelConfig::FromPreset(name);
    BenchShapeFor(name, &row.B, &row.T);
    const double tokens = static_cast<double>(row.B) * row.T;
    row.flops_per_token = config.TrainFlopsPerToken(row.T);
    if (log)
      std::fprintf(log, "bench %s: B %d x T %d, building and warming up...\n", name.c_str(), row.B,
                   row.T);

    EngineStep engine(config, row.B, row.T, options.seed);
    row.params = engine.num_params();
    row.arena_bytes = 4.0 * 4.0 * static_cast<double>(row.params);
    row.activation_bytes = engine.activation_bytes();
    std::unique_ptr<TorchBenchProcess> torch;
    if (options.torch)
      torch = std::make_unique<TorchBenchProcess>(
          config, row.B, row.T, options.threads, options.warmup, options.clock == BenchClock::kCpu);
    engine.TimeSteps(options.warmup, options.clock);
    std::vector<std::unique_ptr<Optimizer>> optims;
    std::vector<std::vector<double>> optim_s(options.optims.size());
    for (const auto& entry : options.optims) {
      optims.push_back(BenchOptimizer(entry, options.sam_rho, engine.layout()));
      engine.TimeSteps(options.warmup, options.clock, optims.back().get());
    }
    GemmTrace gemms = GemmTrace::Record([&] { engine.Step(); });
    row.gemm_calls = static_cast<int64_t>(gemms.calls().size());
    row.gemm_flops_per_token = gemms.Flops() / tokens;
    gemms.Replay(1);

    std::vector<double> ours_s, torch_s, gemm_s;
    double peak = 0;
    for (int r = 0; r < options.rounds; ++r) {
      const int n = options.steps / options.rounds + (r < options.steps % options.rounds ? 1 : 0);
      for (double t : engine.TimeSteps(n, options.clock)) ours_s.push_back(t);
      if (torch)
        for (double t : torch->Run(n)) torch_s.push_back(t);
      for (double t : gemms.Replay(n, options.clock)) gemm_s.push_back(t);
      for (size_t o = 0; o < optims.size(); ++o)
        for (double t : engine.TimeSteps(n, options.clock, optims[o].get()))
          optim_s[o].push_back(t);
      peak = std::max(peak, SgemmPeakGflops(options.peak_n, 1, options.clock));
      if (log) {
        const auto ours = SummariseTokens(ours_s, tokens);
        std::fprintf(
            log, "  round %d/%d: overtrain %.0f tok/s%s, GEMM ceiling %.0f tok/s\n", r + 1,
            options.rounds, ours.median,
            torch ? fmt::format(", PyTorch {:.0f} tok/s", SummariseTokens(torch_s, tokens).median)
                        .c_str()
                  : "",
            SummariseTokens(gemm_s, tokens).median);
      }
    }
    row.ours = SummariseTokens(ours_s, tokens);
    if (torch) row.torch = SummariseTokens(torch_s, tokens);
    row.ceiling = SummariseTokens(gemm_s, tokens);
    row.sgemm_peak_gflops = peak;
    for (size_t o = 0; o < optims.size(); ++o)
      row.optims.push_back(
          {optims[o]->Name(), optims[o]->PassesPerStep(), SummariseTokens(optim_s[o], tokens)});
    if (options.gemm_detail)
      row.gemm_detail = gemms.TimeByShape(std::max(3, options.rounds), options.clock);
    rows.push_back(row);
  }
  return rows;
}

std::string FormatBenchTable(const std::vector<BenchRow>& rows, const BenchOptions& options) {
  std::string out = fmt::format(
      "| config | B x T | params | overtrain tok/s (min-max) | PyTorch tok/s (min-max) | vs "
      "PyTorch | "
      "GFLOP/s | % SGEMM peak (PyTorch) | GEMM ceiling tok/s | % of ceiling | memory MB (arenas + "
      "act.) |\n"
      "|---|---|---|---|---|---|---|---|---|---|---|\n");
  for (const auto& r : rows) {
    const bool has_torch = r.torch.median > 0;
    out += fmt::format(
        "| {} | {} x {} | {:.2f}M | {:.0f} ({:.0f}-{:.0f}) | {} | {} | {:.1f} | {:.0f}% ({}) | "
        "{:.0f} | "
        "{:.0f}% | {:.1f} + {:.1f} |\n",
        r.config, r.B, r.T, r.params * 1e-6, r.ours.median, r.ours.min, r.ours.max,
        has_torch ? fmt::format("{:.0f} ({:.0f}-{:.0f})", r.torch.median, r.torch.min, r.torch.max)
                  : "-",
        has_torch ? fmt::format("{:.2f}x", r.ours.median / r.torch.median) : "-", r.OursGflops(),
        100.0 * r.OursGflops() / r.sgemm_peak_gflops,
        has_torch ? fmt::format("{:.0f}%", 100.0 * r.TorchGflops() / r.sgemm_peak_gflops) : "-",
        r.ceiling.median, 100.0 * r.ours.median / r.ceiling.median, r.arena_bytes / 1048576.0,
        r.activation_bytes / 1048576.0);
  }
  double peak = 0;
  for (const auto& r : rows) peak = std::max(peak, r.sgemm_peak_gflops);
  out += fmt::format(
      "\n{}threads {}, {} timed steps per system in {} alternating rounds (overtrain, PyTorch, "
      "GEMMs alone) after "
      "{} warm-up steps; medians. SGEMM peak (square {}) {:.0f} GFLOP/s in this run. FLOPs per "
      "token = "
      "6 N_matmul + 12 L T d. GEMM ceiling = tokens/s if only the step's own SGEMM calls (recorded "
      "from one "
      "real step, replayed alone with the same shapes and threading) took time.\n",
      options.clock == BenchClock::kCpu ? "CPU-time clock (tokens per CPU-second of each process), "
                                        : "wall clock, ",
      options.threads, options.steps, options.rounds, options.warmup, options.peak_n, peak);
  for (const auto& r : rows)
    out += fmt::format(
        "{}: {} SGEMM calls per step computing {:.1f} MFLOP/token (formula {:.1f}); GEMMs alone "
        "{:.1f} GFLOP/s\n",
        r.config, r.gemm_calls, r.gemm_flops_per_token * 1e-6, r.flops_per_token * 1e-6,
        r.ceiling.median * r.gemm_flops_per_token * 1e-9);
  for (const auto& r : rows) {
    if (r.optims.empty()) continue;
    // ms per step from tokens/s: B*T tokens per step; min-max of the step time come from max-min
    // tok/s.
    const double tokens = static_cast<double>(r.B) * r.T;
    out += fmt::format(
        "\n{}: training step time by optimizer (same engine, same rounds; vs the AdamW step "
        "above)\n| optimizer | passes | step ms (min-max) | vs adamw |\n|---|---|---|---|\n",
        r.config);
    const auto line = [&](const std::string& name, int passes, const TokensPerSecond& t) {
      return fmt::format("| {} | {} | {:.2f} ({:.2f}-{:.2f}) | {:.2f}x |\n", name, passes,
                         1e3 * tokens / t.median, 1e3 * tokens / t.max, 1e3 * tokens / t.min,
                         r.ours.median / t.median);
    };
    out += line("adamw (table above)", 1, r.ours);
    for (const auto& o : r.optims) out += line(o.name, o.passes, o.tokens);
  }
  for (const auto& r : rows) {
    if (r.gemm_detail.empty()) continue;
    double total = 0;
    for (const auto& g : r.gemm_detail) total += g.seconds;
    out += fmt::format(
        "\n{}: the ceiling's {:.1f} ms per step by GEMM shape (row-major, op(A) op(B), M x N x "
        "K)\n",
        r.config, total * 1e3);
    for (const auto& g : r.gemm_detail)
      out += fmt::format("  {:5.1f}% {:8.2f} ms {:6.1f} GFLOP/s {:5d} calls  {}\n",
                         100 * g.seconds / total, g.seconds * 1e3, g.flops / g.seconds * 1e-9,
                         g.calls_per_step, g.shape);
  }
  return out;
}

}  // namespace ot
