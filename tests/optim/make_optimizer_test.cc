// MakeOptimizer builds every kind OptimConfig names, wraps each in SAM, and passes the knobs
// through.
#include <gtest/gtest.h>

#include <vector>

#include "core/check.h"
#include "model/layout.h"
#include "optim/optim_config.h"
#include "optim/optimizer.h"
#include "optim/sam.h"

namespace ot {
namespace {

TEST(MakeOptimizer, BuildsEveryKindAndSamWrapsIt) {
  const ParamLayout layout = ParamLayout::ForModel(ModelConfig::FromPreset("pico-16"));
  const std::vector<std::string> state_names[] = {{"exp_avg", "exp_avg_sq"},
                                                  {"momentum_buffer"},
                                                  {"exp_avg"},
                                                  {"momentum_buffer", "exp_avg", "exp_avg_sq"}};
  ASSERT_EQ(OptimKinds().size(), 4u);
  for (size_t k = 0; k < OptimKinds().size(); ++k) {
    OptimConfig c;
    c.kind = OptimKinds()[k];
    const auto opt = MakeOptimizer(c, layout);
    EXPECT_EQ(opt->Name(), c.kind);
    EXPECT_EQ(opt->PassesPerStep(), 1);
    std::vector<std::string> names;
    for (const auto& s : opt->State()) {
      names.push_back(s.name);
      EXPECT_EQ(static_cast<int64_t>(s.data.size()), layout.total()) << c.kind << " " << s.name;
    }
    EXPECT_EQ(names, state_names[k]) << c.kind;
    // The memory plan's count is the state the optimizer really holds (muon: three full arenas).
    EXPECT_EQ(static_cast<int>(names.size()), OptimizerStateArenas(c)) << c.kind;
    // One step moves the parameters (a kind wired to the wrong class or no-op would not).
    std::vector<float> p(layout.total(), 0.5f), g(layout.total(), 0.01f);
    opt->Step(p, g, 1e-2);
    EXPECT_NE(p[layout.Get("model.layers.0.self_attn.q_proj.weight").offset], 0.5f) << c.kind;
    c.sam_rho = 0.05;
    const auto sam = MakeOptimizer(c, layout);
    EXPECT_EQ(sam->Name(), "sam+" + c.kind);
    EXPECT_EQ(sam->PassesPerStep(), 2);
    EXPECT_EQ(static_cast<const Sam&>(*sam).base().Name(), c.kind);
  }
}

TEST(MakeOptimizer, SgdKnobsReachTheOptimizer) {
  const ParamLayout layout = ParamLayout::ForModel(ModelConfig::FromPreset("pico-16"));
  OptimConfig c;
  c.kind = "sgd";
  c.momentum = 0;
  c.weight_decay = 0;
  const auto plain = MakeOptimizer(c, layout);
  EXPECT_TRUE(plain->State().empty());  // momentum 0: no buffer
  std::vector<float> p(layout.total(), 1.0f), g(layout.total(), 2.0f);
  plain->Step(p, g, 0.1);
  EXPECT_FLOAT_EQ(p[0], 0.8f);  // p − lr·g, no decay
  c.nesterov = true;
  try {
    MakeOptimizer(c, layout, "finetune");
    ADD_FAILURE() << "Nesterov without momentum was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("finetune.nesterov"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace ot
