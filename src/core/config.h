// Declare-once configuration (docs/design.md, style rule 7): each field is declared once with its
// key, help text and validation; TOML loading, `--set a.b=c` overrides, printing and error messages
// derive from that. Entry points: ConfigSchema<S>::Field / Add / Rule, LoadConfig, ApplyOverride,
// PrintConfig, ParseSize.
#pragma once

#include <concepts>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <type_traits>
#include <vector>

#include "core/check.h"

namespace toml {
inline namespace v3 {
class node;
}
}  // namespace toml

namespace ot {

// Parses a count with an optional suffix: "4096", "16K", "16M", "1.5B" (decimal: K=1e3, M=1e6,
// B=G=1e9, T=1e12). Throws Error naming `what` on anything else.
int64_t ParseSize(const std::string& text, const std::string& what);
std::string FormatSize(int64_t n);  // 16000000 -> "16M", 1500000000 -> "1.5B", 12345 -> "12345"

// An integer field that also accepts size suffixes in TOML ("16M"); printed with its suffix.
struct Size {
  int64_t value = 0;
  operator int64_t() const { return value; }
};

// The value type of one field, as TOML sees it. Internal to config.cc and the templates below.
using ConfigValueSetter =
    std::function<std::string(const toml::node&)>;  // "" or expected-type text

template <typename S>
class ConfigSchema {
 public:
  struct FieldDecl {
    std::string key, help, type;
    std::function<std::string(S&, const toml::node&)> set;  // returns "" or "expects <type>"
    std::function<std::string(const S&)> print;             // TOML literal of the current value
    std::function<std::string(const S&)> check;             // returns "" or the expectation
    std::function<bool(const S&)> printed;  // null: always printed; else PrintConfig's condition
  };
  struct RuleDecl {
    std::vector<std::string> keys;
    std::function<std::string(const S&)> check;
  };
  // Free-form keys under `prefix` (e.g. "arms." for a study's `[arms.<name>]` tables of overrides):
  // `set` receives the rest of the key and the value as a TOML literal (typed and escaped by the
  // TOML printer, never concatenated from raw text) and returns "" or the expectation; `print`
  // returns the TOML text of all of them (its own [table] headers), "" when there are none.
  struct TableDecl {
    std::string prefix, help;
    // `where` is the entry's origin ("file.toml:12" or "--set"), for messages about it later.
    std::function<std::string(S&, const std::string& subkey, const std::string& literal,
                              const std::string& where)>
        set;
    std::function<std::string(const S&)> print;
  };

  // Declares one field. `get` returns a reference to the member; `check` (optional) returns "" when
  // the value is fine, else what was expected ("expected >= 1"). Floating-point fields (double,
  // float and arrays of double) must also be finite: TOML's inf and nan are refused before `check`
  // runs, since no learning rate, epsilon or scale is meaningful at infinity (eps = inf once
  // trained 500 steps).
  template <typename Get, typename Check = std::nullptr_t>
  ConfigSchema& Field(std::string key, std::string help, Get get, Check check = nullptr);

  // Declares a field that was built by another declaration: a stage that reads only part of a
  // shared section declares that section into a scratch schema and adds the fields it reads
  // (Find), so every other key of the section is refused as unknown.
  ConfigSchema& Add(FieldDecl field) {
    fields_.push_back(std::move(field));
    return *this;
  }

  // PrintConfig writes the last declared field only when `when` holds: a switch that exists for one
  // kind of model (the vision switches) stays out of every other's printed config, so that text,
  // and the run ids hashed from it, stay what they were before the switch existed. A key left out
  // loads as its default, which is what it held.
  ConfigSchema& PrintedWhen(std::function<bool(const S&)> when) {
    OT_CHECK(!fields_.empty()) << "PrintedWhen before any Field";
    fields_.back().printed = std::move(when);
    return *this;
  }

  // A cross-field rule over several keys, checked after loading and overrides.
  ConfigSchema& Rule(std::vector<std::string> keys, std::function<std::string(const S&)> check) {
    rules_.push_back({std::move(keys), std::move(check)});
    return *this;
  }

  ConfigSchema& Table(TableDecl table) {
    tables_.push_back(std::move(table));
    return *this;
  }

  const std::vector<FieldDecl>& fields() const { return fields_; }
  const std::vector<RuleDecl>& rules() const { return rules_; }
  const std::vector<TableDecl>& tables() const { return tables_; }
  const TableDecl* FindTable(const std::string& key) const {
    for (const auto& t : tables_)
      if (key.size() > t.prefix.size() && key.compare(0, t.prefix.size(), t.prefix) == 0) return &t;
    return nullptr;
  }
  const FieldDecl* Find(const std::string& key) const {
    for (const auto& f : fields_)
      if (f.key == key) return &f;
    return nullptr;
  }

 private:
  std::vector<FieldDecl> fields_;
  std::vector<RuleDecl> rules_;
  std::vector<TableDecl> tables_;
};

// Validators, composable as lambdas returning "" or the expectation.
std::function<std::string(double)> AtLeast(double lo);
std::function<std::string(double)> Above(double lo);
std::function<std::string(double)> Between(double lo, double hi);
std::function<std::string(const std::string&)> OneOf(std::vector<std::string> choices);

namespace config_detail {
// Conversions between TOML nodes and field types; return "" or the expected-type text.
std::string Set(const toml::node& n, bool& out);
std::string Set(const toml::node& n, int& out);
std::string Set(const toml::node& n, int64_t& out);
std::string Set(const toml::node& n, Size& out);
std::string Set(const toml::node& n, double& out);
std::string Set(const toml::node& n, float& out);
std::string Set(const toml::node& n, std::string& out);
std::string Set(const toml::node& n, std::vector<double>& out);
std::string Set(const toml::node& n, std::vector<int64_t>& out);
std::string Set(const toml::node& n, std::vector<Size>& out);
std::string Set(const toml::node& n, std::vector<std::string>& out);
std::string Print(bool v);
std::string Print(int v);
std::string Print(int64_t v);
std::string Print(Size v);
std::string Print(double v);
std::string Print(float v);
std::string Print(const std::string& v);
std::string Print(const std::vector<double>& v);
std::string Print(const std::vector<int64_t>& v);
std::string Print(const std::vector<Size>& v);
std::string Print(const std::vector<std::string>& v);
// A field type of its own (e.g. an array of inline tables): T declares
//   static std::string SetFromToml(const toml::node&, T&)  ("" or the expected-type text) and
//   static std::string PrintToml(const T&)                 (its TOML literal).
template <typename T>
concept CustomConfigValue = requires(const toml::node& n, T& t) {
  { T::SetFromToml(n, t) } -> std::same_as<std::string>;
  { T::PrintToml(t) } -> std::same_as<std::string>;
};
template <CustomConfigValue T>
std::string Set(const toml::node& n, T& out) {
  return T::SetFromToml(n, out);
}
template <CustomConfigValue T>
std::string Print(const T& v) {
  return T::PrintToml(v);
}
// Enum fields: specialise `EnumNames<E>` (a static array `names`, in enumerator order) next to the
// enum; the field then reads and prints as one of those strings (e.g. model.norm = "rmsnorm").
template <typename E>
struct EnumNames;
template <typename E>
requires std::is_enum_v<E> std::string Set(const toml::node& n, E& out) {
  std::string text;
  if (std::string e = Set(n, text); !e.empty()) return e;
  std::string list;
  for (size_t i = 0; i < std::size(EnumNames<E>::names); ++i) {
    if (text == EnumNames<E>::names[i]) return out = static_cast<E>(i), "";
    list += (i ? ", " : "") + std::string(EnumNames<E>::names[i]);
  }
  return "expects one of: " + list + "; got '" + text + "'";
}
template <typename E>
requires std::is_enum_v<E> std::string Print(E v) {
  return Print(std::string(EnumNames<E>::names[static_cast<size_t>(v)]));
}
// "" when every floating-point value of `v` is finite (other types always are), else the
// expectation.
std::string FiniteProblem(double v);
template <typename T>
std::string CheckFinite(const T& v) {
  if constexpr (std::is_floating_point_v<T>) {
    return FiniteProblem(static_cast<double>(v));
  } else if constexpr (std::is_same_v<T, std::vector<double>>) {
    for (double x : v)
      if (std::string e = FiniteProblem(x); !e.empty()) return e + " (each element)";
  }
  return "";
}
template <typename T>
std::string RunCheck(const T& v, const std::nullptr_t&) {
  return CheckFinite(v);
}
template <typename T, typename C>
std::string RunCheck(const T& v, const C& check) {
  if (std::string e = CheckFinite(v); !e.empty()) return e;
  if constexpr (std::is_same_v<T, Size>) {
    return check(static_cast<double>(v.value));
  } else if constexpr (std::is_same_v<T, std::vector<double>> ||
                       std::is_same_v<T, std::vector<int64_t>> ||
                       std::is_same_v<T, std::vector<Size>>) {
    for (const auto& x : v) {
      std::string e;  // doubles as they are: a cast to int64_t is undefined beyond its range
      if constexpr (std::is_same_v<T, std::vector<double>>)
        e = check(x);
      else
        e = check(static_cast<double>(static_cast<int64_t>(x)));
      if (!e.empty()) return e + " (each element)";
    }
    return "";
  } else {
    return check(v);
  }
}

// Walks a parsed TOML document: calls leaf(key, node, line) for every non-table value.
struct LeafVisitor {
  std::function<void(const std::string& key, const toml::node& node, int line)> leaf;
};
void ParseAndVisit(const std::string& path, const LeafVisitor& visitor);
// Parses `value` as a TOML value (falls back to a string) and calls leaf("", node, 0).
void ParseOverrideValue(const std::string& value, const LeafVisitor& visitor);
// The node as a TOML literal ("sgd" quoted and escaped, [1, 2], 0.1), for table entries.
std::string Literal(const toml::node& n);
}  // namespace config_detail

template <typename S>
template <typename Get, typename Check>
ConfigSchema<S>& ConfigSchema<S>::Field(std::string key, std::string help, Get get, Check check) {
  using T = std::remove_reference_t<decltype(get(std::declval<S&>()))>;
  FieldDecl f;
  f.key = key;
  f.help = std::move(help);
  f.set = [get](S& s, const toml::node& n) { return config_detail::Set(n, get(s)); };
  f.print = [get](const S& s) { return config_detail::Print(get(const_cast<S&>(s))); };
  f.check = [get, check](const S& s) {
    return config_detail::RunCheck<T>(get(const_cast<S&>(s)), check);
  };
  fields_.push_back(std::move(f));
  return *this;
}

// Where each key's value came from, for messages: "run.toml:12", "--set", or "default".
using ConfigOrigins = std::map<std::string, std::string>;

// Applies one TOML file to `s`. Unknown keys, wrong types and failed checks throw Error with
// file:line.
template <typename S>
void ApplyFile(const ConfigSchema<S>& schema, const std::string& path, S& s,
               ConfigOrigins& origins) {
  config_detail::LeafVisitor v;
  v.leaf = [&](const std::string& key, const toml::node& node, int line) {
    const std::string where = path + ":" + std::to_string(line);
    const auto* f = schema.Find(key);
    if (!f) {
      const auto* t = schema.FindTable(key);
      if (!t) throw Error(where + ": unknown key '" + key + "'");
      std::string e = t->set(s, key.substr(t->prefix.size()), config_detail::Literal(node), where);
      if (!e.empty()) throw Error(where + ": key '" + key + "' " + e);
      origins[key] = where;
      return;
    }
    std::string e = f->set(s, node);
    if (!e.empty()) throw Error(where + ": key '" + key + "' " + e);
    origins[key] = where;
  };
  config_detail::ParseAndVisit(path, v);
}

// The `key=value` overrides of a file (`--set-from`): one per line; blank lines and lines starting
// with '#' are skipped. Throws Error naming the file when it cannot be read or a line has no '='.
std::vector<std::string> ReadOverrideFile(const std::string& path);

// Applies one `key=value` override (from --set).
template <typename S>
void ApplyOverride(const ConfigSchema<S>& schema, const std::string& assignment, S& s,
                   ConfigOrigins& origins) {
  const auto eq = assignment.find('=');
  if (eq == std::string::npos)
    throw Error("--set '" + assignment + "': expected the form section.key=value");
  const std::string key = assignment.substr(0, eq), value = assignment.substr(eq + 1);
  const auto* f = schema.Find(key);
  const auto* t = f ? nullptr : schema.FindTable(key);
  if (!f && !t) throw Error("--set: unknown key '" + key + "'");
  config_detail::LeafVisitor v;
  v.leaf = [&](const std::string&, const toml::node& node, int) {
    std::string e =
        f ? f->set(s, node)
          : t->set(s, key.substr(t->prefix.size()), config_detail::Literal(node), "--set");
    if (!e.empty()) throw Error("--set: key '" + key + "' " + e);
  };
  config_detail::ParseOverrideValue(value, v);
  origins[key] = "--set";
}

// Runs every field check and rule; throws Error naming the origin and key of the first failure.
template <typename S>
void ValidateConfig(const ConfigSchema<S>& schema, const S& s, const ConfigOrigins& origins) {
  auto origin = [&](const std::string& key) {
    auto it = origins.find(key);
    return it == origins.end() ? std::string("default") : it->second;
  };
  for (const auto& f : schema.fields()) {
    std::string e = f.check(s);
    if (!e.empty())
      throw Error(origin(f.key) + ": key '" + f.key + "' = " + f.print(s) + " is invalid: " + e);
  }
  for (const auto& r : schema.rules()) {
    std::string e = r.check(s);
    if (!e.empty()) {
      std::string where = origin(r.keys.empty() ? "" : r.keys.front());
      std::string keys;
      for (const auto& k : r.keys) keys += (keys.empty() ? "'" : ", '") + k + "'";
      throw Error(where + ": keys " + keys + ": " + e);
    }
  }
}

// Resolves defaults ← file (optional, "" for none) ← overrides without validating (unknown keys and
// wrong types are still errors); `origins` receives where each key was set.
template <typename S>
S ResolveConfig(const ConfigSchema<S>& schema, const std::string& path,
                const std::vector<std::string>& overrides, ConfigOrigins& origins,
                S defaults = S{}) {
  S s = std::move(defaults);
  if (!path.empty()) ApplyFile(schema, path, s, origins);
  for (const auto& o : overrides) ApplyOverride(schema, o, s, origins);
  return s;
}

// Loads defaults ← file (optional, "" for none) ← overrides, then validates.
template <typename S>
S LoadConfig(const ConfigSchema<S>& schema, const std::string& path,
             const std::vector<std::string>& overrides, S defaults = S{}) {
  ConfigOrigins origins;
  S s = ResolveConfig(schema, path, overrides, origins, std::move(defaults));
  ValidateConfig(schema, s, origins);
  return s;
}

// The fully resolved config as TOML, grouped by section (in order of each section's first field, so
// a section declared in two places, e.g. a study's [pretrain] keys and its embedded optimizer
// knobs, is still one TOML table), each field preceded by its help as a comment. A field whose
// `printed` condition is false is left out (PrintedWhen).
template <typename S>
std::string PrintConfig(const ConfigSchema<S>& schema, const S& s) {
  std::vector<std::string> order;
  std::map<std::string, std::string> body;
  for (const auto& f : schema.fields()) {
    if (f.printed && !f.printed(s)) continue;
    const auto dot = f.key.rfind('.');
    const std::string sec = dot == std::string::npos ? "" : f.key.substr(0, dot);
    const std::string name = dot == std::string::npos ? f.key : f.key.substr(dot + 1);
    if (!body.count(sec)) order.push_back(sec);
    body[sec] += "# " + f.help + "\n" + name + " = " + f.print(s) + "\n";
  }
  std::string out;
  if (body.count("")) out += body[""];  // top-level keys must precede every [table]
  for (const auto& sec : order)
    if (!sec.empty()) out += (out.empty() ? "[" : "\n[") + sec + "]\n" + body[sec];
  for (const auto& t : schema.tables())
    if (const std::string text = t.print(s); !text.empty()) out += "\n# " + t.help + "\n" + text;
  return out;
}

}  // namespace ot
