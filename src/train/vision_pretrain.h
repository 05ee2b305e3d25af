// Pre-training a ViT to a budget of images seen (docs/science.md §9): one run per budget, as the
// paper's controlled runs, with the schedule of pretrain.optim fitted to the run's steps, batches
// from the images-seen batcher (data/vision_batches.h), and the objective `supervised` (the
// classes of the pre-training set, head = classes) or `siglip` (two augmented views per image,
// SigLIP's pairwise sigmoid loss, head = projection). The result is a checkpoint directory
// (train/checkpoint.h: model only; a budget's run is redone rather than resumed mid-way). Entry
// points: VisionPretrainOptions, PretrainVision, SaveVisionCheckpoint, LoadVisionParams.
#pragma once

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "data/idx.h"
#include "data/vision_augment.h"
#include "data/vision_batches.h"
#include "engine/backend.h"
#include "model/config.h"
#include "optim/optim_config.h"

namespace ot {

struct VisionPretrainOptions {
  ModelConfig model;  // input = patches; head = classes (supervised) or projection (siglip)
  OptimConfig optim;
  std::string objective = "supervised";  // supervised | siglip
  int batch = 64;                        // images (supervised) or pairs (siglip) per step
  int64_t budget_images = 0;             // images seen; steps = budget / batch
  uint64_t seed = 0;                     // init and data order
  data::AugmentParams augment;
  data::PixelNorm norm;
};

struct VisionPretrainResult {
  std::vector<float> params;  // layout order
  int64_t steps = 0, images = 0;
  double epochs = 0;     // images seen / training images
  double last_loss = 0;  // the final step's objective
  double mean_loss = 0;  // over the final 10% of steps
};

// Throws Error in one sentence unless `d`'s images (one channel, image_size per side) and classes
// fit `config`.
void CheckVisionFits(const ModelConfig& config, const data::VisionDataset& d);

// Every step of `batcher` on `backend` (planned with image_batch >= the batcher's B), at the
// schedule of `optim` fitted to the batcher's steps: TrainStepPairs on two views when `pairs`, else
// TrainStepImages. `progress` (may be null) gets one line per tenth of the run. Throws Error
// "<what>: step <s> had a non-finite loss (...) or gradient norm (...); lower <knob>". Returns the
// last step's loss and the mean over the final 10% of steps.
struct ImageStepsResult {
  double last_loss = 0, tail_loss = 0;
};
ImageStepsResult RunImageSteps(Backend& backend, data::VisionBatcher& batcher,
                               const OptimConfig& optim, bool pairs, const std::string& what,
                               const std::string& knob, std::FILE* progress = nullptr);

// Trains from InitParams(seed). `progress` (may be null) gets one line per tenth of the run. Throws
// Error in one sentence for a model that does not fit the images, an unknown objective, or a step
// with a non-finite loss or gradient ("lower pretrain.lr").
VisionPretrainResult PretrainVision(const VisionPretrainOptions& o,
                                    const data::VisionDataset& train,
                                    std::FILE* progress = nullptr);

// Writes `params` of `model` as a checkpoint directory (config.json's "overtrain" block, the model
// tensors, and `state` as state.json), atomically.
void SaveVisionCheckpoint(const std::filesystem::path& dir, const ModelConfig& model,
                          const std::vector<float>& params, const nlohmann::json& state);

// The parameters of a checkpoint SaveVisionCheckpoint wrote, in `model`'s layout (verified by the
// manifest; a missing or misshapen tensor is an Error naming the directory).
std::vector<float> LoadVisionParams(const std::filesystem::path& dir, const ModelConfig& model);

}  // namespace ot
