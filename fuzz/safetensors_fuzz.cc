// libFuzzer target over the safetensors header parser and loader (docs/reliability.md case 16): any
// input must either parse into views that stay inside the buffer, or throw ot::Error; never crash,
// leak or overflow. Build: CXX=clang++ cmake -DOVERTRAIN_FUZZ=ON ...; run: safetensors_fuzz corpus/
// (seeds: safetensors_fuzz_seeds).
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <span>
#include <vector>

#include "core/check.h"
#include "core/safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::span<const std::byte> file(reinterpret_cast<const std::byte*>(data), size);
  try {
    ot::SafetensorsFile parsed = ot::SafetensorsFile::Parse(file, "fuzz");
    uint64_t covered = 0;
    for (const ot::TensorView& t : parsed.tensors()) {
      OT_CHECK(t.bytes.data() >= file.data() &&
               t.bytes.data() + t.bytes.size() <= file.data() + file.size())
          << t.name << " escapes the buffer";
      OT_CHECK(static_cast<uint64_t>(t.NumElements()) * ot::DTypeSize(t.dtype) == t.bytes.size())
          << t.name;
      covered += t.bytes.size();
      if (t.dtype == ot::DType::kF32 || t.dtype == ot::DType::kF16 || t.dtype == ot::DType::kBF16 ||
          t.dtype == ot::DType::kF64) {
        if (t.NumElements() <= (1 << 20)) (void)ot::ToF32(t);
      }
      (void)ot::Xxh3(t.bytes);
    }
    OT_CHECK(covered <= size) << "tensors cover more bytes than the file has";
  } catch (const ot::Error&) {
  }
  // The same bytes as a JSON document (manifests, sharded indexes go through ParseJsonStrict).
  try {
    (void)ot::ParseJsonStrict(std::string_view(reinterpret_cast<const char*>(data), size), "fuzz");
  } catch (const ot::Error&) {
  }
  return 0;
}
