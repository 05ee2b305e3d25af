// Parity with an independent implementation: reference/reference.py (PyTorch, /usr/bin/python3)
// loads the same initial weights and batch from a safetensors file overtrain writes, and returns
// its loss, gradients and weights after one AdamW step; we compare with the engine's. Fails (never
// skips) without torch. The harness (fixture, torch run, derived bounds) is bench/parity_harness.h;
// the imported families' architectures are tested in arch_parity_test.cc.
#include <gtest/gtest.h>

#include <cstdlib>

#include "bench/parity_harness.h"

namespace ot {
namespace {

using namespace parity;

// A small model that still has every feature: several heads, ignored targets, gains away from 1.
ModelConfig ParityModel(NormKind norm, bool tied) {
  ModelConfig c;
  c.vocab_size = 211;
  c.d_model = 32;
  c.n_layers = 2;
  c.n_heads = 4;
  c.max_seq_len = 24;
  c.norm = norm;
  c.tied_head = tied;
  c.init_std =
      0.2;  // larger than 0.02 so the logits are far from uniform and every gradient is sizeable
  return c;
}

struct Variant {
  NormKind norm;
  bool tied;
};
class ParityTest : public ::testing::TestWithParam<Variant> {};

// One PyTorch run (in double) per variant, two engines against it (tolerances and their reasons at
// the helpers in parity_harness.h):
// - the double-precision scalar reference (ReferenceDecoder<double>), at float epsilon: the same
//   function up to rounding;
// - the fast float32 Decoder (the one that trains), at the tolerances;
// - our AdamW fed torch's gradients, to float32 rounding: the optimizer apart from the gradients.
TEST_P(ParityTest, LossGradientsAndAdamWStepMatchPyTorch) {
  RequireTorch();
  ScopedTempDir dir;
  const Fixture f = MakeFixture(ParityModel(GetParam().norm, GetParam().tied), 7);
  const TorchResult torch = RunTorch(f, dir.path(), "float64");
  {
    SCOPED_TRACE("ReferenceDecoder<double>");
    ExpectReferenceDecoderParity(f, torch);
  }
  {
    SCOPED_TRACE("Decoder (fast, float32)");
    ExpectFastDecoderParity(f, torch);
  }
  {
    SCOPED_TRACE("AdamW on torch's gradients");
    ExpectAdamWParity(f, torch);
  }
}

INSTANTIATE_TEST_SUITE_P(
    Variants, ParityTest,
    ::testing::Values(Variant{NormKind::kRmsNorm, true}, Variant{NormKind::kRmsNorm, false},
                      Variant{NormKind::kLayerNorm, true}, Variant{NormKind::kLayerNorm, false}),
    [](const auto& info) {
      return std::string(NormName(info.param.norm)) + (info.param.tied ? "_tied" : "_untied");
    });

TEST(ParityHarness, MissingReferenceScriptIsAClearError) {
  setenv("OVERTRAIN_REFERENCE", "/nonexistent/reference.py", 1);
  try {
    FindReferenceScript();
    ADD_FAILURE() << "expected an Error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/reference.py"), std::string::npos)
        << e.what();
  }
  unsetenv("OVERTRAIN_REFERENCE");
}

TEST(ParityHarness, PythonWithoutTorchIsAClearError) {
  try {
    CheckPythonTorch("/bin/false");
    ADD_FAILURE() << "expected an Error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("scripts/setup.sh"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace ot
