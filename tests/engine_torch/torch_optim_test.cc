// The torch optimizers against the native ones on identical gradients: three steps of AdamW, SGD
// (Nesterov, coupled decay), Lion and Muon over a layout with every group, compared element by
// element. Both apply the same float32 formula with the same float scalars, so the elementwise
// optimizers differ at most by the rounding of a fused multiply-add (LibTorch's vectorised kernels
// may contract a·b + c; the native loops do not): a few ulps of the weight per step. Muon's
// Newton–Schulz runs five rounds of three GEMMs whose summation order differs: float32 rounding
// (6e-8) amplified by at most a^5 ≈ 485 (optim/muon.h), relative to the update's size.
#include "engine_torch/torch_optim.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "model/init.h"
#include "optim/optimizer.h"

namespace ot {
namespace {

ModelConfig OptimModel() {
  ModelConfig c;
  c.vocab_size = 50;
  c.d_model = 24;
  c.n_layers = 2;
  c.n_heads = 2;
  c.d_ff = 40;
  c.max_seq_len = 8;
  c.attn_bias = true;  // every group present: embed, attn, mlp, norm, bias (tied head)
  return c;
}

at::Tensor Device(const std::vector<float>& v) {
  return at::from_blob(const_cast<float*>(v.data()), {static_cast<int64_t>(v.size())},
                       at::TensorOptions().dtype(at::kFloat))
      .clone();
}

class TorchOptimParity : public ::testing::TestWithParam<std::string> {};

TEST_P(TorchOptimParity, ThreeStepsMatchTheNativeOptimizer) {
  const ModelConfig model = OptimModel();
  const ParamLayout layout = ParamLayout::ForModel(model);
  OptimConfig c;
  c.kind = GetParam();
  c.lr = c.kind == "sgd" ? 0.1 : 3e-3;
  if (c.kind == "sgd") c.nesterov = true;
  if (c.kind == "lion") c.beta2 = 0.99;
  std::vector<float> p(layout.total());
  InitParams(layout, p, 5);
  auto native = MakeOptimizer(c, layout);
  auto torch = torch_engine::MakeTorchOptimizer(c, layout, at::Device(at::kCPU));
  EXPECT_EQ(torch->Name(), native->Name());
  const at::Tensor theta = Device(p);
  std::mt19937 gen(9);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  double worst = 0;
  for (int step = 1; step <= 3; ++step) {
    std::vector<float> g(p.size());
    for (auto& x : g) x = 0.01f * normal(gen);
    const std::vector<float> before = p;
    native->Step(p, g, c.lr);
    {
      at::NoGradGuard no_grad;
      torch->Step(theta, Device(g), c.lr);
    }
    const float* t = theta.data_ptr<float>();
    double update = 0;  // the largest update of this step, the scale of Muon's error
    for (size_t i = 0; i < p.size(); ++i)
      update = std::max(update, double(std::abs(p[i] - before[i])));
    for (size_t i = 0; i < p.size(); ++i) {
      const double err = std::abs(double(t[i]) - p[i]);
      // Elementwise: 4 ulps of |p| per step (two roundings that an FMA may fuse, each <= 1 ulp,
      // times the steps so far). Muon: 485 x 6e-8 of the update, plus the elementwise bound.
      const double ulps = 4.0 * step * 0x1p-24 * (std::abs(p[i]) + update);
      const double bound = c.kind == "muon" ? ulps + 485 * 0x1p-24 * update * step : ulps;
      ASSERT_LE(err, bound) << c.kind << " step " << step << " element " << i << ": torch " << t[i]
                            << " native " << p[i];
      worst = std::max(worst, err / (std::abs(p[i]) + update));
    }
  }
  for (const auto& [name, state] : torch->State()) {
    bool found = false;
    for (const auto& s : native->State())
      if (s.name == name) {
        found = true;
        const float* t = state.data_ptr<float>();
        for (size_t i = 0; i < s.data.size(); ++i)
          ASSERT_NEAR(t[i], s.data[i], 1e-5 * (1e-3 + std::abs(s.data[i]))) << name << " " << i;
      }
    EXPECT_TRUE(found) << "torch state " << name << " has no native counterpart";
  }
  std::printf("  %s: worst |torch - native| / (|p| + update) %.1e over 3 steps\n", c.kind.c_str(),
              worst);
}

INSTANTIATE_TEST_SUITE_P(Kinds, TorchOptimParity, ::testing::Values("adamw", "sgd", "lion", "muon"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace ot
