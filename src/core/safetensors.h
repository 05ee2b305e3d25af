// A strict safetensors reader/writer (format: 8-byte LE header length N, N bytes of JSON header,
// then the byte buffer) plus the sharded `model.safetensors.index.json`. Every malformed input is
// an Error that names the file and what was expected (docs/reliability.md cases 12-15). BF16/F16 ->
// F32 conversions are exact. Entry points: ParseSafetensorsHeader, SafetensorsFile::Open/Parse,
// WriteSafetensors, SerializeSafetensors, ToF32, Bf16ToF32, F16ToF32, ShardedSafetensors::Open.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/fileio.h"

namespace ot {

enum class DType {
  kBool,
  kU8,
  kI8,
  kF8E5M2,
  kF8E4M3,
  kI16,
  kU16,
  kF16,
  kBF16,
  kI32,
  kU32,
  kF32,
  kF64,
  kI64,
  kU64
};

size_t DTypeSize(DType dtype);                           // bytes per element
std::string_view DTypeName(DType dtype);                 // "F32", "BF16", ...
std::optional<DType> ParseDType(std::string_view name);  // nullopt for unknown names

// Strict JSON for untrusted headers and manifests: like nlohmann::json::parse, but a duplicate key
// in any object is an error (nlohmann would keep the last). Errors start with `what`.
nlohmann::json ParseJsonStrict(std::string_view text, const std::string& what);
// Byte offset of the first invalid UTF-8 sequence (overlong, surrogate, > U+10FFFF, truncated), or
// nullopt.
std::optional<size_t> FindInvalidUtf8(std::string_view text);

// The header limit of the reference implementation (huggingface/safetensors): larger headers are
// refused.
inline constexpr uint64_t kSafetensorsMaxHeader = 100'000'000;

// One tensor entry of a parsed header; offsets are relative to the start of the byte buffer.
struct SafetensorsEntry {
  std::string name;
  DType dtype = DType::kF32;
  std::vector<int64_t> shape;
  uint64_t begin = 0, end = 0;
};

struct SafetensorsHeader {
  uint64_t data_start = 0;                      // 8 + N: where the byte buffer begins in the file
  std::vector<SafetensorsEntry> entries;        // in header order
  std::map<std::string, std::string> metadata;  // "__metadata__" (empty if absent)
};

// Validates a whole file image (header and the buffer's extent; payload bytes are not inspected)
// and returns its header. `what` names the file in errors. Throws Error on any violation of the
// format.
SafetensorsHeader ParseSafetensorsHeader(std::span<const std::byte> file, const std::string& what);

// A tensor inside a file: a view, valid while its SafetensorsFile lives. Bytes may be unaligned.
struct TensorView {
  std::string name;
  DType dtype = DType::kF32;
  std::vector<int64_t> shape;
  std::span<const std::byte> bytes;
  int64_t NumElements() const;
};

// A validated safetensors file. Open() mmaps; Parse() views a caller-owned buffer (no copy, the
// buffer must outlive the object); FromString() takes ownership of a buffer.
class SafetensorsFile {
 public:
  static SafetensorsFile Open(const fs::path& path);
  static SafetensorsFile Parse(std::span<const std::byte> file, const std::string& what);
  static SafetensorsFile FromString(std::string file, const std::string& what);

  const std::vector<TensorView>& tensors() const { return tensors_; }  // in header order
  const TensorView* Find(std::string_view name) const;                 // nullptr if absent
  const TensorView& Get(std::string_view name) const;                  // throws Error if absent
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  const std::string& what() const { return what_; }
  std::span<const std::byte> file_bytes() const { return file_; }

 private:
  void Init(std::span<const std::byte> file, const std::string& what);
  std::shared_ptr<const void> storage_;  // MappedFile or std::string, or null for Parse()
  std::span<const std::byte> file_;
  std::string what_;
  std::vector<TensorView> tensors_;
  std::map<std::string, std::string> metadata_;
};

// Exact conversions (every bit pattern: NaN keeps sign and payload, Inf, subnormals).
float Bf16ToF32(uint16_t bits);
float F16ToF32(uint16_t bits);
// Converts an F32, F16, BF16 or F64 tensor to F32 (F64 rounds to nearest). `out` has NumElements()
// floats.
void ToF32(const TensorView& tensor, std::span<float> out);
std::vector<float> ToF32(const TensorView& tensor);

// What to write: a tensor's raw little-endian bytes (size must equal numel × dtype size).
struct TensorToWrite {
  std::string name;
  DType dtype = DType::kF32;
  std::vector<int64_t> shape;
  std::span<const std::byte> bytes;
};
TensorToWrite F32Tensor(std::string name, std::vector<int64_t> shape, std::span<const float> data);

// The header a writer emits: JSON, space-padded so that 8 + N is a multiple of 8. Tensors are laid
// out in the given order. Throws Error on duplicate names, reserved names, or size mismatches.
std::string SafetensorsHeaderBytes(const std::vector<TensorToWrite>& tensors,
                                   const std::map<std::string, std::string>& metadata);
// The whole file in memory (small files, tests).
std::string SerializeSafetensors(const std::vector<TensorToWrite>& tensors,
                                 const std::map<std::string, std::string>& metadata);
// Streams the file to `writer` (no extra copy of the payload); returns the bytes written.
uint64_t WriteSafetensors(FileWriter& writer, const std::vector<TensorToWrite>& tensors,
                          const std::map<std::string, std::string>& metadata);
// Writes `path` atomically (temp + fsync + rename + fsync dir).
void WriteSafetensorsFile(const fs::path& path, const std::vector<TensorToWrite>& tensors,
                          const std::map<std::string, std::string>& metadata);

// A sharded checkpoint: `model.safetensors.index.json` = {"metadata": {"total_size": bytes},
// "weight_map": {tensor: shard file}}. Open() validates that every shard exists and parses, no
// tensor is in two shards or twice in the index, every tensor of a shard is in the index (and vice
// versa), and total_size equals the sum of tensor byte sizes; all problems are reported in one
// Error.
class ShardedSafetensors {
 public:
  static ShardedSafetensors Open(const fs::path& index_json);
  const TensorView* Find(std::string_view name) const;
  const TensorView& Get(std::string_view name) const;
  const std::map<std::string, const TensorView*>& tensors() const { return by_name_; }

 private:
  std::vector<std::unique_ptr<SafetensorsFile>> shards_;
  std::map<std::string, const TensorView*> by_name_;
  fs::path index_path_;
};

}  // namespace ot
