// Hashes against FIPS test vectors, gzip reads, encodings, command exit codes, seeded permutations.
#include "data/util.h"

#include <gtest/gtest.h>
#include <zlib.h>

#include <filesystem>
#include <fstream>

#include "common/test_util.h"
#include "core/check.h"
#include "core/fileio.h"

namespace ot::data {
namespace {

namespace fs = std::filesystem;

TEST(DataUtil, ShaVectors) {
  EXPECT_EQ(Sha1Hex("abc"), "a9993e364706816aba3e25717850c26c9cd0d89d");
  EXPECT_EQ(Sha1Hex(""), "da39a3ee5e6b4b0d3255bfef95601890afd80709");
  EXPECT_EQ(Sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(Sha256Hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  // Two-block padding case (56 bytes).
  EXPECT_EQ(Sha256Hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  EXPECT_EQ(Sha1Hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "84983e441c3bd26ebaae4aa1f95129e5e54670f1");
  EXPECT_EQ(Sha1Hex(std::string(1000000, 'a')), "34aa973cd4c4daa4f61eeb2bdbad27316534016f");
}

TEST(DataUtil, ReadsGzipAndPlainFiles) {
  const fs::path dir = ot::testing::TempDir("data_util");
  const std::string text = "line one\nline two \xe9\n";
  gzFile gz = gzopen((dir / "a.gz").c_str(), "wb");
  ASSERT_NE(gz, nullptr);
  gzwrite(gz, text.data(), static_cast<unsigned>(text.size()));
  gzclose(gz);
  std::ofstream(dir / "b.txt", std::ios::binary) << text;
  EXPECT_EQ(ReadMaybeGzip(dir / "a.gz"), text);
  EXPECT_EQ(ReadMaybeGzip(dir / "b.txt"), text);
  // A truncated gzip is an error naming the file.
  std::string gzbytes;
  {
    std::ifstream in(dir / "a.gz", std::ios::binary);
    gzbytes.assign((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  }
  std::ofstream(dir / "c.gz", std::ios::binary) << gzbytes.substr(0, gzbytes.size() - 12);
  try {
    ReadMaybeGzip(dir / "c.gz");
    FAIL() << "truncated gzip accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("c.gz"), std::string::npos);
  }
  EXPECT_THROW(ReadMaybeGzip(dir / "missing.gz"), Error);
  fs::remove_all(dir);
}

// A gzip bomb (blank lines expanding ~1000x) is refused once it passes the 64 MiB floor, before the
// whole expansion is held in memory.
TEST(DataUtil, RefusesAGzipThatExpandsPastTheCap) {
  const fs::path dir = ot::testing::TempDir("data_util_bomb");
  // One gzip member of 1 MiB of newlines, written 72 times (concatenated members are one stream):
  // cheap to make, 72 MiB to expand.
  gzFile gz = gzopen((dir / "member.gz").c_str(), "wb9");
  ASSERT_NE(gz, nullptr);
  const std::string blank(1 << 20, '\n');
  gzwrite(gz, blank.data(), static_cast<unsigned>(blank.size()));
  gzclose(gz);
  const std::string member = ReadFile(dir / "member.gz");
  {
    std::ofstream out(dir / "bomb.jsonl.gz", std::ios::binary);
    for (int i = 0; i < 72; ++i) out << member;
  }
  ASSERT_LT(fs::file_size(dir / "bomb.jsonl.gz"), 1u << 20);
  const std::string error = ot::testing::ErrorOf([&] { ReadMaybeGzip(dir / "bomb.jsonl.gz"); });
  EXPECT_NE(error.find("bomb.jsonl.gz: gzip data expands past 64 MiB"), std::string::npos) << error;
  EXPECT_NE(error.find("100x the compressed size"), std::string::npos) << error;
  fs::remove_all(dir);
}

TEST(DataUtil, ForEachLineNumbersLinesAndRefusesAnOverlongOne) {
  std::vector<std::pair<size_t, std::string>> seen;
  ForEachLine("a\r\n\nb", "f.txt",
              [&](size_t n, std::string_view line) { seen.emplace_back(n, std::string(line)); });
  EXPECT_EQ(seen, (std::vector<std::pair<size_t, std::string>>{{1, "a"}, {2, ""}, {3, "b"}}));
  const std::string at_limit(kMaxLineBytes, 'x');
  size_t lines = 0;
  ForEachLine(at_limit + "\n", "f.txt", [&](size_t, std::string_view) { ++lines; });
  EXPECT_EQ(lines, 2u);
  const std::string text = "ok\n\n" + std::string(kMaxLineBytes + 1, 'x') + "\n";
  const std::string error = ot::testing::ErrorOf(
      [&] { ForEachLine(text, "tasks/long.jsonl", [](size_t, std::string_view) {}); });
  EXPECT_EQ(error,
            "tasks/long.jsonl:3: line is 1048577 bytes, past the limit of 1 MiB for one line of a "
            "data file");
}

TEST(DataUtil, Encodings) {
  EXPECT_EQ(Latin1ToUtf8("clich\xe9s"), "clich\xc3\xa9s");
  EXPECT_TRUE(IsValidUtf8("clich\xc3\xa9s \xf0\x9f\x98\x80"));
  EXPECT_FALSE(IsValidUtf8("clich\xe9s"));
  EXPECT_FALSE(IsValidUtf8("\xc0\xaf"));      // overlong
  EXPECT_FALSE(IsValidUtf8("\xed\xa0\x80"));  // surrogate
  EXPECT_FALSE(IsValidUtf8("\xe2\x96"));      // truncated
  EXPECT_EQ(ToUtf8("sister\xf0"
                   "city"),
            "sister\xc3\xb0"
            "city");
  EXPECT_EQ(ToUtf8("caf\xc3\xa9"), "caf\xc3\xa9");
  EXPECT_EQ(ToUtf8("songs \x97 a few"), "songs \xe2\x80\x94 a few");  // MR's cp1252 em dash
  EXPECT_EQ(NormalizeNewlines("a\r\nb\rc\n"), "a\nb\nc\n");
}

TEST(DataUtil, RunCommandReportsExitCodes) {
  std::string out;
  EXPECT_EQ(RunCommand({"sh", "-c", "echo hello; echo err >&2"}, "", &out), 0);
  EXPECT_EQ(out, "hello\nerr\n");
  EXPECT_EQ(RunCommand({"sh", "-c", "exit 3"}, "", &out), 3);
  const fs::path dir = ot::testing::TempDir("data_util");
  EXPECT_EQ(RunCommand({"pwd"}, dir, &out), 0);
  EXPECT_EQ(out, fs::canonical(dir).string() + "\n");
  EXPECT_EQ(RunCommand({"no-such-program-ot"}, "", &out), 127);
  EXPECT_NE(out.find("no-such-program-ot"), std::string::npos) << out;
  EXPECT_EQ(RunCommand({"sh", "-c", "kill -9 $$"}, "", &out), 128 + 9);
  EXPECT_NE(out.find("killed by signal 9"), std::string::npos) << out;
  EXPECT_EQ(RunCommand({"sleep", "30"}, "", &out, 0.2), 128 + 9);  // a hung command is killed
  EXPECT_NE(out.find("timed out"), std::string::npos) << out;
  fs::remove_all(dir);
}

TEST(DataUtil, SeededPermutationIsAPermutationAndDeterministic) {
  const auto a = SeededPermutation(1000, 7, "x"), b = SeededPermutation(1000, 7, "x");
  const auto c = SeededPermutation(1000, 8, "x"), d = SeededPermutation(1000, 7, "y");
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
  EXPECT_NE(a, d);
  std::vector<size_t> sorted = a;
  std::sort(sorted.begin(), sorted.end());
  for (size_t i = 0; i < sorted.size(); ++i) ASSERT_EQ(sorted[i], i);
}

}  // namespace
}  // namespace ot::data
