// The run graph: stable ids, local re-planning, and the pool executor with a stand-in stage binary
// (skips completed runs, stops dependents of a failure, restarts interrupted runs).
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "common/test_util.h"
#include "core/fileio.h"
#include "study/execute.h"

namespace ot {
namespace {
namespace fs = std::filesystem;

Plan Diamond(const std::string& b_config) {
  Plan p;
  p.Add({.stage = "ok", .name = "a", .config_toml = "x = 1\n"});
  p.Add({.stage = "ok", .name = "b", .config_toml = b_config, .deps = {"a"}});
  p.Add({.stage = "ok", .name = "c", .config_toml = "x = 3\n", .deps = {"a"}});
  p.Add({.stage = "ok", .name = "d", .config_toml = "x = 4\n", .deps = {"b", "c"}});
  return p;
}

TEST(Plan, IdsAreStableAndChangesPropagateOnlyDownstream) {
  Plan p1 = Diamond("x = 2\n"), p2 = Diamond("x = 2\n"), p3 = Diamond("x = 22\n");
  for (size_t i = 0; i < p1.runs().size(); ++i) EXPECT_EQ(p1.runs()[i].id, p2.runs()[i].id);
  EXPECT_EQ(p1.Find("a")->id, p3.Find("a")->id);
  EXPECT_EQ(p1.Find("c")->id, p3.Find("c")->id);
  EXPECT_NE(p1.Find("b")->id, p3.Find("b")->id);
  EXPECT_NE(p1.Find("d")->id, p3.Find("d")->id);  // d depends on b
  EXPECT_EQ(HashHex("abc").size(), 16u);
}

// A stand-in for the overtrain binary: `stage --config CFG --out DIR`. Stage "ok" records the call;
// stage "fail" exits 3.
std::string FakeBinary(const fs::path& dir) {
  const fs::path bin = dir / "fake.sh";
  std::ofstream(bin) << "#!/bin/sh\necho \"$1 $5\" >> " << (dir / "calls.txt").string()
                     << "\n[ \"$1\" = fail ] && { echo boom; exit 3; }\nexit 0\n";
  fs::permissions(bin, fs::perms::owner_all);
  return bin.string();
}

int CountCalls(const fs::path& dir) {
  std::ifstream in(dir / "calls.txt");
  int n = 0;
  for (std::string line; std::getline(in, line);) ++n;
  return n;
}

TEST(Execute, RunsEverythingOnceThenSkipsCompletedRuns) {
  const fs::path dir = testing::TempDir("study_plan");
  Plan p = Diamond("x = 2\n");
  ExecOptions opt{.study_dir = dir, .binary = FakeBinary(dir), .jobs = 2, .quiet = true};
  auto s1 = ExecutePlan(p, opt);
  EXPECT_EQ(s1.done, 4);
  EXPECT_EQ(s1.failed, 0);
  EXPECT_EQ(CountCalls(dir), 4);
  for (const auto& r : p.runs()) EXPECT_TRUE(IsComplete(p.DirOf(dir, r), r)) << r.name;
  auto s2 = ExecutePlan(p, opt);
  EXPECT_EQ(s2.skipped, 4);
  EXPECT_EQ(CountCalls(dir), 4);
  // Changing b re-runs b and d only.
  Plan p3 = Diamond("x = 22\n");
  auto s3 = ExecutePlan(p3, opt);
  EXPECT_EQ(s3.done, 2);
  EXPECT_EQ(CountCalls(dir), 6);
  fs::remove_all(dir);
}

TEST(Execute, FailureStopsDependentsAndIsReported) {
  const fs::path dir = testing::TempDir("study_plan");
  Plan p;
  p.Add({.stage = "ok", .name = "a", .config_toml = ""});
  p.Add({.stage = "fail", .name = "b", .config_toml = "", .deps = {"a"}});
  p.Add({.stage = "ok", .name = "c", .config_toml = "", .deps = {"b"}});
  p.Add({.stage = "ok", .name = "e", .config_toml = "", .deps = {"a"}});
  auto s = ExecutePlan(p, {.study_dir = dir, .binary = FakeBinary(dir), .jobs = 1, .quiet = true});
  EXPECT_EQ(s.done, 2);
  EXPECT_EQ(s.failed, 2);
  ASSERT_FALSE(s.failures.empty());
  EXPECT_NE(s.failures[0].find("boom"), std::string::npos) << s.failures[0];
  EXPECT_FALSE(IsComplete(p.DirOf(dir, *p.Find("c")), *p.Find("c")));
  fs::remove_all(dir);
}

TEST(Execute, SlurmScriptsHaveOneArrayPerWave) {
  const fs::path dir = testing::TempDir("study_plan");
  Plan p = Diamond("x = 2\n");
  const fs::path submit = EmitSlurm(p, dir, "/usr/bin/overtrain", "study.toml", {"a.b=1"}, 1);
  const std::string text = ReadFile(submit);
  EXPECT_NE(text.find("--array=1-1"), std::string::npos);
  EXPECT_NE(text.find("--array=1-2"), std::string::npos);  // b and c share wave 1
  EXPECT_NE(text.find("afterok"), std::string::npos);
  EXPECT_NE(text.find("overtrain-report"), std::string::npos);  // the final collect + report job
  EXPECT_EQ(ReadFile(dir / "slurm" / "wave-1.txt"), "b\nc\n");
  const std::string array = ReadFile(dir / "slurm" / "run-array.sh");
  EXPECT_NE(array.find("--requeue"), std::string::npos);
  EXPECT_NE(array.find("--only \"$run\""), std::string::npos);
  EXPECT_NE(array.find("--cpus-per-task=1\n"), std::string::npos) << "nano runs want one thread";
  EXPECT_NE(text.find("--chdir='" + fs::current_path().string() + "'"), std::string::npos) << text;
  fs::remove_all(dir);
}

// Reliability case 45: every job ends when a dependency failed (no DependencyNeverSatisfied wait),
// emitting again resubmits only the runs that did not complete, and a data-parallel run is one
// multi-task srun job (docs/backends.md).
TEST(Execute, SlurmJobsEndOnAFailedDependencyAndReEmittingSubmitsOnlyWhatIsLeft) {
  const fs::path dir = testing::TempDir("study_plan_resubmit");
  Plan p;
  p.Add({.stage = "ok", .name = "a", .config_toml = "x = 1\n"});
  ot::Run wide{.stage = "ok", .name = "b", .config_toml = "x = 2\n", .deps = {"a"}};
  wide.tasks_per_node = 2;
  p.Add(wide);
  p.Add({.stage = "ok", .name = "c", .config_toml = "x = 3\n", .deps = {"a"}});
  const auto count = [](const std::string& text, const std::string& what) {
    size_t n = 0;
    for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
    return n;
  };
  const std::string first = ReadFile(EmitSlurm(p, dir, "/usr/bin/overtrain", "s.toml", {}, 1));
  EXPECT_EQ(count(first, "sbatch "), 4u) << first;  // wave 0, wave 1's array and srun job, report
  EXPECT_EQ(count(first, "--kill-on-invalid-dep=yes"), 4u) << first;
  EXPECT_NE(first.find("--ntasks-per-node=2 "), std::string::npos) << first;
  EXPECT_NE(first.find("srun --kill-on-bad-exit=1 "), std::string::npos) << first;
  EXPECT_NE(first.find(R"(--only '\''b'\'')"), std::string::npos) << first;  // quoted in --wrap
  EXPECT_EQ(ReadFile(dir / "slurm" / "wave-1.txt"), "c\n") << "b runs as its own srun job";
  // a and b completed; c failed or was cancelled: the next emit submits c and the report only.
  ExecOptions opt{.study_dir = dir, .binary = FakeBinary(dir), .jobs = 1, .quiet = true};
  opt.only = {"a", "b"};
  ASSERT_EQ(ExecutePlan(p, opt).done, 2);
  const std::string again = ReadFile(EmitSlurm(p, dir, "/usr/bin/overtrain", "s.toml", {}, 1));
  EXPECT_EQ(count(again, "sbatch "), 2u) << again;
  EXPECT_EQ(again.find("--ntasks-per-node"), std::string::npos) << "b is complete";
  EXPECT_EQ(ReadFile(dir / "slurm" / "wave-1.txt"), "c\n");
  EXPECT_NE(again.find("--array=1-1"), std::string::npos) << again;
  fs::remove_all(dir);
}

}  // namespace
}  // namespace ot
