// The evaluation-speed benchmark (see forward_bench.h): per arch, random weights written to one
// safetensors file, loaded by overtrain and by reference/reference.py, one untimed forward each to
// check they compute the same log-probs, then alternating rounds of timed forwards.
#include "bench/forward_bench.h"

#include <fmt/format.h>
#include <omp.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <memory>

#include "bench/torch_reference.h"
#include "core/check.h"
#include "core/rng.h"
#include "core/safetensors.h"
#include "model/decoder.h"
#include "model/init.h"
#include "model/layout.h"

namespace ot {

namespace {

namespace fs = std::filesystem;

// The log-prob check is a guard against timing two different models, not a parity test (that is
// tests/bench/arch_parity_test.cc): two float32 forwards of the same model differ by float rounding
// accumulated over the layers (~1e-5 nats at these depths), while a skipped bias, gain or rotary
// width moves the log-probs of these weights (gains and biases off their constants) by far more
// than 1e-3.
constexpr double kLogProbGuard = 1e-3;

ModelConfig Pythia160M() {  // EleutherAI/pythia-160m's config.json
  ModelConfig c;
  c.preset = "custom";
  c.vocab_size = 50304, c.d_model = 768, c.n_layers = 12, c.n_heads = 12, c.d_ff = 3072;
  c.max_seq_len = 2048, c.tied_head = false, c.rope_theta = 10000, c.norm_eps = 1e-5;
  c.norm = NormKind::kLayerNormAffine, c.mlp = MlpKind::kGelu, c.attn_bias = true,
  c.mlp_bias = true;
  c.parallel_residual = true, c.rotary_pct = 0.25;
  return c;
}

ModelConfig
Llama134M() {  // Llama-style at GPT-2-small width: overtrain's default architecture, untied
  ModelConfig c;
  c.preset = "custom";
  c.vocab_size = 32000, c.d_model = 768, c.n_layers = 12, c.n_heads = 12, c.d_ff = 2048;
  c.max_seq_len = 2048, c.tied_head = false;
  return c;
}

// Overtrain's init, then norm gains 1 + N(0, 0.1) and biases N(0, 0.02) (kLogProbGuard's premise).
std::vector<float> BenchWeights(const ParamLayout& layout, uint64_t seed) {
  std::vector<float> params(layout.total(), 0.0f);
  InitParams(layout, params, seed);
  const uint64_t key = RngKey(seed, StreamId("forward-bench-constants"));
  for (const auto& t : layout.tensors()) {
    const float scale = t.group == ParamGroup::kNorm   ? 0.1f
                        : t.group == ParamGroup::kBias ? 0.02f
                                                       : 0.0f;
    for (int64_t i = 0; scale > 0 && i < t.size; ++i)
      params[t.offset + i] = t.init_const + scale * NormalAt(key, t.offset + i);
  }
  return params;
}

class ScratchDir {
 public:
  ScratchDir()
      : path_(fs::temp_directory_path() / ("ot_forward_bench_" + std::to_string(getpid()))) {
    fs::remove_all(path_);
    fs::create_directories(path_);
  }
  ~ScratchDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

// The weights as the engine reads them back from the file (shapes checked against the layout).
std::vector<float> LoadWeights(const fs::path& path, const ParamLayout& layout) {
  const SafetensorsFile file = SafetensorsFile::Open(path);
  std::vector<float> params(layout.total());
  for (const auto& t : layout.tensors()) {
    const TensorView& view = file.Get(t.name);
    OT_CHECK(view.shape == t.shape) << path << ": " << t.name << " has the wrong shape";
    ToF32(view, std::span(params).subspan(t.offset, t.size));
  }
  return params;
}

}  // namespace

std::vector<std::string> ForwardBenchArchNames() { return {"pythia-160m", "llama-134m"}; }

ModelConfig ForwardBenchArch(const std::string& name) {
  if (name == "pythia-160m") return Pythia160M();
  if (name == "llama-134m") return Llama134M();
  for (const auto& preset : ModelConfig::PresetNames())
    if (name == preset) return ModelConfig::FromPreset(name);
  std::string names;
  for (const auto& n : ForwardBenchArchNames()) names += n + ", ";
  for (const auto& n : ModelConfig::PresetNames()) names += n + ", ";
  throw Error("bench --arch '" + name + "' is unknown; expected one of " +
              names.substr(0, names.size() - 2));
}

std::vector<ForwardBenchRow> RunForwardBench(const ForwardBenchOptions& options, std::FILE* log) {
  auto positive = [](const char* flag, int v) {
    if (v < 1) throw Error(fmt::format("bench {} = {} must be >= 1", flag, v));
  };
  positive("--batch", options.batch);
  positive("--seq", options.seq);
  positive("--steps", options.reps);
  positive("--threads", options.threads);
  if (options.rounds < 1 || options.rounds > options.reps)
    throw Error(fmt::format("bench --rounds = {} must be in [1, --steps = {}]", options.rounds,
                            options.reps));
  if (options.warmup < 0) throw Error("bench --warmup must be >= 0");
  for (const auto& name : options.archs) {  // fail before any work
    const ModelConfig config = ForwardBenchArch(name);
    if (options.seq > config.max_seq_len)
      throw Error(fmt::format("bench --seq = {} exceeds {}'s max_seq_len = {}", options.seq, name,
                              config.max_seq_len));
  }
  omp_set_num_threads(options.threads);
  const int B = options.batch, T = options.seq;
  const double tokens = static_cast<double>(B) * T;
  std::vector<ForwardBenchRow> rows;
  for (const auto& name : options.archs) {
    ForwardBenchRow row;
    row.arch = name;
    row.B = B;
    row.T = T;
    const ModelConfig config = ForwardBenchArch(name);
    const ParamLayout layout = ParamLayout::ForModel(config);
    row.params = layout.total();
    if (log)
      std::fprintf(log, "bench --forward %s: %.1fM parameters, B %d x T %d, writing weights...\n",
                   name.c_str(), row.params * 1e-6, B, T);
    std::vector<int32_t> inputs(B * T), targets(B * T);
    const uint64_t key = RngKey(options.seed, StreamId("forward-bench-tokens"));
    for (int i = 0; i < B * T; ++i) {
      inputs[i] =
          static_cast<int32_t>(UniformAt(key, 2 * i) * config.vocab_size) % config.vocab_size;
      targets[i] =
          static_cast<int32_t>(UniformAt(key, 2 * i + 1) * config.vocab_size) % config.vocab_size;
    }
    ScratchDir dir;
    const fs::path weights = dir.path() / "weights.safetensors";
    {
      const std::vector<float> params = BenchWeights(layout, options.seed);
      std::vector<TensorToWrite> tensors;
      for (const auto& t : layout.tensors())
        tensors.push_back(F32Tensor(t.name, t.shape, std::span(params).subspan(t.offset, t.size)));
      for (const auto& [tensor_name, v] :
           {std::pair{"batch.inputs", &inputs}, std::pair{"batch.targets", &targets}})
        tensors.push_back(
            {tensor_name, DType::kI32, {B, T}, std::as_bytes(std::span<const int32_t>(*v))});
      WriteSafetensorsFile(weights, tensors, {{"bench.model", ReferenceModelJson(config).dump()}});
    }
    const std::vector<float> params = LoadWeights(weights, layout);
    Decoder decoder(config, B, T);
    std::vector<float> logprobs(B * T);
    auto forward = [&] {
      decoder.LogProbs(params, inputs.data(), targets.data(), B, T, logprobs.data());
    };
    auto time_forwards = [&](int n) {
      std::vector<double> out;
      for (int i = 0; i < n; ++i) {
        const double t0 = ReadClock(options.clock);
        forward();
        out.push_back(ReadClock(options.clock) - t0);
      }
      return out;
    };
    std::unique_ptr<TorchBenchProcess> torch;
    if (options.torch)
      torch = TorchBenchProcess::Forward(weights, options.threads, options.warmup,
                                         options.clock == BenchClock::kCpu);
    time_forwards(std::max(1, options.warmup));
    if (torch) {
      const std::vector<double> ref = torch->LogProbs();
      OT_CHECK(ref.size() == logprobs.size()) << "torch returned " << ref.size() << " log-probs";
      row.max_logprob_diff = 0;
      for (size_t i = 0; i < ref.size(); ++i)
        row.max_logprob_diff =
            std::max(row.max_logprob_diff, std::abs(double(logprobs[i]) - ref[i]));
      if (!(row.max_logprob_diff <= kLogProbGuard))
        throw Error(fmt::format(
            "bench --forward {}: overtrain's and PyTorch's log-probs of the same weights "
            "differ by up to {:.3g} nats (> {}): they do not compute the same model",
            name, row.max_logprob_diff, kLogProbGuard));
    }
    std::vector<double> ours_s, torch_s;
    for (int r = 0; r < options.rounds; ++r) {
      const int n = options.reps / options.rounds + (r < options.reps % options.rounds ? 1 : 0);
      for (double t : time_forwards(n)) ours_s.push_back(t);
      if (torch)
        for (double t : torch->Run(n)) torch_s.push_back(t);
      if (log)
        std::fprintf(
            log, "  round %d/%d: overtrain %.0f tok/s%s\n", r + 1, options.rounds,
            SummariseTokens(ours_s, tokens).median,
            torch ? fmt::format(", PyTorch {:.0f} tok/s", SummariseTokens(torch_s, tokens).median)
                        .c_str()
                  : "");
    }
    row.ours = SummariseTokens(ours_s, tokens);
    if (torch) row.torch = SummariseTokens(torch_s, tokens);
    rows.push_back(row);
  }
  return rows;
}

std::string FormatForwardBenchTable(const std::vector<ForwardBenchRow>& rows,
                                    const ForwardBenchOptions& options) {
  std::string out =
      "| arch | B x T | params | overtrain tok/s (min-max) | PyTorch tok/s (min-max) | vs PyTorch "
      "| "
      "max abs log-prob diff |\n|---|---|---|---|---|---|---|\n";
  for (const auto& r : rows) {
    const bool has_torch = r.torch.median > 0;
    out += fmt::format(
        "| {} | {} x {} | {:.1f}M | {:.0f} ({:.0f}-{:.0f}) | {} | {} | {} |\n", r.arch, r.B, r.T,
        r.params * 1e-6, r.ours.median, r.ours.min, r.ours.max,
        has_torch ? fmt::format("{:.0f} ({:.0f}-{:.0f})", r.torch.median, r.torch.min, r.torch.max)
                  : "-",
        has_torch ? fmt::format("{:.2f}x", r.ours.median / r.torch.median) : "-",
        r.max_logprob_diff >= 0 ? fmt::format("{:.1e}", r.max_logprob_diff) : "-");
  }
  out += fmt::format(
      "\nEvaluation forward (log-probs of every target; overtrain: Decoder::LogProbs, one sequence "
      "per thread; "
      "PyTorch: no-grad forward to (B,T,V) logits, log_softmax, gather) on the same random weights "
      "from one "
      "safetensors file. {}threads {}, {} timed forwards per system in {} alternating rounds after "
      "{} warm-up "
      "forwards; medians.\n",
      options.clock == BenchClock::kCpu ? "CPU-time clock (tokens per CPU-second of each process), "
                                        : "wall clock, ",
      options.threads, options.reps, options.rounds, options.warmup);
  return out;
}

}  // namespace ot
