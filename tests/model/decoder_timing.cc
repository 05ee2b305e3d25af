// Timing driver for the fast Decoder (not a test; built by hand): training steps (zero grads +
// Forward + Backward) per preset, median tokens/s and GFLOP/s, plus forward-only LogProbs.
//   g++ -O3 -march=native -std=c++20 -fopenmp -Isrc tests/model/decoder_timing.cc
//   build/<you>/libot_model.a
//       build/<you>/libot_ops.a build/<you>/libot_core.a $(pkg-config --libs openblas) -lfmt -o
//       /tmp/timing
//   OMP_NUM_THREADS=2 /tmp/timing [preset ...]
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <random>
#include <string>
#include <vector>

#include "model/decoder.h"
#include "model/init.h"

// Process CPU seconds: on a shared, oversubscribed machine wall time measures the neighbours; with
// one thread, tokens per CPU-second is the single-core throughput.
static double CpuSeconds() {
  timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

int main(int argc, char** argv) {
  std::vector<std::string> presets = {"tiny", "small", "medium"};
  if (argc > 1) presets.assign(argv + 1, argv + argc);
  for (const auto& name : presets) {
    const ot::ModelConfig c = ot::ModelConfig::FromPreset(name);
    const int B = name == "medium" ? 16 : 32, T = name == "nano" ? 64 : c.max_seq_len;
    ot::Decoder d(c, B, T);
    std::vector<float> p(d.layout().total()), g(p.size());
    ot::InitParams(d.layout(), p, 1);
    std::mt19937 gen(1);
    std::vector<int32_t> in(B * T), tg(B * T);
    for (auto& x : in) x = gen() % c.vocab_size;
    for (auto& x : tg) x = gen() % c.vocab_size;
    std::vector<double> ts, fs, cs;
    std::vector<float> lp(B * T);
    for (int s = 0; s < 12; ++s) {
      const double c0 = CpuSeconds();
      auto t0 = std::chrono::steady_clock::now();
      std::memset(g.data(), 0, g.size() * 4);
      d.Forward(p, in.data(), tg.data(), B, T);
      d.Backward(p, g);
      auto t1 = std::chrono::steady_clock::now();
      const double c1 = CpuSeconds();
      d.LogProbs(p, in.data(), tg.data(), B, T, lp.data());
      auto t2 = std::chrono::steady_clock::now();
      if (s >= 2) {
        ts.push_back(std::chrono::duration<double>(t1 - t0).count());
        cs.push_back(c1 - c0);
        fs.push_back(std::chrono::duration<double>(t2 - t1).count());
      }
    }
    std::sort(ts.begin(), ts.end());
    std::sort(fs.begin(), fs.end());
    std::sort(cs.begin(), cs.end());
    const double med = ts[ts.size() / 2], tok = B * T;
    std::printf(
        "%-7s B=%d T=%d threads=%d params=%.2fM act=%.0fMB: train %.0f tok/s (min %.0f max %.0f) "
        "%.1f GFLOP/s | eval %.0f tok/s | %.0f tok per CPU-second (best %.0f)\n",
        name.c_str(), B, T, omp_get_max_threads(), c.NumParams() / 1e6, d.ActivationBytes() / 1e6,
        tok / med, tok / ts.back(), tok / ts.front(), c.TrainFlopsPerToken(T) * tok / med / 1e9,
        tok / fs[fs.size() / 2], tok / cs[cs.size() / 2], tok / cs.front());
  }
}
