// Memory planning before allocation (docs/reliability.md case 34): what a stage will hold at once,
// its parameter-sized arenas and its decoders' activations, computed in int64 from the config alone
// and compared with the memory available now, so that an oversized config fails in milliseconds
// with the key to blame instead of after minutes of allocation. Entry points: MemoryPlan,
// PlannedBytes, MemoryPlanProblem, CheckMemoryPlan, AvailableMemoryBytes.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "model/config.h"

namespace ot {

// One Decoder the stage builds: its (max batch, max sequence) and the config keys that set them.
struct DecoderPlan {
  int batch = 1, seq = 1;
  std::string batch_key, seq_key;  // e.g. "train.batch_size", "train.seq_len"
  // DecoderNumerics::bf16_matmul the stage will set: adds the decoder's bf16 weight copy.
  bool bf16_matmul = false;
};

struct MemoryPlan {
  int arenas = 0;  // float arenas of the parameter layout's size held at once
  std::string
      arenas_what;  // what they are, for the message: "parameters, gradients, AdamW m and v"
  std::vector<DecoderPlan> decoders;
};

// Bytes the plan holds: arenas × NumParams × 4 plus each decoder's PlannedActivationBytes at
// `threads`.
int64_t PlannedBytes(const ModelConfig& model, const MemoryPlan& plan, int threads);

// "" when the plan fits in `available_bytes`, else one sentence starting with `what`: the planned
// and available sizes, the breakdown, and the keys of the largest part. Also refuses a decoder
// whose batch × seq rows exceed 2^31 - 1 (the kernels index rows with int).
std::string MemoryPlanProblem(const ModelConfig& model, const MemoryPlan& plan,
                              int64_t available_bytes, int threads, const std::string& what);

// MemoryPlanProblem against AvailableMemoryBytes() and omp_get_max_threads(); throws Error.
void CheckMemoryPlan(const ModelConfig& model, const MemoryPlan& plan, const std::string& what);

// Memory a new allocation can get now: /proc/meminfo MemAvailable (else sysconf _SC_AVPHYS_PAGES),
// capped by the cgroup v2 limit minus its current usage when one is set (containers, Slurm jobs).
int64_t AvailableMemoryBytes();

}  // namespace ot
