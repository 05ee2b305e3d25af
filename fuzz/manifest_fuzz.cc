// libFuzzer target over checkpoint manifest.json handling (train/checkpoint.h): the input replaces
// the manifest of a fixed, otherwise valid checkpoint (checkpoint_fixture.h) in a scratch
// directory, then VerifyCheckpoint, LoadCheckpoint and InspectCheckpoint run on it. Any manifest
// must yield problems or Error, never a crash; and a manifest that verifies clean must load and
// inspect as valid.
#include <cstddef>
#include <cstdint>
#include <sstream>
#include <string>
#include <vector>

#include "checkpoint_fixture.h"
#include "core/check.h"
#include "fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::filesystem::path dir = [] {
    const auto d = ot::fuzz::ScratchDir() / "tokens-64";
    ot::fuzz::SaveFixtureCheckpoint(d);
    return d;
  }();
  ot::fuzz::PutFile(dir / ot::kManifestFile, data, size);
  const std::vector<std::string> problems = ot::VerifyCheckpoint(dir);
  bool loaded = false;
  try {
    const ot::LoadedCheckpoint ckpt = ot::LoadCheckpoint(dir);
    OT_CHECK(ckpt.model.size() == 2 && ckpt.optimizer.size() == 1) << "fixture tensors lost";
    loaded = true;
  } catch (const ot::Error&) {
  }
  OT_CHECK(!problems.empty() || loaded) << "verified clean but failed to load";
  std::ostringstream out;
  try {
    OT_CHECK(ot::InspectCheckpoint(dir, out) == problems.empty())
        << "inspect disagrees with verify";
  } catch (const ot::Error&) {
    OT_CHECK(!problems.empty()) << "verified clean but inspect threw";
  }
  return 0;
}
