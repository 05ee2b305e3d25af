// IDX files (the MNIST format; Fashion-MNIST uses it too), plain or gzip: the image and label
// files of the vision sources (docs/data.md "Vision"). Every field is checked before memory is
// allocated for it, and a gzip file never inflates past what its dimensions declare
// (docs/reliability.md cases 38 and 43). A bad file is one Error sentence naming the file, the
// field and the expectation. Entry points: ParseIdxImages, ParseIdxLabels, LoadIdxImages,
// LoadIdxLabels, LoadVisionDataset, LoadVisionSource, DescribeVisionDataset.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace ot::data {

// Limits on the dimensions of an idx file. Real data is far inside them: MNIST's train images are
// 60,000 x 28 x 28 (47 MB).
inline constexpr uint32_t kIdxMaxCount = uint32_t{1} << 24;      // items (images or labels)
inline constexpr uint32_t kIdxMaxSide = 4096;                    // rows and cols of one image
inline constexpr uint64_t kIdxMaxDataBytes = uint64_t{1} << 30;  // count x rows x cols
// Both vision sources have ten classes (digits; Fashion-MNIST's garment types).
inline constexpr uint32_t kVisionClasses = 10;

struct IdxImages {
  uint32_t count = 0, rows = 0, cols = 0;
  std::vector<uint8_t> pixels;  // (count, rows, cols), row-major, 0 = background
};

// `file` is the whole file as stored (gzip when it starts with 1f 8b); `name` names it in errors.
// Images: magic 00 00 08 03, then count, rows, cols (big-endian uint32), then the pixels.
IdxImages ParseIdxImages(std::string_view file, const std::string& name);
// Labels: magic 00 00 08 01, then count, then one byte per item; each must be < `classes`.
std::vector<uint8_t> ParseIdxLabels(std::string_view file, const std::string& name,
                                    uint32_t classes = kVisionClasses);

IdxImages LoadIdxImages(const std::filesystem::path& path);
std::vector<uint8_t> LoadIdxLabels(const std::filesystem::path& path,
                                   uint32_t classes = kVisionClasses);

// One split of a vision source: images and labels of equal count.
struct VisionDataset {
  std::string name;  // e.g. "mnist train"
  uint32_t rows = 0, cols = 0, classes = kVisionClasses;
  std::vector<uint8_t> images;  // (n, rows, cols)
  std::vector<uint8_t> labels;  // (n), each < classes
  size_t size() const { return labels.size(); }
};

// Split "train" reads train-images-idx3-ubyte and train-labels-idx1-ubyte from `dir`, "test" the
// t10k-* pair; each file plain or with a .gz suffix (the plain one when both exist). `name`
// prefixes the split in VisionDataset::name. Throws Error for an unknown split, a missing file, a
// bad file, or label and image counts that differ.
VisionDataset LoadVisionDataset(const std::filesystem::path& dir, const std::string& split,
                                const std::string& name = "");

// Two lines for `overtrain data vision`: "<name>: <n> images of <rows>x<cols>, mean pixel <m>" and
// "  classes: <count of class 0> <count of class 1> ...".
std::string DescribeVisionDataset(const VisionDataset& d);

// The vision sources of DataSources() (group "vision"): mnist, fashion-mnist.
std::vector<std::string> VisionSources();
// A split of a fetched vision source: LoadVisionDataset on its idx folder in the cache. Throws
// Error for a source that is not a vision source or not fetched (naming `overtrain data fetch`).
VisionDataset LoadVisionSource(const std::filesystem::path& cache, const std::string& source,
                               const std::string& split);

}  // namespace ot::data
