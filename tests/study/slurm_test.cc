// The emitted Slurm scripts, run by a stand-in `sbatch` that behaves as Slurm does where it matters
// here: a job starts in --chdir (else in the directory sbatch was called from, which submit.sh is
// not run from), gets SLURM_ARRAY_TASK_ID and SLURM_CPUS_PER_TASK, and its output goes to --output.
// Jobs run at once, in submission order (waves are submitted in dependency order). The real-Slurm
// test is scripts/test-slurm.sh.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "common/test_util.h"
#include "core/fileio.h"
#include "core/subprocess.h"
#include "study/execute.h"

namespace ot {
namespace {
namespace fs = std::filesystem;

// Array jobs run every index; --wrap jobs run their command; both from --chdir. Prints a job id.
constexpr const char* kFakeSbatch = R"(chdir=""; array=1; cpus=""; output=/dev/null; wrap=""
while [ $# -gt 0 ]; do
  case "$1" in
    --chdir=*) chdir="${1#--chdir=}" ;;
    --array=1-*) array="${1#--array=1-}" ;;
    --cpus-per-task=*) cpus="${1#--cpus-per-task=}" ;;
    --output=*) output="${1#--output=}" ;;
    --wrap) shift; wrap="$1" ;;
    --*) ;;
    *) break ;;
  esac
  shift
done
[ -n "$chdir" ] || chdir="$PWD"
cd "$chdir" || exit 1
if [ -n "$wrap" ]; then
  SLURM_CPUS_PER_TASK=$cpus sh -c "$wrap" >> "${output%/*}/report.out" 2>&1 || exit 1
else
  i=1
  while [ $i -le $array ]; do
    SLURM_ARRAY_TASK_ID=$i SLURM_CPUS_PER_TASK=$cpus bash "$@" >> "${output%/*}/array.out" 2>&1 || exit 1
    i=$((i+1))
  done
fi
echo 4242
)";

TEST(Slurm, JobsRunFromTheEmitDirectoryWithTheRunsThreadCount) {
  const fs::path tmp = testing::TempDir("study_slurm");
  fs::create_directories(tmp / "bin");
  testing::WriteScript(tmp / "bin" / "sbatch", kFakeSbatch);
  // The stand-in overtrain records where it ran, its threads and arguments; like the real one it
  // needs the study's relative config path to resolve.
  const std::string binary =
      testing::WriteScript(tmp / "overtrain.sh",
                           "[ -f configs/study.toml ] || { echo 'error: configs/study.toml: cannot "
                           "read' >&2; exit 1; }\n"
                           "echo \"$PWD|$OMP_NUM_THREADS|$*\" >> " +
                               (tmp / "calls.txt").string() + "\n");
  const fs::path project = tmp / "project with space";
  fs::create_directories(project / "configs");
  std::ofstream(project / "configs" / "study.toml") << "# a study\n";
  Plan plan;
  plan.Add({.stage = "ok", .name = "a", .config_toml = "x = 1\n"});
  plan.Add({.stage = "ok", .name = "b", .config_toml = "x = 2\n", .deps = {"a"}});
  const fs::path cwd = fs::current_path();
  fs::current_path(project);  // emit from the project root, with the study's paths relative to it
  const fs::path submit =
      EmitSlurm(plan, "runs/s", binary, "configs/study.toml", {"study.name=it's"}, 1);
  fs::current_path(cwd);
  EXPECT_TRUE(submit.is_absolute());

  // submit.sh is run from elsewhere, as a user would: `bash runs/s/slurm/submit.sh` from anywhere.
  const std::string path = (tmp / "bin").string() + ":" + std::getenv("PATH");
  const ProcessResult r = RunProcess({.argv = {"bash", submit.string()},
                                      .cwd = tmp,
                                      .env = {"PATH=" + path, "OMP_NUM_THREADS=7"}});
  ASSERT_TRUE(r.status.ok()) << r.status.Describe() << ": " << r.output
                             << ReadFile(project / "runs/s/slurm/array.out");
  const std::string calls = ReadFile(tmp / "calls.txt");
  const std::string config = (project / "configs" / "study.toml").string();
  const std::string head =
      project.string() + "|1|study --config " + config + " --set study.name=it's";
  EXPECT_EQ(calls, head + " --only a\n" + head + " --only b\n" + head + "\n") << calls;
  fs::remove_all(tmp);
}

}  // namespace
}  // namespace ot
