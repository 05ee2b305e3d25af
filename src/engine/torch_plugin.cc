// Finding and loading libovertrain_torch.so (see torch_plugin.h).
#include "engine/torch_plugin.h"

#include <dlfcn.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <mutex>

#include "core/check.h"

namespace ot {
namespace {

std::filesystem::path PluginPath() {
  if (const char* env = std::getenv("OVERTRAIN_TORCH_PLUGIN"); env != nullptr && *env != '\0')
    return env;
  std::error_code ec;
  const std::filesystem::path exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  return (ec ? std::filesystem::path(".") : exe.parent_path()) / kTorchPluginFile;
}

struct Loaded {
  const TorchPluginApi* api = nullptr;
  std::string problem;  // why it could not be loaded
};

const Loaded& Load() {
  static Loaded loaded;
  static std::once_flag once;
  std::call_once(once, [] {
    const std::filesystem::path path = PluginPath();
    if (!std::filesystem::exists(path)) {
      loaded.problem = "this build has no LibTorch plugin (" + path.string() +
                       " is missing); install LibTorch and build it: `bash scripts/setup.sh test` "
                       "(Debian's libtorch-dev), or point CMake at a LibTorch with "
                       "-DCMAKE_PREFIX_PATH and build the target overtrain_torch";
      return;
    }
    // RTLD_DEEPBIND: LibTorch's libprotobuf must bind to its own symbols, not to the protobuf-lite
    // copy that libsentencepiece (linked into the binary) exports; without it, loading crashes.
    void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL | RTLD_DEEPBIND);
    if (handle == nullptr) {
      loaded.problem = path.string() + " does not load (" + dlerror() +
                       "); rebuild it against the LibTorch on this machine";
      return;
    }
    using Entry = const TorchPluginApi* (*)();
    auto entry = reinterpret_cast<Entry>(dlsym(handle, kTorchPluginSymbol));
    const TorchPluginApi* api = entry != nullptr ? entry() : nullptr;
    if (api == nullptr || api->version != kTorchPluginVersion) {
      loaded.problem = path.string() + " is from another version of overtrain (plugin version " +
                       std::to_string(api ? api->version : -1) + ", expected " +
                       std::to_string(kTorchPluginVersion) +
                       "); rebuild the target overtrain_torch";
      return;
    }
    loaded.api = api;
  });
  return loaded;
}

}  // namespace

const TorchPluginApi& TorchPlugin(const std::string& who) {
  const Loaded& l = Load();
  if (l.api == nullptr) throw Error(who + ": " + l.problem);
  return *l.api;
}

bool TorchPluginAvailable() { return Load().api != nullptr; }

}  // namespace ot
