// Tests for core/safetensors: round trip (case 12), strict rejections (case 13), accepted edge
// cases (case 14), sharded index errors (case 15), exact BF16/F16 -> F32 for all 65,536 patterns
// (case 19).
#include "core/safetensors.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <bit>
#include <cmath>
#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>

#include "common/test_util.h"
#include "core/check.h"

namespace ot {
namespace {

// A file image from a raw header text and buffer (header not padded: readers must not require it).
std::string MakeFile(const std::string& header, const std::string& buffer = "",
                     uint64_t n_override = 0) {
  std::string out(8, '\0');
  const uint64_t n = n_override ? n_override : header.size();
  std::memcpy(out.data(), &n, 8);
  return out + header + buffer;
}

// Asserts that parsing `file` fails with an Error whose message contains `expected` (and the file
// name).
void ExpectRejected(const std::string& file, const std::string& expected) {
  try {
    SafetensorsFile::Parse(AsBytes(file), "bad.safetensors");
    ADD_FAILURE() << "accepted a file that should fail with '" << expected << "'";
  } catch (const Error& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("bad.safetensors"), std::string::npos) << message;
    EXPECT_NE(message.find(expected), std::string::npos)
        << "message: " << message << "\nexpected: " << expected;
  }
}

std::string Bytes(size_t n, char fill = '\x01') { return std::string(n, fill); }

TEST(Safetensors, RoundTripIsByteIdenticalAndPadded) {
  const std::vector<float> a = {1.5f, -2.0f, 3.25f, 0.0f, -0.0f, 1e-30f};
  const std::vector<int64_t> ids = {7, -1, 1LL << 40};
  const std::vector<uint16_t> half = {0x3c00, 0x7c00, 0x0001};
  const std::vector<uint8_t> flags = {1, 0, 1};
  std::vector<TensorToWrite> tensors = {
      F32Tensor("model.embed_tokens.weight", {2, 3}, a),
      {"ids", DType::kI64, {3}, std::as_bytes(std::span(ids))},
      {"half", DType::kBF16, {3}, std::as_bytes(std::span(half))},
      {"flags", DType::kBool, {3}, std::as_bytes(std::span(flags))},
  };
  const std::map<std::string, std::string> metadata = {{"format", "pt"},
                                                       {"overtrain_config", "{\"a\": 1}"}};
  const std::string file = SerializeSafetensors(tensors, metadata);
  uint64_t n = 0;
  std::memcpy(&n, file.data(), 8);
  EXPECT_EQ((8 + n) % 8, 0u) << "header must be padded so the buffer starts 8-aligned";
  EXPECT_EQ(file[8 + n - 1] == ' ' || file[8 + n - 1] == '}', true);

  SafetensorsFile parsed = SafetensorsFile::Parse(AsBytes(file), "mem");
  ASSERT_EQ(parsed.tensors().size(), 4u);
  EXPECT_EQ(parsed.metadata(), metadata);
  for (size_t i = 0; i < tensors.size(); ++i) {
    const TensorView& t = parsed.Get(tensors[i].name);
    EXPECT_EQ(t.dtype, tensors[i].dtype);
    EXPECT_EQ(t.shape, tensors[i].shape);
    ASSERT_EQ(t.bytes.size(), tensors[i].bytes.size());
    EXPECT_EQ(std::memcmp(t.bytes.data(), tensors[i].bytes.data(), t.bytes.size()), 0) << t.name;
  }
  EXPECT_EQ(ToF32(parsed.Get("model.embed_tokens.weight")), a);
  EXPECT_EQ(ToF32(parsed.Get("half"))[0], Bf16ToF32(0x3c00));

  // Re-serialising what was read reproduces the file byte for byte; so does the on-disk path.
  std::vector<TensorToWrite> again;
  for (const auto& t : parsed.tensors()) again.push_back({t.name, t.dtype, t.shape, t.bytes});
  EXPECT_EQ(SerializeSafetensors(again, parsed.metadata()), file);
  char dir_template[] = "/tmp/ot_st_XXXXXX";
  ASSERT_NE(mkdtemp(dir_template), nullptr);
  const fs::path path = fs::path(dir_template) / "x.safetensors";
  WriteSafetensorsFile(path, tensors, metadata);
  EXPECT_EQ(ReadFile(path), file);
  SafetensorsFile opened = SafetensorsFile::Open(path);
  EXPECT_EQ(opened.tensors().size(), 4u);
  EXPECT_EQ(ToF32(opened.Get("model.embed_tokens.weight")), a);
  fs::remove_all(dir_template);
}

TEST(Safetensors, WriterRejectsBadInput) {
  const std::vector<float> a(4, 1.0f);
  EXPECT_THROW(SerializeSafetensors({F32Tensor("x", {2, 3}, a)}, {}), Error);  // size mismatch
  EXPECT_THROW(SerializeSafetensors({F32Tensor("x", {4}, a), F32Tensor("x", {4}, a)}, {}),
               Error);  // dup
  EXPECT_THROW(SerializeSafetensors({F32Tensor("__metadata__", {4}, a)}, {}), Error);
}

TEST(Safetensors, RejectsMalformedFiles) {
  const std::string ok_entry = R"("t":{"dtype":"F32","shape":[2],"data_offsets":[0,8]})";
  ExpectRejected("", "shorter than the 8-byte header length");
  ExpectRejected(std::string(7, '\0'), "shorter than the 8-byte header length");
  ExpectRejected(MakeFile("{}", "", 100'000'001), "exceeds the 100 MB limit");
  ExpectRejected(MakeFile("{}", "", 64), "exceeds the file size");
  ExpectRejected(MakeFile("{}", "", std::numeric_limits<uint64_t>::max()), "overflows 8 + N");
  ExpectRejected(MakeFile("{}", "", std::numeric_limits<uint64_t>::max() - 7), "overflows 8 + N");
  ExpectRejected(MakeFile("{\"\xff\":1}"), "not valid UTF-8");
  ExpectRejected(MakeFile("{\"\xc0\x80\":1}"), "not valid UTF-8");      // overlong NUL
  ExpectRejected(MakeFile("{\"\xed\xa0\x80\":1}"), "not valid UTF-8");  // surrogate
  ExpectRejected(MakeFile("{\"t\":"), "invalid JSON");
  ExpectRejected(MakeFile("{\"t\":1,}"), "invalid JSON");
  ExpectRejected(MakeFile("[1,2]"), "must be a JSON object");
  ExpectRejected(MakeFile("\"str\""), "must be a JSON object");
  ExpectRejected(MakeFile("{" + ok_entry + "," + ok_entry + "}", Bytes(8)), "duplicate key 't'");
  ExpectRejected(MakeFile(R"({"t":{"dtype":"F33","shape":[2],"data_offsets":[0,8]}})", Bytes(8)),
                 "unknown dtype 'F33'");
  ExpectRejected(MakeFile(R"({"t":{"dtype":"F32","shape":[2],"data_offsets":[-8,0]}})", Bytes(8)),
                 "non-negative integers");
  ExpectRejected(MakeFile(R"({"t":{"dtype":"F32","shape":[2],"data_offsets":[0.0,8]}})", Bytes(8)),
                 "non-negative integers");
  ExpectRejected(MakeFile(R"({"t":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", Bytes(8)),
                 "shape entries must be non-negative");
  ExpectRejected(MakeFile(R"({"t":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}})", Bytes(8)),
                 "reversed");
  ExpectRejected(MakeFile(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                          R"("b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
                          Bytes(12)),
                 "overlap");
  ExpectRejected(MakeFile(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
                          R"("b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}})",
                          Bytes(12)),
                 "gap in the byte buffer");
  ExpectRejected(MakeFile(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})", Bytes(8)),
                 "gap");
  ExpectRejected(MakeFile(R"({"t":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})", Bytes(8)),
                 "beyond the byte buffer");
  ExpectRejected(
      MakeFile(R"({"t":{"dtype":"F32","shape":[4611686018427387904,4],"data_offsets":[0,8]}})",
               Bytes(8)),
      "overflows the byte size");
  ExpectRejected(
      MakeFile(R"({"t":{"dtype":"F64","shape":[2305843009213693952],"data_offsets":[0,8]}})",
               Bytes(8)),
      "overflows the byte size");
  ExpectRejected(MakeFile(R"({"t":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", Bytes(8)),
                 "needs 12 bytes but data_offsets span 8");
  ExpectRejected(MakeFile("{" + ok_entry + "}", Bytes(9)), "1 trailing bytes");
  ExpectRejected(MakeFile(R"({"__metadata__":{"a":1}})"), "__metadata__['a'] must be a string");
  ExpectRejected(MakeFile(R"({"__metadata__":["a"]})"), "__metadata__ must be an object");
  ExpectRejected(MakeFile(R"({"t":{"dtype":"F32","shape":[0],"data_offsets":[0,0],"extra":1}})"),
                 "unexpected field 'extra'");
  ExpectRejected(MakeFile(R"({"t":{"dtype":"F32","shape":[0]}})"), "data_offsets");
  ExpectRejected(MakeFile(R"({"t":[1]})"), "expected an object");
}

TEST(Safetensors, AcceptsEdgeCases) {
  // Empty tensors (anywhere), a 0-rank scalar, tensors in any header order, whitespace padding.
  const std::string file =
      MakeFile(R"({"scalar":{"dtype":"F32","shape":[],"data_offsets":[8,12]},)"
               R"("empty1":{"dtype":"F32","shape":[0],"data_offsets":[0,0]},)"
               R"("first":{"dtype":"F16","shape":[2,2],"data_offsets":[0,8]},)"
               R"("empty2":{"dtype":"I32","shape":[3,0,2],"data_offsets":[12,12]},)"
               R"("__metadata__":{"k":"v"}})"
               "     ",
               Bytes(12, '\0'));
  SafetensorsFile f = SafetensorsFile::Parse(AsBytes(file), "ok");
  ASSERT_EQ(f.tensors().size(), 4u);
  EXPECT_EQ(f.tensors()[0].name, "scalar");  // header order is kept
  EXPECT_EQ(f.Get("scalar").NumElements(), 1);
  EXPECT_EQ(f.Get("scalar").shape.size(), 0u);
  EXPECT_EQ(f.Get("empty2").NumElements(), 0);
  EXPECT_EQ(f.Get("empty2").bytes.size(), 0u);
  EXPECT_EQ(ToF32(f.Get("empty1")).size(), 0u);
  EXPECT_EQ(f.metadata().at("k"), "v");
  // Metadata-only and completely empty headers.
  EXPECT_EQ(SafetensorsFile::Parse(AsBytes(MakeFile(R"({"__metadata__":{"a":"b"}})")), "m")
                .tensors()
                .size(),
            0u);
  EXPECT_EQ(SafetensorsFile::Parse(AsBytes(MakeFile("{}")), "m").tensors().size(), 0u);
  EXPECT_EQ(SafetensorsFile::Parse(AsBytes(SerializeSafetensors({}, {{"a", "b"}})), "m")
                .metadata()
                .at("a"),
            "b");
  // Our writer's empty and scalar tensors round-trip.
  const float one = 1.0f;
  const std::string ours = SerializeSafetensors(
      {F32Tensor("e", {0, 4}, {}), F32Tensor("s", {}, std::span(&one, 1))}, {});
  EXPECT_EQ(ToF32(SafetensorsFile::Parse(AsBytes(ours), "ours").Get("s")),
            std::vector<float>{1.0f});
}

TEST(Safetensors, Bf16ToF32ExactForAllPatterns) {
  for (uint32_t bits = 0; bits < 65536; ++bits) {
    const float f = Bf16ToF32(static_cast<uint16_t>(bits));
    // BF16 is the top half of an F32: the conversion must be exactly that, NaN payloads included.
    ASSERT_EQ(std::bit_cast<uint32_t>(f), bits << 16) << bits;
  }
  EXPECT_TRUE(std::isinf(Bf16ToF32(0x7f80)));
  EXPECT_TRUE(std::isnan(Bf16ToF32(0x7fc0)));
  EXPECT_EQ(Bf16ToF32(0x0001), std::ldexp(1.0f, -133));  // smallest subnormal
}

// An independent F16 decoder: the value formula (-1)^s × 2^(e-15) × (1 + m/1024), subnormals m ×
// 2^-24.
double F16Value(uint16_t h) {
  const int s = h >> 15, e = (h >> 10) & 0x1f, m = h & 0x3ff;
  const double sign = s ? -1.0 : 1.0;
  if (e == 0) return sign * std::ldexp(static_cast<double>(m), -24);
  return sign * std::ldexp(1.0 + m / 1024.0, e - 15);
}

TEST(Safetensors, F16ToF32ExactForAllPatterns) {
  int nans = 0, infs = 0, subnormals = 0;
  for (uint32_t bits = 0; bits < 65536; ++bits) {
    const uint16_t h = static_cast<uint16_t>(bits);
    const float f = F16ToF32(h);
    const uint32_t fb = std::bit_cast<uint32_t>(f);
    ASSERT_EQ(fb >> 31, bits >> 15) << "sign of " << bits;
    const int e = (h >> 10) & 0x1f, m = h & 0x3ff;
    if (e == 0x1f && m != 0) {
      ASSERT_TRUE(std::isnan(f)) << bits;
      ASSERT_EQ((fb >> 13) & 0x3ff, static_cast<uint32_t>(m)) << "NaN payload of " << bits;
      ++nans;
    } else if (e == 0x1f) {
      ASSERT_TRUE(std::isinf(f)) << bits;
      ++infs;
    } else {
      ASSERT_EQ(static_cast<double>(f), F16Value(h)) << bits;
      if (e == 0 && m != 0) ++subnormals;
    }
#if defined(__FLT16_MAX__)
    // Second oracle: the compiler's own _Float16 -> float conversion (exact for non-NaN).
    _Float16 native;
    std::memcpy(&native, &h, 2);
    if (!(e == 0x1f && m != 0)) {
      ASSERT_EQ(std::bit_cast<uint32_t>(static_cast<float>(native)), fb) << bits;
    }
#endif
  }
  EXPECT_EQ(nans, 2 * 1023);
  EXPECT_EQ(infs, 2);
  EXPECT_EQ(subnormals, 2 * 1023);
  EXPECT_EQ(F16ToF32(0x3c00), 1.0f);
  EXPECT_EQ(F16ToF32(0x7bff), 65504.0f);
  EXPECT_EQ(F16ToF32(0x0001), std::ldexp(1.0f, -24));
}

TEST(Safetensors, ToF32ConvertsUnalignedAndF64) {
  // F16 after a 1-byte BOOL tensor: the F16 payload sits at an odd address.
  const std::vector<uint8_t> flag = {1};
  const std::vector<uint16_t> h = {0x3c00, 0xc000};  // 1, -2
  const std::vector<double> d = {0.1, -3.0};
  const std::string file =
      SerializeSafetensors({{"flag", DType::kBool, {1}, std::as_bytes(std::span(flag))},
                            {"h", DType::kF16, {2}, std::as_bytes(std::span(h))},
                            {"d", DType::kF64, {2}, std::as_bytes(std::span(d))}},
                           {});
  SafetensorsFile f = SafetensorsFile::Parse(AsBytes(file), "mem");
  EXPECT_EQ(ToF32(f.Get("h")), (std::vector<float>{1.0f, -2.0f}));
  EXPECT_EQ(ToF32(f.Get("d")), (std::vector<float>{0.1f, -3.0f}));
  EXPECT_THROW(ToF32(f.Get("flag")), Error);
  EXPECT_THROW(f.Get("nope"), Error);
}

TEST(Safetensors, StrictJsonRejectsDuplicatesAtAnyDepth) {
  EXPECT_THROW(ParseJsonStrict(R"({"a":{"b":1,"b":2}})", "x"), Error);
  EXPECT_THROW(ParseJsonStrict(R"([{"b":1},{"c":1,"c":1}])", "x"), Error);
  EXPECT_NO_THROW(
      ParseJsonStrict(R"([{"b":1},{"b":1}])", "x"));  // same key in sibling objects is fine
  EXPECT_FALSE(FindInvalidUtf8("plain ascii \xc3\xa9 \xf0\x9f\x98\x80").has_value());
  EXPECT_EQ(FindInvalidUtf8("ab\xf0\x9f\x98").value(), 2u);    // truncated 4-byte sequence
  EXPECT_EQ(FindInvalidUtf8("\xf4\x90\x80\x80").value(), 0u);  // > U+10FFFF
}

// --- Sharded index (case 15) ---

class ShardedTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char dir_template[] = "/tmp/ot_shard_XXXXXX";
    ASSERT_NE(mkdtemp(dir_template), nullptr);
    dir_ = dir_template;
  }
  void TearDown() override { fs::remove_all(dir_); }
  void Shard(const std::string& file, const std::vector<std::string>& names) {
    std::vector<TensorToWrite> t;
    for (const auto& n : names) t.push_back(F32Tensor(n, {2}, values_));
    WriteSafetensorsFile(dir_ / file, t, {{"format", "pt"}});
  }
  void Index(const std::string& weight_map_json, int64_t total_size) {
    WriteFileAtomic(dir_ / "model.safetensors.index.json",
                    R"({"metadata":{"total_size":)" + std::to_string(total_size) +
                        R"(},"weight_map":)" + weight_map_json + "}");
  }
  std::string OpenError() {
    return testing::ErrorOf(
        [&] { ShardedSafetensors::Open(dir_ / "model.safetensors.index.json"); });
  }
  fs::path dir_;
  std::vector<float> values_ = {1.0f, 2.0f};
};

TEST_F(ShardedTest, ValidIndexLoads) {
  Shard("a.safetensors", {"x", "y"});
  Shard("b.safetensors", {"z"});
  Index(R"({"x":"a.safetensors","y":"a.safetensors","z":"b.safetensors"})", 24);
  ShardedSafetensors s = ShardedSafetensors::Open(dir_ / "model.safetensors.index.json");
  EXPECT_EQ(s.tensors().size(), 3u);
  EXPECT_EQ(ToF32(s.Get("z")), values_);
  EXPECT_EQ(s.Find("w"), nullptr);
}

TEST_F(ShardedTest, MissingShard) {
  Shard("a.safetensors", {"x"});
  Index(R"({"x":"a.safetensors","y":"gone.safetensors"})", 16);
  EXPECT_NE(OpenError().find("shard 'gone.safetensors' (1 tensors) is missing"), std::string::npos)
      << OpenError();
}

TEST_F(ShardedTest, TensorTwice) {
  Shard("a.safetensors", {"x"});
  Shard("b.safetensors", {"x"});
  Index(R"({"x":"a.safetensors","q":"b.safetensors"})", 16);
  EXPECT_NE(
      OpenError().find("tensor 'x' appears twice, in shards 'a.safetensors' and 'b.safetensors'"),
      std::string::npos)
      << OpenError();
  Index(R"({"x":"a.safetensors","x":"a.safetensors"})", 8);  // twice in the index itself
  EXPECT_NE(OpenError().find("duplicate key 'x'"), std::string::npos) << OpenError();
}

TEST_F(ShardedTest, TensorAbsentFromIndex) {
  Shard("a.safetensors", {"x", "stray"});
  Index(R"({"x":"a.safetensors"})", 16);
  EXPECT_NE(OpenError().find("tensor 'stray' in shard 'a.safetensors' is absent from the index"),
            std::string::npos)
      << OpenError();
}

TEST_F(ShardedTest, IndexNamesTensorTheShardLacks) {
  Shard("a.safetensors", {"x"});
  Index(R"({"x":"a.safetensors","ghost":"a.safetensors"})", 8);
  EXPECT_NE(
      OpenError().find("maps tensor 'ghost' to shard 'a.safetensors', which does not contain it"),
      std::string::npos)
      << OpenError();
}

TEST_F(ShardedTest, TotalSizeMismatch) {
  Shard("a.safetensors", {"x"});
  Index(R"({"x":"a.safetensors"})", 9);
  EXPECT_NE(OpenError().find("total_size is 9 but the shards' tensors hold 8 bytes"),
            std::string::npos)
      << OpenError();
}

TEST_F(ShardedTest, ShardPathMustStayInDirectory) {
  Index(R"({"x":"../a.safetensors"})", 8);
  EXPECT_NE(OpenError().find("must be a file name"), std::string::npos) << OpenError();
}

}  // namespace
}  // namespace ot
