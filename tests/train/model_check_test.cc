// Validation before allocation on the pretrain side (docs/reliability.md case 34): an oversized
// model is refused by the memory plan before anything is allocated, naming the key; checkpoint
// headers are compared with the layout kind by kind.
#include "train/model_check.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cmath>

#include "train_fixture.h"

namespace ot {
namespace {

using namespace ot::testing;

TEST(PretrainMemoryPlan, OversizedModelIsRefusedBeforeAllocatingNamingTheKey) {
  const fs::path root = TempDir("plan");
  PretrainConfig c = TinyConfig(root);
  c.model.n_layers = 1000;  // within bounds; d 8192: ~13 TB of parameters and moments
  c.model.d_model = 8192;
  c.model.n_heads = 64;
  const auto start = std::chrono::steady_clock::now();
  std::string e;
  try {
    RunPretrain(c, root / "run");
  } catch (const Error& err) {
    e = err.what();
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_NE(e.find((root / "run").string() + ": pretraining: the model needs about "),
            std::string::npos)
      << e;
  EXPECT_NE(
      e.find(
          "the largest part is the decoder blocks (model.n_layers = 1000 × model.d_model = 8192"),
      std::string::npos)
      << e;
  EXPECT_LT(seconds, 5.0) << "refused by arithmetic, not after allocating";
  fs::remove_all(root);
}

TEST(LayoutMismatches, EachKindIsOneSentenceAndAgreementIsEmpty) {
  ModelConfig m;
  m.vocab_size = 8;
  m.d_model = 4;
  m.n_heads = 1;
  m.n_layers = 1;
  const ParamLayout layout = ParamLayout::ForModel(m);
  std::vector<TensorHeader> headers;
  for (const auto& t : layout.tensors()) headers.push_back({t.name, "F32", t.shape});
  EXPECT_TRUE(LayoutMismatches(layout, headers).empty());
  headers[0].dtype = "BF16";
  headers[1].shape = {5, 4};
  headers.push_back({"lm_head.weight", "F32", {8, 4}});  // the model is tied: unexpected
  headers.erase(headers.begin() + 2);
  const auto problems = LayoutMismatches(layout, headers);
  ASSERT_EQ(problems.size(), 4u);
  EXPECT_EQ(problems[0], "1 tensor missing: '" + layout.tensors()[2].name + "'");
  EXPECT_EQ(problems[1], "1 unexpected tensor: 'lm_head.weight'");
  EXPECT_EQ(problems[2], "1 tensor with the wrong shape: '" + layout.tensors()[1].name +
                             "' is [5, 4], expected [" +
                             std::to_string(layout.tensors()[1].shape[0]) + "]");
  EXPECT_EQ(problems[3], "1 tensor not F32: 'model.embed_tokens.weight' is BF16");
}

TEST(NonFiniteTensors, NamesEachTensorWithItsCount) {
  ModelConfig m;
  m.vocab_size = 8;
  m.d_model = 4;
  m.n_heads = 1;
  m.n_layers = 1;
  const ParamLayout layout = ParamLayout::ForModel(m);
  std::vector<float> arena(layout.total(), 0.5f);
  EXPECT_EQ(NonFiniteTensors(layout, arena), "");
  arena[layout.Get("model.norm.weight").offset] = NAN;
  EXPECT_EQ(NonFiniteTensors(layout, arena, "exp_avg."),
            "1 tensor holds NaN or Inf: 'exp_avg.model.norm.weight' (1 of 4 values)");
}

}  // namespace
}  // namespace ot
