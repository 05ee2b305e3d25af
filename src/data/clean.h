// Source cleaners of the general corpus (docs/data.md): IMDB reviews, Gutenberg books, the
// Brown corpus, fortunes, dictd dictionaries; exact dedupe and the whole-document train/val split.
// Entry points: ParseImdb, CleanGutenberg, ChunkText, CleanBrown, SplitFortunes, ParseDictd,
// Dedupe, SplitByDocument.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace ot::data {

// One document of a source. `label` is the IMDB sentiment (0 negative, 1 positive) or -1.
struct Document {
  std::string text;
  std::string id;  // where it came from (file name, entry), for messages and stats
  int label = -1;
};

// IMDB `reviews.json`: a JSON array of {t: text, s: 0|1}. `<br />` (any case, with or without the
// slash and space) becomes a space; text is trimmed. Throws Error naming `where` on malformed JSON.
std::vector<Document> ParseImdb(std::string_view json_text, const std::string& where);

// One Gutenberg book: Latin-1 decoded when not valid UTF-8, CRLF/CR to LF, trimmed. Returns "" for
// books that are dropped (bible-kjv.txt).
std::string CleanGutenberg(const std::string& file_name, std::string_view bytes);

// Splits a long text into documents of at most about `max_bytes` at paragraph breaks (blank lines;
// a single paragraph longer than that is cut at a line break, then hard). Short texts come back
// whole.
std::vector<std::string> ChunkText(std::string_view text, size_t max_bytes);

// One Brown corpus file: `word/tag` tokens; drops the tags (split at the last '/'), maps `` and ''
// to ", keeps one sentence per line (the files' tab-indented lines), drops blank lines.
std::string CleanBrown(std::string_view bytes);

// A fortune file: entries separated by lines holding only '%'; each trimmed, empty ones dropped.
std::vector<std::string> SplitFortunes(std::string_view bytes);

// A dictd database: `index` lines `headword \t b64offset \t b64length` into the uncompressed `dict`
// text. Entries whose headword starts with "00-database"/"00database" (metadata) are skipped.
// Throws Error naming `where` if an entry points outside the dict.
std::vector<std::string> ParseDictd(std::string_view index, std::string_view dict,
                                    const std::string& where);
// dictd's base64 number (alphabet A-Z a-z 0-9 + /, most significant digit first).
uint64_t DictdNumber(std::string_view digits);

// Drops documents whose text equals an earlier one (exact match), keeping the first. Returns how
// many were dropped.
size_t Dedupe(std::vector<Document>& docs);

// Splits whole documents into train and validation: a seeded permutation (stream "split/<source>"),
// the first round(fraction * n) documents (at least 1 when n >= 2 and fraction > 0) go to
// validation. Both halves keep the shuffled order. Pure function of (docs, fraction, seed, source).
void SplitByDocument(std::vector<Document> docs, double fraction, uint64_t seed,
                     const std::string& source, std::vector<Document>& train,
                     std::vector<Document>& val);

}  // namespace ot::data
