// overtrain-bench, the binary behind `overtrain bench`: training throughput vs the PyTorch
// reference and the GEMM-bound ceiling (bench/bench.h); with --forward, evaluation throughput vs
// PyTorch on the same weights (bench/forward_bench.h). A binary of its own because the ceiling's
// GEMM trace defines cblas_sgemm (bench/gemm_trace.h): linked into `overtrain`, every GEMM of every
// study would pass through it.
#include <CLI/CLI.hpp>
#include <cstdio>

#include "bench/bench.h"
#include "bench/forward_bench.h"
#include "core/check.h"
#include "engine/compute_config.h"

namespace {

std::vector<std::string> SplitComma(const std::string& text) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= text.size()) {
    const size_t end = std::min(text.find(',', start), text.size());
    if (end > start) out.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

std::function<int()> SetupBench(CLI::App& app) {
  app.description(
      "Training tokens/s of overtrain vs the PyTorch reference (reference/reference.py, run "
      "alternately) "
      "and vs the GEMM-bound ceiling; with --forward, evaluation (log-prob) tokens/s of both on "
      "the "
      "same weights; prints a Markdown table");
  auto configs = std::make_shared<std::string>("pico-32,tiny,small,medium");
  auto options = std::make_shared<ot::BenchOptions>();
  app.add_option("--configs", *configs, "comma-separated model presets")->capture_default_str();
  app.add_option("--steps", options->steps, "timed training steps per system and config")
      ->capture_default_str();
  app.add_option("--rounds", options->rounds, "alternations of overtrain / PyTorch / GEMMs alone")
      ->capture_default_str();
  app.add_option("--warmup", options->warmup, "untimed steps per system first")
      ->capture_default_str();
  app.add_option("--threads", options->threads, "OpenMP / BLAS / torch threads")
      ->capture_default_str();
  app.add_flag("!--no-torch", options->torch, "skip the PyTorch reference");
  app.add_flag("--gemm-detail", options->gemm_detail,
               "also print the GEMM ceiling's time per GEMM shape");
  auto optims = std::make_shared<std::string>();
  app.add_option(
      "--optim", *optims,
      "comma-separated optimizers to time next to AdamW: adamw, sgd, lion, muon, or sam+<kind> "
      "(SAM: two passes per step); prints a table of step times per config");
  app.add_option("--sam-rho", options->sam_rho, "SAM radius for the sam+<kind> entries of --optim")
      ->capture_default_str();
  auto backends = std::make_shared<std::string>("native");
  app.add_option("--backend", *backends,
                 "comma-separated backends timed through the same training step: native, torch "
                 "(the LibTorch plugin; prints a backends table)")
      ->capture_default_str();
  app.add_option("--device", options->device, "the torch backend's device: cpu, cuda, cuda:N")
      ->capture_default_str();
  app.add_option("--precision", options->precision, "fp32, or bf16 (bf16 GEMMs, fp32 master)")
      ->check(CLI::IsMember({"fp32", "bf16"}))
      ->capture_default_str();
  app.add_option("--peak-tflops", options->peak_tflops,
                 "the device's dense peak for an MFU column (an H100 SXM: 989 in bf16); 0 = none")
      ->capture_default_str();
  auto clock = std::make_shared<std::string>("wall");
  app.add_option("--clock", *clock,
                 "wall, or cpu: tokens per CPU-second of each process (for a busy machine; "
                 "use with --threads 1)")
      ->check(CLI::IsMember({"wall", "cpu"}))
      ->capture_default_str();
  auto forward = std::make_shared<bool>(false);
  auto forward_options = std::make_shared<ot::ForwardBenchOptions>();
  auto archs = std::make_shared<std::string>("pythia-160m,llama-134m");
  app.add_flag("--forward", *forward,
               "time evaluation forwards (log-probs) instead of training steps, on --arch; uses "
               "--steps, --rounds, "
               "--warmup, --threads, --clock, --no-torch");
  app.add_option("--arch", *archs,
                 "--forward: comma-separated shapes (pythia-160m, llama-134m) or model presets")
      ->capture_default_str();
  app.add_option("--batch", forward_options->batch,
                 "--forward: sequences per forward (a multiple of --threads)")
      ->capture_default_str();
  app.add_option("--seq", forward_options->seq, "--forward: tokens per sequence")
      ->capture_default_str();
  return [configs, options, clock, optims, forward, forward_options, archs, backends] {
    options->optims = SplitComma(*optims);
    options->backends = SplitComma(*backends);
    if (const std::string problem =
            ot::ComputeProblem({.backend = "torch", .device = options->device});
        !problem.empty())
      throw ot::Error("bench --device: " + problem);
    options->clock = *clock == "cpu" ? ot::BenchClock::kCpu : ot::BenchClock::kWall;
    if (*forward) {
      ot::ForwardBenchOptions& f = *forward_options;
      f.archs = SplitComma(*archs);
      if (f.archs.empty())
        throw ot::Error("bench --arch: expected at least one shape or preset name");
      f.reps = options->steps, f.rounds = options->rounds, f.warmup = options->warmup;
      f.threads = options->threads, f.torch = options->torch, f.clock = options->clock;
      const auto rows = ot::RunForwardBench(f, stderr);
      std::fputs(ot::FormatForwardBenchTable(rows, f).c_str(), stdout);
      return 0;
    }
    options->configs = SplitComma(*configs);
    if (options->configs.empty())
      throw ot::Error("bench --configs: expected at least one preset name");
    const auto rows = ot::RunBench(*options, stderr);
    std::fputs(ot::FormatBenchTable(rows, *options).c_str(), stdout);
    return 0;
  };
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app;
  app.name("overtrain bench");
  const std::function<int()> run = SetupBench(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  try {
    return run();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
}
