// Tests for core/fileio: atomic writes (old or new content, never a mix), the write-fault hook
// (case 5), mmap of empty and non-empty files, xxh3 against the library's known value.
#include "core/fileio.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <xxhash.h>

#include <cstdio>

#include "core/check.h"

namespace ot {
namespace {

class FileIoTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char dir_template[] = "/tmp/ot_fileio_XXXXXX";
    ASSERT_NE(mkdtemp(dir_template), nullptr);
    dir_ = dir_template;
  }
  void TearDown() override {
    ClearWriteFault();
    fs::remove_all(dir_);
  }
  fs::path dir_;
};

TEST_F(FileIoTest, WriteAtomicThenRead) {
  const fs::path p = dir_ / "a.txt";
  WriteFileAtomic(p, "hello");
  EXPECT_EQ(ReadFile(p), "hello");
  WriteFileAtomic(p, std::string("\0bin\xff", 5));
  EXPECT_EQ(ReadFile(p), std::string("\0bin\xff", 5));
  WriteFileAtomic(p, "");
  EXPECT_EQ(ReadFile(p), "");
  // No temp files remain.
  int entries = 0;
  for (const auto& e : fs::directory_iterator(dir_))
    entries += (e.path().filename() == "a.txt") ? 1 : 100;
  EXPECT_EQ(entries, 1);
}

TEST_F(FileIoTest, ReadMissingFileNamesPath) {
  try {
    ReadFile(dir_ / "missing.bin");
    FAIL() << "expected an Error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("missing.bin"), std::string::npos);
  }
}

TEST_F(FileIoTest, DiskFullKeepsOldContentAndReportsError) {
  const fs::path p = dir_ / "state.json";
  WriteFileAtomic(p, "old content");
  SetWriteFault(4);
  try {
    WriteFileAtomic(p, "new content that does not fit");
    FAIL() << "expected a simulated disk-full error";
  } catch (const Error& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("No space left on device (simulated)"), std::string::npos) << message;
    EXPECT_NE(message.find("state.json"), std::string::npos) << message;
  }
  ClearWriteFault();
  EXPECT_EQ(ReadFile(p), "old content");
  for (const auto& e : fs::directory_iterator(dir_)) EXPECT_EQ(e.path().filename(), "state.json");
}

TEST_F(FileIoTest, FaultBudgetCountsAcrossWrites) {
  SetWriteFault(10);
  FileWriter w(dir_ / "f.bin");
  w.Write("12345");
  w.Write("6789");
  EXPECT_THROW(w.Write("abc"), Error);  // 9 + 3 > 10: writes one byte, then fails
  EXPECT_EQ(w.bytes_written(), 10u);
  w.Close();
  ClearWriteFault();
  EXPECT_EQ(ReadFile(dir_ / "f.bin"), "123456789a");
  const uint64_t before = TotalBytesWritten();
  WriteFileAtomic(dir_ / "g.bin", "xyz");
  EXPECT_EQ(TotalBytesWritten() - before, 3u);
}

TEST_F(FileIoTest, MappedFile) {
  WriteFileAtomic(dir_ / "m.bin", "mapped bytes");
  MappedFile m(dir_ / "m.bin");
  ASSERT_EQ(m.size(), 12u);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(m.bytes().data()), m.size()), "mapped bytes");
  MappedFile moved = std::move(m);
  EXPECT_EQ(moved.size(), 12u);
  EXPECT_EQ(m.size(), 0u);
  WriteFileAtomic(dir_ / "empty.bin", "");
  MappedFile empty(dir_ / "empty.bin");
  EXPECT_EQ(empty.bytes().size(), 0u);
  EXPECT_THROW(MappedFile{dir_ / "nope"}, Error);
  EXPECT_THROW(MappedFile{dir_}, Error);  // a directory is not a regular file
}

TEST_F(FileIoTest, Xxh3Hex) {
  // XXH3_64bits("") = 2d06800538d394c2 (xxHash reference value).
  EXPECT_EQ(Xxh3Hex(""), "2d06800538d394c2");
  char expected[17];
  std::snprintf(expected, sizeof(expected), "%016llx",
                static_cast<unsigned long long>(XXH3_64bits("abc", 3)));
  EXPECT_EQ(Xxh3Hex("abc"), expected);
  EXPECT_EQ(Xxh3(AsBytes("abc")), XXH3_64bits("abc", 3));
}

}  // namespace
}  // namespace ot
