// Text to ids with a data directory's tokenizer (`overtrain data tokenize`): for checking what a
// tokenizer does, and for writing a token file from text without hand-writing its header.
// Entry points: EncodeDocuments, WriteDocumentsTokenFile.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "data/text_tokenizer.h"
#include "data/token_file.h"

namespace ot::data {

// The ids of each document (no end-of-document token added).
std::vector<std::vector<int32_t>> EncodeDocuments(const TextTokenizer& tokenizer,
                                                  const std::vector<std::string>& documents);

// A token file of the documents, each followed by the tokenizer's end-of-document token, as data
// prepare writes its streams (vocabulary and eod id in the header); returns its header.
TokenFileInfo WriteDocumentsTokenFile(const TextTokenizer& tokenizer,
                                      const std::vector<std::string>& documents,
                                      const std::filesystem::path& out);

}  // namespace ot::data
