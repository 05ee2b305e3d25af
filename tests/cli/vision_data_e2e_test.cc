// `overtrain data vision` end to end through the real binary on a hand-made cache: a source that is
// not fetched, a toy mnist whose summary is worked by hand, and a bad label file each give what
// docs/data.md "Vision" says (one sentence and exit code 1 for the failures).
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <tuple>

#include "common/run_binary.h"
#include "common/test_util.h"
#include "core/fileio.h"

namespace ot {
namespace {

namespace fs = std::filesystem;
using namespace ot::testing;

// A plain idx file of unsigned bytes: magic 00 00 08 <ndim>, big-endian dimensions, data.
void PutVisionIdx(const fs::path& path, const std::vector<uint32_t>& dims,
                  const std::string& data) {
  std::string out = {'\0', '\0', '\x08', static_cast<char>(dims.size())};
  for (uint32_t d : dims)
    for (int s = 24; s >= 0; s -= 8) out += static_cast<char>((d >> s) & 0xff);
  std::ofstream(path, std::ios::binary) << out + data;
}

TEST(VisionDataE2E, SummarisesBothSplitsAndRefusesBadInputInOneSentence) {
  ASSERT_FALSE(EnvVar("OVERTRAIN_BIN").empty()) << "run through ctest (OVERTRAIN_BIN is set there)";
  const fs::path root = TempDir("vision_cli");
  const std::string cache = (root / "cache").string();
  const std::vector<std::string> args = {"data", "vision", "--source", "mnist", "--cache", cache};

  int rc = 0;
  std::string log;
  std::tie(rc, log) = RunOvertrain(args, root / "missing.log");
  EXPECT_EQ(rc, 1);
  EXPECT_EQ(log, "error: " + cache + "/data/mnist: source 'mnist' is not in the cache (or " +
                     "incomplete); run `overtrain data fetch --source mnist --cache " + cache +
                     "` first\n");

  // A fetched source: the kept idx folder and a DONE.json that lists no files.
  const fs::path dir = root / "cache" / "data" / "mnist";
  fs::create_directories(dir / "package" / "data");
  WriteFileAtomic(dir / "DONE.json", R"({"files": {}})");
  const fs::path idx = dir / "package" / "data";
  // train: 3 images of 1x2 with pixels 0..5 (mean 2.5), labels 1, 1, 9.
  PutVisionIdx(idx / "train-images-idx3-ubyte", {3, 1, 2}, {0, 1, 2, 3, 4, 5});
  PutVisionIdx(idx / "train-labels-idx1-ubyte", {3}, {1, 1, 9});
  // test: 1 image of 1x2 with pixels 255, 0 (mean 127.5), label 0.
  PutVisionIdx(idx / "t10k-images-idx3-ubyte", {1, 1, 2}, std::string("\xff\x00", 2));
  PutVisionIdx(idx / "t10k-labels-idx1-ubyte", {1}, std::string(1, '\0'));
  std::tie(rc, log) = RunOvertrain(args, root / "ok.log");
  EXPECT_EQ(rc, 0) << log;
  EXPECT_NE(log.find("mnist train: 3 images of 1x2, mean pixel 2.50\n"
                     "  classes: 0 2 0 0 0 0 0 0 0 1\n"),
            std::string::npos)
      << log;
  EXPECT_NE(log.find("mnist test: 1 images of 1x2, mean pixel 127.50\n"
                     "  classes: 1 0 0 0 0 0 0 0 0 0\n"),
            std::string::npos)
      << log;

  PutVisionIdx(idx / "t10k-labels-idx1-ubyte", {1}, std::string(1, '\x0c'));
  std::tie(rc, log) = RunOvertrain(args, root / "bad.log");
  EXPECT_EQ(rc, 1);
  EXPECT_EQ(log, "error: " + (idx / "t10k-labels-idx1-ubyte").string() +
                     ": item 0 has label 12; expected 0 to 9 (10 classes)\n");
  fs::remove_all(root);
}

}  // namespace
}  // namespace ot
