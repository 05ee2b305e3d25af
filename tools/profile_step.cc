// Profiling driver (not a test, built by hand): runs training steps exactly as `overtrain bench`
// times them (zero grads, Forward, Backward, AdamW) for one preset, nothing else, so `perf record`
// sees only the step. Build after building ot_bench in build/<you>:
//   g++ -O3 -g -march=native -std=c++20 -fopenmp -Isrc tools/profile_step.cc
//   build/<you>/libot_optim.a \
//       build/<you>/libot_model.a build/<you>/libot_ops.a build/<you>/libot_core.a \
//       $(pkg-config --libs openblas) -lfmt -lxxhash -o /tmp/profile_step
//   OMP_NUM_THREADS=1 perf record -e cpu-clock -F 2000 -o /tmp/p.data /tmp/profile_step tiny 30
//   perf report -i /tmp/p.data --no-children --sort dso,symbol
#include <omp.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "core/rng.h"
#include "model/decoder.h"
#include "model/init.h"
#include "optim/optimizer.h"
#include "optim/param_groups.h"

int main(int argc, char** argv) {
  const std::string preset = argc > 1 ? argv[1] : "tiny";
  const int steps = argc > 2 ? std::atoi(argv[2]) : 20;
  const ot::ModelConfig c = ot::ModelConfig::FromPreset(preset);
  const int B = preset == "medium" ? 16 : 32, T = preset == "nano" ? 64 : c.max_seq_len;
  ot::Decoder d(c, B, T);
  const ot::ParamLayout& layout = d.layout();
  std::vector<float> p(layout.total()), g(p.size());
  ot::InitParams(layout, p, 1);
  ot::AdamW adamw(layout.total(), ot::AdamWConfig{},
                  ot::DecaySegmentsFor(layout, ot::DefaultDecayGroups()));
  std::vector<int32_t> in(B * T), tg(B * T);
  for (int i = 0; i < B * T; ++i) {
    in[i] = static_cast<int32_t>(ot::UniformAt(1, i) * c.vocab_size);
    tg[i] = static_cast<int32_t>(ot::UniformAt(2, i) * c.vocab_size);
  }
  const auto t0 = std::chrono::steady_clock::now();
  for (int s = 0; s < steps; ++s) {
    std::fill(g.begin(), g.end(), 0.0f);
    d.Forward(p, in.data(), tg.data(), B, T);
    d.Backward(p, g);
    adamw.Step(p, g, 1e-4);
  }
  const double sec = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("%s: %d steps, %.0f tok/s (wall, mean incl. first), threads %d\n", preset.c_str(),
              steps, steps * double(B) * T / sec, omp_get_max_threads());
}
