// libFuzzer target over the declared-field TOML loader (core/config.h) with the two schemas users
// write most: the pretrain config and the study config. Any file must either load into a config
// that passes its own validation, or throw ot::Error; the same bytes are also tried as one `--set
// key=value` override. The bytes go through a scratch file because LoadConfig reads a path
// (toml::parse_file).
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "core/check.h"
#include "fuzz_util.h"
#include "study/study_config.h"
#include "train/pretrain_config.h"

namespace {

// A loaded config must print to TOML that loads back to the same printout (the --print-config
// contract).
template <typename S, typename Load>
void CheckReload(const ot::ConfigSchema<S>& schema, const S& loaded, Load load) {
  const std::string printed = ot::PrintConfig(schema, loaded);
  const auto path = ot::fuzz::ScratchDir() / "printed.toml";
  ot::fuzz::PutFile(path, reinterpret_cast<const uint8_t*>(printed.data()), printed.size());
  try {
    const S again = load(path.string(), std::vector<std::string>{});
    OT_CHECK(ot::PrintConfig(schema, again) == printed) << "printed config reloads differently:\n"
                                                        << printed;
  } catch (const ot::Error& e) {
    OT_CHECK(false) << "printed config does not reload: " << e.what() << "\n" << printed;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto path = ot::fuzz::ScratchDir() / "config.toml";
  ot::fuzz::PutFile(path, data, size);
  try {
    const ot::PretrainConfig c = ot::LoadPretrainConfig(path.string(), {});
    CheckReload(ot::PretrainSchema(), c, ot::LoadPretrainConfig);
  } catch (const ot::Error&) {
  }
  try {
    const ot::StudyConfig c = ot::LoadStudyConfig(path.string(), {});
    CheckReload(ot::StudySchema(), c, ot::LoadStudyConfig);
  } catch (const ot::Error&) {
  }
  if (size <= 4096) {
    const std::string assignment(reinterpret_cast<const char*>(data), size);
    try {
      (void)ot::LoadPretrainConfig("", {assignment});
    } catch (const ot::Error&) {
    }
  }
  return 0;
}
