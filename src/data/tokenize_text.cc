// EncodeDocuments, WriteDocumentsTokenFile (see tokenize_text.h).
#include "data/tokenize_text.h"

namespace ot::data {

std::vector<std::vector<int32_t>> EncodeDocuments(const TextTokenizer& tokenizer,
                                                  const std::vector<std::string>& documents) {
  std::vector<std::vector<int32_t>> ids;
  ids.reserve(documents.size());
  for (const auto& doc : documents) ids.push_back(tokenizer.Encode(doc));
  return ids;
}

TokenFileInfo WriteDocumentsTokenFile(const TextTokenizer& tokenizer,
                                      const std::vector<std::string>& documents,
                                      const std::filesystem::path& out) {
  std::vector<int32_t> stream;
  for (const auto& ids : EncodeDocuments(tokenizer, documents)) {
    stream.insert(stream.end(), ids.begin(), ids.end());
    stream.push_back(tokenizer.eod_id());
  }
  return WriteTokenFile(out, stream, static_cast<uint32_t>(tokenizer.vocab_size()),
                        tokenizer.eod_id());
}

}  // namespace ot::data
