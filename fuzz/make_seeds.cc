// Writes the seed corpus for safetensors_fuzz: valid files from our writer (F32, mixed dtypes, scalars, empty
// tensors, metadata-only) and one file per rejection case of reliability.md case 13. Usage: make_seeds <dir>.
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <limits>
#include <string>
#include <vector>

#include "core/fileio.h"
#include "core/safetensors.h"

namespace {

std::string Raw(const std::string& header, const std::string& buffer, uint64_t n = 0) {
  std::string out(8, '\0');
  const uint64_t len = n ? n : header.size();
  std::memcpy(out.data(), &len, 8);
  return out + header + buffer;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s <corpus dir>\n", argv[0]);
    return 2;
  }
  const std::filesystem::path dir = argv[1];
  std::filesystem::create_directories(dir);
  const std::vector<float> f = {1.0f, -2.0f, 0.5f, 3.0f, 0.0f, 7.0f};
  const std::vector<uint16_t> h = {0x3c00, 0x7e00, 0x0001, 0xfc00};
  const std::vector<uint8_t> b = {1, 0, 1};
  using ot::DType;
  std::vector<std::string> seeds = {
      ot::SerializeSafetensors({ot::F32Tensor("w", {2, 3}, f)}, {{"format", "pt"}}),
      ot::SerializeSafetensors({{"flags", DType::kBool, {3}, std::as_bytes(std::span(b))},
                                {"h", DType::kF16, {2, 2}, std::as_bytes(std::span(h))},
                                {"bf", DType::kBF16, {4}, std::as_bytes(std::span(h))},
                                ot::F32Tensor("s", {}, std::span(f).first(1)),
                                ot::F32Tensor("e", {0, 3}, {})},
                               {{"a", "b"}}),
      ot::SerializeSafetensors({}, {{"only", "metadata"}}),
      Raw("{}", ""),
      Raw(R"({"t":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", std::string(8, 'x')),
      Raw(R"({"t":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", std::string(9, 'x')),
      Raw(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
          std::string(12, 'x')),
      Raw(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"I8","shape":[1],"data_offsets":[8,9]}})",
          std::string(9, 'x')),
      Raw(R"({"t":{"dtype":"F32","shape":[4611686018427387904,4],"data_offsets":[0,8]}})", std::string(8, 'x')),
      Raw(R"({"t":{"dtype":"X","shape":[1],"data_offsets":[0,1]}})", "x"),
      Raw(R"({"t":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}})", std::string(8, 'x')),
      Raw(R"({"t":{"dtype":"F32","shape":[2],"data_offsets":[-1,7]}})", std::string(8, 'x')),
      Raw(R"({"__metadata__":{"k":1}})", ""),
      Raw(R"({"t":1,"t":2})", ""),
      Raw("{\"\xff\":1}", ""),
      Raw("[]", ""),
      Raw("{}", "", std::numeric_limits<uint64_t>::max()),
      Raw("{}", "", 1000),
      std::string(7, '\0'),
      R"({"metadata":{"total_size":8},"weight_map":{"x":"a.safetensors"}})",
  };
  for (size_t i = 0; i < seeds.size(); ++i) ot::WriteFileAtomic(dir / ("seed-" + std::to_string(i)), seeds[i]);
  std::printf("%zu seeds in %s\n", seeds.size(), dir.c_str());
  return 0;
}
