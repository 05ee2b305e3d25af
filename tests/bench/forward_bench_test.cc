// `overtrain bench --forward` end to end at a tiny shape: both systems load the same weights file,
// agree on the log-probs, and are timed; and its user errors name the flag and the expectation.
#include "bench/forward_bench.h"

#include <gtest/gtest.h>

#include <string>

#include "core/check.h"
#include "model/layout.h"

namespace ot {
namespace {

void ExpectErrorContaining(const ForwardBenchOptions& options, const std::string& needle) {
  try {
    RunForwardBench(options, nullptr);
    ADD_FAILURE() << "expected an Error containing " << needle;
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}

TEST(ForwardBench, TinyPresetRunsBothSystemsOnTheSameWeights) {
  ForwardBenchOptions o;
  o.archs = {"pico-16"};
  o.batch = 2, o.seq = 16, o.reps = 2, o.rounds = 2, o.warmup = 1, o.threads = 2;
  const auto rows = RunForwardBench(o, nullptr);
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].params, ParamLayout::ForModel(ModelConfig::FromPreset("pico-16")).total());
  EXPECT_GT(rows[0].ours.median, 0);
  EXPECT_GT(rows[0].torch.median, 0);
  // Two float32 forwards of a 2-layer model: rounding differences of ~1e-6 nats; the guard is 1e-3.
  EXPECT_GE(rows[0].max_logprob_diff, 0);
  EXPECT_LE(rows[0].max_logprob_diff, 1e-4);
  std::printf("%s", FormatForwardBenchTable(rows, o).c_str());
}

TEST(ForwardBench, UserErrorsNameTheFlag) {
  ForwardBenchOptions o;
  o.archs = {"pythia-16m"};
  ExpectErrorContaining(
      o, "bench --arch 'pythia-16m' is unknown; expected one of pythia-160m, llama-134m");
  o.archs = {"pico-16"};
  o.seq = 65;  // pico-16's max_seq_len is 64
  ExpectErrorContaining(o, "bench --seq = 65 exceeds pico-16's max_seq_len = 64");
  o.seq = 16, o.rounds = 11;
  ExpectErrorContaining(o, "bench --rounds = 11 must be in [1, --steps = 10]");
}

TEST(ForwardBench, BuiltInShapesAreTheImportedFamiliesSizes) {
  const ModelConfig pythia = ForwardBenchArch("pythia-160m");
  EXPECT_EQ(pythia.rotary_dims(), 16);                                    // 0.25 of 64
  EXPECT_NEAR(ParamLayout::ForModel(pythia).total() * 1e-6, 162.3, 0.1);  // Pythia-160M's 162.3M
  EXPECT_NEAR(ParamLayout::ForModel(ForwardBenchArch("llama-134m")).total() * 1e-6, 134.1, 0.1);
}

}  // namespace
}  // namespace ot
