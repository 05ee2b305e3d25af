// Declare-once config: loading, overrides, printing and the file:line errors of
// docs/reliability.md case 29.
#include "core/config.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "common/test_util.h"

namespace ot {
namespace {

struct Demo {
  int d_model = 64;
  int n_heads = 2;
  double lr = 1e-3;
  std::string norm = "rms";
  Size budget{1000};
  std::vector<double> gammas{0.1};
  double scale = 1.0;  // declared without a check: finiteness still applies
};

ConfigSchema<Demo> DemoSchema() {
  ConfigSchema<Demo> s;
  s.Field(
       "model.d_model", "width", [](Demo& d) -> int& { return d.d_model; }, AtLeast(1))
      .Field(
          "model.n_heads", "heads", [](Demo& d) -> int& { return d.n_heads; }, AtLeast(1))
      .Field(
          "model.norm", "norm kind", [](Demo& d) -> std::string& { return d.norm; },
          OneOf({"rms", "layernorm"}))
      .Field(
          "optim.lr", "peak lr", [](Demo& d) -> double& { return d.lr; }, Above(0))
      .Field("optim.scale", "unchecked scale", [](Demo& d) -> double& { return d.scale; })
      .Field("train.budget", "tokens", [](Demo& d) -> Size& { return d.budget; })
      .Field(
          "perturb.gammas", "noise scales",
          [](Demo& d) -> std::vector<double>& { return d.gammas; }, AtLeast(0))
      .Rule({"model.n_heads", "model.d_model"}, [](const Demo& d) {
        return d.d_model % d.n_heads == 0 ? "" : "n_heads must divide d_model";
      });
  return s;
}

std::string WriteToml(const std::string& text) {
  static int n = 0;
  auto path = std::filesystem::temp_directory_path() /
              ("ot_config_test_" + std::to_string(getpid()) + "_" + std::to_string(n++) + ".toml");
  std::ofstream(path) << text;
  return path.string();
}

// An empty `text` means no config file at all (an empty file is itself an error).
std::string ConfigError(const std::string& text, std::vector<std::string> overrides = {}) {
  return testing::ErrorOf(
      [&] { LoadConfig(DemoSchema(), text.empty() ? "" : WriteToml(text), overrides); });
}

TEST(Config, LoadsFileAndOverrides) {
  auto path = WriteToml("[model]\nd_model = 128\nn_heads = 4\n[train]\nbudget = \"1.5M\"\n");
  Demo d = LoadConfig(DemoSchema(), path, {"optim.lr=3e-4", "model.norm=layernorm"});
  EXPECT_EQ(d.d_model, 128);
  EXPECT_EQ(d.budget.value, 1500000);
  EXPECT_DOUBLE_EQ(d.lr, 3e-4);
  EXPECT_EQ(d.norm, "layernorm");
}

TEST(Config, UnknownKeyNamesFileLineAndKey) {
  std::string e = ConfigError("[model]\nd_model = 128\nd_modle = 3\n");
  EXPECT_NE(e.find(":3: unknown key 'model.d_modle'"), std::string::npos) << e;
}

TEST(Config, WrongTypeNamesLine) {
  std::string e = ConfigError("[optim]\n\nlr = \"fast\"\n");
  EXPECT_NE(e.find(":3: key 'optim.lr' expects a number, got a string"), std::string::npos) << e;
}

TEST(Config, OutOfRangeNamesLineAndExpectation) {
  std::string e = ConfigError("[optim]\nlr = -0.1\n");
  EXPECT_NE(e.find(":2: key 'optim.lr' = -0.1 is invalid: expected > 0"), std::string::npos) << e;
  e = ConfigError("[model]\nnorm = \"batch\"\n");
  EXPECT_NE(e.find("expected one of: rms, layernorm"), std::string::npos) << e;
}

TEST(Config, NonFiniteFloatsAreRefusedForEveryFloatField) {
  // TOML spells them inf, +inf, -inf, nan; `inf > 0` passed the lr check before (eps = inf
  // trained).
  std::string e = ConfigError("[optim]\nlr = inf\n");
  EXPECT_NE(e.find(":2: key 'optim.lr' = inf is invalid: expected a finite number"),
            std::string::npos)
      << e;
  e = ConfigError("[optim]\nscale = nan\n");
  EXPECT_NE(e.find("key 'optim.scale' = nan is invalid: expected a finite number"),
            std::string::npos)
      << e;
  e = ConfigError("[optim]\nscale = -inf\n");
  EXPECT_NE(e.find("key 'optim.scale' = -inf is invalid: expected a finite number"),
            std::string::npos)
      << e;
  e = ConfigError("[perturb]\ngammas = [0.1, inf]\n");
  EXPECT_NE(e.find("key 'perturb.gammas'"), std::string::npos) << e;
  EXPECT_NE(e.find("expected a finite number (each element)"), std::string::npos) << e;
  e = ConfigError("", {"optim.lr=inf"});
  EXPECT_NE(e.find("--set: key 'optim.lr' = inf is invalid: expected a finite number"),
            std::string::npos)
      << e;
  EXPECT_EQ(ConfigError("[optim]\nscale = 1e300\n"),
            "");  // large but finite is the field's own business
}

TEST(Config, DirectoryOrEmptyFileIsNotAConfig) {
  const auto dir =
      std::filesystem::temp_directory_path() / ("ot_config_dir_" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  std::string e;
  try {
    LoadConfig(DemoSchema(), dir.string(), {});
  } catch (const Error& err) {
    e = err.what();
  }
  EXPECT_EQ(e, dir.string() + ": is a directory, expected a TOML file");
  std::filesystem::remove_all(dir);
  const std::string empty = WriteToml("");
  e.clear();
  try {
    LoadConfig(DemoSchema(), empty, {});
  } catch (const Error& err) {
    e = err.what();
  }
  EXPECT_EQ(e, empty + ": is empty, expected a TOML file");
  EXPECT_EQ(ConfigError("# only a comment: every default\n"),
            "");  // a deliberate all-defaults file loads
}

TEST(Config, CrossFieldRule) {
  std::string e = ConfigError("[model]\nd_model = 10\nn_heads = 3\n");
  EXPECT_NE(e.find("n_heads must divide d_model"), std::string::npos) << e;
  EXPECT_NE(e.find(":3:"), std::string::npos) << e;
}

TEST(Config, OverrideErrors) {
  EXPECT_NE(ConfigError("", {"model.width=3"}).find("unknown key 'model.width'"),
            std::string::npos);
  EXPECT_NE(ConfigError("", {"model.d_model"}).find("expected the form"), std::string::npos);
  EXPECT_NE(ConfigError("", {"model.d_model=abc"}).find("expects an integer"), std::string::npos);
}

TEST(Config, SyntaxErrorNamesLine) {
  std::string e = ConfigError("[model]\nd_model = = 3\n");
  EXPECT_NE(e.find(":2: TOML syntax error"), std::string::npos) << e;
}

TEST(Config, PrintRoundTrips) {
  Demo d = LoadConfig(DemoSchema(), "", {"train.budget=16M", "perturb.gammas=[0.01, 0.1]"});
  std::string text = PrintConfig(DemoSchema(), d);
  EXPECT_NE(text.find("budget = \"16M\""), std::string::npos) << text;
  Demo again = LoadConfig(DemoSchema(), WriteToml(text), {});
  EXPECT_EQ(again.budget.value, 16000000);
  EXPECT_EQ(again.gammas, d.gammas);
}

// PrintedWhen: the last declared field is printed only while its condition holds; left out, it
// loads as its default (which it held), so the printed text still round-trips.
TEST(Config, PrintedWhenLeavesAFieldOutUnlessItsConditionHolds) {
  ConfigSchema<Demo> s = DemoSchema();
  s.Field("model.extra", "only for layernorm", [](Demo& d) -> double& {
     return d.scale;
   }).PrintedWhen([](const Demo& d) { return d.norm == "layernorm"; });
  Demo d;
  EXPECT_EQ(PrintConfig(s, d).find("extra = "), std::string::npos);
  EXPECT_EQ(PrintConfig(s, d), PrintConfig(DemoSchema(), d));  // the text without the field
  d.norm = "layernorm";
  d.scale = 2.5;
  const std::string text = PrintConfig(s, d);
  EXPECT_NE(text.find("extra = 2.5"), std::string::npos) << text;
  EXPECT_EQ(LoadConfig(s, WriteToml(text), {}).scale, 2.5);
}

TEST(Config, ParseSize) {
  EXPECT_EQ(ParseSize("4096", "x"), 4096);
  EXPECT_EQ(ParseSize("16K", "x"), 16000);
  EXPECT_EQ(ParseSize("1.5B", "x"), 1500000000);
  EXPECT_THROW(ParseSize("1.5", "x"), Error);
  EXPECT_THROW(ParseSize("-3M", "x"), Error);
  EXPECT_THROW(ParseSize("M", "x"), Error);
  EXPECT_THROW(ParseSize("1.2345K", "x"), Error);              // not a whole count
  EXPECT_THROW(ParseSize("9223372036854775808", "x"), Error);  // int64 max + 1
  EXPECT_EQ(ParseSize("9223372036854775807", "x"), 9223372036854775807);
  EXPECT_EQ(ParseSize("1e6", "x"), 1000000);
  EXPECT_EQ(ParseSize(".5K", "x"), 500);
  EXPECT_EQ(FormatSize(2500000), "2.5M");
  EXPECT_EQ(FormatSize(12345), "12345");
}

}  // namespace
}  // namespace ot
