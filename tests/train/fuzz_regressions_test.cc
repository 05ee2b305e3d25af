// Checkpoint manifests that reached nlohmann's typed accessors unchecked (docs/fuzzing.md,
// manifest_fuzz): a "files" entry for an existing file that is not {size, xxh3}, and a per-tensor
// hash that is not a string. VerifyCheckpoint threw json::type_error (or hit JSON_ASSERT) instead
// of reporting a problem. The inputs are also in fuzz/corpus/manifest/.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <vector>

#include "core/check.h"
#include "core/fileio.h"
#include "train/checkpoint.h"

namespace ot {
namespace {

namespace fs = std::filesystem;

class ManifestFuzzRegressions : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() / ("ot_manifest_fuzz_" + std::to_string(getpid()));
    fs::remove_all(root_);
    dir_ = root_ / "tokens-64";
    CheckpointContents c;
    c.model = {{"model.embed_tokens.weight", {2, 3}, embed_}, {"model.norm.weight", {3}, norm_}};
    c.optimizer = {{"adam_m.model.embed_tokens.weight", {2, 3}, embed_}};
    c.state = {{"step", 1}};
    SaveCheckpoint(dir_, c);
    manifest_ = nlohmann::json::parse(ReadFile(dir_ / kManifestFile));
  }
  void TearDown() override { fs::remove_all(root_); }
  // Writes the edited manifest; VerifyCheckpoint must report (not throw) a problem naming `what`.
  void ExpectProblem(const nlohmann::json& manifest, const std::string& what) {
    WriteFileAtomic(dir_ / kManifestFile, manifest.dump(1));
    std::vector<std::string> problems;
    ASSERT_NO_THROW(problems = VerifyCheckpoint(dir_));
    ASSERT_FALSE(problems.empty());
    bool named = false;
    for (const auto& p : problems) named |= p.find(what) != std::string::npos;
    EXPECT_TRUE(named) << problems[0];
    EXPECT_THROW(LoadCheckpoint(dir_), Error);
  }

  std::vector<float> embed_ = {1, 2, 3, 4, 5, 6}, norm_ = {1, 1, 1};
  fs::path root_, dir_;
  nlohmann::json manifest_;
};

TEST_F(ManifestFuzzRegressions, FilesEntryThatIsNotSizeAndHash) {
  for (const nlohmann::json& entry : {nlohmann::json(5), nlohmann::json::object(),
                                      nlohmann::json{{"size", "1"}, {"xxh3", "0"}}}) {
    nlohmann::json m = manifest_;
    m["files"]["manifest.json"] = entry;  // an existing file, so its entry is read
    m["files"]["model.safetensors"]["xxh3"] =
        "0000000000000000";  // and LoadCheckpoint must fail too
    ExpectProblem(m, "manifest.json");
  }
}

TEST_F(ManifestFuzzRegressions, TensorHashThatIsNotAString) {
  nlohmann::json m = manifest_;
  m["files"]["model.safetensors"]["xxh3"] = "0000000000000000";
  m["tensors"]["model.safetensors"]["model.norm.weight"] = 5;
  ExpectProblem(m, "model.norm.weight");
}

}  // namespace
}  // namespace ot
