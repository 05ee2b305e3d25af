// Result rows: one Visit per row type drives both the JSON writer and the strict reader.
#include "core/result_rows.h"

#include <fmt/format.h>

#include <climits>
#include <cmath>

#include "core/check.h"

namespace ot {
namespace {

using nlohmann::json;

// Range rules a reader enforces (the writer ignores them).
enum class Range { kAny, kNonNegative, kPositive };

// The field list of each row, in file order.
template <typename V, typename Row>
void Visit(V& v, Row& r) {
  if constexpr (std::is_same_v<std::remove_const_t<Row>, PretrainRow>) {
    v("tokens", r.tokens, 1);
    v("epochs", r.epochs, Range::kNonNegative);
    v("seed", r.seed, INT64_MIN);
    v("base_loss", r.base_loss, Range::kAny);
    v("base_ppl", r.base_ppl, Range::kNonNegative);
    v("base_loss_stderr", r.base_loss_stderr);
    v("c4_loss", r.c4_loss);
    v("accuracy", r.accuracy);
    v("probe_loss", r.probe_loss);
    v("probe_accuracy", r.probe_accuracy);
  } else if constexpr (std::is_same_v<std::remove_const_t<Row>, PerturbRow>) {
    v("tokens", r.tokens, 1);
    v("epochs", r.epochs, Range::kNonNegative);
    v("seed", r.seed, INT64_MIN);
    v("gamma", r.gamma, Range::kNonNegative);
    v("draw", r.draw, 0);
    v("group", r.group);
    v("loss", r.loss, Range::kAny);
    v("base_loss", r.base_loss, Range::kAny);
    v("delta", r.delta, Range::kAny);
    v("scale", r.scale);
  } else if constexpr (std::is_same_v<std::remove_const_t<Row>, LrSweepRow>) {
    v("arm", r.arm);
    v("seed", r.seed, INT64_MIN);
    v("tokens", r.tokens, 1);
    v("epochs", r.epochs, Range::kNonNegative);
    v("lr", r.lr, Range::kPositive);
    v("factor", r.factor, Range::kPositive);
    v("val_loss", r.val_loss);
    v("val_loss_stderr", r.val_loss_stderr);
    v("chosen", r.chosen);
  } else if constexpr (std::is_same_v<std::remove_const_t<Row>, BenchmarkRow>) {
    v("tokens", r.tokens, 1);
    v("epochs", r.epochs, Range::kNonNegative);
    v("seed", r.seed, INT64_MIN);
    v("model", r.model);
    v("task", r.task);
    v("lr", r.lr, Range::kNonNegative);
    v("ft_seed", r.ft_seed, INT64_MIN);
    v("benchmark", r.benchmark);
    v("samples", r.samples, 0);
    v("acc", r.acc);
    v("acc_stderr", r.acc_stderr);
    v("acc_norm", r.acc_norm);
    v("acc_norm_stderr", r.acc_norm_stderr);
    v("chance_acc", r.chance_acc);
    v("bits_per_byte", r.bits_per_byte);
  } else {
    static_assert(std::is_same_v<std::remove_const_t<Row>, FinetuneRow>);
    v("tokens", r.tokens, 1);
    v("epochs", r.epochs, Range::kNonNegative);
    v("seed", r.seed, INT64_MIN);
    v("ft_seed", r.ft_seed, INT64_MIN);
    v("task", r.task);
    v("lr", r.lr, Range::kPositive);
    v("id_loss", r.id_loss, Range::kAny);
    v("ood_loss", r.ood_loss, Range::kAny);
    v("c4_loss", r.c4_loss);
    v("accuracy", r.accuracy);
    v("chance_accuracy", r.chance_accuracy);
    v("label_prior_loss", r.label_prior_loss);
    v("ood_accuracy", r.ood_accuracy);
    v("base_id_loss", r.base_id_loss, Range::kAny);
    v("base_ood_loss", r.base_ood_loss, Range::kAny);
  }
}

struct Writer {
  json out = json::object();
  void operator()(const char* k, const int64_t& v, int64_t) { out[k] = v; }
  void operator()(const char* k, const double& v, Range) { out[k] = v; }
  void operator()(const char* k, const std::string& v) { out[k] = v; }
  void operator()(const char* k, const bool& v) { out[k] = v; }
  void operator()(const char* k, const std::optional<double>& v) {
    out[k] = v && std::isfinite(*v) ? json(*v) : json(nullptr);
  }
};

struct Reader {
  const json& object;
  const std::string& where;

  [[noreturn]] void Fail(const char* key, const std::string& what) const {
    throw Error(fmt::format("{}: key '{}' {}", where, key, what));
  }
  const json& Get(const char* key, const char* expected) const {
    auto it = object.find(key);
    if (it == object.end()) Fail(key, fmt::format("is missing; expected {}", expected));
    return *it;
  }
  // Integers may be written as 1.6e7 by some writers; they must still be whole numbers.
  void operator()(const char* key, int64_t& out, int64_t min_value) const {
    const json& v = Get(key, "an integer");
    if (v.is_number_integer() && v.get<int64_t>() >= min_value) {
      out = v.get<int64_t>();
      return;
    }
    if (v.is_number_float()) {
      const double d = v.get<double>();
      if (std::isfinite(d) && d == std::floor(d) && std::fabs(d) < 9e18 && d >= double(min_value)) {
        out = static_cast<int64_t>(d);
        return;
      }
    }
    Fail(key, fmt::format("expected an integer >= {}, got {}", min_value, v.dump()));
  }
  void operator()(const char* key, double& out, Range range) const {
    const json& v = Get(key, "a number");
    if (!v.is_number()) Fail(key, fmt::format("expected a number, got {}", v.dump()));
    out = v.get<double>();
    if (!std::isfinite(out)) Fail(key, "expected a finite number");
    if (range == Range::kNonNegative && out < 0)
      Fail(key, fmt::format("expected a number >= 0, got {}", out));
    if (range == Range::kPositive && out <= 0)
      Fail(key, fmt::format("expected a number > 0, got {}", out));
  }
  void operator()(const char* key, std::string& out) const {
    const json& v = Get(key, "a string");
    if (!v.is_string()) Fail(key, fmt::format("expected a string, got {}", v.dump()));
    out = v.get<std::string>();
  }
  void operator()(const char* key, bool& out) const {
    const json& v = Get(key, "true or false");
    if (!v.is_boolean()) Fail(key, fmt::format("expected true or false, got {}", v.dump()));
    out = v.get<bool>();
  }
  void operator()(const char* key, std::optional<double>& out) const {
    auto it = object.find(key);
    if (it == object.end() || it->is_null()) return out.reset();
    if (!it->is_number() || !std::isfinite(it->get<double>()))
      Fail(key, fmt::format("expected a number or null, got {}", it->dump()));
    out = it->get<double>();
  }
};

template <typename Row>
json Write(const Row& row) {
  Writer w;
  Visit(w, row);
  return std::move(w.out);
}

template <typename Row>
Row Read(const json& object, const std::string& where) {
  if (!object.is_object()) throw Error(where + ": expected a JSON object");
  Row row;
  Reader r{object, where};
  Visit(r, row);
  return row;
}

}  // namespace

json ToJson(const PretrainRow& row) { return Write(row); }
json ToJson(const PerturbRow& row) { return Write(row); }
json ToJson(const FinetuneRow& row) { return Write(row); }
json ToJson(const BenchmarkRow& row) { return Write(row); }
json ToJson(const LrSweepRow& row) { return Write(row); }
LrSweepRow LrSweepRowFromJson(const json& o, const std::string& where) {
  return Read<LrSweepRow>(o, where);
}
PretrainRow PretrainRowFromJson(const json& o, const std::string& where) {
  return Read<PretrainRow>(o, where);
}
PerturbRow PerturbRowFromJson(const json& o, const std::string& where) {
  if (!o.is_object() || o.contains("scale")) {
    PerturbRow row = Read<PerturbRow>(o, where);
    // The scales' names before "init" | "relative" (same rules), so older files still read.
    if (row.scale == "init-std") row.scale = "init";
    if (row.scale == "relative-norm") row.scale = "relative";
    return row;
  }
  json with_scale = o;  // rows written before the field: every one was init-scaled
  with_scale["scale"] = "init";
  return Read<PerturbRow>(with_scale, where);
}
FinetuneRow FinetuneRowFromJson(const json& o, const std::string& where) {
  return Read<FinetuneRow>(o, where);
}
BenchmarkRow BenchmarkRowFromJson(const json& o, const std::string& where) {
  BenchmarkRow row = Read<BenchmarkRow>(o, where);
  if (row.model != "base" && row.model != "finetuned")
    throw Error(fmt::format("{}: key 'model' expected \"base\" or \"finetuned\", got \"{}\"", where,
                            row.model));
  return row;
}

}  // namespace ot
