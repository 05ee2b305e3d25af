// LoadStudyResults: the docs/formats.md contracts, absent files, and errors naming file:line and
// key.
#include "report/results.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "common/test_util.h"
#include "core/check.h"
#include "report/synthetic_study.h"
#include "report/tables.h"

namespace ot {
namespace {

namespace fs = std::filesystem;

class Results : public ::testing::Test {
 protected:
  void SetUp() override {
    study_ = fs::temp_directory_path() /
             ("ot_results_test_" + std::to_string(getpid()) + "_" +
              ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(study_);
    testing::WriteSyntheticStudy(
        study_, {.pretrain = true, .perturb = false, .finetune = false, .theory = false});
  }
  void TearDown() override { fs::remove_all(study_); }
  fs::path results() const { return study_ / "results"; }
  void Write(const std::string& file, const std::string& text) {
    std::ofstream(results() / file) << text;
  }
  std::string LoadError() {
    return testing::ErrorOf([&] { LoadStudyResults(results()); });
  }
  fs::path study_;
};

TEST_F(Results, ReadsEveryKind) {
  fs::remove_all(study_);
  testing::WriteSyntheticStudy(study_);
  const StudyResults r = LoadStudyResults(results());
  EXPECT_EQ(r.study.name, "synthetic");
  EXPECT_EQ(r.study.params, 1000000);
  EXPECT_EQ(r.study.train_tokens_per_epoch, 8000000);
  EXPECT_EQ(r.study.tasks, std::vector<std::string>{"sst"});
  EXPECT_EQ(r.study.gammas, (std::vector<double>{0.01, 0.05, 0.1}));
  ASSERT_TRUE(r.pretrain && r.perturb && r.finetune && r.theory);
  EXPECT_EQ(r.pretrain->size(), 12u);
  EXPECT_EQ(r.perturb->size(), 144u);
  EXPECT_EQ(r.finetune->size(), 24u);
  EXPECT_EQ(r.theory->size(), 30u);
  EXPECT_FALSE(r.pretrain->front().c4_loss.has_value());
  EXPECT_DOUBLE_EQ(r.finetune->front().accuracy.value(), 0.7);
  EXPECT_EQ(r.theory->front().kind, "base");
  EXPECT_EQ(r.theory->front().singular_values,
            (std::vector<double>{1.0 - std::exp(-1.0), 0.0}));  // step 100
}

TEST_F(Results, AbsentFilesAreEmptyOptionals) {
  const StudyResults r = LoadStudyResults(results());
  EXPECT_TRUE(r.pretrain.has_value());
  EXPECT_FALSE(r.perturb.has_value());
  EXPECT_FALSE(r.finetune.has_value());
  EXPECT_FALSE(r.theory.has_value());
  Write("theory.jsonl", "\n  \n");  // blank lines only: treated as absent
  EXPECT_FALSE(LoadStudyResults(results()).theory.has_value());
}

TEST_F(Results, MissingStudyJsonIsAnError) {
  fs::remove(results() / "study.json");
  EXPECT_NE(LoadError().find("study.json: missing"), std::string::npos) << LoadError();
}

TEST_F(Results, StudyJsonKeyErrors) {
  Write("study.json",
        R"({"name": "x", "preset": "nano", "params": "big", "train_tokens_per_epoch": 1,
                          "seeds": 1, "tasks": [], "gammas": [], "lrs": []})");
  EXPECT_NE(LoadError().find("study.json: key 'params' expected an integer >= 1, got \"big\""),
            std::string::npos)
      << LoadError();
  Write("study.json", R"({"name": "x", "preset": "nano", "params": 10, "train_tokens_per_epoch": 1,
                          "seeds": 1, "tasks": [1], "gammas": [], "lrs": []})");
  EXPECT_NE(LoadError().find("key 'tasks' expected an array of strings"), std::string::npos)
      << LoadError();
}

TEST_F(Results, MissingKeyNamesFileLineAndKey) {
  Write(
      "pretrain.jsonl",
      R"({"tokens": 1000000, "epochs": 0.1, "seed": 0, "base_loss": 3, "base_ppl": 20, "c4_loss": null})"
      "\n\n"
      R"({"tokens": 2000000, "epochs": 0.2, "seed": 0, "base_ppl": 20, "c4_loss": null})"
      "\n");
  const std::string e = LoadError();
  EXPECT_NE(e.find("pretrain.jsonl:3: key 'base_loss' is missing; expected a number"),
            std::string::npos)
      << e;
}

TEST_F(Results, WrongTypesAndRangesNameTheKey) {
  const std::string row =
      R"({"tokens": TOK, "epochs": 0.1, "seed": 0, "ft_seed": 1, "task": "t", "lr": LR, "id_loss": 2, "ood_loss": 3,
          "c4_loss": C4, "accuracy": null, "base_id_loss": 2, "base_ood_loss": 3})";
  auto with = [&](const std::string& lr, const std::string& c4,
                  const std::string& tokens = "1000000") {
    std::string s = row;
    s.replace(s.find("TOK"), 3, tokens);
    s.replace(s.find("LR"), 2, lr);
    s.replace(s.find("C4"), 2, c4);
    std::erase(s, '\n');
    return s + "\n";
  };
  Write("finetune.jsonl", with("0.001", "null") + with("-1", "null"));
  EXPECT_NE(LoadError().find("finetune.jsonl:2: key 'lr' expected a number > 0, got -1"),
            std::string::npos)
      << LoadError();
  Write("finetune.jsonl", with("0.001", "\"high\""));
  EXPECT_NE(
      LoadError().find("finetune.jsonl:1: key 'c4_loss' expected a number or null, got \"high\""),
      std::string::npos)
      << LoadError();
  Write("finetune.jsonl", with("0.001", "1") + with("0.001", "1", "1.5e6"));
  EXPECT_EQ(LoadError(), "");  // 1.5e6 is a whole number of tokens
  Write("finetune.jsonl", with("0.001", "1", "1.5"));
  EXPECT_NE(LoadError().find("finetune.jsonl:1: key 'tokens' expected an integer >= 1, got 1.5"),
            std::string::npos)
      << LoadError();
}

// A perturb row's noise scale: absent reads as "init" (older files), the former names map to the
// current ones, anything else that is not a string names the key.
TEST_F(Results, PerturbScaleNamesReadWithTheirFormerSpellings) {
  const std::string row =
      R"({"tokens": 1000000, "epochs": 0.1, "seed": 0, "gamma": 0.1, "draw": 0, "group": "all", )"
      R"("loss": 4.5, "base_loss": 4.4, "delta": 0.1SCALE})";
  auto with = [&](const std::string& scale) {
    std::string s = row;
    s.replace(s.find("SCALE"), 5, scale);
    return s + "\n";
  };
  Write("perturb.jsonl", with("") + with(R"(, "scale": "relative-norm")") +
                             with(R"(, "scale": "init-std")") + with(R"(, "scale": "relative")"));
  const StudyResults r = LoadStudyResults(results());
  ASSERT_TRUE(r.perturb);
  ASSERT_EQ(r.perturb->size(), 4u);
  EXPECT_EQ((*r.perturb)[0].scale, "init");
  EXPECT_EQ((*r.perturb)[1].scale, "relative");
  EXPECT_EQ((*r.perturb)[2].scale, "init");
  EXPECT_EQ((*r.perturb)[3].scale, "relative");
  Write("perturb.jsonl", with(R"(, "scale": 2)"));
  EXPECT_NE(LoadError().find("perturb.jsonl:1: key 'scale' expected a string"), std::string::npos)
      << LoadError();
}

TEST_F(Results, InvalidJsonNamesTheLine) {
  Write("perturb.jsonl", "{\"tokens\": 1,\n");
  EXPECT_NE(LoadError().find("perturb.jsonl:1: not a valid JSON object"), std::string::npos)
      << LoadError();
  Write("perturb.jsonl", "[1, 2]\n");
  EXPECT_NE(LoadError().find("perturb.jsonl:1: expected a JSON object per line"),
            std::string::npos);
}

TEST_F(Results, TheoryKindSpecificKeysAndUnknownKinds) {
  Write(
      "theory.jsonl",
      R"({"kind": "perturb", "step": 10, "gamma": 0.1, "loss_a": 1, "loss_a_se": 0.1, "base_loss": 0.5})"
      "\n");
  EXPECT_NE(LoadError().find("theory.jsonl:1: key 'loss_a_closed' is missing"), std::string::npos)
      << LoadError();
  // A kind newer than this reader is skipped, like an unknown key.
  Write("theory.jsonl", R"({"kind": "sharpness", "step": 10, "loss_a": 1})"
                        "\n"
                        R"({"kind": "base", "step": 10, "loss_a": 1, "singular_values": []})"
                        "\n");
  const StudyResults r = LoadStudyResults(results());
  ASSERT_TRUE(r.theory.has_value());
  EXPECT_EQ(r.theory->size(), 1u);
}

TEST(MeanAndSe, KnownValues) {
  const std::vector<double> v = {1.0, 2.0, 3.0, 4.0};
  const MeanSe m = MeanAndSe(v);
  EXPECT_DOUBLE_EQ(m.mean, 2.5);
  EXPECT_NEAR(m.se, std::sqrt(5.0 / 3.0) / 2.0, 1e-12);  // sd = sqrt(5/3), n = 4
  EXPECT_EQ(m.n, 4);
  const std::vector<double> one = {7.0};
  EXPECT_DOUBLE_EQ(MeanAndSe(one).mean, 7.0);
  EXPECT_TRUE(std::isnan(MeanAndSe(one).se));
}

}  // namespace
}  // namespace ot
