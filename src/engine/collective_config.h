// How the processes of one data-parallel run find each other: torchrun's variables (RANK,
// WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT) or those srun sets for each task of a job step
// (SLURM_PROCID, SLURM_STEP_NUM_TASKS, SLURM_LOCALID, the first host of SLURM_JOB_NODELIST; a batch
// script's SLURM_NTASKS alone is not a launch), rendezvous through c10d's TCPStore, or a
// FileStore on a shared directory (OVERTRAIN_STORE). Neither set: one process. Entry points:
// Rendezvous, RendezvousFromEnvironment.
#pragma once

#include <functional>
#include <string>

namespace ot {

struct Rendezvous {
  int rank = 0, world_size = 1, local_rank = 0;
  std::string master_addr;  // TCPStore host (rank 0 serves it)
  int master_port = 0;
  std::string store_path;  // FileStore file on a shared filesystem; used instead of TCP when set
  std::string source;      // "torchrun", "slurm" or "" (one process)
  double timeout_s = 120;  // a rank that does not answer within this fails the others
  bool distributed() const { return world_size > 1; }
};

// Reads the environment through `getenv` (std::getenv by default; tests pass a map). torchrun's
// variables win over Slurm's; a malformed or inconsistent value (RANK >= WORLD_SIZE, a port out of
// range) throws Error naming the variable. SLURM_JOB_NODELIST's first host is expanded from Slurm's
// compressed form ("node[01-04,07]" -> "node01"). OVERTRAIN_DIST_TIMEOUT sets timeout_s.
Rendezvous RendezvousFromEnvironment(
    const std::function<const char*(const char*)>& getenv = nullptr);

// The first host of a Slurm node list: "a,b" -> "a", "gpu[3-5,9]" -> "gpu3", "n[08-12]x" -> "n08x".
std::string FirstSlurmHost(const std::string& nodelist);

}  // namespace ot
