// Tests for train/metrics (docs/reliability.md case 33): a failed append throws naming the file; a
// damaged line anywhere but the crash-torn last one is an error naming file and line.
#include "train/metrics.h"

#include <gtest/gtest.h>

#include "core/check.h"
#include "core/fileio.h"
#include "train_fixture.h"

namespace ot {
namespace {

using testing::ErrorOf;

TEST(MetricsWriter, FullDiskStopsWithAnErrorNamingTheFile) {
  ASSERT_TRUE(fs::exists("/dev/full"));
  MetricsWriter writer("/dev/full");  // every write: ENOSPC
  const std::string e = ErrorOf([&] { writer.Write({{"step", 1}, {"train/loss", 2.5}}); });
  EXPECT_NE(e.find("/dev/full: cannot append a metrics row"), std::string::npos) << e;
  EXPECT_NE(e.find("No space left on device"), std::string::npos) << e;
}

TEST(MetricsWriter, RowsRoundTripAndSync) {
  const fs::path dir = testing::TempDir("metrics_rows");
  {
    MetricsWriter writer(dir / "m.jsonl");
    writer.Write({{"step", 1}, {"train/loss", 2.5}});
    writer.Sync();
    writer.Write({{"step", 2}, {"event", "nan_skip"}});
  }
  const auto rows = ReadMetrics(dir / "m.jsonl");
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[1]["event"], "nan_skip");
  EXPECT_TRUE(ReadMetrics(dir / "absent.jsonl").empty());
  fs::remove_all(dir);
}

TEST(ReadMetrics, OnlyACrashTornLastLineIsTolerated) {
  const fs::path dir = testing::TempDir("metrics_torn");
  const fs::path path = dir / "metrics.jsonl";
  const std::string good = "{\"step\":1}\n{\"step\":2}\n";

  WriteFileAtomic(path, good + "{\"step\":3,\"train/lo");  // torn: no newline
  EXPECT_EQ(ReadMetrics(path).size(), 2u);
  TruncateMetrics(path, 10);  // a resume drops the torn tail
  EXPECT_EQ(ReadFile(path), good);

  struct Case {
    std::string text;
    int line;
  };
  for (const Case& c : {Case{"{\"step\":1}\n{\"step\":2,\"tr\n{\"step\":3}\n", 2},  // torn mid-file
                        Case{"{\"step\":1}\n\x01\x02garbage\n{\"step\":3}\n", 2},
                        Case{"{\"step\":1}\n42\n{\"step\":3}\n", 2},  // JSON, but not a row
                        Case{good + "{\"step\":3,\"x\n", 3}}) {  // bad last line, yet terminated
    SCOPED_TRACE(c.text);
    WriteFileAtomic(path, c.text);
    const std::string e = ErrorOf([&] { ReadMetrics(path); });
    EXPECT_NE(e.find(path.string() + ":" + std::to_string(c.line) + ": not a JSON object"),
              std::string::npos)
        << e;
    EXPECT_NE(ErrorOf([&] { TruncateMetrics(path, 10); }), "")
        << "a resume must not drop rows silently";
    EXPECT_EQ(ReadFile(path), c.text);
  }
  fs::remove_all(dir);
}

}  // namespace
}  // namespace ot
