// Fine-tuning mitigations: L2-SP's proximal step pins weights to the anchor as λ grows and is the
// identity at λ = 0; WiSE-FT's α = 1 and α = 0 reproduce both ends bit-exactly; and through the
// real decoder, changing the targets of prompt tokens (ignored, target < 0) leaves the fine-tuning
// gradient unchanged.
#include "analysis/finetune.h"

#include <gtest/gtest.h>

#include <cmath>

#include "engine/native_backend.h"
#include "model/decoder.h"
#include "model/init.h"

namespace ot {
namespace {

TEST(Finetune, L2SpProximalPinsToAnchorWithHugeLambda) {
  std::vector<float> anchor{1.0f, -2.0f, 0.5f}, params{3.0f, 0.0f, 0.25f};
  std::vector<float> p = params;
  ApplyL2SpProximal(p, anchor, 1e-3, 0.0);
  EXPECT_EQ(p, params);  // λ = 0: no pull
  ApplyL2SpProximal(p, anchor, 1e-3, 1e12);
  for (size_t i = 0; i < p.size(); ++i) EXPECT_NEAR(p[i], anchor[i], 1e-6) << i;
  p = params;
  ApplyL2SpProximal(p, anchor, 0.1, 10.0);  // shrink factor 1 / (1 + 0.1 * 10) = 0.5
  EXPECT_FLOAT_EQ(p[0], 2.0f);
  EXPECT_FLOAT_EQ(p[1], -1.0f);
}

TEST(Finetune, WiseFtEndsAreExact) {
  std::vector<float> a{0.1f, 0.2f, 0.3f}, b{-1.0f, 7.0f, 1e-8f}, out(3);
  Interpolate(a, b, 1.0, out);
  EXPECT_EQ(out, a);
  Interpolate(a, b, 0.0, out);
  EXPECT_EQ(out, b);
  Interpolate(a, b, 0.5, out);
  EXPECT_FLOAT_EQ(out[1], 3.6f);
}

TEST(Finetune, PromptTokensContributeNothingToTheGradient) {
  ModelConfig c = ModelConfig::Nano();
  c.vocab_size = 97;
  c.max_seq_len = 16;
  const ParamLayout layout = ParamLayout::ForModel(c);
  std::vector<float> params(layout.total());
  InitParams(layout, params, 11);
  const int B = 2, T = 16;
  std::vector<int32_t> inputs(B * T), targets(B * T);
  for (int i = 0; i < B * T; ++i) inputs[i] = (i * 7 + 3) % c.vocab_size;
  // The first 6 positions of each row are prompt (ignored); the rest are targets.
  for (int b = 0; b < B; ++b)
    for (int t = 0; t < T; ++t) targets[b * T + t] = t < 6 ? -1 : (b * 31 + t * 5) % c.vocab_size;
  Decoder dec(c, B, T);
  std::vector<float> g1(layout.total(), 0.0f), g2(layout.total(), 0.0f);
  const float l1 = dec.Forward(params, inputs.data(), targets.data(), B, T);
  dec.Backward(params, g1);
  // Same batch with the prompt masked differently: still ignored (any negative value).
  for (int b = 0; b < B; ++b)
    for (int t = 0; t < 6; ++t) targets[b * T + t] = -7;
  const float l2 = dec.Forward(params, inputs.data(), targets.data(), B, T);
  dec.Backward(params, g2);
  EXPECT_EQ(l1, l2);
  EXPECT_EQ(g1, g2);
  // Unmasking one prompt position does change the gradient (the test can fail).
  targets[0] = 5;
  std::vector<float> g3(layout.total(), 0.0f);
  dec.Forward(params, inputs.data(), targets.data(), B, T);
  dec.Backward(params, g3);
  EXPECT_NE(g1, g3);
}

}  // namespace
}  // namespace ot
