// The T* section of a study's report and the law section of a size comparison, on the synthetic
// study (report/synthetic_study.h): its U-shaped curves get a T* with an interval, its monotone
// ones none, and two sizes give a fitted law.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "report/report.h"
#include "report/sizes.h"
#include "report/synthetic_study.h"

namespace ot {
namespace {

namespace fs = std::filesystem;

fs::path LawTemp(const std::string& name) {
  const fs::path dir =
      fs::temp_directory_path() / ("ot_law_report_test_" + std::to_string(getpid())) / name;
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

std::string ReadFile(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The CSV's rows as maps from header to cell.
std::vector<std::map<std::string, std::string>> CsvRows(const fs::path& p) {
  std::ifstream in(p);
  std::vector<std::string> header;
  std::vector<std::map<std::string, std::string>> rows;
  for (std::string line; std::getline(in, line);) {
    std::vector<std::string> cells;
    std::stringstream ss(line);
    for (std::string cell; std::getline(ss, cell, ',');) cells.push_back(cell);
    if (header.empty()) {
      header = cells;
      continue;
    }
    std::map<std::string, std::string> row;
    for (size_t i = 0; i < header.size() && i < cells.size(); ++i) row[header[i]] = cells[i];
    rows.push_back(row);
  }
  return rows;
}

TEST(TStarReport, UShapedCurvesGetATStarInsideTheirBracketAndMonotoneOnesNone) {
  const fs::path study = LawTemp("size-a");
  testing::WriteSyntheticStudy(study);
  const ReportOutput out = WriteReport(study);
  EXPECT_NE(std::find(out.tables.begin(), out.tables.end(), "tstar.csv"), out.tables.end());
  int with = 0;
  for (const auto& row : CsvRows(study / "report" / "tables" / "tstar.csv")) {
    if (row.at("family") == "perturbed loss" && row.at("param") == "0.1") {
      // γ = 0.1 has its lowest point at 8M: T* lies within half a step of it (in log tokens).
      ASSERT_EQ(row.at("has_tstar"), "1");
      const double t = std::stod(row.at("tstar"));
      EXPECT_GT(t, 8e6 / std::sqrt(2.0));
      EXPECT_LT(t, 8e6 * std::sqrt(2.0));
      EXPECT_LE(std::stod(row.at("lo")), t);
      EXPECT_GE(std::stod(row.at("hi")), t);
      EXPECT_EQ(row.at("rests_on"), "4 draws × 2 pre-training seeds");
    }
    if (row.at("family") == "perturbed loss" && row.at("param") == "0.01")
      EXPECT_EQ(row.at("has_tstar"), "0");  // still decreasing at 32M
    with += row.at("has_tstar") == "1";
  }
  EXPECT_GE(with, 3);
  const std::string md = ReadFile(study / "report" / "report.md");
  EXPECT_NE(md.find("## Where the inflection falls: T* between budgets"), std::string::npos);
  fs::remove_all(study.parent_path());
}

TEST(TStarReport, TwoSizesGiveAFittedLawWithTheSizeExponent) {
  const fs::path root = LawTemp("sizes");
  std::vector<SizeReport> sizes;
  for (const auto& [name, params] : {std::pair{"pico-a", 1000000}, {"pico-b", 4000000}}) {
    const fs::path dir = root / (std::string("size-") + name);
    testing::WriteSyntheticStudy(dir);
    // The same curves at four times the parameters: T* is the same in tokens, so b = 0.
    nlohmann::json study = nlohmann::json::parse(ReadFile(dir / "results" / "study.json"));
    study["params"] = params;
    std::ofstream(dir / "results" / "study.json") << study.dump() << "\n";
    sizes.push_back({name, dir, WriteReport(dir)});
  }
  WriteSizeComparison(root, sizes);
  const std::string md = ReadFile(root / "report" / "report.md");
  EXPECT_NE(md.find("## The inflection law"), std::string::npos);
  bool b_found = false, c_found = false;
  for (const auto& row : CsvRows(root / "report" / "tables" / "law.csv")) {
    if (row.at("law") != "perturbation") continue;
    if (row.at("term") == "b") {
      b_found = true;
      EXPECT_NEAR(std::stod(row.at("value")), 0.0, 1e-9);
    }
    if (row.at("term") == "c") {
      c_found = true;
      EXPECT_LT(std::stod(row.at("value")), 0);  // γ = 0.1 turns at 8M, γ = 0.05 at 16M
    }
  }
  EXPECT_TRUE(b_found);
  EXPECT_TRUE(c_found);
  fs::remove_all(root);
}

TEST(TStarReport, AnArmWhoseMinimumComesLaterIsSaidToMoveTheInflectionLater) {
  const fs::path root = LawTemp("arms");
  std::vector<SizeReport> arms;
  for (const auto& [name, factor] : {std::pair{"arm-reference", 1.0}, {"arm-robust", 0.25}}) {
    const fs::path dir = root / name;
    // Δ a quarter as large: the perturbed loss turns upward later (γ = 0.1: ≈ 7M → ≈ 18M).
    testing::WriteSyntheticStudy(dir, {.delta_factor = factor});
    arms.push_back({name, dir, WriteReport(dir)});
  }
  WriteSizeComparison(root, arms);
  const std::string md = ReadFile(root / "report" / "report.md");
  EXPECT_NE(md.find("## What moves the inflection"), std::string::npos);
  EXPECT_NE(md.find("arm-robust: perturbed loss, γ = 0.1 turns upward later (×"), std::string::npos)
      << md;
  EXPECT_EQ(md.find("## The inflection law"), std::string::npos);  // arms are not sizes
  fs::remove_all(root);
}

// `overtrain report <root>` of an arms study re-renders every arm's report and the comparison
// from results/ only, with the arms in study.toml's order (the first is the reference).
TEST(TStarReport, AVariantRootGetsEveryReportAndTheComparisonInTheStudysArmOrder) {
  const fs::path root = LawTemp("variants");
  testing::WriteSyntheticStudy(root / "arm-zeta", {.delta_factor = 1.0});
  testing::WriteSyntheticStudy(root / "arm-alpha", {.delta_factor = 0.25});
  std::ofstream(root / "study.toml") << "[study]\narms = [\"zeta\", \"alpha\"]\n";
  const fs::path comparison = WriteVariantReports(root);
  EXPECT_EQ(comparison, root / "report" / "report.md");
  EXPECT_TRUE(fs::exists(root / "arm-zeta" / "report" / "report.md"));
  EXPECT_TRUE(fs::exists(root / "arm-alpha" / "report" / "report.md"));
  const std::string md = ReadFile(comparison);
  EXPECT_NE(md.find("ratio to the reference arm arm-zeta"), std::string::npos);
  EXPECT_NE(md.find("arm-alpha: perturbed loss, γ = 0.1 turns upward later"), std::string::npos)
      << md;
  fs::remove_all(root);
}

// Progressive sensitivity per arm: an arm whose Δ grows ×1.5 per doubling (×7.6 over the ladder)
// against the reference's ×2 (×32) grows less sensitive, with an interval below 1; under relative
// noise the two arms are the same curves, so the ratio's interval holds 1.
TEST(TStarReport, AnArmWhoseDeltaGrowsSlowerIsSaidToGrowLessSensitive) {
  const fs::path root = LawTemp("arms_growth");
  std::vector<SizeReport> arms;
  for (const auto& [name, growth] : {std::pair{"arm-reference", 2.0}, {"arm-flat", 1.5}}) {
    const fs::path dir = root / name;
    testing::WriteSyntheticStudy(dir, {.delta_growth = growth, .relative_scale = true});
    arms.push_back({name, dir, WriteReport(dir)});
  }
  WriteSizeComparison(root, arms);
  const std::string md = ReadFile(root / "report" / "report.md");
  EXPECT_NE(md.find("### Progressive sensitivity per arm"), std::string::npos) << md;
  EXPECT_NE(md.find("arm-flat, init noise at γ = 0.05: Δ grows ×"), std::string::npos) << md;
  EXPECT_NE(md.find("it grows less sensitive with training than arm-reference."), std::string::npos)
      << md;
  EXPECT_NE(md.find("arm-flat, relative noise at γ = 0.05: Δ grows"), std::string::npos) << md;
  EXPECT_NE(md.find("it cannot be told apart (the ratio's interval holds 1) from arm-reference."),
            std::string::npos)
      << md;
  fs::remove_all(root);
}

}  // namespace
}  // namespace ot
