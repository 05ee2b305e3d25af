// Faults at study level: a failing run records its error in status.json while unrelated runs go on
// and its dependents are skipped; a disk that fills up mid-study (a real 512 KiB tmpfs) loses no
// finished run, and after space is freed the same call continues where it stopped.
#include <gtest/gtest.h>
#include <sys/mount.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>

#include "common/test_util.h"
#include "core/check.h"
#include "core/fileio.h"
#include "core/run_lock.h"
#include "study/execute.h"

namespace ot {
namespace {
namespace fs = std::filesystem;

// `stage --config CFG --out DIR`. "ok" writes DIR/result.txt; "bad" fails as the CLI does, with one
// "error: ..." sentence; "fill" writes 2 MB when the file $OT_FILL_FLAG exists (more than the disk
// holds).
std::string FakeStages(const fs::path& dir) {
  return testing::WriteScript(dir / "fake.sh", R"(out="$5"
case "$1" in
  ok) echo "result of $out" > "$out/result.txt" || exit 1 ;;
  bad) echo "reading data..."; echo "error: configs/x.toml: lr = inf is out of range (0, 1]" >&2; exit 1 ;;
  fill) if [ -e "$OT_FILL_FLAG" ]; then head -c 2000000 /dev/zero > "$out/big" || exit 1; fi
        echo done > "$out/result.txt" || exit 1 ;;
esac
)");
}

nlohmann::json Status(const Plan& plan, const fs::path& study, const std::string& name) {
  return nlohmann::json::parse(ReadFile(plan.DirOf(study, *plan.Find(name)) / "status.json"));
}

bool Contains(const std::vector<std::string>& lines, const std::string& needle) {
  for (const auto& l : lines)
    if (l.find(needle) != std::string::npos) return true;
  return false;
}

TEST(StudyFaults, AFailedRunRecordsItsErrorDependentsAreSkippedOthersGoOn) {
  const fs::path dir = testing::TempDir("study_faults");
  Plan p;
  p.Add({.stage = "ok", .name = "a", .config_toml = ""});
  p.Add({.stage = "bad", .name = "b", .config_toml = "", .deps = {"a"}});
  p.Add({.stage = "ok", .name = "c", .config_toml = "", .deps = {"b"}});
  p.Add({.stage = "ok", .name = "e", .config_toml = "", .deps = {"a"}});
  p.Add({.stage = "ok", .name = "f", .config_toml = ""});
  const auto s =
      ExecutePlan(p, {.study_dir = dir, .binary = FakeStages(dir), .jobs = 2, .quiet = true});
  EXPECT_EQ(s.done, 3);
  EXPECT_EQ(s.failed, 2);
  const auto b = Status(p, dir, "b");
  EXPECT_EQ(b.value("state", ""), "failed");
  EXPECT_EQ(b.value("id", ""), p.Find("b")->id);
  EXPECT_EQ(b.value("error", ""), "configs/x.toml: lr = inf is out of range (0, 1]");
  EXPECT_EQ(b.value("ended", ""), "exit code 1");
  EXPECT_TRUE(
      Contains(s.failures, "b: configs/x.toml: lr = inf is out of range (0, 1] (exit code 1)"));
  EXPECT_TRUE(Contains(s.failures, "c: not run, a dependency failed"));
  for (const char* name : {"a", "e", "f"})
    EXPECT_TRUE(IsComplete(p.DirOf(dir, *p.Find(name)), *p.Find(name)));
  EXPECT_FALSE(fs::exists(p.DirOf(dir, *p.Find("c")) / "result.txt"));
  // The log keeps both streams of the failed attempt.
  EXPECT_NE(ReadFile(p.DirOf(dir, *p.Find("b")) / "log.txt").find("reading data..."),
            std::string::npos);
  fs::remove_all(dir);
}

// Two local pools on one study: the second is refused with the holder named; --only runs are not.
TEST(StudyFaults, ASecondStudyProcessIsRefusedNamingTheHolder) {
  const fs::path dir = testing::TempDir("study_faults");
  Plan p;
  p.Add({.stage = "ok", .name = "a", .config_toml = ""});
  const RunDirLock held = RunDirLock::Acquire(dir, "study");
  try {
    ExecutePlan(p, {.study_dir = dir, .binary = FakeStages(dir), .jobs = 1, .quiet = true});
    FAIL() << "a second pool ran on a locked study";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("in use by pid " + std::to_string(getpid())),
              std::string::npos)
        << e.what();
  }
  const auto s = ExecutePlan(
      p, {.study_dir = dir, .binary = FakeStages(dir), .jobs = 1, .only = {"a"}, .quiet = true});
  EXPECT_EQ(s.done, 1);
  fs::remove_all(dir);
}

// Two `study --only a` processes at once: the loser is refused before it starts the stage, so its
// lock error is in its own summary (its stderr), and the winner's log.txt and status.json are
// untouched.
TEST(StudyFaults, TheLosingOnlyOfTwoReportsTheLockToItsOwnStderrNotTheRunLog) {
  const fs::path dir = testing::TempDir("study_faults_only");
  Plan p;
  p.Add({.stage = "bad", .name = "a", .config_toml = ""});
  const fs::path run_dir = p.DirOf(dir, *p.Find("a"));
  // The winner: holds the run while its stage writes the log.
  const RunDirLock winner = RunDirLock::Acquire(run_dir, "study run", kOnlyRunLockFile);
  WriteFileAtomic(run_dir / "log.txt", "the winner's log\n");
  const auto s = ExecutePlan(
      p, {.study_dir = dir, .binary = FakeStages(dir), .jobs = 1, .only = {"a"}, .quiet = true});
  EXPECT_EQ(s.failed, 1);
  ASSERT_EQ(s.failures.size(), 1u);
  EXPECT_EQ(s.failures[0], "a: not run here: " + (run_dir / kOnlyRunLockFile).string() +
                               ": this study run directory is in use by pid " +
                               std::to_string(getpid()) + " on host " +
                               LockHolderId().substr(LockHolderId().find('@') + 1) +
                               "; wait for it to finish or stop it (a dead holder's lock is "
                               "released automatically)");
  EXPECT_EQ(ReadFile(run_dir / "log.txt"), "the winner's log\n");
  EXPECT_FALSE(fs::exists(run_dir / "status.json"));
  fs::remove_all(dir);
}

// A real small filesystem that fills up; needs root (mount). Unmounted when the test ends.
class SmallDisk {
 public:
  explicit SmallDisk(const fs::path& at) : at_(at) {
    fs::create_directories(at_);
    mounted_ = geteuid() == 0 && mount("tmpfs", at_.c_str(), "tmpfs", 0, "size=512k") == 0;
  }
  ~SmallDisk() {
    if (mounted_) umount2(at_.c_str(), MNT_DETACH);
  }
  bool mounted() const { return mounted_; }

 private:
  fs::path at_;
  bool mounted_ = false;
};

TEST(StudyFaults, DiskFullKeepsFinishedRunsAndARestartContinues) {
  const fs::path dir = testing::TempDir("study_faults");
  std::optional<SmallDisk> disk(dir / "disk");
  if (!disk->mounted()) GTEST_SKIP() << "needs root to mount a small tmpfs";
  const fs::path study = dir / "disk" / "study", flag = dir / "fill-the-disk";
  std::ofstream(flag) << "1";
  setenv("OT_FILL_FLAG", flag.c_str(), 1);
  Plan p;
  p.Add({.stage = "ok", .name = "a", .config_toml = ""});
  p.Add({.stage = "fill", .name = "b", .config_toml = "", .deps = {"a"}});
  p.Add({.stage = "ok", .name = "c", .config_toml = "", .deps = {"b"}});
  p.Add({.stage = "ok", .name = "e", .config_toml = "", .deps = {"a"}});
  const ExecOptions opt{.study_dir = study, .binary = FakeStages(dir), .jobs = 1, .quiet = true};
  const auto full = ExecutePlan(p, opt);
  EXPECT_EQ(full.done, 1);  // a, before the disk filled
  EXPECT_EQ(full.failed, 3);
  EXPECT_TRUE(Contains(full.failures, "No space left on device"))
      << ::testing::PrintToString(full.failures);
  const ot::Run& a = *p.Find("a");
  EXPECT_TRUE(IsComplete(p.DirOf(study, a), a));
  EXPECT_EQ(ReadFile(p.DirOf(study, a) / "result.txt"),
            "result of " + p.DirOf(study, a).string() + "\n");

  // Space freed (b's partial file gone, b no longer too big): the same call finishes the study.
  fs::remove(p.DirOf(study, *p.Find("b")) / "big");
  fs::remove(flag);
  const auto again = ExecutePlan(p, opt);
  unsetenv("OT_FILL_FLAG");
  EXPECT_EQ(again.skipped, 1);
  EXPECT_EQ(again.done, 3) << ::testing::PrintToString(again.failures);
  EXPECT_EQ(again.failed, 0);
  for (const auto& run : p.runs()) EXPECT_TRUE(IsComplete(p.DirOf(study, run), run)) << run.name;
  disk.reset();
  fs::remove_all(dir);
}

}  // namespace
}  // namespace ot
