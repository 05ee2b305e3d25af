// Reads fetched sources from the cache and turns them into cleaned documents (clean.h rules), plus
// the IMDB hold-out (a balanced share of the deduplicated reviews reserved for the sentiment task).
// Entry points: GeneralSources, LoadSourceDocuments, SplitImdb, LoadPythonFiles.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "data/clean.h"

namespace ot::data {

// The general-corpus source names in their fixed order.
const std::vector<std::string>& GeneralSources();

// The cleaned documents of one general source from <cache>/data/<source> (fetched), in file order.
// Documents longer than `chunk_bytes` are split at paragraph breaks. For "imdb" this is every
// deduplicated review (see SplitImdb for the hold-out). `duplicates` (optional) receives the number
// of exact duplicates dropped.
std::vector<Document> LoadSourceDocuments(const std::filesystem::path& cache,
                                          const std::string& source, size_t chunk_bytes,
                                          size_t* duplicates = nullptr);

// Splits deduplicated IMDB reviews: a seeded shuffle, then round(fraction * n / 2) reviews of each
// label go to `held_out` (the sentiment task) and the rest to `general`. Pure function of (docs,
// fraction, seed).
void SplitImdb(std::vector<Document> reviews, double fraction, uint64_t seed,
               std::vector<Document>& general, std::vector<Document>& held_out);

// The .py files of the python-stdlib and python-minimal sources, one document per file (id = path
// relative to usr/lib/python3.11), sorted by path, deduplicated.
std::vector<Document> LoadPythonFiles(const std::filesystem::path& cache);

}  // namespace ot::data
