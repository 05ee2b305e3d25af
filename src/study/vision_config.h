// The vision study's config (`overtrain vision-study`, docs/science.md §9): which datasets, model
// sizes and pre-training objectives, the ladder in images seen, the perturbation grid and the
// fine-tuning grid. Entry points: VisionStudyConfig, VisionStudySchema, LoadVisionStudyConfig.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/config.h"
#include "data/vision_augment.h"
#include "optim/optim_config.h"

namespace ot {

struct VisionStudyConfig {
  struct Study {
    std::string name = "vision";
    std::vector<int64_t> seeds{1, 2, 3};  // pre-training seeds: init and data order
    int jobs = 0;                         // work units at a time (one thread each); 0 = all cores
  } study;
  struct Data {
    std::string cache;                     // "" = $OVERTRAIN_CACHE or ~/.cache/overtrain
    std::string source = "fashion-mnist";  // pre-training set
    std::string downstream = "mnist";      // fine-tuning set (a new head)
    Size eval_images{2000};                // test images per evaluation (the first n)
    Size probe_images{5000};               // training images a linear probe is fit on
  } data;
  struct Model {
    std::vector<std::string> sizes{"vit-pico"};  // ViT presets, one ladder each
  } model;
  struct Pretrain {
    std::vector<std::string> objectives{"supervised"};  // supervised | siglip, one ladder each
    std::vector<Size> budgets;                          // images seen, ascending
    int batch = 64;
    data::AugmentParams augment{.pad = 2, .flip = true, .rotate_deg = 10, .scale = 0.1};
    OptimConfig optim;
  } pretrain;
  struct Perturb {
    std::vector<double> gammas{0.5, 1, 2};
    int draws = 4;
  } perturb;
  struct Finetune {
    std::vector<double> lrs{1e-3, 3e-3};
    std::vector<int64_t> seeds{1, 2};  // fine-tuning data order and head init
    Size images{20000};                // images seen per fine-tuning run
    int batch = 32;
    data::AugmentParams augment{.pad = 2, .flip = true};
    OptimConfig optim;  // its lr is the grid's
  } finetune;
};

const ConfigSchema<VisionStudyConfig>& VisionStudySchema();

// Loads `path` (empty: the defaults) with `--set` overrides; throws Error naming the key.
VisionStudyConfig LoadVisionStudyConfig(const std::string& path,
                                        const std::vector<std::string>& overrides);

}  // namespace ot
