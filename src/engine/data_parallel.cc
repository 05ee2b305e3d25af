// Joining, slicing and agreeing across ranks (see data_parallel.h).
#include "engine/data_parallel.h"

#include <fmt/format.h>

#include <chrono>
#include <cstring>

#include "core/check.h"
#include "core/fileio.h"
#include "engine/torch_plugin.h"

namespace ot {

std::unique_ptr<Collective> JoinDataParallel(const ComputeConfig& compute, const std::string& who) {
  const Rendezvous r = RendezvousFromEnvironment();
  if (!r.distributed()) return nullptr;
  const TorchPluginApi& plugin = TorchPlugin(
      fmt::format("{} in a {}-process data-parallel run ({})", who, r.world_size, r.source));
  return plugin.make_collective(r, compute);
}

namespace {

// Runs `call` and adds its wall time to `seconds`.
template <typename Call>
void AddTimeOf(double& seconds, Call&& call) {
  const auto start = std::chrono::steady_clock::now();
  call();
  seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

void TimedCollective::AllReduceSum(std::span<float> data) {
  AddTimeOf(seconds_, [&] { inner_.AllReduceSum(data); });
  reduced_bytes_ += static_cast<int64_t>(data.size_bytes());
}

void TimedCollective::AllReduceSum(std::span<double> data) {
  AddTimeOf(seconds_, [&] { inner_.AllReduceSum(data); });
  reduced_bytes_ += static_cast<int64_t>(data.size_bytes());
}

void TimedCollective::Broadcast(std::span<float> data, int root) {
  AddTimeOf(seconds_, [&] { inner_.Broadcast(data, root); });
}

RowRange RankRows(int global_batch, int rank, int world, const std::string& batch_key) {
  if (world < 1 || global_batch % world != 0)
    throw Error(
        fmt::format("{} = {} is not divisible by the {} processes of this data-parallel run; "
                    "use a multiple of {} (the global batch is split evenly across ranks)",
                    batch_key, global_batch, world, world));
  const int b = global_batch / world;
  return {rank * b, b};
}

void EnsureSameOnEveryRank(Collective& collective, uint64_t value, const std::string& what) {
  // Each 16-bit chunk c and c²: the sums over ranks equal W·c and W·c² on every rank iff every rank
  // holds the same c (Σ(c_k − c)² = 0), and they stay below 2^53 for up to 2^20 ranks: exact.
  double sums[8];
  for (int i = 0; i < 4; ++i) {
    const double c = static_cast<double>((value >> (16 * i)) & 0xffff);
    sums[2 * i] = c;
    sums[2 * i + 1] = c * c;
  }
  collective.AllReduceSum(std::span<double>(sums, 8));
  const double w = collective.world_size();
  for (int i = 0; i < 4; ++i) {
    const double c = static_cast<double>((value >> (16 * i)) & 0xffff);
    if (sums[2 * i] != w * c || sums[2 * i + 1] != w * c * c)
      throw Error(
          fmt::format("data parallel: the ranks disagree on {} (rank {} holds {:016x}); "
                      "stopping",
                      what, collective.rank(), value));
  }
}

void RequireOneProcess(const std::string& who) {
  const Rendezvous r = RendezvousFromEnvironment();
  if (r.distributed())
    throw Error(
        fmt::format("{} runs in one process, but {} launched {} (WORLD_SIZE / srun tasks); "
                    "run it without the launcher (pre-training and fine-tuning are the "
                    "data-parallel stages)",
                    who, r.source, r.world_size));
}

uint64_t ParamsHash(Backend& backend) {
  const std::vector<float> params = HostParams(backend);
  return Xxh3(std::as_bytes(std::span<const float>(params)));
}

}  // namespace ot
