// The arms comparison's findings (docs/science.md §8): what moves the inflection. Per arm, T* of
// the perturbed loss at each γ and of the OOD loss at the tuned LR, each with its bootstrap
// interval and its ratio to the reference arm's (the first in study.arms), whose interval pairs the
// two ladders' independent bootstrap replicates one by one; and a pointer to the claims table.
// Entry point: ArmsSection.
#pragma once

#include <string>
#include <vector>

#include "report/document.h"
#include "report/law_section.h"

namespace ot {

void ArmsSection(Document& doc, const std::vector<LadderTStars>& arms);

}  // namespace ot
