// Checkpoint-vs-model checks (see model_check.h).
#include "train/model_check.h"

#include <fmt/format.h>

#include <cmath>
#include <map>

#include "core/check.h"
#include "core/listing.h"
#include "core/safetensors.h"
#include "train/checkpoint.h"

namespace ot {

std::vector<std::string> LayoutMismatches(const ParamLayout& layout,
                                          std::span<const TensorHeader> tensors) {
  std::map<std::string, const TensorHeader*> by_name;
  for (const auto& t : tensors) by_name[t.name] = &t;
  TensorMismatches m;
  for (const auto& t : layout.tensors()) {
    auto it = by_name.find(t.name);
    if (it == by_name.end()) {
      m.missing.push_back("'" + t.name + "'");
      continue;
    }
    if (it->second->dtype != "F32")
      m.dtypes.push_back(fmt::format("'{}' is {}", t.name, it->second->dtype));
    if (it->second->shape != t.shape)
      m.shapes.push_back(fmt::format("'{}' is {}, expected {}", t.name,
                                     BracketedShape(it->second->shape), BracketedShape(t.shape)));
  }
  for (const auto& t : tensors)
    if (layout.Find(t.name) == nullptr) m.unexpected.push_back("'" + t.name + "'");
  return m.Sentences("F32");
}

void CheckCheckpointLayout(const std::filesystem::path& dir, const ParamLayout& layout,
                           const std::string& model_source) {
  const std::filesystem::path path = dir / kModelFile;
  // A damaged checkpoint explains any header problem better than the problem itself does.
  auto throw_damage_if_any = [&] {
    const std::vector<std::string> damage = VerifyCheckpoint(dir);
    if (damage.empty()) return;
    std::string all;
    for (const auto& d : damage) all += (all.empty() ? "" : "; ") + d;
    throw Error(all);
  };
  std::vector<TensorHeader> headers;
  try {
    const SafetensorsFile file = SafetensorsFile::Open(path);
    for (const TensorView& t : file.tensors())
      headers.push_back({t.name, std::string(DTypeName(t.dtype)), t.shape});
  } catch (const Error&) {
    throw_damage_if_any();
    throw;
  }
  const std::vector<std::string> problems = LayoutMismatches(layout, headers);
  if (problems.empty()) return;
  // Not VerifyCheckpoint here: it now reports this same disagreement (config.json vs tensors) one
  // sentence per tensor; this message groups it by kind and caps each list. Byte damage in a header
  // that still parses surfaces as a mismatch naming the file, or at LoadCheckpoint's hash check.
  std::string all;
  for (const auto& p : problems) all += (all.empty() ? "" : "; ") + p;
  throw Error(fmt::format("{}: the model shape changed: its tensors do not match {}: {}",
                          path.string(), model_source, all));
}

std::string NonFiniteTensors(const ParamLayout& layout, std::span<const float> arena,
                             const std::string& prefix) {
  OT_CHECK(static_cast<int64_t>(arena.size()) == layout.total()) << "arena size " << arena.size();
  std::vector<std::string> bad;
  for (const auto& t : layout.tensors()) {
    int64_t count = 0;
    for (float v : arena.subspan(t.offset, t.size)) count += !std::isfinite(v);
    if (count > 0)
      bad.push_back(fmt::format("'{}{}' ({} of {} values)", prefix, t.name, count, t.size));
  }
  if (bad.empty()) return "";
  return ListedNames("tensor holds NaN or Inf", "tensors hold NaN or Inf", bad);
}

}  // namespace ot
