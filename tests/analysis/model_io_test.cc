// LoadModel validates before it allocates (docs/reliability.md cases 18 and 34): NaN/Inf weights
// refused and named; config.json checked against the tensor headers with every problem listed
// together; size bounds and planned memory checked before the arena exists; messages that fit every
// stage, not only resume.
#include "analysis/model_io.h"

#include <gtest/gtest.h>

#include <cmath>

#include "analysis/checkpoint_fixture.h"
#include "model/decoder.h"
#include "model/memory_plan.h"

namespace ot {
namespace {

using namespace ot::testing;

TEST(LoadModel, LoadsAValidCheckpoint) {
  const fs::path root = TempDir("ok");
  const ModelConfig m = TinyModel();
  const std::vector<float> p = InitFor(m);
  const LoadedModel loaded = LoadModel(SaveModelCheckpoint(root / "ck", m, m, p));
  EXPECT_EQ(loaded.config, m);
  EXPECT_EQ(loaded.params, p);
  EXPECT_EQ(loaded.tokens, 1234);
  fs::remove_all(root);
}

TEST(LoadModel, NonFiniteWeightsAreRefusedNamingTheTensor) {
  const fs::path root = TempDir("nan");
  const ModelConfig m = TinyModel();
  const ParamLayout layout = ParamLayout::ForModel(m);
  std::vector<float> p = InitFor(m);
  const TensorInfo& q = layout.Get("model.layers.0.self_attn.q_proj.weight");
  p[q.offset + 3] = std::nanf("");
  p[q.offset + 7] = INFINITY;
  SaveModelCheckpoint(root / "nan", m, m, p);
  const std::string e = ErrorOf([&] { LoadModel(root / "nan"); });
  EXPECT_NE(e.find((root / "nan" / "model.safetensors").string()), std::string::npos) << e;
  EXPECT_NE(e.find("'model.layers.0.self_attn.q_proj.weight' (2 of 1024 values)"),
            std::string::npos)
      << e;
  EXPECT_NE(e.find("NaN or Inf"), std::string::npos) << e;
  p = InitFor(m);
  p[layout.Get("model.norm.weight").offset] = -INFINITY;
  SaveModelCheckpoint(root / "inf", m, m, p);
  const std::string e2 = ErrorOf([&] { LoadModel(root / "inf"); });
  EXPECT_NE(e2.find("'model.norm.weight' (1 of 32 values)"), std::string::npos) << e2;
  fs::remove_all(root);
}

TEST(LoadModel, ConfigDisagreeingWithTensorsListsEveryProblemTogether) {
  const fs::path root = TempDir("mismatch");
  const ModelConfig m = TinyModel();
  const ParamLayout layout = ParamLayout::ForModel(m);
  const std::vector<float> p = InitFor(m);
  const fs::path dir = SaveModelCheckpoint(root / "ck", m, m, p);
  // Missing model.norm.weight, an unexpected tensor, q_proj of the wrong shape, k_proj in F16.
  std::vector<TensorToWrite> tensors;
  std::vector<uint16_t> half(32 * 32, 0x3c00);  // 1.0 in F16
  const std::vector<float> wide(48 * 32, 0.5f), extra(4, 1.0f);
  for (const auto& t : layout.tensors()) {
    if (t.name == "model.norm.weight") continue;
    if (t.name == "model.layers.0.self_attn.q_proj.weight") {
      tensors.push_back(F32Tensor(t.name, {48, 32}, wide));
    } else if (t.name == "model.layers.0.self_attn.k_proj.weight") {
      tensors.push_back({t.name, DType::kF16, t.shape, std::as_bytes(std::span(half))});
    } else {
      tensors.push_back(F32Tensor(t.name, t.shape, std::span(p).subspan(t.offset, t.size)));
    }
  }
  tensors.push_back(F32Tensor("model.extra.weight", {4}, extra));
  RewriteModelFile(dir, tensors);
  EXPECT_FALSE(VerifyCheckpoint(dir).empty());  // verification flags it too, tensor by tensor
  const std::string e = ErrorOf([&] { LoadModel(dir); });
  EXPECT_NE(e.find((dir / "model.safetensors").string() +
                   ": the model shape changed: its tensors do not match "
                   "the model in " +
                   (dir / "config.json").string()),
            std::string::npos)
      << e;
  EXPECT_NE(e.find("1 tensor missing: 'model.norm.weight'"), std::string::npos) << e;
  EXPECT_NE(e.find("1 unexpected tensor: 'model.extra.weight'"), std::string::npos) << e;
  EXPECT_NE(
      e.find("1 tensor with the wrong shape: 'model.layers.0.self_attn.q_proj.weight' is [48, 32], "
             "expected [32, 32]"),
      std::string::npos)
      << e;
  EXPECT_NE(e.find("1 tensor not F32: 'model.layers.0.self_attn.k_proj.weight' is F16"),
            std::string::npos)
      << e;
  EXPECT_EQ(e.find("resume"), std::string::npos) << "stage-neutral wording: " << e;
  fs::remove_all(root);
}

TEST(LoadModel, ListsTheFirstTenOfEachKindAndCountsTheRest) {
  const fs::path root = TempDir("many");
  ModelConfig wide = TinyModel();
  wide.n_layers = 3;  // 3 * 9 block tensors + embed + norm = 29 tensors
  ModelConfig narrow = TinyModel();
  narrow.d_model = 16;
  narrow.n_layers = 3;
  const fs::path dir = SaveModelCheckpoint(root / "ck", wide, narrow, InitFor(narrow));
  const std::string e = ErrorOf([&] { LoadModel(dir); });
  EXPECT_NE(e.find("29 tensors with the wrong shape: "), std::string::npos) << e;
  EXPECT_NE(e.find(" and 19 more"), std::string::npos) << e;
  fs::remove_all(root);
}

TEST(LoadModel, OversizedConfigIsRefusedBeforeAnyAllocationNamingTheFileAndKey) {
  const fs::path root = TempDir("huge");
  const ModelConfig m = TinyModel();
  const std::vector<float> p = InitFor(m);
  // d_model = 1e9 once failed inside std::vector ("cannot create std::vector larger than
  // max_size()").
  const fs::path a = SaveModelCheckpoint(
      root / "a", m, m, p, [](nlohmann::json& j) { j["overtrain"]["d_model"] = 1000000000; });
  std::string e = ErrorOf([&] { LoadModel(a); });
  EXPECT_NE(e.find((a / "config.json").string()), std::string::npos) << e;
  EXPECT_NE(e.find("model.d_model = 1000000000 must be <= 65536"), std::string::npos) << e;
  // 1e10 does not fit an int: refused, not wrapped around.
  const fs::path b = SaveModelCheckpoint(root / "b", m, m, p, [](nlohmann::json& j) {
    j["overtrain"]["vocab_size"] = int64_t{10000000000};
  });
  e = ErrorOf([&] { LoadModel(b); });
  EXPECT_NE(e.find("field 'vocab_size' = 10000000000 is out of range"), std::string::npos) << e;
  // d_model = 8192 is in bounds (it once allocated 3.3 GB before failing): the header check refuses
  // it first, with every tensor named, and nothing of its size is allocated.
  const fs::path c = SaveModelCheckpoint(root / "c", m, m, p, [](nlohmann::json& j) {
    j["overtrain"]["d_model"] = 8192;
    j["overtrain"]["n_heads"] = 64;
  });
  e = ErrorOf([&] { LoadModel(c); });
  EXPECT_NE(e.find("tensors with the wrong shape"), std::string::npos) << e;
  fs::remove_all(root);
}

TEST(LoadModel, StagePlanBeyondAvailableMemoryIsRefusedNamingTheKey) {
  const fs::path root = TempDir("plan");
  const ModelConfig m = TinyModel();
  const fs::path dir = SaveModelCheckpoint(root / "ck", m, m, InitFor(m));
  // 2^26 x 16 = 2^30 rows of ~4 KB of activations each: ~4 TiB, more than any machine this runs on.
  // The caller's decoders are part of the check (seq 0 = the model's max_seq_len).
  const MemoryPlan plan{
      .arenas = 0, .arenas_what = "", .decoders = {{1 << 26, 0, "eval.batch", "eval.seq_len"}}};
  const std::string e = ErrorOf([&] { LoadModel(dir, plan); });
  EXPECT_NE(e.find(dir.string() + ": loading this checkpoint: the model needs about "),
            std::string::npos)
      << e;
  EXPECT_NE(
      e.find("the largest part is the activations (eval.batch = 67108864 × eval.seq_len = 16)"),
      std::string::npos)
      << e;
  fs::remove_all(root);
}

}  // namespace
}  // namespace ot
