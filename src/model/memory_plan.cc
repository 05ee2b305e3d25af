// Planned memory vs available memory (see memory_plan.h).
#include "model/memory_plan.h"

#include <fmt/format.h>
#include <omp.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <sstream>

#include "core/check.h"
#include "model/decoder.h"

namespace ot {
namespace {

constexpr double kGiB = 1024.0 * 1024.0 * 1024.0;

std::string Gib(double bytes) { return fmt::format("{:.2f} GiB", bytes / kGiB); }

// The first integer on the line of /proc/meminfo that starts with `key`, in bytes (-1 when absent).
int64_t MeminfoBytes(const std::string& key) {
  std::ifstream in("/proc/meminfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(key, 0) != 0) continue;
    std::istringstream fields(line.substr(key.size()));
    int64_t kb = -1;
    fields >> kb;
    return kb >= 0 ? kb * 1024 : -1;
  }
  return -1;
}

// A number from a cgroup file ("max" or unreadable: -1).
int64_t CgroupNumber(const char* path) {
  std::ifstream in(path);
  std::string text;
  if (!(in >> text) || text == "max") return -1;
  try {
    return std::stoll(text);
  } catch (...) {
    return -1;
  }
}

}  // namespace

int64_t PlannedBytes(const ModelConfig& model, const MemoryPlan& plan, int threads) {
  int64_t bytes = int64_t{plan.arenas} * model.NumParams() * static_cast<int64_t>(sizeof(float));
  for (const auto& d : plan.decoders)
    bytes += Decoder::PlannedActivationBytes(model, d.batch, d.seq, threads,
                                             {.bf16_matmul = d.bf16_matmul});
  return bytes;
}

std::string MemoryPlanProblem(const ModelConfig& model, const MemoryPlan& plan,
                              int64_t available_bytes, int threads, const std::string& what) {
  // Sizes are int64 throughout; the bounds of ModelConfig and of the batch fields keep them far
  // below 2^63.
  for (const auto& d : plan.decoders) {
    const int64_t rows = int64_t{d.batch} * d.seq;
    if (rows > INT32_MAX)
      return fmt::format(
          "{}: {} = {} × {} = {} is {} rows, more than the 2^31 - 1 the kernels can index", what,
          d.batch_key, d.batch, d.seq_key, d.seq, rows);
  }
  const int64_t planned = PlannedBytes(model, plan, threads);
  if (planned <= available_bytes) return "";

  const double C = model.d_model, V = model.vocab_size, arenas = plan.arenas;
  const double embed = (model.tied_head ? 1 : 2) * V * C * arenas * sizeof(float);
  const double blocks = static_cast<double>(model.NumParams()) * arenas * sizeof(float) - embed;
  double activations = 0, largest_decoder = -1;
  const DecoderPlan* biggest = nullptr;
  for (const auto& d : plan.decoders) {
    const double a = static_cast<double>(Decoder::PlannedActivationBytes(
        model, d.batch, d.seq, threads, {.bf16_matmul = d.bf16_matmul}));
    activations += a;
    if (a > largest_decoder) largest_decoder = a, biggest = &d;
  }
  std::string largest;
  if (biggest && largest_decoder >= std::max(embed, blocks)) {
    largest = fmt::format("the activations ({} = {} × {} = {})", biggest->batch_key, biggest->batch,
                          biggest->seq_key, biggest->seq);
  } else if (embed >= blocks) {
    largest = fmt::format("the embedding{} (model.vocab_size = {} × model.d_model = {})",
                          model.tied_head ? "" : " and LM head", model.vocab_size, model.d_model);
  } else {
    largest = fmt::format("the decoder blocks (model.n_layers = {} × model.d_model = {}, F = {})",
                          model.n_layers, model.d_model, model.ff_dim());
  }
  return fmt::format(
      "{}: the model needs about {} but only {} of memory is available: {} parameters × {} arenas "
      "({}) = {}, "
      "activations {}; the largest part is {}",
      what, Gib(static_cast<double>(planned)), Gib(static_cast<double>(available_bytes)),
      model.NumParams(), plan.arenas, plan.arenas_what, Gib(embed + blocks), Gib(activations),
      largest);
}

void CheckMemoryPlan(const ModelConfig& model, const MemoryPlan& plan, const std::string& what) {
  const std::string problem =
      MemoryPlanProblem(model, plan, AvailableMemoryBytes(), omp_get_max_threads(), what);
  if (!problem.empty()) throw Error(problem);
}

int64_t AvailableMemoryBytes() {
  int64_t available = MeminfoBytes("MemAvailable:");
  if (available < 0) available = int64_t{::sysconf(_SC_AVPHYS_PAGES)} * ::sysconf(_SC_PAGESIZE);
  const int64_t limit = CgroupNumber("/sys/fs/cgroup/memory.max");
  if (limit >= 0) {
    const int64_t used = std::max<int64_t>(0, CgroupNumber("/sys/fs/cgroup/memory.current"));
    available = std::min(available, std::max<int64_t>(0, limit - used));
  }
  return available;
}

}  // namespace ot
