// Data parallelism's glue above the Collective: joining the process group the environment
// describes (torchrun or Slurm, engine/collective_config.h) through the LibTorch plugin's c10d,
// the rank's slice of a global batch, and agreement checks between ranks (the same checkpoint
// chosen, the same weights after every step: a hash compared across ranks). Entry points:
// JoinDataParallel, TimedCollective, RankRows, EnsureSameOnEveryRank, ParamsHash.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "engine/backend.h"
#include "engine/collective_config.h"

namespace ot {

// The process group of this run when the environment launches several processes (WORLD_SIZE or
// SLURM_NTASKS > 1), else nullptr (one process, exactly as without a launcher). `who` names the
// stage in errors; throws Error when the plugin is missing or the rendezvous fails.
std::unique_ptr<Collective> JoinDataParallel(const ComputeConfig& compute, const std::string& who);

// A Collective that forwards to another and counts the wall time spent in it and the bytes it
// reduced: the all-reduce column of the data-parallel scaling table (pretrain's summary line).
class TimedCollective final : public Collective {
 public:
  explicit TimedCollective(Collective& inner) : inner_(inner) {}
  int rank() const override { return inner_.rank(); }
  int world_size() const override { return inner_.world_size(); }
  void AllReduceSum(std::span<float> data) override;
  void AllReduceSum(std::span<double> data) override;
  void Broadcast(std::span<float> data, int root) override;
  void Barrier() override { inner_.Barrier(); }
  double seconds() const { return seconds_; }
  int64_t reduced_bytes() const { return reduced_bytes_; }

 private:
  Collective& inner_;
  double seconds_ = 0;
  int64_t reduced_bytes_ = 0;
};

// The rows of a global batch of `global_batch` rows that rank `rank` of `world` trains on:
// [rank·b, (rank+1)·b) with b = global_batch / world. Throws Error naming `batch_key` when world
// does not divide global_batch.
struct RowRange {
  int first = 0, count = 0;
};
RowRange RankRows(int global_batch, int rank, int world, const std::string& batch_key);

// Throws Error on every rank unless all ranks hold the same `value` (exact: 16-bit chunks summed
// in double); `what` says what was compared ("the checkpoint to resume from", "the weights after
// step 40").
void EnsureSameOnEveryRank(Collective& collective, uint64_t value, const std::string& what);

// Evaluation, perturbation and diagnostics run in one process (their work is cheap next to training
// and splitting windows or draws would change no result): throws Error when launched with several.
void RequireOneProcess(const std::string& who);

// xxh3 of the backend's parameters (host copy): equal on every rank after every step.
uint64_t ParamsHash(Backend& backend);

}  // namespace ot
