// `overtrain vision-study` (docs/science.md §9): the catastrophic-overtraining question for vision
// transformers at laptop scale. For every objective (supervised, siglip) × ViT size × seed ×
// budget of images seen: pre-train a ViT on the source set (one run per budget, its own schedule;
// a checkpoint directory), then measure the checkpoint (its pre-training objective, the same
// under backbone noise per γ and draw, a linear probe on the downstream set, and fine-tuning on
// the downstream set with a new head at every LR × fine-tuning seed, scoring ID and retention).
// Work units run side by side, one thread each; a unit whose checkpoint or measurement file is
// complete is skipped, so an interrupted study resumes where it stopped. The rows go to results/ in
// the text study's formats (docs/formats.md; budgets in images, study.json "unit": "images"), and
// the ordinary report, claims table and variant comparison read them. Entry points:
// VisionStudyOptions, VisionStudyMain.
#pragma once

#include <string>
#include <vector>

namespace ot {

struct VisionStudyOptions {
  std::string config_path;
  std::vector<std::string> overrides;
  std::string out;  // "" = runs/<config stem>
  bool dry_run = false, print_config = false;
  int jobs = -1;  // -1 = study.jobs
};

int VisionStudyMain(const VisionStudyOptions& options);

}  // namespace ot
