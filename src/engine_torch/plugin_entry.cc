// The one symbol libovertrain_torch.so exports: its table (engine/torch_plugin.h).
#include "engine/torch_plugin.h"
#include "engine_torch/torch_backend.h"
#include "engine_torch/torch_collective.h"

extern "C" __attribute__((visibility("default"))) const ot::TorchPluginApi*
overtrain_torch_plugin() {
  static const ot::TorchPluginApi api{.version = ot::kTorchPluginVersion,
                                      .describe = &ot::torch_engine::DescribePlugin,
                                      .make_backend = &ot::torch_engine::MakeTorchBackend,
                                      .make_collective = &ot::torch_engine::MakeCollective};
  return &api;
}
