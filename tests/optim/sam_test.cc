// SAM against a step worked by hand on a separable quadratic, through a recording base optimizer:
// the second gradient must be taken at θ + ρ·g/‖g‖ (ASAM: θ + ρ·θ²⊙g/‖|θ|⊙g‖), the base must
// receive exactly that gradient at the restored θ, and a SAM step without an oracle must refuse.
#include "optim/sam.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "core/check.h"

namespace ot {
namespace {

// Plain gradient descent that remembers what it was given.
class Recording final : public Optimizer {
 public:
  std::string Name() const override { return "recording"; }
  void Step(std::span<float> params, std::span<const float> grads, double lr) override {
    ++step_count_;
    seen_params.assign(params.begin(), params.end());
    seen_grads.assign(grads.begin(), grads.end());
    for (size_t i = 0; i < params.size(); ++i) params[i] -= static_cast<float>(lr) * grads[i];
  }
  std::vector<OptimizerState> State() override { return {}; }
  void Reset() override { step_count_ = 0; }
  std::vector<float> seen_params, seen_grads;
};

// L(θ) = ½ Σ a_i θ_i², ∇L = a ⊙ θ.
struct Quadratic {
  std::vector<float> a;
  int calls = 0;
  std::vector<float> last_point;
  float operator()(std::span<const float> p, std::span<float> g) {
    ++calls;
    last_point.assign(p.begin(), p.end());
    float loss = 0;
    for (size_t i = 0; i < p.size(); ++i) g[i] = a[i] * p[i], loss += 0.5f * a[i] * p[i] * p[i];
    return loss;
  }
};

TEST(Sam, SecondGradientIsTakenAtTheAscentPointAndAppliedAtTheOrigin) {
  // θ = [1, −2], a = [1, 3]: g = [1, −6], ‖g‖ = √37, e = 0.05·g/√37 = [0.0082199, −0.0493196].
  // θ + e = [1.0082199, −2.0493196]; g' = a ⊙ (θ + e) = [1.0082199, −6.1479588].
  // The base (GD, lr 0.1) then steps from θ: [1 − 0.10082199, −2 + 0.61479588] = [0.8991780,
  // −1.3852041].
  auto base = std::make_unique<Recording>();
  Recording* rec = base.get();
  Sam sam(std::move(base), {.rho = 0.05});
  Quadratic q{{1, 3}};
  std::vector<float> p = {1, -2}, g(2);
  q(p, g);
  sam.StepWithOracle(p, g, 0.1, std::ref(q));
  EXPECT_EQ(q.calls, 2);  // the trainer's pass + SAM's one
  EXPECT_NEAR(q.last_point[0], 1.0082199, 1e-6);
  EXPECT_NEAR(q.last_point[1], -2.0493196, 1e-6);
  ASSERT_EQ(rec->seen_params.size(), 2u);
  EXPECT_EQ(rec->seen_params[0], 1.0f);  // restored bit-exactly, not θ + e − e
  EXPECT_EQ(rec->seen_params[1], -2.0f);
  EXPECT_NEAR(rec->seen_grads[0], 1.0082199, 1e-6);
  EXPECT_NEAR(rec->seen_grads[1], -6.1479588, 1e-6);
  EXPECT_NEAR(p[0], 0.8991780, 1e-6);
  EXPECT_NEAR(p[1], -1.3852041, 1e-6);
  EXPECT_NEAR(sam.last_perturbation_norm(), 0.05, 1e-7);
  EXPECT_EQ(sam.step_count(), 1);
  EXPECT_EQ(sam.Name(), "sam+recording");
}

TEST(Sam, AdaptiveRadiusScalesByParameterMagnitude) {
  // ASAM: e = ρ·θ²⊙g/‖|θ|⊙g‖. θ = [1, −2], g = [1, −6]: |θ|⊙g = [1, −12], norm √145;
  // θ²⊙g = [1, −24]; e = 0.05·[1, −24]/√145 = [0.0041523, −0.0996546].
  auto base = std::make_unique<Recording>();
  Sam sam(std::move(base), {.rho = 0.05, .adaptive = true});
  Quadratic q{{1, 3}};
  std::vector<float> p = {1, -2}, g(2);
  q(p, g);
  sam.StepWithOracle(p, g, 0.1, std::ref(q));
  EXPECT_NEAR(q.last_point[0], 1.0041523, 1e-6);
  EXPECT_NEAR(q.last_point[1], -2.0996546, 1e-6);
}

TEST(Sam, RefusesToStepWithoutASecondGradient) {
  Sam sam(std::make_unique<Recording>(), {.rho = 0.05});
  std::vector<float> p = {1}, g = {1};
  EXPECT_THROW(sam.Step(p, g, 0.1), Error);
}

TEST(Sam, AFailedSecondPassLeavesTheParametersAsTheyWere) {
  Sam sam(std::make_unique<Recording>(), {.rho = 0.05});
  std::vector<float> p = {1, -2}, g = {1, -6};
  const LossAndGrad failing = [](std::span<const float>, std::span<float>) -> float {
    throw Error("non-finite second pass");
  };
  EXPECT_THROW(sam.StepWithOracle(p, g, 0.1, failing), Error);
  EXPECT_EQ(p, (std::vector<float>{1, -2}));
  EXPECT_EQ(sam.step_count(), 0);
}

TEST(Sam, StepCountReachesTheBaseForResume) {
  auto base = std::make_unique<Recording>();
  Recording* rec = base.get();
  Sam sam(std::move(base), {.rho = 0.05});
  sam.set_step_count(7);
  EXPECT_EQ(rec->step_count(), 7);
}

}  // namespace
}  // namespace ot
