// Reading torchrun's and Slurm's rendezvous variables (see collective_config.h).
#include "engine/collective_config.h"

#include <fmt/format.h>

#include <cstdlib>

#include "core/check.h"

namespace ot {
namespace {

// A non-negative integer environment variable in [lo, hi]; throws naming it otherwise.
int IntVar(const char* name, const char* text, int lo, int hi) {
  char* end = nullptr;
  errno = 0;
  const long v = std::strtol(text, &end, 10);
  if (*text == '\0' || *end != '\0' || errno != 0 || v < lo || v > hi)
    throw Error(fmt::format("environment variable {} = '{}': expected an integer in [{}, {}]", name,
                            text, lo, hi));
  return static_cast<int>(v);
}

}  // namespace

std::string FirstSlurmHost(const std::string& nodelist) {
  // The first entry ends at the first comma outside brackets.
  std::string first;
  int depth = 0;
  for (char c : nodelist) {
    if (c == ',' && depth == 0) break;
    depth += c == '[' ? 1 : c == ']' ? -1 : 0;
    first += c;
  }
  const size_t open = first.find('[');
  if (open == std::string::npos) return first;
  const size_t close = first.find(']', open);
  if (close == std::string::npos)
    throw Error("environment variable SLURM_JOB_NODELIST = '" + nodelist + "': unbalanced '['");
  std::string range = first.substr(open + 1, close - open - 1);
  range = range.substr(0, range.find(','));  // first element of the bracket list
  range = range.substr(0, range.find('-'));  // first number of a range, zero padding kept
  return first.substr(0, open) + range + first.substr(close + 1);
}

Rendezvous RendezvousFromEnvironment(const std::function<const char*(const char*)>& getenv_fn) {
  const auto get = [&](const char* name) -> const char* {
    const char* v = getenv_fn ? getenv_fn(name) : std::getenv(name);
    return v != nullptr && *v != '\0' ? v : nullptr;
  };
  constexpr int kMaxRanks = 1 << 20;
  Rendezvous r;
  if (const char* t = get("OVERTRAIN_DIST_TIMEOUT"))
    r.timeout_s = IntVar("OVERTRAIN_DIST_TIMEOUT", t, 1, 24 * 3600);
  if (const char* store = get("OVERTRAIN_STORE")) r.store_path = store;
  if (const char* world = get("WORLD_SIZE")) {  // torchrun (and any launcher that sets its names)
    r.source = "torchrun";
    r.world_size = IntVar("WORLD_SIZE", world, 1, kMaxRanks);
    const char* rank = get("RANK");
    if (rank == nullptr) throw Error("environment variable WORLD_SIZE is set but RANK is not");
    r.rank = IntVar("RANK", rank, 0, r.world_size - 1);
    if (const char* local = get("LOCAL_RANK"))
      r.local_rank = IntVar("LOCAL_RANK", local, 0, kMaxRanks);
    if (const char* addr = get("MASTER_ADDR")) r.master_addr = addr;
    if (const char* port = get("MASTER_PORT"))
      r.master_port = IntVar("MASTER_PORT", port, 1, 65535);
  } else if (const char* ntasks = get("SLURM_STEP_NUM_TASKS")) {
    // srun's step variables only: a batch script also carries SLURM_NTASKS and SLURM_PROCID = 0
    // for the whole allocation, and a study run there must stay one process.
    r.source = "slurm";
    r.world_size = IntVar("SLURM_STEP_NUM_TASKS", ntasks, 1, kMaxRanks);
    const char* procid = get("SLURM_PROCID");
    if (procid == nullptr)
      throw Error("environment variable SLURM_STEP_NUM_TASKS is set but SLURM_PROCID is not");
    r.rank = IntVar("SLURM_PROCID", procid, 0, r.world_size - 1);
    if (const char* local = get("SLURM_LOCALID"))
      r.local_rank = IntVar("SLURM_LOCALID", local, 0, kMaxRanks);
    if (const char* addr = get("MASTER_ADDR"))
      r.master_addr = addr;
    else if (const char* nodes = get("SLURM_JOB_NODELIST"))
      r.master_addr = FirstSlurmHost(nodes);
    // A port every task of the job agrees on without talking: MASTER_PORT, else one derived from
    // the job id in the unprivileged range.
    if (const char* port = get("MASTER_PORT"))
      r.master_port = IntVar("MASTER_PORT", port, 1, 65535);
    else if (const char* job = get("SLURM_JOB_ID"))
      r.master_port = 20000 + IntVar("SLURM_JOB_ID", job, 0, 2147483647) % 20000;
  }
  if (r.world_size > 1 && r.store_path.empty() && (r.master_addr.empty() || r.master_port == 0))
    throw Error(
        fmt::format("a {}-process run ({}) needs MASTER_ADDR and MASTER_PORT for the TCP store, or "
                    "OVERTRAIN_STORE naming a file on a shared filesystem",
                    r.world_size, r.source));
  return r;
}

}  // namespace ot
