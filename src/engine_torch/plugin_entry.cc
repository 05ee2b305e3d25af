// The one symbol libovertrain_torch.so exports: its table (engine/torch_plugin.h).
#include <malloc.h>

#include "engine/torch_plugin.h"
#include "engine_torch/torch_backend.h"
#include "engine_torch/torch_collective.h"

namespace {

// LibTorch on the CPU allocates every intermediate with malloc and frees it within the step. glibc
// serves blocks above its mmap threshold (at most 32 MB by default) with fresh mmaps and returns
// freed heap tops to the kernel, so a tiny-preset step spent most of its time in page faults (the
// logits alone are 64 MB): 3.6k tok/s, 24.7k with freed memory kept (docs/performance.md). Keep it:
// the heap grows to the step's peak once and is reused, as PyTorch's own caching allocators do on
// GPUs. The native engine allocates its arenas once and is unaffected.
void KeepFreedMemoryForReuse() {
  mallopt(M_MMAP_THRESHOLD, 1 << 30);  // blocks below 1 GiB come from the heap
  mallopt(M_TRIM_THRESHOLD, -1);       // and the heap is never trimmed
}

}  // namespace

extern "C" __attribute__((visibility("default"))) const ot::TorchPluginApi*
overtrain_torch_plugin() {
  static const bool kept = (KeepFreedMemoryForReuse(), true);
  (void)kept;
  static const ot::TorchPluginApi api{.version = ot::kTorchPluginVersion,
                                      .describe = &ot::torch_engine::DescribePlugin,
                                      .make_backend = &ot::torch_engine::MakeTorchBackend,
                                      .make_collective = &ot::torch_engine::MakeCollective};
  return &api;
}
