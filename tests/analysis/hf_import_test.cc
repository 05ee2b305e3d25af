// LoadModel on a Hugging Face model directory: our own checkpoint, exported (config.json without
// the overtrain block, the same model.safetensors), loads back as the same model and scores
// identically; imports say where they came from (model_type, tokenizer.json, no pre-training
// tokens); BF16 shards load; bad directories fail in one sentence naming the file; the stage's
// memory is checked first.
#include <gtest/gtest.h>

#include <cmath>

#include "analysis/checkpoint_fixture.h"
#include "analysis/model_io.h"
#include "model/hf_config.h"
#include "model/hf_fixture.h"

namespace ot {
namespace {

using namespace ot::testing;

// An HF directory from our checkpoint: transformers' view of it (config.json without "overtrain",
// model.safetensors as saved), as `HfConfigJson` promises.
fs::path ExportAsHf(const fs::path& checkpoint, const fs::path& dir) {
  fs::create_directories(dir);
  nlohmann::json config = nlohmann::json::parse(ReadFile(checkpoint / "config.json"));
  config.erase("overtrain");
  WriteFileAtomic(dir / "config.json", config.dump(2));
  fs::copy_file(checkpoint / "model.safetensors", dir / "model.safetensors");
  return dir;
}

std::vector<float> LogProbsOf(const LoadedModel& m) {
  const int T = m.config.max_seq_len;
  const auto backend = MakeBackend(m.config, {}, {.eval_batch = 2, .eval_seq = T}, m.params);
  BackendScorer scorer(*backend, 2, T);
  std::vector<int32_t> in(2 * T), tg(2 * T);
  for (int i = 0; i < 2 * T; ++i) {
    in[i] = (7 * i + 3) % m.config.vocab_size;
    tg[i] = (5 * i + 1) % m.config.vocab_size;
  }
  std::vector<float> lp(2 * T);
  scorer.LogProbs(in.data(), tg.data(), 2, T, lp.data());
  return lp;
}

TEST(LoadHfModel, OurExportedCheckpointLoadsBackAndScoresIdentically) {
  const fs::path root = TempDir("hf_roundtrip");
  ModelConfig untied = TinyModel();
  untied.tied_head = false;
  ModelConfig olmo = TinyModel();
  olmo.norm = NormKind::kLayerNorm;
  for (const auto& [m, type] : std::vector<std::pair<ModelConfig, std::string>>{
           {TinyModel(), "llama"}, {untied, "llama"}, {olmo, "olmo"}}) {
    const std::vector<float> p = InitFor(m);
    const fs::path ck = SaveModelCheckpoint(root / (type + std::to_string(m.tied_head)), m, m, p);
    const fs::path hf = ExportAsHf(ck, root / ("hf_" + type + std::to_string(m.tied_head)));
    const LoadedModel ours = LoadModel(ck), imported = LoadModel(hf);
    ModelConfig expected = m;
    expected.d_ff = m.ff_dim();
    EXPECT_EQ(imported.config, expected) << type;
    EXPECT_EQ(imported.hf_model_type, type);
    EXPECT_EQ(ours.hf_model_type, "");
    EXPECT_EQ(imported.params, ours.params) << type;
    EXPECT_EQ(imported.tokens, 0);
    EXPECT_EQ(imported.step, 0);
    EXPECT_EQ(imported.dir, hf);
    const std::vector<float> a = LogProbsOf(ours), b = LogProbsOf(imported);
    EXPECT_EQ(a, b) << type;
    for (float x : a) ASSERT_TRUE(std::isfinite(x) && x < 0);
  }
  fs::remove_all(root);
}

TEST(LoadHfModel, ShardedBf16DirectoryWithTokenizerLoads) {
  const fs::path dir = TempDir("sharded");
  const nlohmann::json config = {{"model_type", "llama"},
                                 {"vocab_size", 40},
                                 {"hidden_size", 16},
                                 {"intermediate_size", 24},
                                 {"num_hidden_layers", 2},
                                 {"num_attention_heads", 2},
                                 {"max_position_embeddings", 8},
                                 {"tie_word_embeddings", false},
                                 {"torch_dtype", "bfloat16"}};
  const ModelConfig c = FromHfConfig(config, "config.json");
  const ParamLayout layout = ParamLayout::ForModel(c);
  std::vector<HfTensor> tensors;
  uint64_t salt = 0;
  for (const auto& t : layout.tensors()) tensors.push_back(MakeTensor(t.name, t.shape, ++salt));
  WriteHfModel(dir, config, tensors, DType::kBF16, 3);
  WriteFileAtomic(dir / "tokenizer.json", "{}");
  const LoadedModel m = LoadModel(dir);
  EXPECT_EQ(m.hf_model_type, "llama");
  EXPECT_EQ(m.tokenizer_json, dir / "tokenizer.json");
  for (size_t i = 0; i < tensors.size(); ++i) {
    const TensorInfo& t = layout.tensors()[i];
    ASSERT_EQ(std::vector<float>(m.params.begin() + t.offset, m.params.begin() + t.offset + t.size),
              tensors[i].values)
        << t.name;
  }
  EXPECT_EQ(LogProbsOf(m).size(), 16u);
  fs::remove(dir / "tokenizer.json");
  EXPECT_TRUE(LoadModel(dir).tokenizer_json.empty());
  fs::remove_all(dir);
}

TEST(LoadHfModel, BadDirectoriesFailInOneSentenceNamingTheFile) {
  const fs::path root = TempDir("hf_bad");
  const ModelConfig m = TinyModel();
  const fs::path hf = ExportAsHf(SaveModelCheckpoint(root / "ck", m, m, InitFor(m)), root / "hf");
  const std::string cfg = (hf / "config.json").string();
  nlohmann::json config = nlohmann::json::parse(ReadFile(hf / "config.json"));

  nlohmann::json edited = config;
  edited["model_type"] = "qwen2";
  WriteFileAtomic(hf / "config.json", edited.dump());
  EXPECT_EQ(
      ErrorOf([&] { LoadModel(hf); }),
      cfg +
          ": model_type = 'qwen2' is not supported; expected one of llama, olmo, olmo2, gpt_neox");
  edited = config;
  edited["rope_scaling"] = {{"type", "dynamic"}, {"factor", 2}};
  WriteFileAtomic(hf / "config.json", edited.dump());
  EXPECT_EQ(ErrorOf([&] { LoadModel(hf); }).rfind(cfg + ": rope_scaling = ", 0), 0u);
  edited = config;
  edited.erase("model_type");
  WriteFileAtomic(hf / "config.json", edited.dump());
  EXPECT_EQ(
      ErrorOf([&] { LoadModel(hf); }),
      cfg +
          ": neither an \"overtrain\" block nor a \"model_type\"; expected a checkpoint written by "
          "overtrain or a Hugging Face model directory");
  WriteFileAtomic(hf / "config.json", "{\"model_type\": ");
  EXPECT_EQ(ErrorOf([&] { LoadModel(hf); }).rfind(cfg + ": not valid JSON", 0), 0u);

  edited = config;
  edited["num_hidden_layers"] = 2;  // the file holds one layer
  WriteFileAtomic(hf / "config.json", edited.dump());
  const std::string e = ErrorOf([&] { LoadModel(hf); });
  EXPECT_EQ(e.rfind((hf / "model.safetensors").string() +
                        ": its tensors do not match the llama model in " + cfg +
                        ": 9 tensors missing: 'model.layers.1.input_layernorm.weight', ",
                    0),
            0u)
      << e;

  WriteFileAtomic(hf / "config.json", config.dump());
  fs::resize_file(hf / "model.safetensors", fs::file_size(hf / "model.safetensors") - 4);
  const std::string t = ErrorOf([&] { LoadModel(hf); });
  EXPECT_EQ(t.rfind((hf / "model.safetensors").string() + ": ", 0), 0u) << t;
  fs::remove_all(root);
}

TEST(LoadHfModel, StagePlanBeyondAvailableMemoryIsRefusedBeforeAllocating) {
  const fs::path root = TempDir("hf_plan");
  const ModelConfig m = TinyModel();
  const fs::path hf = ExportAsHf(SaveModelCheckpoint(root / "ck", m, m, InitFor(m)), root / "hf");
  const MemoryPlan plan{
      .arenas = 0, .arenas_what = "", .decoders = {{1 << 26, 0, "eval.batch", "eval.seq_len"}}};
  const std::string e = ErrorOf([&] { LoadModel(hf, plan); });
  EXPECT_EQ(e.rfind(hf.string() + ": loading this model: the model needs about ", 0), 0u) << e;
  EXPECT_NE(e.find("eval.batch = 67108864 × eval.seq_len = 16"), std::string::npos) << e;
  fs::remove_all(root);
}

}  // namespace
}  // namespace ot
