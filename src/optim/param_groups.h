// Which tensors get weight decay, chosen by ParamGroup name (default: embed, attn, mlp, head — norm
// gains are not decayed). Entry points: DefaultDecayGroups, DecaySegmentsFor.
#pragma once

#include <string>
#include <vector>

#include "model/layout.h"
#include "optim/optimizer.h"

namespace ot {

std::vector<std::string> DefaultDecayGroups();  // {"embed", "attn", "mlp", "head"}

// One segment per tensor of `layout`, decay on iff the tensor's group is in `decay_groups`. Throws
// Error naming `what` (the config key) on a name that is not a group.
std::vector<DecaySegment> DecaySegmentsFor(const ParamLayout& layout,
                                           const std::vector<std::string>& decay_groups,
                                           const std::string& what = "optim.decay_groups");

}  // namespace ot
