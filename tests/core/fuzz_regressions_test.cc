// Crash inputs found by the fuzz targets (docs/fuzzing.md), replayed in the normal suite; each
// input is also committed under fuzz/corpus/<target>/ so that the fuzzers start from it.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "core/config.h"

namespace ot {
namespace {

struct Budget {
  Size budget{1000};
  std::vector<double> gammas{0.1};
};

ConfigSchema<Budget> BudgetSchema() {
  ConfigSchema<Budget> s;
  s.Field("train.budget", "tokens", [](Budget& b) -> Size& { return b.budget; })
      .Field(
          "perturb.gammas", "noise scales",
          [](Budget& b) -> std::vector<double>& { return b.gammas; }, AtLeast(0));
  return s;
}

std::filesystem::path WriteRegressionToml(const std::string& text) {
  const auto path = std::filesystem::temp_directory_path() /
                    ("ot_fuzz_regression_" + std::to_string(getpid()) + ".toml");
  std::ofstream(path) << text;
  return path;
}

// config_toml_fuzz: FormatSize computed n * 100, a signed overflow (UBSan) for counts near 9.2e18,
// which TOML accepts ("9.2e18", or 9223372036854775807); printing the config (--print-config,
// errors) then broke.
TEST(FuzzRegressions, FormatSizeNearInt64Max) {
  EXPECT_EQ(FormatSize(9200000000000000000), "9200000T");
  EXPECT_EQ(FormatSize(9223372036854775807), "9223372036854775807");
  EXPECT_EQ(FormatSize(1500000000), "1.5B");
  // FormatSize then divided in double, which holds 53 bits: 9223372036854593780 printed as
  // "9223372036854594K", a different count (above int64 when parsed back). Integers now, both ways.
  EXPECT_EQ(FormatSize(9223372036854593780), "9223372036854593.78K");
  EXPECT_EQ(ParseSize("9223372036854593.78K", "x"), 9223372036854593780);
  EXPECT_EQ(FormatSize(9007199254740993000), "9007199254740993K");  // 2^53 + 1 thousands
  for (const char* input :
       {"[train]\nbudget = \"9.2e18\"\n",              // format-size-overflow.toml
        "[train]\nbudget = 9223372036854775807\n",     // format-size-int64-max.toml
        "[train]\nbudget = 9223372036854593780\n"}) {  // format-size-double.toml
    const auto path = WriteRegressionToml(input);
    const Budget b = LoadConfig(BudgetSchema(), path.string(), {});
    const std::string printed = PrintConfig(BudgetSchema(), b);
    WriteRegressionToml(printed);
    EXPECT_EQ(LoadConfig(BudgetSchema(), path.string(), {}).budget.value, b.budget.value)
        << printed;
    std::filesystem::remove(path);
  }
}

// config_toml_fuzz: the per-element check of a double array cast each element to int64_t first
// (undefined for |x| >= 9.2e18, NaN: UBSan); the debug preset (ASan/UBSan) fails this test without
// the fix.
TEST(FuzzRegressions, HugeDoubleArrayElementIsCheckedAsADouble) {
  const auto path = WriteRegressionToml(
      "[perturb]\ngammas = [0.1, -1e308, 1e308]\n");  // double-array-int-cast.toml
  try {
    LoadConfig(BudgetSchema(), path.string(), {});
    ADD_FAILURE() << "a negative gamma was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("expected >= 0 (each element)"), std::string::npos)
        << e.what();
  }
  EXPECT_EQ(LoadConfig(BudgetSchema(),
                       WriteRegressionToml("[perturb]\ngammas = [1e308, 2e300]\n").string(), {})
                .gammas[0],
            1e308);
  std::filesystem::remove(path);
}

}  // namespace
}  // namespace ot
