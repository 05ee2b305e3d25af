// Tests for train/checkpoint: round trip, kill -9 of a child mid-save at many byte offsets (case
// 1), truncation (2), flipped payload byte names the tensor (3), missing manifest / future version
// (4), simulated disk full (5), pruning (6), newest-valid selection, partial-dir cleanup,
// `overtrain ckpt`.
#include "train/checkpoint.h"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <sstream>

#include "core/check.h"
#include "core/fileio.h"
#include "core/safetensors.h"
#include "train_fixture.h"

namespace ot {
namespace {

// Owns the tensors a CheckpointContents points at.
struct Fixture {
  std::vector<std::pair<std::string, std::vector<int64_t>>> specs = {
      {"model.embed_tokens.weight", {8, 4}},
      {"model.layers.0.self_attn.q_proj.weight", {4, 4}},
      {"model.layers.0.mlp.up_proj.weight", {6, 4}},
      {"model.layers.0.input_layernorm.weight", {4}},
      {"model.norm.weight", {4}},
      {"lm_head.weight", {8, 4}},
      {"scalar_probe", {}},
  };
  std::vector<std::vector<float>> values, moments;
  CheckpointContents contents;

  explicit Fixture(float seed) {
    values.reserve(specs.size());
    moments.reserve(2 * specs.size());
    for (size_t i = 0; i < specs.size(); ++i) {
      int64_t n = 1;
      for (int64_t d : specs[i].second) n *= d;
      std::vector<float> v(static_cast<size_t>(n));
      for (int64_t j = 0; j < n; ++j)
        v[static_cast<size_t>(j)] = seed * 0.5f + 0.01f * j - 0.1f * i;
      values.push_back(v);
      contents.model.push_back({specs[i].first, specs[i].second, values.back()});
      for (const char* state : {"adam_m", "adam_v"}) {
        std::vector<float> m(v.size());
        for (size_t j = 0; j < m.size(); ++j) m[j] = v[j] * (state[5] == 'm' ? 0.1f : 0.01f);
        moments.push_back(m);
        contents.optimizer.push_back(
            {std::string(state) + "." + specs[i].first, specs[i].second, moments.back()});
      }
    }
    contents.config = {
        {"architectures", {"LlamaForCausalLM"}}, {"hidden_size", 4}, {"vocab_size", 8}};
    contents.state = {
        {"step", static_cast<int>(seed * 10)}, {"tokens", 1000}, {"rng", {{"seed", 7}}}};
    contents.metadata = {{"overtrain_config", "[model]\npreset = \"tiny\"\n"}};
  }
};

class CheckpointTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char dir_template[] = "/tmp/ot_ckpt_XXXXXX";
    ASSERT_NE(mkdtemp(dir_template), nullptr);
    root_ = dir_template;
  }
  void TearDown() override {
    ClearWriteFault();
    fs::remove_all(root_);
  }
  fs::path Dir(int64_t tokens) const { return root_ / CheckpointDirName(tokens); }
  std::vector<std::string> TempDirs() const {
    std::vector<std::string> out;
    for (const auto& e : fs::directory_iterator(root_))
      if (e.path().filename().string().find(".tmp-") != std::string::npos)
        out.push_back(e.path().filename());
    return out;
  }
  // Asserts that `dir` holds exactly fixture `f`'s tensors, bit for bit.
  static void ExpectHolds(const fs::path& dir, const Fixture& f) {
    LoadedCheckpoint c = LoadCheckpoint(dir);
    ASSERT_EQ(c.model.size(), f.contents.model.size());
    for (const auto& t : f.contents.model) {
      ASSERT_TRUE(c.model.count(t.name)) << t.name;
      EXPECT_EQ(c.model.at(t.name).shape, t.shape);
      EXPECT_EQ(c.model.at(t.name).data, std::vector<float>(t.data.begin(), t.data.end()))
          << t.name;
    }
    for (const auto& t : f.contents.optimizer)
      EXPECT_EQ(c.optimizer.at(t.name).data, std::vector<float>(t.data.begin(), t.data.end()))
          << t.name;
    EXPECT_EQ(c.state, f.contents.state);
    EXPECT_EQ(c.config, f.contents.config);
  }
  fs::path root_;
};

// Returns the error message of LoadCheckpoint(dir), or "" if it loaded.
std::string LoadError(const fs::path& dir) {
  return testing::ErrorOf([&] { LoadCheckpoint(dir); });
}

std::string Joined(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += s + "\n";
  return out;
}

void FlipByte(const fs::path& path, uint64_t offset) {
  std::string bytes = ReadFile(path);
  ASSERT_LT(offset, bytes.size());
  bytes[offset] = static_cast<char>(bytes[offset] ^ 0x10);
  WriteFileAtomic(path, bytes);
}

TEST_F(CheckpointTest, RoundTripIsBitExact) {
  Fixture f(1.0f);
  SaveCheckpoint(Dir(100), f.contents);
  ExpectHolds(Dir(100), f);
  EXPECT_TRUE(VerifyCheckpoint(Dir(100)).empty()) << Joined(VerifyCheckpoint(Dir(100)));
  EXPECT_TRUE(TempDirs().empty());

  LoadedCheckpoint c = LoadCheckpoint(Dir(100), /*with_optimizer=*/false);
  EXPECT_TRUE(c.optimizer.empty());
  EXPECT_EQ(c.model_order.front(), "model.embed_tokens.weight");  // file order = the caller's order
  EXPECT_EQ(c.metadata.at("format"), "pt");
  EXPECT_EQ(c.metadata.at("overtrain_config"), f.contents.metadata.at("overtrain_config"));
  EXPECT_EQ(c.manifest["format_version"], kCheckpointFormatVersion);
  for (const char* file : {kModelFile, kOptimizerFile, kConfigFile, kStateFile}) {
    EXPECT_EQ(c.manifest["files"][file]["size"].get<uint64_t>(), fs::file_size(Dir(100) / file))
        << file;
    EXPECT_EQ(c.manifest["files"][file]["xxh3"], Xxh3Hex(ReadFile(Dir(100) / file))) << file;
  }
  // model.safetensors is a plain safetensors file with F32 tensors; config.json is plain JSON.
  SafetensorsFile model = SafetensorsFile::Open(Dir(100) / kModelFile);
  EXPECT_EQ(model.Get("lm_head.weight").dtype, DType::kF32);
  EXPECT_EQ(nlohmann::json::parse(ReadFile(Dir(100) / kConfigFile)), f.contents.config);
}

TEST_F(CheckpointTest, SaveReplacesExistingDirectoryAtomically) {
  Fixture a(1.0f), b(2.0f);
  SaveCheckpoint(Dir(100), a.contents);
  SaveCheckpoint(Dir(100), b.contents);
  ExpectHolds(Dir(100), b);
  EXPECT_TRUE(TempDirs().empty());
}

// Case 1: a child killed with SIGKILL at byte k of a save leaves the previous checkpoint valid; the
// partial directory is ignored by NewestValidCheckpoint and removed by CleanPartialCheckpoints.
TEST_F(CheckpointTest, KillNineDuringSaveKeepsPreviousCheckpoint) {
  Fixture old_ckpt(1.0f), new_ckpt(2.0f);
  SaveCheckpoint(Dir(100), old_ckpt.contents);
  const uint64_t before = TotalBytesWritten();
  SaveCheckpoint(root_ / "scratch" / "tokens-1", new_ckpt.contents);
  const uint64_t total = TotalBytesWritten() - before;
  fs::remove_all(root_ / "scratch");
  ASSERT_GT(total, 2000u);

  const std::vector<uint64_t> kill_points = {
      0,           1,        7, 100, total / 5, total / 3, total / 2, 2 * total / 3, 4 * total / 5,
      total - 200, total - 1};
  for (bool replace_same_dir : {false, true}) {
    for (uint64_t k : kill_points) {
      SCOPED_TRACE("kill after " + std::to_string(k) + " of " + std::to_string(total) + " bytes, " +
                   (replace_same_dir ? "re-saving tokens-100" : "saving tokens-200"));
      const fs::path target = replace_same_dir ? Dir(100) : Dir(200);
      std::fflush(nullptr);
      const pid_t pid = ::fork();
      ASSERT_GE(pid, 0);
      if (pid == 0) {
        SetWriteFault(static_cast<int64_t>(k), WriteFaultAction::kKill);
        try {
          SaveCheckpoint(target, new_ckpt.contents);
        } catch (...) {
          ::_exit(3);
        }
        ::_exit(0);  // the budget was not reached
      }
      int status = 0;
      ASSERT_EQ(::waitpid(pid, &status, 0), pid);
      ASSERT_TRUE(WIFSIGNALED(status)) << "child exited with " << WEXITSTATUS(status);
      ASSERT_EQ(WTERMSIG(status), SIGKILL);

      EXPECT_FALSE(fs::exists(Dir(200)));
      EXPECT_EQ(TempDirs().size(), 1u) << "the partial directory stays until cleaned";
      EXPECT_EQ(NewestValidCheckpoint(root_), Dir(100));
      EXPECT_TRUE(VerifyCheckpoint(Dir(100)).empty()) << Joined(VerifyCheckpoint(Dir(100)));
      ExpectHolds(Dir(100), old_ckpt);
      EXPECT_EQ(ListCheckpoints(root_).size(), 1u);
      EXPECT_EQ(CleanPartialCheckpoints(root_).size(), 1u);
      EXPECT_TRUE(TempDirs().empty());
    }
  }
  // Control: a budget past the end lets the child finish, and the new checkpoint becomes the
  // newest.
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    SetWriteFault(static_cast<int64_t>(total), WriteFaultAction::kKill);
    try {
      SaveCheckpoint(Dir(200), new_ckpt.contents);
    } catch (...) {
      ::_exit(3);
    }
    ::_exit(0);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  EXPECT_EQ(NewestValidCheckpoint(root_), Dir(200));
  ExpectHolds(Dir(200), new_ckpt);
}

// Case 2: any file truncated by one byte fails to load with one error naming that file.
TEST_F(CheckpointTest, TruncatedFileNamesTheFile) {
  Fixture f(1.0f);
  for (const char* file : {kModelFile, kOptimizerFile, kConfigFile, kStateFile, kManifestFile}) {
    SCOPED_TRACE(file);
    SaveCheckpoint(Dir(100), f.contents);
    const fs::path path = Dir(100) / file;
    fs::resize_file(path, fs::file_size(path) - 1);
    const std::string error = LoadError(Dir(100));
    EXPECT_NE(error.find(path.string()), std::string::npos) << error;
    if (std::string(file) != kManifestFile) {
      EXPECT_NE(error.find("truncated"), std::string::npos) << error;
    }
    const auto problems = VerifyCheckpoint(Dir(100));
    ASSERT_EQ(problems.size(), 1u) << Joined(problems);
    EXPECT_NE(problems[0].find(path.string()), std::string::npos) << problems[0];
    EXPECT_EQ(NewestValidCheckpoint(root_), std::nullopt);
  }
}

// Case 3: one flipped payload byte names the tensor it belongs to, and only that tensor.
TEST_F(CheckpointTest, FlippedPayloadByteNamesTheTensor) {
  Fixture f(1.0f);
  struct Case {
    const char* file;
    std::string tensor;
  };
  for (const Case& c :
       {Case{kModelFile, "model.layers.0.mlp.up_proj.weight"}, Case{kModelFile, "scalar_probe"},
        Case{kOptimizerFile, "adam_v.model.norm.weight"}}) {
    SCOPED_TRACE(c.tensor);
    SaveCheckpoint(Dir(100), f.contents);
    const fs::path path = Dir(100) / c.file;
    uint64_t offset = 0;
    {
      MappedFile mapped(path);
      SafetensorsFile parsed = SafetensorsFile::Parse(mapped.bytes(), path.string());
      const TensorView& t = parsed.Get(c.tensor);
      offset = static_cast<uint64_t>(t.bytes.data() - mapped.bytes().data()) + t.bytes.size() / 2;
    }
    FlipByte(path, offset);
    const auto problems = VerifyCheckpoint(Dir(100));
    ASSERT_EQ(problems.size(), 1u) << Joined(problems);
    EXPECT_NE(problems[0].find("tensor '" + c.tensor + "' payload is damaged"), std::string::npos)
        << problems[0];
    EXPECT_NE(problems[0].find(path.string()), std::string::npos) << problems[0];
    EXPECT_NE(LoadError(Dir(100)).find(c.tensor), std::string::npos) << LoadError(Dir(100));
  }
  // A flipped byte in the header (the first tensor's dtype letter) is reported as a damaged header.
  SaveCheckpoint(Dir(100), f.contents);
  const std::string model = ReadFile(Dir(100) / kModelFile);
  FlipByte(Dir(100) / kModelFile, model.find("\"F32\"") + 1);
  const auto problems = VerifyCheckpoint(Dir(100));
  ASSERT_EQ(problems.size(), 1u) << Joined(problems);
  EXPECT_NE(problems[0].find("header damaged"), std::string::npos) << problems[0];
  // And in state.json: names the file.
  SaveCheckpoint(Dir(100), f.contents);
  FlipByte(Dir(100) / kStateFile, 5);
  EXPECT_NE(Joined(VerifyCheckpoint(Dir(100))).find(kStateFile), std::string::npos);
}

// Case 4: missing manifest, or a future format version, refused with a message saying which.
TEST_F(CheckpointTest, MissingManifestOrFutureVersionRefused) {
  Fixture f(1.0f);
  SaveCheckpoint(Dir(100), f.contents);
  fs::remove(Dir(100) / kManifestFile);
  EXPECT_NE(LoadError(Dir(100)).find("manifest is missing"), std::string::npos)
      << LoadError(Dir(100));
  EXPECT_NE(Joined(VerifyCheckpoint(Dir(100))).find("manifest is missing"), std::string::npos);

  SaveCheckpoint(Dir(100), f.contents);
  auto manifest = nlohmann::json::parse(ReadFile(Dir(100) / kManifestFile));
  manifest["format_version"] = kCheckpointFormatVersion + 1;
  WriteFileAtomic(Dir(100) / kManifestFile, manifest.dump());
  const std::string error = LoadError(Dir(100));
  EXPECT_NE(error.find("format_version 2 is newer than this build supports (1)"), std::string::npos)
      << error;
  EXPECT_EQ(NewestValidCheckpoint(root_), std::nullopt);
  EXPECT_NE(LoadError(root_ / "tokens-999").find("no such checkpoint directory"),
            std::string::npos);
}

// Case 42 (issue 19 defect 9): one verification on every path. An edited per-tensor hash in an
// otherwise intact checkpoint and a manifest entry outside the directory are refused by verify
// and by every loader (LoadCheckpoint, which eval, perturb, finetune, diagnose and resume use).
TEST_F(CheckpointTest, EditedManifestsAreRefusedByVerifyAndEveryLoader) {
  Fixture f(1.0f);
  SaveCheckpoint(Dir(100), f.contents);
  auto manifest = nlohmann::json::parse(ReadFile(Dir(100) / kManifestFile));
  const std::string tensor = manifest["tensors"][kModelFile].items().begin().key();
  manifest["tensors"][kModelFile][tensor] = "0123456789abcdef";
  WriteFileAtomic(Dir(100) / kManifestFile, manifest.dump());
  const std::string verify = Joined(VerifyCheckpoint(Dir(100)));
  EXPECT_NE(verify.find("the manifest records xxh3 \"0123456789abcdef\" for tensor '" + tensor),
            std::string::npos)
      << verify;
  EXPECT_NE(LoadError(Dir(100)).find("the manifest was modified"), std::string::npos)
      << LoadError(Dir(100));

  SaveCheckpoint(Dir(100), f.contents);
  manifest = nlohmann::json::parse(ReadFile(Dir(100) / kManifestFile));
  manifest["files"]["../escape.json"] = {{"size", 2}, {"xxh3", "0"}};
  WriteFileAtomic(Dir(100) / kManifestFile, manifest.dump());
  EXPECT_NE(LoadError(Dir(100)).find("file name '../escape.json' is not a plain name"),
            std::string::npos)
      << LoadError(Dir(100));
  EXPECT_NE(Joined(VerifyCheckpoint(Dir(100))).find("is not a plain name"), std::string::npos);
}

// Case 5: a simulated full disk at any point of a save reports an error and leaves the previous
// checkpoint intact and no temp directory behind.
TEST_F(CheckpointTest, DiskFullKeepsPreviousCheckpoint) {
  Fixture old_ckpt(1.0f), new_ckpt(2.0f);
  SaveCheckpoint(Dir(100), old_ckpt.contents);
  for (int64_t k : {0, 50, 1000, 3000, 5000}) {
    for (const fs::path& target : {Dir(200), Dir(100)}) {
      SCOPED_TRACE(std::to_string(k) + " bytes, " + target.filename().string());
      SetWriteFault(k, WriteFaultAction::kFailWrite);
      try {
        SaveCheckpoint(target, new_ckpt.contents);
        ADD_FAILURE() << "save succeeded despite a full disk";
      } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("No space left on device"), std::string::npos)
            << e.what();
      }
      ClearWriteFault();
      EXPECT_FALSE(fs::exists(Dir(200)));
      EXPECT_TRUE(TempDirs().empty());
      ExpectHolds(Dir(100), old_ckpt);
      EXPECT_EQ(NewestValidCheckpoint(root_), Dir(100));
    }
  }
}

// Case 6: pruning keeps every requested budget and the newest valid checkpoint.
TEST_F(CheckpointTest, PruneKeepsRequestedAndNewestValid) {
  Fixture f(1.0f);
  for (int64_t t : {100, 200, 300, 400, 500, 600}) SaveCheckpoint(Dir(t), f.contents);
  fs::remove(Dir(600) / kManifestFile);  // newest but invalid
  const auto removed = PruneCheckpoints(root_, {200, 400, 700});
  EXPECT_EQ(removed.size(), 3u);
  std::vector<int64_t> left;
  for (const auto& e : ListCheckpoints(root_)) left.push_back(e.tokens);
  EXPECT_EQ(left, (std::vector<int64_t>{200, 400, 500}));
  EXPECT_TRUE(TempDirs().empty());
  for (int64_t t : {200, 400, 500}) EXPECT_TRUE(VerifyCheckpoint(Dir(t)).empty());
}

// Case 36: headers whose manifest hashes match (regenerated after the damage) are still refused by
// verify, with the loader's own messages; resume's choice falls back to the older checkpoint and
// names the skipped one; inspect does not claim "verify: ok".
TEST_F(CheckpointTest, VerifyMakesTheStructuralChecksOfLoading) {
  using Entries = std::vector<std::pair<std::string, nlohmann::json*>>;
  auto by_offset = [](nlohmann::json& header) {  // tensor entries sorted by data_offsets begin
    Entries out;
    for (auto& [name, value] : header.items())
      if (name != "__metadata__") out.emplace_back(name, &value);
    std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
      return (*a.second)["data_offsets"][0].template get<uint64_t>() <
             (*b.second)["data_offsets"][0].template get<uint64_t>();
    });
    return out;
  };
  struct Case {
    const char* what;
    const char* file;
    std::function<void(nlohmann::json&)> edit;
    std::string expected;
  };
  const std::vector<Case> cases = {
      {"overlapping offsets", kModelFile,
       [&](nlohmann::json& h) {
         Entries e = by_offset(h);
         auto& second = (*e[1].second)["data_offsets"];
         const uint64_t size = second[1].get<uint64_t>() - second[0].get<uint64_t>();
         const uint64_t begin = (*e[0].second)["data_offsets"][0].get<uint64_t>();
         second = {begin, begin + size};
       },
       "overlap"},
      {"out-of-range offsets", kOptimizerFile,
       [&](nlohmann::json& h) {
         Entries e = by_offset(h);
         auto& last = (*e.back().second)["data_offsets"];
         const uint64_t size = last[1].get<uint64_t>() - last[0].get<uint64_t>();
         last = {last[1].get<uint64_t>(), last[1].get<uint64_t>() + size};
       },
       "is beyond the byte buffer"},
      {"I32 dtype", kModelFile, [](nlohmann::json& h) { h["lm_head.weight"]["dtype"] = "I32"; },
       "tensor 'lm_head.weight' has dtype I32, checkpoints hold F32"},
  };
  Fixture old_ckpt(1.0f), new_ckpt(2.0f);
  for (const Case& c : cases) {
    SCOPED_TRACE(c.what);
    fs::remove_all(root_);
    fs::create_directories(root_);
    SaveCheckpoint(Dir(100), old_ckpt.contents);
    SaveCheckpoint(Dir(200), new_ckpt.contents);
    const fs::path path = Dir(200) / c.file;
    testing::RewriteSafetensorsHeader(path, c.edit);
    testing::ResealManifest(Dir(200));
    ASSERT_NE(LoadError(Dir(200)), "") << "the crafted file must be one that loading refuses";

    const auto problems = VerifyCheckpoint(Dir(200));
    ASSERT_EQ(problems.size(), 1u) << Joined(problems);
    EXPECT_EQ(problems[0].rfind(path.string(), 0), 0u) << problems[0];
    EXPECT_NE(problems[0].find(c.expected), std::string::npos) << problems[0];

    std::vector<SkippedCheckpoint> skipped;
    EXPECT_EQ(NewestValidCheckpoint(root_, &skipped), Dir(100));
    ASSERT_EQ(skipped.size(), 1u);
    EXPECT_EQ(skipped[0].dir, Dir(200));
    EXPECT_EQ(skipped[0].problems, problems);

    std::ostringstream out;
    EXPECT_FALSE(InspectCheckpoint(Dir(200), out));
    EXPECT_EQ(out.str().find("verify: ok"), std::string::npos) << out.str();
    EXPECT_NE(out.str().find(c.expected), std::string::npos) << out.str();
  }
}

TEST_F(CheckpointTest, NewestValidSkipsInvalidAndTempDirs) {
  EXPECT_EQ(NewestValidCheckpoint(root_ / "absent"), std::nullopt);
  EXPECT_EQ(NewestValidCheckpoint(root_), std::nullopt);
  Fixture f(1.0f);
  SaveCheckpoint(Dir(100), f.contents);
  SaveCheckpoint(Dir(1000), f.contents);  // numeric, not lexicographic, order: 1000 > 300
  SaveCheckpoint(Dir(3000), f.contents);
  FlipByte(Dir(3000) / kModelFile, fs::file_size(Dir(3000) / kModelFile) - 2);
  fs::create_directories(root_ / "tokens-5000.tmp-12345");
  fs::create_directories(root_ / "tokens-x");
  fs::create_directories(root_ / "tokens-4000");  // empty: no manifest
  EXPECT_EQ(NewestValidCheckpoint(root_), Dir(1000));
  EXPECT_EQ(CheckpointTokens("a/tokens-42"), 42);
  EXPECT_EQ(CheckpointTokens("tokens-42.tmp-1"), std::nullopt);
  EXPECT_EQ(CheckpointTokens("tokens-"), std::nullopt);
}

TEST_F(CheckpointTest, CleanPartialSparesLiveProcesses) {
  const pid_t parent = ::getppid();  // alive while we run
  pid_t dead = ::fork();
  if (dead == 0) ::_exit(0);
  int status = 0;
  ::waitpid(dead, &status, 0);  // reaped: no longer alive
  fs::create_directories(root_ / ("tokens-1.tmp-" + std::to_string(parent)));
  fs::create_directories(root_ / ("tokens-2.tmp-" + std::to_string(dead)) / "sub");
  fs::create_directories(root_ / ("tokens-3.tmp-" + std::to_string(::getpid())));
  const auto removed = CleanPartialCheckpoints(root_);
  EXPECT_EQ(removed.size(), 2u);
  EXPECT_TRUE(fs::exists(root_ / ("tokens-1.tmp-" + std::to_string(parent))));
  EXPECT_FALSE(fs::exists(root_ / ("tokens-2.tmp-" + std::to_string(dead))));
}

TEST(CheckpointGroups, HfNames) {
  EXPECT_EQ(TensorGroupFromName("model.embed_tokens.weight"), "embed");
  EXPECT_EQ(TensorGroupFromName("gpt_neox.embed_in.weight"), "embed");
  EXPECT_EQ(TensorGroupFromName("transformer.wte.weight"), "embed");
  EXPECT_EQ(TensorGroupFromName("lm_head.weight"), "head");
  EXPECT_EQ(TensorGroupFromName("embed_out.weight"), "head");
  EXPECT_EQ(TensorGroupFromName("model.layers.3.self_attn.o_proj.weight"), "attn");
  EXPECT_EQ(TensorGroupFromName("gpt_neox.layers.0.attention.query_key_value.weight"), "attn");
  EXPECT_EQ(TensorGroupFromName("model.layers.3.mlp.down_proj.weight"), "mlp");
  EXPECT_EQ(TensorGroupFromName("model.layers.3.post_attention_layernorm.weight"), "norm");
  EXPECT_EQ(TensorGroupFromName("model.layers.3.self_attn.q_norm.weight"), "norm");
  EXPECT_EQ(TensorGroupFromName("model.norm.weight"), "norm");
  EXPECT_EQ(TensorGroupFromName("something_else"), "other");
}

TEST_F(CheckpointTest, InspectPrintsTensorsAndGroups) {
  Fixture f(1.0f);
  SaveCheckpoint(Dir(100), f.contents);
  std::ostringstream out;
  EXPECT_TRUE(InspectCheckpoint(Dir(100), out));
  const std::string text = out.str();
  for (const char* needle :
       {"verify: ok", "model.layers.0.mlp.up_proj.weight", "6x4", "embed ", "attn ", "mlp ",
        "norm ", "head ", "adam_m ", "LlamaForCausalLM", "\"step\":10"})
    EXPECT_NE(text.find(needle), std::string::npos) << needle << "\n" << text;
  // The norm of model.norm.weight: values 0.5 - 0.4 + 0.01 j, j = 0..3 -> sqrt(sum of squares).
  double sum_sq = 0;
  for (int j = 0; j < 4; ++j) sum_sq += std::pow(0.5f + 0.01f * j - 0.1f * 4, 2);
  EXPECT_NE(text.find(fmt::format("norm {:.6g}", std::sqrt(sum_sq))), std::string::npos) << text;
}

// The CLI (when the overtrain binary is available): verify exits 0 on a good checkpoint, 1 on a bad
// one.
TEST_F(CheckpointTest, CliVerifyExitCodes) {
  const char* bin = std::getenv("OVERTRAIN_BIN");
  if (bin == nullptr || !fs::exists(bin))
    GTEST_SKIP() << "OVERTRAIN_BIN not set (run through ctest)";
  Fixture f(1.0f);
  SaveCheckpoint(Dir(100), f.contents);
  SaveCheckpoint(Dir(200), f.contents);
  FlipByte(Dir(200) / kModelFile, fs::file_size(Dir(200) / kModelFile) - 1);
  const std::string quiet = " > /dev/null 2>&1";
  EXPECT_EQ(std::system((std::string(bin) + " ckpt verify " + Dir(100).string() + quiet).c_str()),
            0);
  EXPECT_NE(std::system((std::string(bin) + " ckpt verify " + Dir(100).string() + " " +
                         Dir(200).string() + quiet)
                            .c_str()),
            0);
  EXPECT_EQ(std::system((std::string(bin) + " ckpt inspect " + Dir(100).string() + quiet).c_str()),
            0);
  // Hashes that match a malformed header (case 36): both commands fail.
  SaveCheckpoint(Dir(300), f.contents);
  testing::RewriteSafetensorsHeader(
      Dir(300) / kModelFile, [](nlohmann::json& h) { h["lm_head.weight"]["dtype"] = "I32"; });
  testing::ResealManifest(Dir(300));
  EXPECT_NE(std::system((std::string(bin) + " ckpt verify " + Dir(300).string() + quiet).c_str()),
            0);
  EXPECT_NE(std::system((std::string(bin) + " ckpt inspect " + Dir(300).string() + quiet).c_str()),
            0);
}

}  // namespace
}  // namespace ot
