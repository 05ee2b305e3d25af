// Token files: round trip, the docs/reliability.md cases 20-21 rejections (each with its own
// message naming the file), uint32 width for large vocabularies, raw uint16/uint32 import.
#include "data/token_file.h"

#include <gtest/gtest.h>

#include <cstring>
#include <fstream>

#include "core/check.h"

namespace ot::data {
namespace {

namespace fs = std::filesystem;

class TokenFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("ot_tokfile_" + std::to_string(getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string Bytes(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    return {(std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>()};
  }
  void Put(const fs::path& p, const std::string& b) { std::ofstream(p, std::ios::binary) << b; }
  // The message of the Error that opening `p` throws ("" if none).
  std::string OpenError(const fs::path& p, uint64_t min_tokens = 1) {
    try {
      TokenFile::Open(p, min_tokens);
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(p.filename().string()), std::string::npos) << e.what();
      return e.what();
    }
    return "";
  }
  fs::path dir_;
};

TEST_F(TokenFileTest, RoundTripUint16) {
  const std::vector<int32_t> toks = {5, 6, 2, 7, 8, 9, 2};
  const auto info = WriteTokenFile(dir_ / "a.tok", toks, 100, 2);
  EXPECT_EQ(info.dtype_bytes, 2u);
  EXPECT_EQ(info.documents, 2u);
  EXPECT_EQ(fs::file_size(dir_ / "a.tok"), kTokenHeaderBytes + 2 * toks.size());
  const auto f = TokenFile::Open(dir_ / "a.tok");
  EXPECT_EQ(f.ReadAll(), toks);
  EXPECT_EQ(f.info().vocab_size, 100u);
  EXPECT_EQ(f.info().eod_id, 2);
  EXPECT_EQ(f[3], 7);
  EXPECT_EQ(ReadTokenHeader(dir_ / "a.tok").xxh3, info.xxh3);
}

TEST_F(TokenFileTest, LargeVocabUsesUint32) {
  const std::vector<int32_t> toks = {70000, 1, 65535, 99999};
  EXPECT_EQ(WriteTokenFile(dir_ / "b.tok", toks, 100000, -1).dtype_bytes, 4u);
  EXPECT_EQ(TokenFile::Open(dir_ / "b.tok").ReadAll(), toks);
  EXPECT_EQ(DtypeBytesFor(65535), 2u);
  EXPECT_EQ(DtypeBytesFor(65536), 4u);
}

TEST_F(TokenFileTest, RejectsEachCorruptionWithItsOwnMessage) {
  const std::vector<int32_t> toks = {1, 2, 3, 4, 5, 6, 7, 8};
  WriteTokenFile(dir_ / "good.tok", toks, 10, -1);
  const std::string good = Bytes(dir_ / "good.tok");
  EXPECT_EQ(OpenError(dir_ / "good.tok"), "");

  std::string b = good;
  b[0] = 'X';
  Put(dir_ / "magic.tok", b);
  EXPECT_NE(OpenError(dir_ / "magic.tok").find("bad magic"), std::string::npos);

  b = good;
  b[8] = 9;  // version 9
  Put(dir_ / "version.tok", b);
  EXPECT_NE(OpenError(dir_ / "version.tok").find("version 9"), std::string::npos);

  Put(dir_ / "header.tok", good.substr(0, 20));
  EXPECT_NE(OpenError(dir_ / "header.tok").find("truncated header"), std::string::npos);

  Put(dir_ / "trunc.tok", good.substr(0, good.size() - 3));
  EXPECT_NE(OpenError(dir_ / "trunc.tok").find("truncated: header says 8 tokens"),
            std::string::npos);

  Put(dir_ / "extra.tok", good + "\x01\x00");
  EXPECT_NE(OpenError(dir_ / "extra.tok").find("does not match the file size"), std::string::npos);

  b = good;
  std::memset(b.data() + 24, 0, 8);  // zero tokens
  Put(dir_ / "zero.tok", b.substr(0, kTokenHeaderBytes));
  EXPECT_NE(OpenError(dir_ / "zero.tok").find("zero tokens"), std::string::npos);

  b = good;
  b[kTokenHeaderBytes + 4] ^= 1;  // payload flipped: checksum
  Put(dir_ / "sum.tok", b);
  EXPECT_NE(OpenError(dir_ / "sum.tok").find("checksum"), std::string::npos);

  // A token >= vocab with a consistent checksum (as a buggy writer would produce).
  std::vector<int32_t> big = toks;
  big[5] = 12;
  WriteTokenFile(dir_ / "vocab.tok", big, 20, -1);
  b = Bytes(dir_ / "vocab.tok");
  const uint32_t vocab10 = 10;
  std::memcpy(b.data() + 16, &vocab10, 4);
  Put(dir_ / "vocab.tok", b);
  EXPECT_NE(OpenError(dir_ / "vocab.tok").find("token 12 at position 5 is >= vocab size 10"),
            std::string::npos);

  EXPECT_NE(OpenError(dir_ / "good.tok", 100).find("shorter than one batch"), std::string::npos);
  EXPECT_THROW(TokenFile::Open(dir_ / "missing.tok"), Error);
}

TEST_F(TokenFileTest, ImportsRawDumpsToTheIdenticalStream) {
  const std::vector<uint16_t> raw16 = {3, 1, 4, 1, 5, 9, 2, 6, 5, 3};
  Put(dir_ / "raw16.bin",
      std::string(reinterpret_cast<const char*>(raw16.data()), raw16.size() * 2));
  const auto info = ImportRawTokens(dir_ / "raw16.bin", 2, 10, 2, dir_ / "raw16.tok");
  const auto f = TokenFile::Open(dir_ / "raw16.tok");
  ASSERT_EQ(f.size(), raw16.size());
  for (size_t i = 0; i < raw16.size(); ++i) EXPECT_EQ(f[i], raw16[i]);
  // Same width: the payload bytes are the raw file, so the recorded checksum is the raw file's
  // xxh3.
  EXPECT_EQ(info.xxh3, Xxh3(AsBytes(Bytes(dir_ / "raw16.bin"))));
  EXPECT_EQ(info.documents, 1u);  // one eod (id 2)

  const std::vector<uint32_t> raw32 = {70000, 0, 12, 99999};
  Put(dir_ / "raw32.bin",
      std::string(reinterpret_cast<const char*>(raw32.data()), raw32.size() * 4));
  const auto info32 = ImportRawTokens(dir_ / "raw32.bin", 4, 100000, -1, dir_ / "raw32.tok");
  EXPECT_EQ(info32.xxh3, Xxh3(AsBytes(Bytes(dir_ / "raw32.bin"))));
  const auto g = TokenFile::Open(dir_ / "raw32.tok");
  for (size_t i = 0; i < raw32.size(); ++i) EXPECT_EQ(static_cast<uint32_t>(g[i]), raw32[i]);

  EXPECT_THROW(ImportRawTokens(dir_ / "raw16.bin", 2, 9, -1, dir_ / "x.tok"),
               Error);  // 9 >= vocab 9
  Put(dir_ / "odd.bin", "abc");
  EXPECT_THROW(ImportRawTokens(dir_ / "odd.bin", 2, 10, -1, dir_ / "y.tok"), Error);
}

}  // namespace
}  // namespace ot::data
