// SentencePiece training through the C++ API and the lossless byte-level Encode/Decode wrapper.
#include "data/tokenizer.h"

#include <fcntl.h>
#include <sentencepiece_processor.h>
#include <sentencepiece_trainer.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <unordered_map>

#include "core/check.h"
#include "data/util.h"

namespace ot::data {
namespace {

constexpr size_t kMaxTrainLine = 16384;

// Feeds the lines of the training texts to the trainer.
class LineIterator : public sentencepiece::SentenceIterator {
 public:
  explicit LineIterator(const std::vector<std::string_view>& texts) : texts_(texts) { Advance(); }
  bool done() const override { return done_; }
  void Next() override { Advance(); }
  const std::string& value() const override { return value_; }
  sentencepiece::util::Status status() const override { return {}; }

 private:
  void Advance() {
    while (doc_ < texts_.size()) {
      const std::string_view text = texts_[doc_];
      if (pos_ >= text.size()) {
        ++doc_, pos_ = 0;
        continue;
      }
      size_t end = text.find('\n', pos_);
      if (end == std::string_view::npos) end = text.size();
      size_t len = std::min(end - pos_, kMaxTrainLine);
      while (len > 0 && pos_ + len < text.size() &&
             (static_cast<unsigned char>(text[pos_ + len]) & 0xC0) == 0x80)
        --len;  // keep whole UTF-8 sequences
      std::string_view line = text.substr(pos_, len);
      pos_ += len;
      if (pos_ < text.size() && text[pos_] == '\n') ++pos_;
      if (line.empty()) continue;
      value_.assign(line);
      return;
    }
    done_ = true;
  }
  const std::vector<std::string_view>& texts_;
  size_t doc_ = 0, pos_ = 0;
  std::string value_;
  bool done_ = false;
};

// Redirects fd 2 into a temp file for its lifetime; Tail() returns the end of what was written.
class StderrCapture {
 public:
  StderrCapture() {
    std::fflush(stderr);
    char name[] = "/tmp/ot_spm_log_XXXXXX";
    fd_ = mkstemp(name);
    path_ = name;
    saved_ = dup(2);
    if (fd_ >= 0) dup2(fd_, 2);
  }
  ~StderrCapture() {
    std::fflush(stderr);
    if (saved_ >= 0) dup2(saved_, 2), close(saved_);
    if (fd_ >= 0) close(fd_);
    unlink(path_.c_str());
  }
  std::string Tail() {
    std::fflush(stderr);
    std::ifstream in(path_);
    std::string s((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    return s.size() > 2000 ? s.substr(s.size() - 2000) : s;
  }

 private:
  int fd_ = -1, saved_ = -1;
  std::string path_;
};

// Length of the valid UTF-8 sequence at s[i] that SentencePiece may see, or 0 for a byte that must
// go out as a byte piece (invalid UTF-8, NUL, and U+2581 which SentencePiece uses for the space).
size_t TextCharLen(std::string_view s, size_t i) {
  const unsigned char c = s[i];
  if (c == 0) return 0;
  if (c < 0x80) return 1;
  size_t len = (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 0;
  if (len == 0 || i + len > s.size()) return 0;
  const std::string_view seq = s.substr(i, len);
  if (!IsValidUtf8(seq)) return 0;
  if (seq == "\xE2\x96\x81") return 0;
  return len;
}

}  // namespace

std::string TrainTokenizer(const std::vector<std::string_view>& texts, const TokenizerOptions& o) {
  const std::unordered_map<std::string, std::string> args = {
      {"model_type", "bpe"},
      {"vocab_size", std::to_string(o.vocab_size)},
      {"byte_fallback", "true"},
      {"character_coverage", std::to_string(o.character_coverage)},
      {"normalization_rule_name", "identity"},
      {"add_dummy_prefix", "false"},
      {"remove_extra_whitespaces", "false"},
      {"split_digits", o.split_digits ? "true" : "false"},
      {"allow_whitespace_only_pieces", "true"},
      {"num_threads", std::to_string(o.num_threads)},
      {"max_sentence_length", std::to_string(kMaxTrainLine)},
      {"input_sentence_size", "0"},
      {"shuffle_input_sentence", "false"},
      {"unk_id", "0"},
      {"bos_id", "1"},
      {"eos_id", "2"},
      {"pad_id", "-1"},
      {"model_prefix", ""},
  };
  LineIterator it(texts);
  std::string model;
  sentencepiece::util::Status status;
  std::string log;
  {
    StderrCapture capture;
    status = sentencepiece::SentencePieceTrainer::Train(args, &it, &model);
    if (!status.ok()) log = capture.Tail();
  }
  if (!status.ok()) throw Error("tokenizer training failed: " + status.ToString() + "\n" + log);
  return model;
}

Tokenizer::Tokenizer() : sp_(std::make_unique<sentencepiece::SentencePieceProcessor>()) {}
Tokenizer::Tokenizer(Tokenizer&&) noexcept = default;
Tokenizer& Tokenizer::operator=(Tokenizer&&) noexcept = default;
Tokenizer::~Tokenizer() = default;

Tokenizer Tokenizer::Load(const std::filesystem::path& model_path) {
  std::ifstream in(model_path, std::ios::binary);
  if (!in) throw Error(model_path.string() + ": cannot open the tokenizer model");
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return FromModel(bytes, model_path.string());
}

Tokenizer Tokenizer::FromModel(const std::string& serialized, const std::string& where) {
  Tokenizer t;
  const auto status = t.sp_->LoadFromSerializedProto(serialized);
  if (!status.ok()) throw Error(where + ": not a SentencePiece model (" + status.ToString() + ")");
  t.serialized_ = serialized;
  const int n = t.sp_->GetPieceSize();
  t.bytes_of_.resize(n);
  for (int b = 0; b < 256; ++b) t.byte_ids_[b] = -1;
  for (int id = 0; id < n; ++id) {
    if (t.sp_->IsControl(id) || t.sp_->IsUnknown(id)) continue;
    const std::string piece = t.sp_->IdToPiece(id);
    if (t.sp_->IsByte(id)) {
      const int b = std::stoi(piece.substr(3, 2), nullptr, 16);  // "<0xAB>"
      t.bytes_of_[id] = std::string(1, static_cast<char>(b));
      t.byte_ids_[b] = id;
      continue;
    }
    std::string text;
    for (size_t i = 0; i < piece.size();) {
      if (piece.compare(i, 3, "\xE2\x96\x81") == 0) {
        text += ' ';
        i += 3;
      } else {
        text += piece[i++];
      }
    }
    t.bytes_of_[id] = std::move(text);
  }
  for (int b = 0; b < 256; ++b)
    if (t.byte_ids_[b] < 0) throw Error(where + ": tokenizer model lacks byte fallback pieces");
  t.eod_id_ = t.sp_->eos_id();
  if (t.eod_id_ < 0) throw Error(where + ": tokenizer model has no end-of-document (eos) id");
  return t;
}

std::vector<int32_t> Tokenizer::Encode(std::string_view text) const {
  std::vector<int32_t> out;
  std::vector<int> ids;
  size_t i = 0;
  while (i < text.size()) {
    // A run SentencePiece can take.
    size_t j = i;
    for (size_t len; j < text.size() && (len = TextCharLen(text, j)) > 0;) j += len;
    if (j > i) {
      ids.clear();
      const auto status = sp_->Encode(text.substr(i, j - i), &ids);
      OT_CHECK(status.ok()) << "SentencePiece Encode failed: " << status.ToString();
      for (int id : ids) {
        if (sp_->IsUnknown(id)) {
          OT_CHECK(false) << "SentencePiece emitted <unk> despite byte fallback";
        }
        out.push_back(id);
      }
      i = j;
    }
    // Bytes it cannot take.
    while (i < text.size() && TextCharLen(text, i) == 0)
      out.push_back(byte_ids_[static_cast<unsigned char>(text[i++])]);
  }
  return out;
}

std::string Tokenizer::Piece(int32_t id) const {
  OT_CHECK(id >= 0 && id < vocab_size()) << "piece id " << id << " outside the vocabulary";
  return sp_->IdToPiece(id);
}
int32_t Tokenizer::unk_id() const { return sp_->unk_id(); }
int32_t Tokenizer::bos_id() const { return sp_->bos_id(); }

std::string Tokenizer::Decode(std::span<const int32_t> ids) const {
  std::string out;
  for (int32_t id : ids) {
    if (id < 0 || id >= vocab_size())
      throw Error("Decode: token id " + std::to_string(id) + " is outside the vocabulary of " +
                  std::to_string(vocab_size()));
    out += bytes_of_[id];
  }
  return out;
}

}  // namespace ot::data
