// ModelConfig presets, validation messages, JSON round trip, DeclareModelFields; ParamLayout;
// InitParams.
#include "model/config.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <vector>

#include "common/test_util.h"
#include "model/init.h"
#include "model/layout.h"

namespace ot {
namespace {

std::string ProblemOf(const ModelConfig& c) {
  return testing::ErrorOf([&] { c.Validate(); });
}

TEST(ModelConfig, PresetsValidateAndHaveDocumentedSizes) {
  for (const auto& name : ModelConfig::PresetNames()) {
    ModelConfig c = ModelConfig::FromPreset(name);
    EXPECT_EQ(c.preset, name);
    EXPECT_NO_THROW(c.Validate()) << name;
    EXPECT_EQ(ParamLayout::ForModel(c).total(), c.NumParams()) << name;
  }
  EXPECT_EQ(ModelConfig::Tiny().ff_dim(), 176);    // ceil(8*64/3) = 171 -> 176
  EXPECT_EQ(ModelConfig::Small().ff_dim(), 352);   // 341.3 -> 352
  EXPECT_EQ(ModelConfig::Medium().ff_dim(), 688);  // 682.7 -> 688
  EXPECT_NEAR(ModelConfig::Nano().NumParams() / 1e6, 0.36, 0.01);
  EXPECT_NEAR(ModelConfig::Olmo15M().NumParams() / 1e6, 15, 1.0);
  EXPECT_NEAR(ModelConfig::Olmo30M().NumParams() / 1e6, 30, 2.0);
  EXPECT_NEAR(ModelConfig::Olmo90M().NumParams() / 1e6, 90, 5.0);
}

TEST(ModelConfig, InvalidValuesNameFieldAndExpectation) {
  ModelConfig c;
  c.n_heads = 3;
  EXPECT_EQ(ProblemOf(c), "model.n_heads = 3 must divide model.d_model = 64");
  c = ModelConfig();
  c.max_seq_len = 0;
  EXPECT_EQ(ProblemOf(c), "model.max_seq_len = 0 must be >= 1");
  c = ModelConfig();
  c.vocab_size = -5;
  EXPECT_EQ(ProblemOf(c), "model.vocab_size = -5 must be >= 1");
  c = ModelConfig();
  c.n_heads = 0;
  EXPECT_EQ(ProblemOf(c), "model.n_heads = 0 must be >= 1");  // no division by zero
  c = ModelConfig();
  c.d_model = 6;
  c.n_heads = 2;
  EXPECT_NE(ProblemOf(c).find("must be even"), std::string::npos);
  c = ModelConfig();
  c.preset = "huge";
  EXPECT_NE(ProblemOf(c).find("model.preset = 'huge' is unknown"), std::string::npos);
  try {
    ModelConfig::FromPreset("huge");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("nano, tiny, small, medium"), std::string::npos);
  }
}

TEST(ModelConfig, EverySizeFieldHasAnUpperBound) {
  // vocab_size = 1e9 gave std::bad_alloc and n_layers = 60000 allocated 3.3 GB before dying.
  struct Case {
    int ModelConfig::*field;
    const char* key;
    int max;
  };
  for (const Case& k :
       {Case{&ModelConfig::vocab_size, "vocab_size", kMaxVocabSize},
        Case{&ModelConfig::d_model, "d_model", kMaxDModel},
        Case{&ModelConfig::n_layers, "n_layers", kMaxLayers},
        Case{&ModelConfig::n_heads, "n_heads", kMaxHeads}, Case{&ModelConfig::d_ff, "d_ff", kMaxFf},
        Case{&ModelConfig::max_seq_len, "max_seq_len", kMaxSeqLen}}) {
    ModelConfig c;
    c.*k.field = k.max + 1;
    EXPECT_EQ(ProblemOf(c), fmt::format("model.{} = {} must be <= {} (the supported maximum)",
                                        k.key, k.max + 1, k.max));
  }
  ModelConfig c;
  c.n_layers = 60000;
  EXPECT_EQ(ProblemOf(c), "model.n_layers = 60000 must be <= 1024 (the supported maximum)");
  // At the largest width the derived SwiGLU width is computed without int overflow (8d > 2^31 at d
  // = 2^28).
  c = ModelConfig();
  c.d_model = kMaxDModel;
  c.n_heads = 512;
  EXPECT_EQ(ProblemOf(c), "");
  EXPECT_EQ(c.ff_dim(), 174768);  // ceil(8 * 65536 / 3) = 174763 -> 174768
  EXPECT_GT(c.NumParams(), int64_t{1} << 31);
  // Non-finite floats are refused too (config.json cannot hold inf, a struct can).
  c = ModelConfig();
  c.norm_eps = INFINITY;
  EXPECT_EQ(ProblemOf(c), "model.norm_eps = inf must be a finite number");
  c = ModelConfig();
  c.init_std = NAN;
  EXPECT_EQ(ProblemOf(c), "model.init_std = nan must be a finite number");
}

TEST(ModelConfig, FromJsonRefusesIntegersThatDoNotFit) {
  nlohmann::json j = ModelConfig().ToJson();
  j["vocab_size"] = int64_t{4294967296 + 64};  // wrapped to 64 before
  try {
    ModelConfig::FromJson(j);
    FAIL();
  } catch (const Error& e) {
    EXPECT_STREQ(
        e.what(),
        "model config JSON: field 'vocab_size' = 4294967360 is out of range for a 32-bit integer");
  }
  j = ModelConfig().ToJson();
  j["d_model"] = 1e9;  // a float where an integer belongs
  EXPECT_THROW(ModelConfig::FromJson(j), Error);
  j["d_model"] = 1000000000;
  try {
    ModelConfig::FromJson(j);
    FAIL();
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "model.d_model = 1000000000 must be <= 65536 (the supported maximum)");
  }
}

TEST(ModelConfig, JsonRoundTrip) {
  ModelConfig c = ModelConfig::Small();
  c.norm = NormKind::kLayerNorm;
  c.tied_head = false;
  c.rope_theta = 500000;
  EXPECT_EQ(ModelConfig::FromJson(c.ToJson()), c);
  nlohmann::json j = c.ToJson();
  j.erase("d_model");
  EXPECT_THROW(ModelConfig::FromJson(j), Error);
  j = c.ToJson();
  j["norm"] = "batchnorm";
  EXPECT_THROW(ModelConfig::FromJson(j), Error);
}

TEST(ModelConfig, JsonBytesAndCheckpointsWrittenBeforeTheArchitectureSwitches) {
  // The exact bytes config.json holds (keys sorted by nlohmann; enums by name): checkpoints already
  // written must keep reading, and new ones must read in older builds that know these keys.
  EXPECT_EQ(ModelConfig::Nano().ToJson().dump(),
            R"({"attn_bias":false,"clip_qkv":0.0,"d_ff":0,"d_model":64,"init_std":0.02,)"
            R"("max_seq_len":64,"mlp":"swiglu","mlp_bias":false,"n_heads":2,"n_kv_heads":0,)"
            R"("n_layers":2,"norm":"rmsnorm","norm_eps":1e-05,"norm_placement":"pre",)"
            R"("parallel_residual":false,"preset":"nano","qk_norm":false,"rope_theta":10000.0,)"
            R"("rotary_pct":1.0,"tied_head":true,"vocab_size":4096})");
  // A config.json from before n_kv_heads ... clip_qkv existed: the switches take their defaults.
  const nlohmann::json old = nlohmann::json::parse(
      R"({"d_ff":0,"d_model":32,"init_std":0.02,"max_seq_len":64,"n_heads":2,"n_layers":2,)"
      R"("norm":"layernorm","norm_eps":1e-05,"preset":"pico-32","rope_theta":10000.0,)"
      R"("tied_head":true,"vocab_size":512})");
  ModelConfig want = ModelConfig::Pico32();
  want.norm = NormKind::kLayerNorm;
  EXPECT_EQ(ModelConfig::FromJson(old), want);
  // Every field is in the JSON, and exactly the architecture switches may be absent.
  std::vector<std::string> optional;
  for (const ModelField& f : ModelFields()) {
    EXPECT_TRUE(ModelConfig().ToJson().contains(f.name)) << f.name;
    if (f.optional_in_json) optional.push_back(f.name);
  }
  EXPECT_EQ(ModelConfig().ToJson().size(), ModelFields().size());
  EXPECT_EQ(optional, (std::vector<std::string>{"n_kv_heads", "norm_placement", "mlp", "attn_bias",
                                                "mlp_bias", "qk_norm", "parallel_residual",
                                                "rotary_pct", "clip_qkv"}));
  for (const char* key : {"preset", "vocab_size", "norm", "tied_head", "norm_eps"}) {
    nlohmann::json j = old;
    j.erase(key);
    try {
      ModelConfig::FromJson(j);
      ADD_FAILURE() << key;
    } catch (const Error& e) {
      EXPECT_EQ(e.what(), fmt::format("model config JSON: field '{}' is missing", key));
    }
  }
}

TEST(ModelConfig, RangesComeFromTheFieldList) {
  // The TOML check and Validate's sentence of a double field derive from the same bounds.
  ModelConfig c;
  c.rotary_pct = 1.5;
  EXPECT_EQ(ProblemOf(c), "model.rotary_pct = 1.5 must be in [0, 1]");
  c = ModelConfig();
  c.clip_qkv = -1;
  EXPECT_EQ(ProblemOf(c), "model.clip_qkv = -1 must be >= 0 (0 = off)");
  c = ModelConfig();
  c.rope_theta = 0;
  EXPECT_EQ(ProblemOf(c), "model.rope_theta = 0 must be > 0");
  c = ModelConfig();
  c.n_kv_heads = -1;
  EXPECT_EQ(ProblemOf(c), "model.n_kv_heads = -1 must be >= 0");
  for (const ModelField& f : ModelFields()) {
    if (!std::holds_alternative<double ModelConfig::*>(f.member)) continue;
    const ModelFieldRange& r = f.range;
    EXPECT_EQ(r.TomlCheck()(r.lo), r.lo_open ? fmt::format("expected > {}", r.lo) : "") << f.name;
  }
}

struct RunConfig {
  ModelConfig model;
  int steps = 1;
};

ConfigSchema<RunConfig> Schema() {
  ConfigSchema<RunConfig> s;
  DeclareModelFields(s, [](RunConfig& r) -> ModelConfig& { return r.model; });
  s.Field("train.steps", "steps", [](RunConfig& r) -> int& { return r.steps; });
  return s;
}

TEST(ModelConfig, SchemaLoadsPresetThenOverrides) {
  const auto dir = std::filesystem::temp_directory_path() / "ot_model_config_test";
  std::filesystem::create_directories(dir);
  const std::string path = (dir / "run.toml").string();
  std::ofstream(path) << "[model]\npreset = \"small\"\nnorm = \"layernorm\"\n";
  auto get = [](RunConfig& r) -> ModelConfig& { return r.model; };
  RunConfig r = LoadConfigWithModelPreset(Schema(), path, {"model.n_layers=3"}, RunConfig{}, get);
  ModelConfig want = ModelConfig::Small();
  want.norm = NormKind::kLayerNorm;
  want.n_layers = 3;
  EXPECT_EQ(r.model, want);
  EXPECT_NE(PrintConfig(Schema(), r).find("norm = 'layernorm'"), std::string::npos);
  // Bad values: one sentence naming the key.
  auto load_error = [&](std::vector<std::string> overrides) {
    return testing::ErrorOf(
        [&] { LoadConfigWithModelPreset(Schema(), "", overrides, RunConfig{}, get); });
  };
  EXPECT_NE(
      load_error({"model.n_heads=3"}).find("model.n_heads = 3 must divide model.d_model = 64"),
      std::string::npos);
  EXPECT_NE(load_error({"model.max_seq_len=0"}).find("'model.max_seq_len'"), std::string::npos);
  EXPECT_NE(load_error({"model.norm=\"batch\""}).find("expects one of: rmsnorm, layernorm"),
            std::string::npos);
  EXPECT_NE(load_error({"model.preset=\"huge\""}).find("huge"), std::string::npos);
  EXPECT_NE(
      load_error({"model.vocab_size=1000000000"})
          .find("key 'model.vocab_size' = 1000000000 is invalid: expected a value in [1, 1048576]"),
      std::string::npos);
  EXPECT_NE(load_error({"model.norm_eps=inf"})
                .find("key 'model.norm_eps' = inf is invalid: expected a finite number"),
            std::string::npos);
  std::filesystem::remove_all(dir);
}

TEST(ParamLayout, NamesShapesGroupsAndAdjacency) {
  ModelConfig c = ModelConfig::Nano();
  c.tied_head = false;
  ParamLayout p = ParamLayout::ForModel(c);
  const int64_t C = 64, F = 176, V = 4096;
  ASSERT_NE(p.Find("model.layers.1.mlp.gate_proj.weight"), nullptr);
  EXPECT_EQ(p.Get("model.layers.1.mlp.gate_proj.weight").shape, (std::vector<int64_t>{F, C}));
  EXPECT_EQ(p.Get("model.layers.0.mlp.down_proj.weight").shape, (std::vector<int64_t>{C, F}));
  EXPECT_EQ(p.Get("lm_head.weight").group, ParamGroup::kHead);
  EXPECT_EQ(p.Get("model.norm.weight").init_std, 0.0f);
  EXPECT_EQ(p.head_offset(), p.Get("lm_head.weight").offset);
  EXPECT_STREQ(GroupName(p.Get("model.layers.0.self_attn.o_proj.weight").group), "attn");
  int64_t next = 0;
  ForEachTensor(p, [&](const TensorInfo& t) {  // contiguous, in order, no gaps
    EXPECT_EQ(t.offset, next) << t.name;
    next += t.size;
  });
  EXPECT_EQ(next, p.total());
  EXPECT_EQ(p.total(), V * C * 2 + 2 * (2 * C + 4 * C * C + 3 * C * F) + C);
  c.norm = NormKind::kLayerNorm;
  c.tied_head = true;
  ParamLayout q = ParamLayout::ForModel(c);
  EXPECT_EQ(q.Find("model.norm.weight"), nullptr);
  EXPECT_EQ(q.Find("lm_head.weight"), nullptr);
  EXPECT_EQ(q.head_offset(), q.embed_offset());
  EXPECT_EQ(q.total(), c.NumParams());
}

TEST(InitParams, TruncatedNormalPerTensorAndDeterministic) {
  ModelConfig c = ModelConfig::Nano();
  ParamLayout p = ParamLayout::ForModel(c);
  std::vector<float> a(p.total()), b(p.total()), d(p.total());
  InitParams(p, a, 7);
  InitParams(p, b, 7);
  InitParams(p, d, 8);
  EXPECT_EQ(a, b);
  EXPECT_NE(a, d);
  for (const auto& t : p.tensors()) {
    double sum = 0, sq = 0, maxabs = 0;
    for (int64_t i = 0; i < t.size; ++i) {
      const double x = a[t.offset + i];
      sum += x;
      sq += x * x;
      maxabs = std::max(maxabs, std::abs(x));
    }
    if (t.group == ParamGroup::kNorm) {
      EXPECT_EQ(sum, static_cast<double>(t.size)) << t.name;
      continue;
    }
    const double mean = sum / t.size, sd = std::sqrt(sq / t.size - mean * mean);
    EXPECT_LE(maxabs, 3 * 0.02 + 1e-7) << t.name;
    // A 3-sigma truncated normal has std 0.9866 sigma; >= 4096 samples give ~2% sampling error.
    EXPECT_NEAR(sd, 0.02 * 0.9866, 0.02 * 0.05) << t.name;
    EXPECT_NEAR(mean, 0, 4 * 0.02 / std::sqrt(double(t.size))) << t.name;
  }
  // Tensors draw from their own streams: different tensors differ.
  EXPECT_NE(a[p.block(0).q], a[p.block(0).k]);
}

}  // namespace
}  // namespace ot
