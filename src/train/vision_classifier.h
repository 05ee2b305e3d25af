// The smallest end-to-end ViT classifier: a fresh model trained on an idx dataset (data/idx.h)
// through the native backend's image path, then scored on a test split: a constant LR and
// file-order batches, no run directory (the vision study's stages are train/vision_pretrain.h and
// analysis/vision_stage.h). Entry points: TrainVisionClassifier, VisionClassifierResult.
#pragma once

#include <cstdint>

#include "data/idx.h"
#include "model/config.h"
#include "optim/optim_config.h"

namespace ot {

struct VisionClassifierResult {
  double test_loss = 0;      // mean cross-entropy over the test images (nats)
  double test_accuracy = 0;  // share of test images whose largest logit is their label
  double last_train_loss = 0;
  int64_t steps = 0;
};

// Trains a ViT of `config` (model.input = patches, head = classes, one channel matching the
// images' side) from InitParams(seed) for `steps` steps of `batch` images at the constant learning
// rate optim.lr, clipped at optim.clip, with optim's optimizer. Batches walk the training images in
// file order, wrapping around (the study uses the images-seen batcher instead). Throws Error
// in one sentence when the images or classes do not fit the model.
VisionClassifierResult TrainVisionClassifier(const ModelConfig& config,
                                             const data::VisionDataset& train,
                                             const data::VisionDataset& test, int64_t steps,
                                             int batch, uint64_t seed,
                                             const OptimConfig& optim = {});

}  // namespace ot
