// Token file writer, validating mmap reader and raw-dump import (layout in docs/formats.md).
#include "data/token_file.h"

#include <cstring>

#include "core/check.h"

namespace ot::data {
namespace {

template <typename T>
void Put(std::string& buf, size_t off, T v) {
  std::memcpy(buf.data() + off, &v, sizeof(T));
}
template <typename T>
T Get(const std::byte* p, size_t off) {
  T v;
  std::memcpy(&v, p + off, sizeof(T));
  return v;
}

std::string EncodeHeader(const TokenFileInfo& h) {
  std::string buf(kTokenHeaderBytes, '\0');
  std::memcpy(buf.data(), kTokenMagic, 8);
  Put<uint32_t>(buf, 8, h.version);
  Put<uint32_t>(buf, 12, h.dtype_bytes);
  Put<uint32_t>(buf, 16, h.vocab_size);
  Put<int32_t>(buf, 20, h.eod_id);
  Put<uint64_t>(buf, 24, h.tokens);
  Put<uint64_t>(buf, 32, h.documents);
  Put<uint64_t>(buf, 40, h.xxh3);
  return buf;
}

// Parses and checks the header against the file size; `name` is used in messages.
TokenFileInfo DecodeHeader(std::span<const std::byte> file, const std::string& name) {
  if (file.size() < kTokenHeaderBytes)
    throw Error(name + ": truncated header (" + std::to_string(file.size()) +
                " bytes; a token file has a " + std::to_string(kTokenHeaderBytes) +
                "-byte header)");
  const std::byte* p = file.data();
  if (std::memcmp(p, kTokenMagic, 8) != 0)
    throw Error(name + ": bad magic; expected an overtrain token file starting with 'OTTOKENS'");
  TokenFileInfo h;
  h.version = Get<uint32_t>(p, 8);
  h.dtype_bytes = Get<uint32_t>(p, 12);
  h.vocab_size = Get<uint32_t>(p, 16);
  h.eod_id = Get<int32_t>(p, 20);
  h.tokens = Get<uint64_t>(p, 24);
  h.documents = Get<uint64_t>(p, 32);
  h.xxh3 = Get<uint64_t>(p, 40);
  if (h.version != kTokenVersion)
    throw Error(name + ": unsupported token file version " + std::to_string(h.version) +
                "; expected " + std::to_string(kTokenVersion));
  if (h.dtype_bytes != 2 && h.dtype_bytes != 4)
    throw Error(name + ": unknown dtype width " + std::to_string(h.dtype_bytes) +
                "; expected 2 or 4");
  if (h.vocab_size == 0 || (h.dtype_bytes == 2 && h.vocab_size > 65536))
    throw Error(name + ": vocab size " + std::to_string(h.vocab_size) + " does not fit its dtype");
  if (h.eod_id >= 0 && static_cast<uint32_t>(h.eod_id) >= h.vocab_size)
    throw Error(name + ": end-of-document id " + std::to_string(h.eod_id) + " is >= vocab size");
  if (h.tokens == 0) throw Error(name + ": zero tokens; expected a non-empty token file");
  const uint64_t payload = file.size() - kTokenHeaderBytes;
  if (h.tokens > payload / h.dtype_bytes)
    throw Error(name + ": truncated: header says " + std::to_string(h.tokens) +
                " tokens but the file holds " + std::to_string(payload / h.dtype_bytes));
  if (payload != h.tokens * h.dtype_bytes)
    throw Error(name + ": header token count " + std::to_string(h.tokens) +
                " does not match the file size (" + std::to_string(payload) + " payload bytes)");
  return h;
}

}  // namespace

TokenFileInfo WriteTokenFile(const std::filesystem::path& path, std::span<const int32_t> tokens,
                             uint32_t vocab_size, int32_t eod_id) {
  TokenFileInfo h;
  h.dtype_bytes = DtypeBytesFor(vocab_size);
  h.vocab_size = vocab_size;
  h.eod_id = eod_id;
  h.tokens = tokens.size();
  if (tokens.empty())
    throw Error(path.string() + ": refusing to write a token file with zero tokens");
  std::string buf = EncodeHeader(h);
  buf.resize(kTokenHeaderBytes + tokens.size() * h.dtype_bytes);
  char* out = buf.data() + kTokenHeaderBytes;
  for (size_t i = 0; i < tokens.size(); ++i) {
    const int32_t t = tokens[i];
    OT_CHECK(t >= 0 && static_cast<uint32_t>(t) < vocab_size)
        << path.string() << ": token " << t << " at " << i << " outside vocab " << vocab_size;
    if (t == eod_id) ++h.documents;
    if (h.dtype_bytes == 2) {
      const uint16_t v = static_cast<uint16_t>(t);
      std::memcpy(out + 2 * i, &v, 2);
    } else {
      const uint32_t v = static_cast<uint32_t>(t);
      std::memcpy(out + 4 * i, &v, 4);
    }
  }
  h.xxh3 = Xxh3(AsBytes(std::string_view(out, tokens.size() * h.dtype_bytes)));
  const std::string head = EncodeHeader(h);
  std::memcpy(buf.data(), head.data(), kTokenHeaderBytes);
  std::filesystem::create_directories(path.parent_path().empty() ? "." : path.parent_path());
  WriteFileAtomic(path, buf);
  return h;
}

TokenFileInfo ReadTokenHeader(const std::filesystem::path& path) {
  ot::MappedFile map(path);
  return DecodeHeader(map.bytes(), path.string());
}

TokenFile TokenFile::Open(const std::filesystem::path& path, uint64_t min_tokens) {
  TokenFile f;
  f.path_ = path;
  f.map_ = ot::MappedFile(path);
  const std::string name = path.string();
  f.info_ = DecodeHeader(f.map_.bytes(), name);
  const auto payload = f.map_.bytes().subspan(kTokenHeaderBytes);
  if (Xxh3(payload) != f.info_.xxh3)
    throw Error(name + ": payload checksum (xxh3) does not match the header; the file is corrupt");
  const std::byte* base = payload.data();
  if (f.info_.dtype_bytes == 2) {
    f.u16_ = reinterpret_cast<const uint16_t*>(base);
  } else {
    f.u32_ = reinterpret_cast<const uint32_t*>(base);
  }
  const uint64_t n = f.info_.tokens;
  uint32_t max_id = 0;
  uint64_t max_at = 0;
  for (uint64_t i = 0; i < n; ++i) {
    const uint32_t t = f.info_.dtype_bytes == 2 ? f.u16_[i] : f.u32_[i];
    if (t > max_id) max_id = t, max_at = i;
  }
  if (max_id >= f.info_.vocab_size)
    throw Error(name + ": token " + std::to_string(max_id) + " at position " +
                std::to_string(max_at) + " is >= vocab size " + std::to_string(f.info_.vocab_size));
  if (n < min_tokens)
    throw Error(name + ": shorter than one batch: " + std::to_string(n) +
                " tokens, need at least " + std::to_string(min_tokens));
  return f;
}

void TokenFile::Read(uint64_t begin, std::span<int32_t> out) const {
  OT_CHECK(begin + out.size() <= info_.tokens) << path_.string() << ": read past the end";
  if (info_.dtype_bytes == 2) {
    for (size_t i = 0; i < out.size(); ++i) out[i] = u16_[begin + i];
  } else {
    for (size_t i = 0; i < out.size(); ++i) out[i] = static_cast<int32_t>(u32_[begin + i]);
  }
}

std::vector<int32_t> TokenFile::ReadAll() const {
  std::vector<int32_t> out(info_.tokens);
  Read(0, out);
  return out;
}

TokenFileInfo ImportRawTokens(const std::filesystem::path& raw_path, uint32_t dtype_bytes,
                              uint32_t vocab_size, int32_t eod_id,
                              const std::filesystem::path& out_path) {
  if (dtype_bytes != 2 && dtype_bytes != 4)
    throw Error(raw_path.string() + ": raw dtype width must be 2 (uint16) or 4 (uint32)");
  if (DtypeBytesFor(vocab_size) > dtype_bytes && dtype_bytes == 2 && vocab_size > 65536)
    throw Error(raw_path.string() + ": vocab " + std::to_string(vocab_size) +
                " does not fit uint16");
  ot::MappedFile map(raw_path);
  const auto bytes = map.bytes();
  if (bytes.size() % dtype_bytes != 0)
    throw Error(raw_path.string() + ": size " + std::to_string(bytes.size()) +
                " is not a multiple of the token width " + std::to_string(dtype_bytes));
  const size_t n = bytes.size() / dtype_bytes;
  if (n == 0) throw Error(raw_path.string() + ": zero tokens");
  std::vector<int32_t> tokens(n);
  for (size_t i = 0; i < n; ++i) {
    uint32_t v = 0;
    if (dtype_bytes == 2) {
      uint16_t x;
      std::memcpy(&x, bytes.data() + 2 * i, 2);
      v = x;
    } else {
      std::memcpy(&v, bytes.data() + 4 * i, 4);
    }
    if (v >= vocab_size)
      throw Error(raw_path.string() + ": token " + std::to_string(v) + " at position " +
                  std::to_string(i) + " is >= vocab size " + std::to_string(vocab_size));
    tokens[i] = static_cast<int32_t>(v);
  }
  return WriteTokenFile(out_path, tokens, vocab_size, eod_id);
}

}  // namespace ot::data
