// Source readers over the cache layout written by fetch.cc.
#include "data/corpus.h"

#include <algorithm>
#include <regex>

#include "core/check.h"
#include "core/fileio.h"
#include "data/fetch.h"
#include "data/util.h"

namespace ot::data {
namespace {

std::vector<fs::path> SortedFiles(const fs::path& dir, bool recursive) {
  std::vector<fs::path> files;
  if (!fs::is_directory(dir))
    throw Error(dir.string() + ": expected a directory in the data cache");
  if (recursive) {
    for (const auto& e : fs::recursive_directory_iterator(dir))
      if (e.is_regular_file() && !e.is_symlink()) files.push_back(e.path());
  } else {
    for (const auto& e : fs::directory_iterator(dir))
      if (e.is_regular_file() && !e.is_symlink()) files.push_back(e.path());
  }
  std::sort(files.begin(), files.end());
  return files;
}

void AddChunks(std::vector<Document>& docs, const std::string& text, const std::string& id,
               size_t chunk_bytes) {
  const auto chunks = ChunkText(text, chunk_bytes);
  for (size_t k = 0; k < chunks.size(); ++k)
    docs.push_back({chunks[k], chunks.size() == 1 ? id : id + "#" + std::to_string(k)});
}

}  // namespace

const std::vector<std::string>& GeneralSources() {
  static const std::vector<std::string> names = {"imdb",     "gutenberg", "brown", "sotu",
                                                 "fortunes", "devil",     "jargon"};
  return names;
}

std::vector<Document> LoadSourceDocuments(const fs::path& cache, const std::string& source,
                                          size_t chunk_bytes, size_t* duplicates) {
  const fs::path dir = SourceDir(cache, source);
  std::vector<Document> docs;
  if (source == "imdb") {
    const fs::path file = dir / "package/reviews.json";
    docs = ParseImdb(ReadFile(file), file.string());
  } else if (source == "gutenberg") {
    for (const auto& f : SortedFiles(dir / "package/gutenberg", false)) {
      if (f.extension() != ".txt") continue;
      const std::string text = CleanGutenberg(f.filename().string(), ReadFile(f));
      if (!text.empty()) AddChunks(docs, text, f.filename().string(), chunk_bytes);
    }
  } else if (source == "brown") {
    static const std::regex kBrownFile("c[a-r][0-9][0-9]");
    for (const auto& f : SortedFiles(dir / "package", false)) {
      if (!std::regex_match(f.filename().string(), kBrownFile)) continue;
      const std::string text = CleanBrown(ReadFile(f));
      if (!text.empty()) AddChunks(docs, text, f.filename().string(), chunk_bytes);
    }
  } else if (source == "sotu") {
    for (const auto& f : SortedFiles(dir / "package/data", false)) {
      if (f.extension() != ".txt") continue;
      const std::string text(Trim(NormalizeNewlines(ToUtf8(ReadFile(f)))));
      if (!text.empty()) AddChunks(docs, text, f.filename().string(), chunk_bytes);
    }
  } else if (source == "fortunes") {
    for (const auto& f : SortedFiles(dir / "usr/share/games/fortunes", false)) {
      if (f.has_extension()) continue;  // .dat indexes, .u8 links
      const auto entries = SplitFortunes(ReadFile(f));
      for (size_t k = 0; k < entries.size(); ++k)
        AddChunks(docs, entries[k], f.filename().string() + "#" + std::to_string(k), chunk_bytes);
    }
  } else if (source == "devil" || source == "jargon") {
    const fs::path base = dir / "usr/share/dictd" / source;
    const fs::path index = base.string() + ".index", dict = base.string() + ".dict.dz";
    const auto entries = ParseDictd(ReadFile(index), ReadMaybeGzip(dict), dict.string());
    for (size_t k = 0; k < entries.size(); ++k)
      AddChunks(docs, entries[k], source + "#" + std::to_string(k), chunk_bytes);
  } else {
    throw Error("unknown general source '" + source + "'");
  }
  const size_t dropped = Dedupe(docs);
  if (duplicates) *duplicates = dropped;
  if (docs.empty()) throw Error(dir.string() + ": source '" + source + "' yielded no documents");
  return docs;
}

void SplitImdb(std::vector<Document> reviews, double fraction, uint64_t seed,
               std::vector<Document>& general, std::vector<Document>& held_out) {
  SeededShuffle(reviews, seed, "imdb/holdout");
  const size_t per_label = static_cast<size_t>(fraction * reviews.size() / 2 + 0.5);
  size_t taken[2] = {0, 0};
  general.clear();
  held_out.clear();
  for (auto& d : reviews) {
    if (d.label >= 0 && d.label <= 1 && taken[d.label] < per_label) {
      ++taken[d.label];
      held_out.push_back(std::move(d));
    } else {
      general.push_back(std::move(d));
    }
  }
}

std::vector<Document> LoadPythonFiles(const fs::path& cache) {
  std::vector<Document> docs;
  for (const char* source : {"python-minimal", "python-stdlib"}) {
    const fs::path root = SourceDir(cache, source) / "usr/lib/python3.11";
    for (const auto& f : SortedFiles(root, true)) {
      if (f.extension() != ".py") continue;
      std::string text = NormalizeNewlines(ToUtf8(ReadFile(f)));
      if (Trim(text).empty()) continue;
      docs.push_back({std::move(text), fs::relative(f, root).string()});
    }
  }
  std::sort(docs.begin(), docs.end(),
            [](const Document& a, const Document& b) { return a.id < b.id; });
  Dedupe(docs);
  return docs;
}

}  // namespace ot::data
