// Reading and validating the study's result files (docs/formats.md, "Result files read by overtrain
// report").
#include "report/results.h"

#include <fmt/format.h>

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/check.h"

namespace ot {
namespace {

using nlohmann::json;

// Typed access to one JSON object; every failure names "<where>: key '<key>'".
class Fields {
 public:
  Fields(const json& object, std::string where) : object_(object), where_(std::move(where)) {}

  bool Has(const char* key) const { return object_.contains(key); }
  const json& Get(const char* key, const char* expected) const {
    auto it = object_.find(key);
    if (it == object_.end()) Fail(key, fmt::format("is missing; expected {}", expected));
    return *it;
  }
  double Num(const char* key) const {
    const json& v = Get(key, "a number");
    if (!v.is_number()) Fail(key, fmt::format("expected a number, got {}", v.dump()));
    const double d = v.get<double>();
    if (!std::isfinite(d)) Fail(key, "expected a finite number");
    return d;
  }
  double NonNegative(const char* key) const {
    const double d = Num(key);
    if (d < 0) Fail(key, fmt::format("expected a number >= 0, got {}", d));
    return d;
  }
  double Positive(const char* key) const {
    const double d = Num(key);
    if (d <= 0) Fail(key, fmt::format("expected a number > 0, got {}", d));
    return d;
  }
  std::optional<double> NumOrNull(const char* key) const {
    const json& v = Get(key, "a number or null");
    if (v.is_null()) return std::nullopt;
    if (!v.is_number() || !std::isfinite(v.get<double>()))
      Fail(key, fmt::format("expected a number or null, got {}", v.dump()));
    return v.get<double>();
  }
  // Integers may be written as 1.6e7 by some writers; they must still be whole numbers.
  int64_t Int(const char* key, int64_t min_value) const {
    const json& v = Get(key, "an integer");
    if (v.is_number_integer()) {
      const int64_t i = v.get<int64_t>();
      if (i < min_value) Fail(key, fmt::format("expected an integer >= {}, got {}", min_value, i));
      return i;
    }
    if (v.is_number_float()) {
      const double d = v.get<double>();
      if (std::isfinite(d) && d == std::floor(d) && std::fabs(d) < 9e18 && d >= double(min_value))
        return static_cast<int64_t>(d);
    }
    Fail(key, fmt::format("expected an integer >= {}, got {}", min_value, v.dump()));
  }
  std::string Str(const char* key) const {
    const json& v = Get(key, "a string");
    if (!v.is_string()) Fail(key, fmt::format("expected a string, got {}", v.dump()));
    return v.get<std::string>();
  }
  template <typename T>
  std::vector<T> Array(const char* key) const {
    const json& v = Get(key, "an array");
    if (!v.is_array()) Fail(key, fmt::format("expected an array, got {}", v.dump()));
    std::vector<T> out;
    for (const json& e : v) {
      if constexpr (std::is_same_v<T, std::string>) {
        if (!e.is_string())
          Fail(key, fmt::format("expected an array of strings, got {}", v.dump()));
        out.push_back(e.get<std::string>());
      } else {
        if (!e.is_number())
          Fail(key, fmt::format("expected an array of numbers, got {}", v.dump()));
        out.push_back(e.get<double>());
      }
    }
    return out;
  }
  [[noreturn]] void Fail(const char* key, const std::string& what) const {
    throw Error(fmt::format("{}: key '{}' {}", where_, key, what));
  }

 private:
  const json& object_;
  std::string where_;
};

// Calls parse(fields) for every non-blank line of a JSON-lines file; nullopt if the file is absent
// or empty.
template <typename Row, typename Parse>
std::optional<std::vector<Row>> ReadJsonl(const std::filesystem::path& path, Parse parse) {
  if (!std::filesystem::exists(path)) return std::nullopt;
  std::ifstream in(path);
  if (!in) throw Error(fmt::format("{}: cannot be opened for reading", path.string()));
  std::vector<Row> rows;
  std::string line;
  for (int line_no = 1; std::getline(in, line); ++line_no) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    const std::string where = fmt::format("{}:{}", path.string(), line_no);
    json object;
    try {
      object = json::parse(line);
    } catch (const json::parse_error& e) {
      throw Error(fmt::format("{}: not a valid JSON object ({})", where, e.what()));
    }
    if (!object.is_object()) throw Error(fmt::format("{}: expected a JSON object per line", where));
    rows.push_back(parse(object, where));
  }
  if (rows.empty()) return std::nullopt;
  return rows;
}

StudyInfo ReadStudyInfo(const std::filesystem::path& path) {
  std::ifstream in(path);
  if (!in)
    throw Error(
        fmt::format("{}: missing; the study writes it (docs/formats.md) and the report needs it",
                    path.string()));
  std::stringstream text;
  text << in.rdbuf();
  json object;
  try {
    object = json::parse(text.str());
  } catch (const json::parse_error& e) {
    throw Error(fmt::format("{}: not valid JSON ({})", path.string(), e.what()));
  }
  if (!object.is_object()) throw Error(fmt::format("{}: expected one JSON object", path.string()));
  Fields f(object, path.string());
  StudyInfo s;
  s.name = f.Str("name");
  s.preset = f.Str("preset");
  s.params = f.Int("params", 1);
  s.train_tokens_per_epoch = f.Int("train_tokens_per_epoch", 1);
  s.seeds = f.Int("seeds", 1);
  s.tasks = f.Array<std::string>("tasks");
  s.gammas = f.Array<double>("gammas");
  s.lrs = f.Array<double>("lrs");
  if (object.contains("unit")) {
    s.unit = f.Str("unit");
    if (s.unit != "tokens" && s.unit != "images")
      throw Error(
          fmt::format("{}: key 'unit' is '{}'; expected tokens or images", path.string(), s.unit));
  }
  if (object.contains("vocab_size")) s.vocab_size = f.Int("vocab_size", 1);
  if (object.contains("embedding_params")) s.embedding_params = f.Int("embedding_params", 0);
  return s;
}

}  // namespace

StudyResults LoadStudyResults(const std::filesystem::path& results_dir) {
  StudyResults r;
  r.results_dir = results_dir;
  r.study = ReadStudyInfo(results_dir / "study.json");
  r.pretrain = ReadJsonl<PretrainRow>(results_dir / "pretrain.jsonl", PretrainRowFromJson);
  r.perturb = ReadJsonl<PerturbRow>(results_dir / "perturb.jsonl", PerturbRowFromJson);
  r.finetune = ReadJsonl<FinetuneRow>(results_dir / "finetune.jsonl", FinetuneRowFromJson);
  r.benchmarks = ReadJsonl<BenchmarkRow>(results_dir / "benchmarks.jsonl", BenchmarkRowFromJson);
  r.lr_sweep = ReadJsonl<LrSweepRow>(results_dir / "lr_sweep.jsonl", LrSweepRowFromJson);
  r.theory = ReadJsonl<TheoryRow>(
      results_dir / "theory.jsonl", [](const json& object, const std::string& where) {
        const Fields f(object, where);
        TheoryRow row;
        row.kind = f.Str("kind");
        row.seed = f.Has("seed") ? f.Int("seed", 0) : 0;
        row.step = f.Int("step", 0);
        row.loss_a = f.Num("loss_a");
        if (row.kind == "base") {
          row.singular_values = f.Array<double>("singular_values");
        } else if (row.kind == "perturb") {
          row.gamma = f.NonNegative("gamma");
          row.loss_a_se = f.NonNegative("loss_a_se");
          row.loss_a_closed = f.Num("loss_a_closed");
          row.base_loss = f.Num("base_loss");
        } else if (row.kind == "finetune" || row.kind == "l2sp") {
          row.ft_steps = f.Has("ft_steps") ? f.Int("ft_steps", 0) : 0;
          row.lr = f.Positive("lr");
          row.lambda = f.NonNegative("lambda");
          row.loss_b = f.Num("loss_b");
          row.base_loss = f.Num("base_loss");
        }  // other kinds are newer than this reader: dropped below, like unknown keys
        return row;
      });
  if (r.theory) {
    std::erase_if(*r.theory, [](const TheoryRow& row) {
      return row.kind != "base" && row.kind != "perturb" && row.kind != "finetune" &&
             row.kind != "l2sp";
    });
    if (r.theory->empty()) r.theory.reset();
  }
  return r;
}

}  // namespace ot
