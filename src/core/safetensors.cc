// Strict safetensors parsing and writing (see safetensors.h). The checks mirror
// huggingface/safetensors (header limit, contiguous non-overlapping offsets covering the whole
// buffer) and add duplicate-key and UTF-8 checks that serde would do, and validates sharded
// indexes.
#include "core/safetensors.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>

#include "core/check.h"

namespace ot {

static_assert(std::endian::native == std::endian::little,
              "safetensors is little-endian; so is this code");

namespace {

using Json = nlohmann::json;
using OrderedJson = nlohmann::ordered_json;  // safetensors headers keep their key order

struct DTypeInfo {
  DType dtype;
  std::string_view name;
  size_t size;
};
constexpr DTypeInfo kDTypes[] = {
    {DType::kBool, "BOOL", 1},      {DType::kU8, "U8", 1},          {DType::kI8, "I8", 1},
    {DType::kF8E5M2, "F8_E5M2", 1}, {DType::kF8E4M3, "F8_E4M3", 1}, {DType::kI16, "I16", 2},
    {DType::kU16, "U16", 2},        {DType::kF16, "F16", 2},        {DType::kBF16, "BF16", 2},
    {DType::kI32, "I32", 4},        {DType::kU32, "U32", 4},        {DType::kF32, "F32", 4},
    {DType::kF64, "F64", 8},        {DType::kI64, "I64", 8},        {DType::kU64, "U64", 8},
};

const DTypeInfo& Info(DType dtype) {
  for (const auto& info : kDTypes)
    if (info.dtype == dtype) return info;
  OT_CHECK(false) << "unknown DType " << static_cast<int>(dtype);
  return kDTypes[0];
}

// Reads a non-negative JSON integer that fits in uint64 (negative, fractional and huge numbers
// fail).
template <typename J>
bool AsUnsigned(const J& value, uint64_t* out) {
  if (value.is_number_unsigned()) {
    *out = value.template get<uint64_t>();
    return true;
  }
  if (value.is_number_integer() && value.template get<int64_t>() >= 0) {
    *out = static_cast<uint64_t>(value.template get<int64_t>());
    return true;
  }
  return false;
}

// Number of elements × element size, or nullopt on overflow (of uint64 or of int64 numel).
std::optional<uint64_t> ByteSize(const std::vector<int64_t>& shape, size_t elem_size) {
  uint64_t numel = 1;
  for (int64_t d : shape) {
    if (d < 0) return std::nullopt;
    if (d != 0 && numel > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) /
                              static_cast<uint64_t>(d))
      return std::nullopt;
    numel *= static_cast<uint64_t>(d);
  }
  if (numel != 0 && numel > std::numeric_limits<uint64_t>::max() / elem_size) return std::nullopt;
  return numel * elem_size;
}

std::string ShapeText(const std::vector<int64_t>& shape) {
  std::string text = "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i > 0) text += ',';
    text += std::to_string(shape[i]);
  }
  return text + "]";
}

SafetensorsEntry ParseEntry(const std::string& what, const std::string& name,
                            const OrderedJson& info) {
  const std::string where = what + ": tensor '" + name + "'";
  if (!info.is_object()) throw Error(where + ": expected an object {dtype, shape, data_offsets}");
  for (const auto& [key, unused] : info.items())
    if (key != "dtype" && key != "shape" && key != "data_offsets")
      throw Error(where + ": unexpected field '" + key + "' (expected dtype, shape, data_offsets)");
  SafetensorsEntry entry;
  entry.name = name;
  if (!info.contains("dtype") || !info["dtype"].is_string())
    throw Error(where + ": expected a string field 'dtype'");
  const std::string dtype_name = info["dtype"].get<std::string>();
  auto dtype = ParseDType(dtype_name);
  if (!dtype) throw Error(where + ": unknown dtype '" + dtype_name + "'");
  entry.dtype = *dtype;
  if (!info.contains("shape") || !info["shape"].is_array())
    throw Error(where + ": expected an array field 'shape'");
  for (const auto& dim : info["shape"]) {
    uint64_t d = 0;
    if (!AsUnsigned(dim, &d) || d > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
      throw Error(where + ": shape entries must be non-negative integers, got " + dim.dump());
    entry.shape.push_back(static_cast<int64_t>(d));
  }
  if (!info.contains("data_offsets") || !info["data_offsets"].is_array() ||
      info["data_offsets"].size() != 2)
    throw Error(where + ": expected 'data_offsets' = [begin, end]");
  if (!AsUnsigned(info["data_offsets"][0], &entry.begin) ||
      !AsUnsigned(info["data_offsets"][1], &entry.end))
    throw Error(where + ": data_offsets must be non-negative integers, got " +
                info["data_offsets"].dump());
  if (entry.end < entry.begin)
    throw Error(where + ": data_offsets are reversed (" + std::to_string(entry.begin) + " > " +
                std::to_string(entry.end) + ")");
  auto bytes = ByteSize(entry.shape, DTypeSize(entry.dtype));
  if (!bytes)
    throw Error(where + ": shape " + ShapeText(entry.shape) + " x " + std::string(dtype_name) +
                " overflows the byte size");
  if (*bytes != entry.end - entry.begin)
    throw Error(where + ": shape " + ShapeText(entry.shape) + " x " + std::string(dtype_name) +
                " needs " + std::to_string(*bytes) + " bytes but data_offsets span " +
                std::to_string(entry.end - entry.begin));
  return entry;
}

}  // namespace

// --- Strict JSON ---

namespace {

// A SAX pass that finds the first duplicate key in any object (nlohmann's DOM parser keeps the last
// one).
class DuplicateKeyFinder : public nlohmann::json_sax<Json> {
 public:
  bool null() override { return true; }
  bool boolean(bool) override { return true; }
  bool number_integer(number_integer_t) override { return true; }
  bool number_unsigned(number_unsigned_t) override { return true; }
  bool number_float(number_float_t, const string_t&) override { return true; }
  bool string(string_t&) override { return true; }
  bool binary(binary_t&) override { return true; }
  bool start_object(std::size_t) override {
    keys_.emplace_back();
    return true;
  }
  bool key(string_t& key) override {
    if (!keys_.back().insert(key).second) {
      duplicate_ = key;
      return false;
    }
    return true;
  }
  bool end_object() override {
    keys_.pop_back();
    return true;
  }
  bool start_array(std::size_t) override { return true; }
  bool end_array() override { return true; }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception&) override {
    return false;
  }
  const std::optional<std::string>& duplicate() const { return duplicate_; }

 private:
  std::vector<std::set<std::string>> keys_;
  std::optional<std::string> duplicate_;
};

}  // namespace

std::optional<size_t> FindInvalidUtf8(std::string_view text) {
  const auto* s = reinterpret_cast<const unsigned char*>(text.data());
  const size_t n = text.size();
  size_t i = 0;
  while (i < n) {
    const unsigned char c = s[i];
    if (c < 0x80) {
      ++i;
      continue;
    }
    size_t len;
    uint32_t cp;
    if (c >= 0xc2 && c <= 0xdf) {
      len = 2, cp = c & 0x1f;
    } else if (c >= 0xe0 && c <= 0xef) {
      len = 3, cp = c & 0x0f;
    } else if (c >= 0xf0 && c <= 0xf4) {
      len = 4, cp = c & 0x07;
    } else {
      return i;  // continuation byte, overlong lead (C0/C1) or > F4
    }
    if (i + len > n) return i;
    for (size_t k = 1; k < len; ++k) {
      if ((s[i + k] & 0xc0) != 0x80) return i;
      cp = (cp << 6) | (s[i + k] & 0x3f);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
        (cp >= 0xd800 && cp <= 0xdfff))
      return i;
    i += len;
  }
  return std::nullopt;
}

namespace {

template <typename J>
J ParseJsonStrictAs(std::string_view text, const std::string& what) {
  DuplicateKeyFinder finder;
  Json::sax_parse(text, &finder, nlohmann::detail::input_format_t::json, /*strict=*/true);
  if (finder.duplicate()) throw Error(what + ": duplicate key '" + *finder.duplicate() + "'");
  try {
    return J::parse(text);
  } catch (const nlohmann::json::exception& e) {
    throw Error(what + ": invalid JSON (" + e.what() + ")");
  }
}

}  // namespace

Json ParseJsonStrict(std::string_view text, const std::string& what) {
  return ParseJsonStrictAs<Json>(text, what);
}

size_t DTypeSize(DType dtype) { return Info(dtype).size; }
std::string_view DTypeName(DType dtype) { return Info(dtype).name; }
std::optional<DType> ParseDType(std::string_view name) {
  for (const auto& info : kDTypes)
    if (info.name == name) return info.dtype;
  return std::nullopt;
}

SafetensorsHeader ParseSafetensorsHeader(std::span<const std::byte> file, const std::string& what) {
  if (file.size() < 8)
    throw Error(what + ": file is " + std::to_string(file.size()) +
                " bytes, shorter than the 8-byte header length of a safetensors file");
  uint64_t n = 0;
  std::memcpy(&n, file.data(), 8);
  if (n > std::numeric_limits<uint64_t>::max() - 8)
    throw Error(what + ": header length " + std::to_string(n) + " overflows 8 + N");
  if (n > kSafetensorsMaxHeader)
    throw Error(what + ": header length " + std::to_string(n) + " exceeds the 100 MB limit");
  if (n > file.size() - 8)
    throw Error(what + ": header length " + std::to_string(n) + " exceeds the file size (" +
                std::to_string(file.size()) + " bytes)");
  std::string_view text(reinterpret_cast<const char*>(file.data()) + 8, static_cast<size_t>(n));
  if (auto bad = FindInvalidUtf8(text))
    throw Error(what + ": header is not valid UTF-8 (byte " + std::to_string(*bad) +
                " of the header)");
  if (text.empty() || text[0] != '{')
    throw Error(what + ": header must be a JSON object starting with '{'");
  OrderedJson header = ParseJsonStrictAs<OrderedJson>(text, what + ": header");
  if (!header.is_object()) throw Error(what + ": header must be a JSON object");

  SafetensorsHeader out;
  out.data_start = 8 + n;
  const uint64_t buffer_size = file.size() - out.data_start;
  for (const auto& [key, value] : header.items()) {
    if (key == "__metadata__") {
      if (!value.is_object()) throw Error(what + ": __metadata__ must be an object of strings");
      for (const auto& [mkey, mvalue] : value.items()) {
        if (!mvalue.is_string())
          throw Error(what + ": __metadata__['" + mkey + "'] must be a string, got " +
                      std::string(mvalue.type_name()));
        out.metadata[mkey] = mvalue.get<std::string>();
      }
      continue;
    }
    SafetensorsEntry entry = ParseEntry(what, key, value);
    if (entry.end > buffer_size)
      throw Error(what + ": tensor '" + key + "': data_offsets end " + std::to_string(entry.end) +
                  " is beyond the byte buffer (" + std::to_string(buffer_size) + " bytes)");
    out.entries.push_back(std::move(entry));
  }
  // The buffer must be tiled exactly: sorted by offsets, each tensor starts where the previous one
  // ends.
  std::vector<const SafetensorsEntry*> order;
  for (const auto& e : out.entries) order.push_back(&e);
  std::sort(order.begin(), order.end(), [](const auto* a, const auto* b) {
    return a->begin != b->begin ? a->begin < b->begin : a->end < b->end;
  });
  uint64_t cursor = 0;
  const SafetensorsEntry* previous = nullptr;
  for (const auto* e : order) {
    if (e->begin < cursor)
      throw Error(what + ": tensors '" + previous->name + "' and '" + e->name +
                  "' overlap (bytes " + std::to_string(e->begin) + ".." + std::to_string(cursor) +
                  ")");
    if (e->begin > cursor)
      throw Error(what + ": gap in the byte buffer: bytes " + std::to_string(cursor) + ".." +
                  std::to_string(e->begin) + " before tensor '" + e->name +
                  "' belong to no tensor");
    cursor = e->end;
    previous = e;
  }
  if (cursor != buffer_size)
    throw Error(what + ": " + std::to_string(buffer_size - cursor) +
                " trailing bytes after the last tensor (buffer is " + std::to_string(buffer_size) +
                " bytes, tensors cover " + std::to_string(cursor) + ")");
  return out;
}

int64_t TensorView::NumElements() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

void SafetensorsFile::Init(std::span<const std::byte> file, const std::string& what) {
  file_ = file;
  what_ = what;
  SafetensorsHeader header = ParseSafetensorsHeader(file, what);
  metadata_ = std::move(header.metadata);
  tensors_.reserve(header.entries.size());
  for (auto& e : header.entries) {
    TensorView view;
    view.name = std::move(e.name);
    view.dtype = e.dtype;
    view.shape = std::move(e.shape);
    view.bytes = file.subspan(header.data_start + e.begin, e.end - e.begin);
    tensors_.push_back(std::move(view));
  }
}

SafetensorsFile SafetensorsFile::Open(const fs::path& path) {
  auto mapped = std::make_shared<MappedFile>(path);
  SafetensorsFile out;
  out.storage_ = mapped;
  out.Init(mapped->bytes(), path.string());
  return out;
}

SafetensorsFile SafetensorsFile::Parse(std::span<const std::byte> file, const std::string& what) {
  SafetensorsFile out;
  out.Init(file, what);
  return out;
}

SafetensorsFile SafetensorsFile::FromString(std::string file, const std::string& what) {
  auto owned = std::make_shared<std::string>(std::move(file));
  SafetensorsFile out;
  out.storage_ = owned;
  out.Init(AsBytes(*owned), what);
  return out;
}

const TensorView* SafetensorsFile::Find(std::string_view name) const {
  for (const auto& t : tensors_)
    if (t.name == name) return &t;
  return nullptr;
}

const TensorView& SafetensorsFile::Get(std::string_view name) const {
  const TensorView* t = Find(name);
  if (t == nullptr) throw Error(what_ + ": no tensor named '" + std::string(name) + "'");
  return *t;
}

float Bf16ToF32(uint16_t bits) { return std::bit_cast<float>(static_cast<uint32_t>(bits) << 16); }

float F16ToF32(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  const uint32_t exponent = (h >> 10) & 0x1fu;
  uint32_t mantissa = h & 0x3ffu;
  uint32_t bits;
  if (exponent == 0x1f) {  // Inf or NaN (payload kept)
    bits = sign | 0x7f800000u | (mantissa << 13);
  } else if (exponent != 0) {  // normal: rebias 15 -> 127
    bits = sign | ((exponent + 112) << 23) | (mantissa << 13);
  } else if (mantissa == 0) {  // signed zero
    bits = sign;
  } else {  // subnormal: mantissa × 2^-24, renormalised
    uint32_t e = 113;
    while ((mantissa & 0x400u) == 0) {
      mantissa <<= 1;
      --e;
    }
    bits = sign | (e << 23) | ((mantissa & 0x3ffu) << 13);
  }
  return std::bit_cast<float>(bits);
}

void ToF32(const TensorView& tensor, std::span<float> out) {
  const size_t n = static_cast<size_t>(tensor.NumElements());
  OT_CHECK(out.size() == n) << tensor.name << ": output has " << out.size() << " floats, need "
                            << n;
  const std::byte* src = tensor.bytes.data();
  switch (tensor.dtype) {
    case DType::kF32:
      if (n > 0) std::memcpy(out.data(), src, n * 4);
      return;
    case DType::kF16:
    case DType::kBF16: {
      const bool bf16 = tensor.dtype == DType::kBF16;
      for (size_t i = 0; i < n; ++i) {
        uint16_t bits;
        std::memcpy(&bits, src + 2 * i, 2);
        out[i] = bf16 ? Bf16ToF32(bits) : F16ToF32(bits);
      }
      return;
    }
    case DType::kF64:
      for (size_t i = 0; i < n; ++i) {
        double v;
        std::memcpy(&v, src + 8 * i, 8);
        out[i] = static_cast<float>(v);
      }
      return;
    default:
      throw Error("tensor '" + tensor.name + "': cannot convert dtype " +
                  std::string(DTypeName(tensor.dtype)) +
                  " to F32 (expected F32, F16, BF16 or F64)");
  }
}

std::vector<float> ToF32(const TensorView& tensor) {
  std::vector<float> out(static_cast<size_t>(tensor.NumElements()));
  ToF32(tensor, out);
  return out;
}

TensorToWrite F32Tensor(std::string name, std::vector<int64_t> shape, std::span<const float> data) {
  return {std::move(name), DType::kF32, std::move(shape), std::as_bytes(data)};
}

std::string SafetensorsHeaderBytes(const std::vector<TensorToWrite>& tensors,
                                   const std::map<std::string, std::string>& metadata) {
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  uint64_t offset = 0;
  for (const auto& t : tensors) {
    if (t.name == "__metadata__")
      throw Error("safetensors writer: '__metadata__' is not a valid tensor name");
    if (header.contains(t.name))
      throw Error("safetensors writer: duplicate tensor name '" + t.name + "'");
    auto bytes = ByteSize(t.shape, DTypeSize(t.dtype));
    if (!bytes || *bytes != t.bytes.size())
      throw Error("safetensors writer: tensor '" + t.name + "' has " +
                  std::to_string(t.bytes.size()) + " bytes, shape " + ShapeText(t.shape) + " x " +
                  std::string(DTypeName(t.dtype)) + " needs " +
                  (bytes ? std::to_string(*bytes) : std::string("an overflowing size")));
    header[t.name] = {{"dtype", DTypeName(t.dtype)},
                      {"shape", t.shape},
                      {"data_offsets", {offset, offset + *bytes}}};
    offset += *bytes;
  }
  std::string text = header.dump();
  const size_t padded =
      (text.size() + 7) / 8 * 8;  // 8 + N stays 8-aligned, so F32/F64 data is aligned
  text.append(padded - text.size(), ' ');
  std::string out(8, '\0');
  const uint64_t n = text.size();
  std::memcpy(out.data(), &n, 8);
  return out + text;
}

std::string SerializeSafetensors(const std::vector<TensorToWrite>& tensors,
                                 const std::map<std::string, std::string>& metadata) {
  std::string out = SafetensorsHeaderBytes(tensors, metadata);
  for (const auto& t : tensors)
    out.append(reinterpret_cast<const char*>(t.bytes.data()), t.bytes.size());
  return out;
}

uint64_t WriteSafetensors(FileWriter& writer, const std::vector<TensorToWrite>& tensors,
                          const std::map<std::string, std::string>& metadata) {
  const std::string header = SafetensorsHeaderBytes(tensors, metadata);
  uint64_t total = header.size();
  writer.Write(header);
  for (const auto& t : tensors) {
    writer.Write(t.bytes);
    total += t.bytes.size();
  }
  return total;
}

void WriteSafetensorsFile(const fs::path& path, const std::vector<TensorToWrite>& tensors,
                          const std::map<std::string, std::string>& metadata) {
  WriteFileAtomic(path, SerializeSafetensors(tensors, metadata));
}

// --- Sharded index ---

ShardedSafetensors ShardedSafetensors::Open(const fs::path& index_json) {
  const std::string what = index_json.string();
  Json index =
      ParseJsonStrict(ReadFile(index_json), what);  // a tensor twice in weight_map fails here
  if (!index.is_object() || !index.contains("weight_map") || !index["weight_map"].is_object())
    throw Error(what + ": expected an object with a 'weight_map' object {tensor: shard file}");
  std::map<std::string, std::string> weight_map;
  std::map<std::string, int> shard_counts;
  for (const auto& [name, shard] : index["weight_map"].items()) {
    if (!shard.is_string())
      throw Error(what + ": weight_map['" + name + "'] must be a shard file name");
    const std::string file = shard.get<std::string>();
    if (file.empty() || file.find('/') != std::string::npos || file == "." || file == "..")
      throw Error(what + ": weight_map['" + name + "'] = '" + file +
                  "' must be a file name in the index's directory");
    weight_map[name] = file;
    ++shard_counts[file];
  }
  std::optional<uint64_t> total_size;
  if (index.contains("metadata")) {
    const Json& meta = index["metadata"];
    if (!meta.is_object()) throw Error(what + ": 'metadata' must be an object");
    if (meta.contains("total_size")) {
      uint64_t v = 0;
      if (!AsUnsigned(meta["total_size"], &v))
        throw Error(what + ": metadata.total_size must be a non-negative integer");
      total_size = v;
    }
  }

  ShardedSafetensors out;
  out.index_path_ = index_json;
  std::vector<std::string> problems;
  std::map<std::string, std::string> found_in;  // tensor -> shard that holds it
  uint64_t sum_bytes = 0;
  for (const auto& [file, count] : shard_counts) {
    const fs::path path = index_json.parent_path() / file;
    if (!fs::exists(path)) {
      problems.push_back("shard '" + file + "' (" + std::to_string(count) + " tensors) is missing");
      continue;
    }
    try {
      out.shards_.push_back(std::make_unique<SafetensorsFile>(SafetensorsFile::Open(path)));
    } catch (const Error& e) {
      problems.push_back(e.what());
      continue;
    }
    for (const TensorView& t : out.shards_.back()->tensors()) {
      sum_bytes += t.bytes.size();
      auto [it, inserted] = found_in.emplace(t.name, file);
      if (!inserted) {
        problems.push_back("tensor '" + t.name + "' appears twice, in shards '" + it->second +
                           "' and '" + file + "'");
        continue;
      }
      auto mapped = weight_map.find(t.name);
      if (mapped == weight_map.end())
        problems.push_back("tensor '" + t.name + "' in shard '" + file +
                           "' is absent from the index");
      else if (mapped->second != file)
        problems.push_back("tensor '" + t.name + "' is in shard '" + file +
                           "' but the index maps it to '" + mapped->second + "'");
      out.by_name_[t.name] = &t;
    }
  }
  for (const auto& [name, file] : weight_map) {
    bool shard_opened = false;
    for (const auto& shard : out.shards_)
      if (fs::path(shard->what()).filename() == file) shard_opened = true;
    if (shard_opened && !found_in.count(name))
      problems.push_back("index maps tensor '" + name + "' to shard '" + file +
                         "', which does not contain it");
  }
  if (total_size && problems.empty() && *total_size != sum_bytes)
    problems.push_back("metadata.total_size is " + std::to_string(*total_size) +
                       " but the shards' tensors hold " + std::to_string(sum_bytes) + " bytes");
  if (!problems.empty()) {
    std::string message =
        what + ": invalid sharded checkpoint (" + std::to_string(problems.size()) + " problems):";
    for (const auto& p : problems) message += "\n  - " + p;
    throw Error(message);
  }
  return out;
}

const TensorView* ShardedSafetensors::Find(std::string_view name) const {
  auto it = by_name_.find(std::string(name));
  return it == by_name_.end() ? nullptr : it->second;
}

const TensorView& ShardedSafetensors::Get(std::string_view name) const {
  const TensorView* t = Find(name);
  if (t == nullptr)
    throw Error(index_path_.string() + ": no tensor named '" + std::string(name) + "'");
  return *t;
}

}  // namespace ot
