// Perturbation: γ = 0 is exact, keyed noise is thread-count independent, seeds differ, the
// empirical std per tensor matches γ·σ_init, the base arena is untouched, groups and constant
// tensors are respected (docs/reliability.md case 11).
#include <gtest/gtest.h>
#include <omp.h>

#include <cmath>

#include "model/init.h"
#include "model/noise.h"

namespace ot {
namespace {

struct PerturbFixture {
  ModelConfig config = ModelConfig::Nano();
  ParamLayout layout = ParamLayout::ForModel(config);
  std::vector<float> base;
  PerturbFixture() {
    base.resize(layout.total());
    InitParams(layout, base, 3);
  }
};

TEST(Perturb, GammaZeroIsExact) {
  PerturbFixture f;
  std::vector<float> out(f.base.size());
  PerturbedCopy(f.layout, f.base, out, {.gamma = 0.0, .seed = 1, .draw = 0});
  EXPECT_EQ(out, f.base);
}

TEST(Perturb, SameSeedSameNoiseAtOneAndTwoThreads) {
  PerturbFixture f;
  std::vector<float> a(f.base.size()), b(f.base.size()), c(f.base.size());
  const NoiseSpec spec{.gamma = 0.5, .seed = 9, .draw = 2};
  omp_set_num_threads(1);
  PerturbedCopy(f.layout, f.base, a, spec);
  omp_set_num_threads(2);
  PerturbedCopy(f.layout, f.base, b, spec);
  EXPECT_EQ(a, b);
  NoiseSpec other = spec;
  other.seed = 10;
  PerturbedCopy(f.layout, f.base, c, other);
  EXPECT_NE(a, c);
  other = spec;
  other.draw = 3;
  PerturbedCopy(f.layout, f.base, c, other);
  EXPECT_NE(a, c);
}

TEST(Perturb, EmpiricalStdMatchesGammaTimesInitStd) {
  PerturbFixture f;
  std::vector<float> out(f.base.size());
  const double gamma = 0.3;
  PerturbedCopy(f.layout, f.base, out, {.gamma = gamma, .seed = 5, .draw = 0});
  for (const auto& t : f.layout.tensors()) {
    double ss = 0;
    for (int64_t i = 0; i < t.size; ++i) {
      const double d = out[t.offset + i] - f.base[t.offset + i];
      ss += d * d;
    }
    const double std = std::sqrt(ss / t.size);
    if (t.init_std == 0) {
      EXPECT_EQ(std, 0.0) << t.name << " is constant-initialised and must not be perturbed";
    } else {
      // Relative sampling error of a std estimate is ~1/sqrt(2n); n >= 4096 here, so 5% is > 4
      // sigma.
      EXPECT_NEAR(std, gamma * t.init_std, 0.05 * gamma * t.init_std) << t.name;
    }
  }
}

TEST(Perturb, GroupsSelectTensorsAndRelativeNormScales) {
  PerturbFixture f;
  std::vector<float> out(f.base.size());
  PerturbedCopy(f.layout, f.base, out, {.gamma = 1.0, .seed = 1, .draw = 0, .groups = {"mlp"}});
  for (const auto& t : f.layout.tensors()) {
    const bool changed = !std::equal(out.begin() + t.offset, out.begin() + t.offset + t.size,
                                     f.base.begin() + t.offset);
    EXPECT_EQ(changed, t.group == ParamGroup::kMlp) << t.name;
  }
  const NoiseSpec rel{.gamma = 0.1, .seed = 1, .draw = 0, .scale = NoiseScale::kRelative};
  PerturbedCopy(f.layout, f.base, out, rel);
  // Per tensor, σ = γ·rms(θ_t): each tensor's noise norm is γ times its own norm, whatever its
  // init std (large tensors only: the ratio's sampling error is ~1/sqrt(2n)).
  int checked = 0;
  for (const auto& t : f.layout.tensors()) {
    if (t.init_std <= 0 || t.size < 1000) continue;
    double noise = 0, norm = 0;
    for (int64_t i = 0; i < t.size; ++i) {
      const double d = out[t.offset + i] - f.base[t.offset + i];
      noise += d * d;
      norm += static_cast<double>(f.base[t.offset + i]) * f.base[t.offset + i];
    }
    EXPECT_NEAR(std::sqrt(noise / norm), 0.1, 0.005) << t.name;
    ++checked;
  }
  EXPECT_GE(checked, 2);
  EXPECT_EQ(ParseNoiseScale("init"), NoiseScale::kInit);
  EXPECT_EQ(ParseNoiseScale("relative"), NoiseScale::kRelative);
  EXPECT_THROW(ParseNoiseScale("relative-norm"), Error);  // the names are init and relative
  EXPECT_THROW(ParseNoiseScale("huge"), Error);
}

}  // namespace
}  // namespace ot
