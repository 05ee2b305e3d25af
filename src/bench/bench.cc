// The benchmark loop: per config, warm up both systems, then rounds of (overtrain steps, PyTorch
// steps, the step's GEMMs alone), and one table (see bench.h).
#include "bench/bench.h"

#include <fmt/format.h>
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <optional>

#include "bench/gemm_trace.h"
#include "bench/torch_reference.h"
#include "core/check.h"
#include "core/rng.h"
#include "engine/backend.h"
#include "model/config.h"
#include "model/decoder.h"
#include "model/init.h"
#include "model/layout.h"
#include "optim/optim_config.h"
#include "optim/optimizer.h"

namespace ot {

namespace {

// One backend's training step exactly as the trainer runs it (Backend::TrainStep: passes, clip,
// update), minus data loading and logging, on a fixed batch.
class BackendStep {
 public:
  BackendStep(const ModelConfig& config, int B, int T, uint64_t seed, const ComputeConfig& compute,
              const OptimConfig& optim)
      : B_(B), T_(T), vision_(config.vision()), pairs_(config.head == "projection") {
    const ParamLayout layout = ParamLayout::ForModel(config);
    std::vector<float> params(layout.total());
    InitParams(layout, params, seed);
    BackendPlan plan{.train_batch = B, .train_seq = T, .optim = optim};
    if (vision_) plan = {.optim = optim, .image_batch = B};  // a ViT plans images, not tokens
    backend_ = MakeBackend(config, compute, plan, std::move(params));
    if (vision_) {  // B images of N(0, 1) pixels with random labels, or B pairs of views
      const uint64_t key = RngKey(seed, StreamId("bench-images"));
      const int64_t n = int64_t{B} * config.pixels();
      pixels_.resize((pairs_ ? 2 : 1) * n);
      for (int64_t i = 0; i < n; ++i) pixels_[i] = NormalAt(key, i);
      for (int64_t i = n; i < int64_t(pixels_.size()); ++i)
        pixels_[i] = pixels_[i - n] + 0.5f * NormalAt(key, i);
      for (int b = 0; b < B; ++b)
        targets_.push_back(static_cast<int32_t>(UniformAt(key, n * 2 + b) * config.n_classes) %
                           config.n_classes);
      return;
    }
    const uint64_t key = RngKey(seed, StreamId("bench-tokens"));
    std::vector<int32_t> tokens(static_cast<size_t>(B) * (T + 1));
    for (size_t i = 0; i < tokens.size(); ++i)
      tokens[i] = static_cast<int32_t>(UniformAt(key, i) * config.vocab_size) % config.vocab_size;
    inputs_.resize(static_cast<size_t>(B) * T);
    targets_.resize(inputs_.size());
    for (int b = 0; b < B; ++b)
      for (int t = 0; t < T; ++t) {
        inputs_[b * T + t] = tokens[b * (T + 1) + t];
        targets_[b * T + t] = tokens[b * (T + 1) + t + 1];
      }
  }

  double Step() {
    const StepControl control{.clip = 1.0};
    if (vision_ && pairs_)
      return backend_
          ->TrainStepPairs(pixels_.data(), pixels_.data() + pixels_.size() / 2, B_, 1e-4, control)
          .loss;
    if (vision_)
      return backend_->TrainStepImages(pixels_.data(), targets_.data(), B_, 1e-4, control).loss;
    return backend_->TrainStep(inputs_.data(), targets_.data(), B_, T_, 1e-4, control).loss;
  }

  // Seconds of each of n steps; a device backend is synchronised by the loss it returns.
  std::vector<double> TimeSteps(int n, BenchClock clock) {
    std::vector<double> out;
    for (int i = 0; i < n; ++i) {
      const double t0 = ReadClock(clock);
      Step();
      out.push_back(ReadClock(clock) - t0);
    }
    return out;
  }

  Backend& backend() { return *backend_; }

 private:
  int B_, T_;
  bool vision_, pairs_;
  std::vector<int32_t> inputs_, targets_;  // a ViT: targets_ holds the B labels
  std::vector<float> pixels_;              // a ViT: (B, pixels) images (x2 for pairs)
  std::unique_ptr<Backend> backend_;
};

// The optimizer a --optim entry names: a kind, or "sam+<kind>" for SAM at radius `sam_rho`.
OptimConfig BenchOptimizer(const std::string& entry, double sam_rho) {
  OptimConfig c;
  const bool sam = entry.starts_with("sam+");
  c.kind = sam ? entry.substr(4) : entry;
  if (sam) c.sam_rho = sam_rho;
  if (std::find(OptimKinds().begin(), OptimKinds().end(), c.kind) == OptimKinds().end())
    throw Error("bench --optim: '" + entry +
                "' is not adamw, sgd, lion, muon or sam+<one of them>");
  return c;
}

// A ViT's 6 N_matmul + 12 L T d per token: the blocks' matrices as the decoder's, plus the patch
// embedding (once per patch token) and the head (once per image, so / T), instead of the LM head.
double VisionTrainFlopsPerToken(const ModelConfig& c, int T) {
  const double C = c.d_model, F = c.ff_dim(), L = c.n_layers, KV = c.kv_dim();
  const double branches = c.mlp == MlpKind::kSwiGlu ? 3 : 2;
  const double blocks = L * (2 * C * C + 2 * KV * C + branches * C * F);
  const double ends = (double(c.patch_dim()) * C * c.num_patches() + double(c.head_dim()) * C) / T;
  return 6 * (blocks + ends) + 12 * L * T * C;
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
  if (const ModelConfig c = ModelConfig::FromPreset(preset); c.vision())
    *B = 32, *T = c.image_tokens();  // a ViT: 32 images of T tokens (patches + CLS)
  else if (preset == "nano" || preset.starts_with("pico"))
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
  for (const auto& entry : options.optims) BenchOptimizer(entry, options.sam_rho);
  for (const auto& backend : options.backends)
    if (backend != "native" && backend != "torch")
      throw Error("bench --backend: '" + backend + "' is not native or torch");
  OptimConfig adamw;  // the defaults
  adamw.precision = options.precision;
  const ComputeConfig torch_compute{.backend = "torch", .device = options.device};
  const bool with_torch_backend = std::find(options.backends.begin(), options.backends.end(),
                                            "torch") != options.backends.end();
  const bool with_native = std::find(options.backends.begin(), options.backends.end(), "native") !=
                           options.backends.end();
  if (!with_native && options.device == "cpu")
    throw Error("bench --backend: include native (it sets the GEMM ceiling on the CPU)");
  omp_set_num_threads(options.threads);
  std::vector<BenchRow> rows;
  for (const auto& name : options.configs) {
    BenchRow row;
    row.config = name;
    const ModelConfig config = ModelConfig::FromPreset(name);
    BenchShapeFor(name, &row.B, &row.T);
    const double tokens = static_cast<double>(row.B) * row.T;
    row.flops_per_token = config.vision() ? VisionTrainFlopsPerToken(config, row.T)
                                          : config.TrainFlopsPerToken(row.T);
    if (log)
      std::fprintf(log, "bench %s: B %d x T %d, building and warming up...\n", name.c_str(), row.B,
                   row.T);

    row.params = config.NumParams();
    row.arena_bytes = 4.0 * 4.0 * static_cast<double>(row.params);
    row.activation_bytes = static_cast<double>(Decoder::PlannedActivationBytes(
        config, row.B, row.T, options.threads, {.bf16_matmul = options.precision == "bf16"}));
    // The native engine (and with it the GEMM ceiling, the PyTorch script and the optimizer table)
    // where asked; the torch backend where asked. Every system warms up, then they alternate.
    std::unique_ptr<BackendStep> engine, torch_backend;
    std::unique_ptr<TorchBenchProcess> torch;
    std::vector<std::unique_ptr<BackendStep>> optims;
    std::optional<GemmTrace> gemms;
    if (with_native) {
      engine =
          std::make_unique<BackendStep>(config, row.B, row.T, options.seed, ComputeConfig{}, adamw);
      engine->TimeSteps(options.warmup, options.clock);
      if (options.torch)
        torch =
            std::make_unique<TorchBenchProcess>(config, row.B, row.T, options.threads,
                                                options.warmup, options.clock == BenchClock::kCpu);
      for (const auto& entry : options.optims) {
        optims.push_back(std::make_unique<BackendStep>(config, row.B, row.T, options.seed,
                                                       ComputeConfig{},
                                                       BenchOptimizer(entry, options.sam_rho)));
        optims.back()->TimeSteps(options.warmup, options.clock);
      }
      gemms = GemmTrace::Record([&] { engine->Step(); });
      row.gemm_calls = static_cast<int64_t>(gemms->calls().size());
      row.gemm_flops_per_token = gemms->Flops() / tokens;
      gemms->Replay(1);
    }
    if (with_torch_backend) {
      torch_backend =
          std::make_unique<BackendStep>(config, row.B, row.T, options.seed, torch_compute, adamw);
      row.torch_backend_name = torch_backend->backend().Describe();
      torch_backend->TimeSteps(options.warmup, options.clock);
    }

    std::vector<double> ours_s, torch_s, gemm_s, backend_s;
    std::vector<std::vector<double>> optim_s(optims.size());
    double peak = 0;
    for (int r = 0; r < options.rounds; ++r) {
      const int n = options.steps / options.rounds + (r < options.steps % options.rounds ? 1 : 0);
      if (engine)
        for (double t : engine->TimeSteps(n, options.clock)) ours_s.push_back(t);
      if (torch)
        for (double t : torch->Run(n)) torch_s.push_back(t);
      if (torch_backend)
        for (double t : torch_backend->TimeSteps(n, options.clock)) backend_s.push_back(t);
      if (gemms) {
        for (double t : gemms->Replay(n, options.clock)) gemm_s.push_back(t);
        peak = std::max(peak, SgemmPeakGflops(options.peak_n, 1, options.clock));
      }
      for (size_t o = 0; o < optims.size(); ++o)
        for (double t : optims[o]->TimeSteps(n, options.clock)) optim_s[o].push_back(t);
      if (log) {
        std::string line = fmt::format("  round {}/{}:", r + 1, options.rounds);
        if (engine)
          line += fmt::format(" overtrain native {:.0f} tok/s, GEMM ceiling {:.0f} tok/s",
                              SummariseTokens(ours_s, tokens).median,
                              SummariseTokens(gemm_s, tokens).median);
        if (torch)
          line += fmt::format(", PyTorch {:.0f} tok/s", SummariseTokens(torch_s, tokens).median);
        if (torch_backend)
          line += fmt::format(", overtrain torch {:.0f} tok/s",
                              SummariseTokens(backend_s, tokens).median);
        std::fprintf(log, "%s\n", line.c_str());
      }
    }
    if (engine) {
      row.ours = SummariseTokens(ours_s, tokens);
      row.ceiling = SummariseTokens(gemm_s, tokens);
    }
    if (torch) row.torch = SummariseTokens(torch_s, tokens);
    if (torch_backend) row.torch_backend = SummariseTokens(backend_s, tokens);
    row.sgemm_peak_gflops = peak;
    for (size_t o = 0; o < optims.size(); ++o)
      row.optims.push_back({optims[o]->backend().OptimizerName(),
                            optims[o]->backend().PassesPerStep(),
                            SummariseTokens(optim_s[o], tokens)});
    if (options.gemm_detail && gemms)
      row.gemm_detail = gemms->TimeByShape(std::max(3, options.rounds), options.clock);
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
    if (!ModelConfig::FromPreset(r.config).vision()) continue;
    const double tokens = static_cast<double>(r.B) * r.T;  // step ms = 1000 B T / (tok/s)
    out += fmt::format(
        "{}: a ViT; a step is {} images of T {} tokens; median step ms: overtrain {:.2f}{}\n",
        r.config, r.B, r.T, 1e3 * tokens / r.ours.median,
        r.torch.median > 0
            ? fmt::format(", PyTorch (reference/vit.py) {:.2f}", 1e3 * tokens / r.torch.median)
            : std::string());
  }
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
  bool backends = false;
  for (const auto& r : rows) backends |= r.torch_backend.median > 0;
  if (backends) {
    out += fmt::format(
        "\nBackends: one AdamW training step (Backend::TrainStep: forward, backward, clip, update) "
        "in the same rounds, precision {}\n| config | backend | tok/s (min-max) | TFLOP/s | {} | "
        "vs native |\n|---|---|---|---|---|---|\n",
        options.precision, options.peak_tflops > 0 ? "MFU" : "% of GEMM ceiling");
    for (const auto& r : rows) {
      const auto line = [&](const std::string& name, const TokensPerSecond& t) {
        const double tflops = t.median * r.flops_per_token * 1e-12;
        const std::string share =
            options.peak_tflops > 0
                ? fmt::format("{:.1f}% of {:.0f}", 100 * tflops / options.peak_tflops,
                              options.peak_tflops)
            : r.ceiling.median > 0 ? fmt::format("{:.0f}%", 100 * t.median / r.ceiling.median)
                                   : std::string("-");
        return fmt::format("| {} | {} | {:.0f} ({:.0f}-{:.0f}) | {:.3f} | {} | {} |\n", r.config,
                           name, t.median, t.min, t.max, tflops, share,
                           r.ours.median > 0 ? fmt::format("{:.2f}x", t.median / r.ours.median)
                                             : std::string("-"));
      };
      if (r.ours.median > 0) out += line("native", r.ours);
      if (r.torch_backend.median > 0) out += line(r.torch_backend_name, r.torch_backend);
    }
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
