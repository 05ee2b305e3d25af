// Decay segments from the layout's groups (see param_groups.h).
#include "optim/param_groups.h"

#include <algorithm>

#include "core/check.h"

namespace ot {

std::vector<std::string> DefaultDecayGroups() { return {"embed", "attn", "mlp", "head"}; }

std::vector<DecaySegment> DecaySegmentsFor(const ParamLayout& layout,
                                           const std::vector<std::string>& decay_groups,
                                           const std::string& what) {
  for (const auto& g : decay_groups) {
    const bool known = std::any_of(std::begin(kAllParamGroups), std::end(kAllParamGroups),
                                   [&](ParamGroup p) { return g == GroupName(p); });
    if (!known)
      throw Error(what + ": '" + g +
                  "' is not a parameter group; expected embed, attn, mlp, norm, head or bias");
  }
  std::vector<DecaySegment> segments;
  ForEachTensor(layout, [&](const TensorInfo& t) {
    const bool decay = std::find(decay_groups.begin(), decay_groups.end(), GroupName(t.group)) !=
                       decay_groups.end();
    segments.push_back({t.offset, t.size, decay});
  });
  return segments;
}

}  // namespace ot
