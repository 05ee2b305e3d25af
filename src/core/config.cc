// TOML conversions, validators and size parsing behind config.h.
#include "core/config.h"

#include <fmt/format.h>
#include <toml++/toml.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <optional>

namespace ot {

namespace {

// Exact decimal parsing of "<digits>[.<digits>]" scaled by 10^scale_digits, or nullopt when the
// text is not of that form (e.g. "1e6") or the count does not fit int64. No double on this path: a
// count printed by FormatSize must parse back to the same integer at any magnitude (doubles hold 53
// bits).
std::optional<int64_t> ExactDecimal(const std::string& num, int scale_digits) {
  const size_t dot = num.find('.');
  const std::string whole = num.substr(0, dot);
  std::string frac = dot == std::string::npos ? "" : num.substr(dot + 1);
  if (whole.empty() && frac.empty()) return std::nullopt;
  auto digits = [](const std::string& t) {
    return std::all_of(t.begin(), t.end(), [](char c) { return c >= '0' && c <= '9'; });
  };
  if (!digits(whole) || !digits(frac)) return std::nullopt;
  while (!frac.empty() && frac.back() == '0') frac.pop_back();
  if (static_cast<int>(frac.size()) > scale_digits) return std::nullopt;  // not a whole count
  frac.append(static_cast<size_t>(scale_digits) - frac.size(), '0');
  int64_t total = 0;
  for (char c : whole + frac) {
    if (__builtin_mul_overflow(total, int64_t{10}, &total) ||
        __builtin_add_overflow(total, int64_t{c - '0'}, &total))
      return std::nullopt;
  }
  return total;
}

}  // namespace

int64_t ParseSize(const std::string& text, const std::string& what) {
  auto fail = [&] {
    return Error(what + ": '" + text + "' is not a count; expected e.g. 4096, 16M or 1.5B");
  };
  if (text.empty()) throw fail();
  int scale = 0;
  std::string num = text;
  switch (text.back()) {
    case 'K':
    case 'k':
      scale = 3;
      break;
    case 'M':
    case 'm':
      scale = 6;
      break;
    case 'B':
    case 'b':
    case 'G':
    case 'g':
      scale = 9;
      break;
    case 'T':
    case 't':
      scale = 12;
      break;
    default:
      break;
  }
  if (scale != 0) num.pop_back();
  if (const auto exact = ExactDecimal(num, scale)) return *exact;
  // Other spellings ("1e6", "2.5e3K") go through a double: exact below 2^53, and the printed config
  // shows the integer actually used above it.
  size_t used = 0;
  double v = 0;
  try {
    v = std::stod(num, &used);
  } catch (...) {
    throw fail();
  }
  const double mult = std::pow(10.0, scale);
  if (used != num.size() || !std::isfinite(v) || v < 0) throw fail();
  const double total = std::round(v * mult);
  if (total > 9.2e18 || std::fabs(total - v * mult) > 1e-6 * std::max(1.0, v * mult)) throw fail();
  return static_cast<int64_t>(total);
}

std::string FormatSize(int64_t n) {
  const std::pair<int64_t, const char*> units[] = {
      {1000000000000, "T"}, {1000000000, "B"}, {1000000, "M"}, {1000, "K"}};
  for (const auto& [u, s] : units) {
    if (n >= u &&
        n % (u / 100) == 0) {  // two decimals at most, in integers (exact at any magnitude)
      std::string x = fmt::format("{}.{:02d}", n / u, (n % u) / (u / 100));
      while (x.back() == '0') x.pop_back();
      if (x.back() == '.') x.pop_back();
      return x + s;
    }
  }
  return std::to_string(n);
}

std::function<std::string(double)> AtLeast(double lo) {
  return [lo](double v) { return v >= lo ? "" : fmt::format("expected >= {}", lo); };
}
std::function<std::string(double)> Above(double lo) {
  return [lo](double v) { return v > lo ? "" : fmt::format("expected > {}", lo); };
}
std::function<std::string(double)> Between(double lo, double hi) {
  return [lo, hi](double v) {
    return v >= lo && v <= hi ? "" : fmt::format("expected a value in [{}, {}]", lo, hi);
  };
}
std::function<std::string(const std::string&)> OneOf(std::vector<std::string> choices) {
  return [choices](const std::string& v) {
    for (const auto& c : choices)
      if (c == v) return std::string();
    std::string list;
    for (const auto& c : choices) list += (list.empty() ? "" : ", ") + c;
    return "expected one of: " + list;
  };
}

std::vector<std::string> ReadOverrideFile(const std::string& path) {
  std::ifstream in(path);
  if (!in)
    throw Error("--set-from " + path + ": cannot be read; expected a file of key=value lines");
  std::vector<std::string> out;
  int line_no = 0;
  for (std::string line; std::getline(in, line);) {
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.find_first_not_of(" \t") == std::string::npos || line[0] == '#') continue;
    if (line.find('=') == std::string::npos)
      throw Error(fmt::format("--set-from {}:{}: '{}' is not of the form section.key=value", path,
                              line_no, line));
    out.push_back(line);
  }
  return out;
}

namespace config_detail {

std::string FiniteProblem(double v) { return std::isfinite(v) ? "" : "expected a finite number"; }

static std::string TypeName(const toml::node& n) {
  switch (n.type()) {
    case toml::node_type::string:
      return "a string";
    case toml::node_type::integer:
      return "an integer";
    case toml::node_type::floating_point:
      return "a number";
    case toml::node_type::boolean:
      return "a boolean";
    case toml::node_type::array:
      return "an array";
    case toml::node_type::table:
      return "a table";
    default:
      return "a date/time";
  }
}
static std::string Expects(const char* what, const toml::node& n) {
  return std::string("expects ") + what + ", got " + TypeName(n);
}

std::string Set(const toml::node& n, bool& out) {
  if (auto v = n.value_exact<bool>()) return out = *v, "";
  return Expects("a boolean", n);
}
std::string Set(const toml::node& n, int64_t& out) {
  if (auto v = n.value_exact<int64_t>()) return out = *v, "";
  return Expects("an integer", n);
}
std::string Set(const toml::node& n, int& out) {
  int64_t v = 0;
  std::string e = Set(n, v);
  if (!e.empty()) return e;
  if (v < INT32_MIN || v > INT32_MAX) return "expects a 32-bit integer";
  out = static_cast<int>(v);
  return "";
}
std::string Set(const toml::node& n, Size& out) {
  if (auto v = n.value_exact<int64_t>()) {
    if (*v < 0) return "expects a non-negative count";
    return out.value = *v, "";
  }
  if (auto s = n.value_exact<std::string>()) {
    try {
      out.value = ParseSize(*s, "value");
      return "";
    } catch (const Error&) {
      return "expects a count such as 4096, 16M or 1.5B, got '" + *s + "'";
    }
  }
  return Expects("a count (integer or string such as \"16M\")", n);
}
std::string Set(const toml::node& n, double& out) {
  if (auto v = n.value<double>(); v && (n.is_floating_point() || n.is_integer()))
    return out = *v, "";
  return Expects("a number", n);
}
std::string Set(const toml::node& n, float& out) {
  double d = 0;
  std::string e = Set(n, d);
  if (e.empty()) out = static_cast<float>(d);
  return e;
}
std::string Set(const toml::node& n, std::string& out) {
  if (auto v = n.value_exact<std::string>()) return out = *v, "";
  return Expects("a string", n);
}
template <typename T>
static std::string SetArray(const toml::node& n, std::vector<T>& out, const char* what) {
  const auto* arr = n.as_array();
  if (!arr) return Expects(what, n);
  std::vector<T> tmp;
  for (const auto& el : *arr) {
    T x{};
    std::string e = Set(el, x);
    if (!e.empty()) return std::string("expects ") + what + "; an element " + e;
    tmp.push_back(x);
  }
  out = std::move(tmp);
  return "";
}
std::string Set(const toml::node& n, std::vector<double>& out) {
  return SetArray(n, out, "an array of numbers");
}
std::string Set(const toml::node& n, std::vector<int64_t>& out) {
  return SetArray(n, out, "an array of integers");
}
std::string Set(const toml::node& n, std::vector<Size>& out) {
  return SetArray(n, out, "an array of counts");
}
std::string Set(const toml::node& n, std::vector<std::string>& out) {
  return SetArray(n, out, "an array of strings");
}

std::string Print(bool v) { return v ? "true" : "false"; }
std::string Print(int v) { return std::to_string(v); }
std::string Print(int64_t v) { return std::to_string(v); }
std::string Print(Size v) {
  const std::string s = FormatSize(v.value);
  return s == std::to_string(v.value) ? s : "\"" + s + "\"";
}
std::string Print(double v) {
  std::string s = fmt::format("{}", v);
  if (s.find_first_of(".eE") == std::string::npos && s.find("inf") == std::string::npos &&
      s.find("nan") == std::string::npos)
    s += ".0";
  return s;
}
std::string Print(float v) { return Print(static_cast<double>(v)); }
std::string Print(const std::string& v) {
  std::ostringstream os;
  os << toml::value<std::string>(v);
  return os.str();
}
template <typename T>
static std::string PrintArray(const std::vector<T>& v) {
  std::string s = "[";
  for (size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + Print(v[i]);
  return s + "]";
}
std::string Print(const std::vector<double>& v) { return PrintArray(v); }
std::string Print(const std::vector<int64_t>& v) { return PrintArray(v); }
std::string Print(const std::vector<Size>& v) { return PrintArray(v); }
std::string Print(const std::vector<std::string>& v) { return PrintArray(v); }

static void Visit(const toml::table& t, const std::string& prefix, const LeafVisitor& v) {
  for (const auto& [k, node] : t) {
    const std::string key =
        prefix.empty() ? std::string(k.str()) : prefix + "." + std::string(k.str());
    if (const auto* sub = node.as_table()) {
      Visit(*sub, key, v);
    } else {
      v.leaf(key, node, static_cast<int>(node.source().begin.line));
    }
  }
}

void ParseAndVisit(const std::string& path, const LeafVisitor& visitor) {
  // toml++ reads a directory or an empty file as an empty document; the errors that follow (a
  // missing required key, a default used unawares) would not name the real mistake.
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec))
    throw Error(path + ": is a directory, expected a TOML file");
  if (std::filesystem::is_regular_file(path, ec) && std::filesystem::file_size(path, ec) == 0 &&
      !ec)
    throw Error(path + ": is empty, expected a TOML file");
  toml::table doc;
  try {
    doc = toml::parse_file(path);
  } catch (const toml::parse_error& e) {
    const auto& src = e.source();
    if (src.begin.line == 0)
      throw Error(path + ": cannot read the config file: " + std::string(e.description()));
    throw Error(path + ":" + std::to_string(src.begin.line) +
                ": TOML syntax error: " + std::string(e.description()));
  }
  Visit(doc, "", visitor);
}

std::string Literal(const toml::node& n) {
  // Numbers in their shortest round-trip form (0.1, not toml++'s 0.10000000000000001); strings and
  // everything else through the TOML printer, which quotes and escapes.
  if (const auto* d = n.as_floating_point()) return Print(d->get());
  if (const auto* a = n.as_array()) {
    std::string out = "[";
    for (size_t i = 0; i < a->size(); ++i) out += (i ? ", " : "") + Literal(*a->get(i));
    return out + "]";
  }
  std::ostringstream os;
  n.visit([&](const auto& v) { os << v; });
  return os.str();
}

void ParseOverrideValue(const std::string& value, const LeafVisitor& visitor) {
  toml::table doc;
  try {
    doc = toml::parse("v = " + value);
  } catch (const toml::parse_error&) {
    doc = toml::table{{"v", value}};  // a bare word is a string: --set model.preset=nano
  }
  visitor.leaf("", *doc.get("v"), 0);
}

}  // namespace config_detail
}  // namespace ot
