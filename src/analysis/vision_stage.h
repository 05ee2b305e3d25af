// The vision study's measurements of one pre-trained ViT checkpoint (docs/science.md §9): its loss
// on the pre-training objective, the same under Gaussian noise on the backbone, a linear probe on
// the downstream set, and fine-tuning on the downstream set with a new head, after which ID is the
// downstream test loss and OOD the retention of the pre-training task. Retention is measured as:
//   supervised: the original class head put back on the fine-tuned backbone, scored on the
//               pre-training test set (cross-entropy);
//   siglip:     a linear probe fit on the pre-trained backbone's features of the pre-training
//               set's training images (their labels were never used in pre-training), applied
//               to the fine-tuned backbone's features of its test images.
// Everything runs on the native backend, one thread per call (the study runs units side by side).
// Entry points: VisionEvalSet, MakeVisionEvalSet, ScoreObjective, ImageFeatures,
// DownstreamModel, TransplantBackbone, FinetuneVision, RetentionProbe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "analysis/linear_probe.h"
#include "data/idx.h"
#include "data/vision_augment.h"
#include "engine/backend.h"
#include "model/config.h"
#include "optim/optim_config.h"

namespace ot {

// The first n images of a split, normalised with `norm` and not augmented (view a); with `views`,
// also a second augmented view of each (and view a augmented too), drawn at key `key`, for the
// SigLIP objective.
struct VisionEvalSet {
  std::string name;
  int64_t n = 0;
  int pixels = 0;
  std::vector<float> a, b;  // (n, pixels); b empty without views
  std::vector<int32_t> labels;
};
VisionEvalSet MakeVisionEvalSet(const data::VisionDataset& d, int64_t n,
                                const data::PixelNorm& norm,
                                const data::AugmentParams* views = nullptr, uint64_t key = 0);

struct ObjectiveScore {
  double loss = 0;
  std::optional<double> accuracy;  // supervised only
};
// The pre-training objective of the model in `backend` on `set`, in chunks of `batch`: supervised
// is the mean cross-entropy (and accuracy) over the images; siglip the mean over chunks of the
// SigLIP loss of `batch` pairs (a partial last chunk is dropped: the loss depends on the chunk's
// size), so n must hold one chunk.
ObjectiveScore ScoreObjective(Backend& backend, const std::string& objective,
                              const VisionEvalSet& set, int batch);

// The pooled features (n, d_model) of view a, in chunks of `batch`.
std::vector<float> ImageFeatures(Backend& backend, const VisionEvalSet& set, int batch);

// `base` with head = classes over `classes` (the downstream classifier of the same backbone).
ModelConfig DownstreamModel(const ModelConfig& base, int classes);

// `to_params` with every backbone tensor (not head.*, not siglip.*) copied from `from_params` by
// name; both models must share the backbone.
void TransplantBackbone(const ModelConfig& from, const std::vector<float>& from_params,
                        const ModelConfig& to, std::vector<float>& to_params);

struct VisionFinetuneOptions {
  OptimConfig optim;  // optim.lr is the run's peak
  int batch = 32;
  int64_t images = 0;
  uint64_t seed = 0;  // the new head's init and the data order
  data::AugmentParams augment;
  data::PixelNorm norm;
};
// Fine-tunes the backbone of (`base_model`, `base`) with a new head (InitParams(seed) of the
// downstream model's head) on `train`; returns the downstream model's parameters. Throws Error
// ("lower finetune.lrs") on a non-finite step.
std::vector<float> FinetuneVision(const ModelConfig& base_model, const std::vector<float>& base,
                                  const data::VisionDataset& train, const VisionFinetuneOptions& o);

}  // namespace ot
