// Tiny Hugging Face model directories written from C++ for the import tests: config.json with each
// family's real key names, and the weights in that family's tensor names as F32, BF16 or F16, in
// one model.safetensors or sharded behind model.safetensors.index.json. Values are k/64 for integer
// |k| <= 64, exact in all three dtypes, so a loaded value equals the written one bit for bit.
#pragma once

#include <gtest/gtest.h>

#include <bit>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/test_util.h"
#include "core/fileio.h"
#include "core/safetensors.h"

namespace ot::testing {

namespace fs = std::filesystem;

struct HfTensor {
  std::string name;
  std::vector<int64_t> shape;
  std::vector<float> values;
  DType dtype =
      DType::kF32;  // kF32 here means "the directory's dtype"; others are written as given
};

// Distinct-looking exact values: a hash of (salt, i) folded to k/64, k in [-64, 64].
inline std::vector<float> ExactValues(int64_t n, uint64_t salt) {
  std::vector<float> v(n);
  for (int64_t i = 0; i < n; ++i) {
    uint64_t h =
        (salt + 1) * 0x9E3779B97F4A7C15ull ^ (static_cast<uint64_t>(i) * 0xBF58476D1CE4E5B9ull);
    h ^= h >> 31;
    v[i] = static_cast<float>(static_cast<int>(h % 129) - 64) / 64.0f;
  }
  return v;
}

inline HfTensor MakeTensor(std::string name, std::vector<int64_t> shape, uint64_t salt) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return {std::move(name), std::move(shape), ExactValues(n, salt)};
}

// F32 -> F16 for values exact in F16 (normal or zero; the tests write only k/64).
inline uint16_t ExactF16(float f) {
  const uint32_t b = std::bit_cast<uint32_t>(f);
  const uint32_t sign = (b >> 16) & 0x8000u;
  if ((b & 0x7FFFFFFFu) == 0) return static_cast<uint16_t>(sign);
  const int exp = static_cast<int>((b >> 23) & 0xFF) - 127 + 15;
  const uint32_t mant = b & 0x7FFFFFu;
  if (exp <= 0 || exp >= 31 || (mant & 0x1FFFu) != 0) {  // not exact: the fixture's contract broke
    ADD_FAILURE() << "value " << f << " is not exact in F16";
    return 0;
  }
  return static_cast<uint16_t>(sign | (static_cast<uint32_t>(exp) << 10) | (mant >> 13));
}

// The tensor's bytes in `dtype` (F32, BF16 — the top half of F32, exact for k/64 — or F16).
inline std::string EncodeAs(const std::vector<float>& v, DType dtype) {
  std::string out;
  for (float f : v) {
    const uint32_t b = std::bit_cast<uint32_t>(f);
    if (dtype == DType::kF32) {
      out.append(reinterpret_cast<const char*>(&f), 4);
    } else {
      const uint16_t h = dtype == DType::kBF16 ? static_cast<uint16_t>(b >> 16) : ExactF16(f);
      out.append(reinterpret_cast<const char*>(&h), 2);
    }
  }
  return out;
}

// Writes config.json and the tensors (in `dtype` unless a tensor names its own) into `dir`: one
// model.safetensors when shards == 1, else model-0000k-of-0000n.safetensors split round-robin plus
// the index. Returns the shard file names.
inline std::vector<std::string> WriteHfModel(const fs::path& dir, const nlohmann::json& config,
                                             const std::vector<HfTensor>& tensors, DType dtype,
                                             int shards = 1) {
  WriteFileAtomic(dir / "config.json", config.dump(2));
  std::vector<std::string> bytes(tensors.size()), files;
  std::vector<std::vector<TensorToWrite>> per_shard(shards);
  nlohmann::json weight_map = nlohmann::json::object();
  uint64_t total = 0;
  for (int s = 0; s < shards; ++s)
    files.push_back(shards == 1 ? "model.safetensors"
                                : "model-" + std::to_string(100001 + s).substr(1) + "-of-" +
                                      std::to_string(100000 + shards).substr(1) + ".safetensors");
  for (size_t i = 0; i < tensors.size(); ++i) {
    const DType d = tensors[i].dtype == DType::kF32 ? dtype : tensors[i].dtype;
    if (d == DType::kF32 || d == DType::kBF16 || d == DType::kF16) {
      bytes[i] = EncodeAs(tensors[i].values, d);
    } else {  // other dtypes (bool masks, int8): one byte per value, for header-level cases
      for (float f : tensors[i].values) bytes[i].push_back(static_cast<char>(f != 0));
    }
    const int s = static_cast<int>(i % shards);
    per_shard[s].push_back({tensors[i].name, d, tensors[i].shape, AsBytes(bytes[i])});
    weight_map[tensors[i].name] = files[s];
    total += bytes[i].size();
  }
  for (int s = 0; s < shards; ++s)
    WriteSafetensorsFile(dir / files[s], per_shard[s], {{"format", "pt"}});
  if (shards > 1)
    WriteFileAtomic(
        dir / "model.safetensors.index.json",
        nlohmann::json{{"metadata", {{"total_size", total}}}, {"weight_map", weight_map}}.dump(2));
  return files;
}

}  // namespace ot::testing
