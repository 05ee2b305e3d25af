// The vision pre-training batcher: a budget of images seen, cut into batches of B augmented images
// from a stream of per-epoch Philox permutations, resumable at any step. Entry points:
// VisionBatchOptions, VisionBatcher (Next, NextViews, Batch, BatchViews, SetStep, Epochs).
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "data/idx.h"
#include "data/vision_augment.h"

namespace ot::data {

struct VisionBatchOptions {
  int64_t batch = 0;          // B images per batch
  int64_t budget_images = 0;  // images seen over the run; steps = floor(budget / B)
  uint64_t seed = 0;
  AugmentParams augment;  // all off: the images as they are, normalised
  PixelNorm norm;         // PixelStats of the train split
};

// The stream: sample s (s = 0, 1, ...) is image perm_e[s mod n] of epoch e = floor(s / n), where n
// is the dataset's size and perm_e is a Fisher-Yates shuffle of 0..n-1 drawn with
// UniformAt(RngKey(seed, "vision/order", e), i) for i = n-1 down to 1. Batch k holds samples
// k*B .. k*B+B-1, so a batch may straddle two epochs and no image is dropped: every image is seen
// exactly once per epoch, and Epochs() = images seen / n exactly. The image of sample s is
// augmented with AugmentImage(augment, seed, image, 2e) (the single view equals view a of
// AugmentViews at counter e), so an image gets new draws each epoch and the same draws on a resumed
// run.
class VisionBatcher {
 public:
  // Starts at step `start_step` (0 <= start_step <= steps()); batch k is the same as that of a
  // batcher that started at 0 and ran k steps. Throws Error for B <= 0, an empty dataset, a
  // budget below one batch, augmentation out of range (ValidateAugment) or a std that is not > 0.
  // `d` is held by reference (60,000 images are 47 MB): it must outlive the batcher.
  VisionBatcher(const VisionDataset& d, const VisionBatchOptions& o, int64_t start_step = 0);

  // Fill the batch at the current step (pixels (B, rows*cols), labels (B)) and advance; false, with
  // nothing written, once steps() batches have been given.
  bool Next(std::span<float> pixels, std::span<int32_t> labels);
  // Two augmented views of each image (SigLIP), labels alongside.
  bool NextViews(std::span<float> view_a, std::span<float> view_b, std::span<int32_t> labels);

  // Batch `step` at any position: a pure function of (dataset, options, step).
  void Batch(int64_t step, std::span<float> pixels, std::span<int32_t> labels) const;
  void BatchViews(int64_t step, std::span<float> view_a, std::span<float> view_b,
                  std::span<int32_t> labels) const;
  // The image indices of batch `step` (B of them), in batch order.
  std::vector<uint32_t> BatchImages(int64_t step) const;

  int64_t step() const { return step_; }
  void SetStep(int64_t step);  // throws Error outside 0..steps()
  int64_t steps() const { return steps_; }
  int64_t batch() const { return batch_; }  // B images per batch
  int64_t images_seen() const { return step_ * batch_; }
  // Epochs of source images: images seen so far / images in the dataset (a fraction).
  double Epochs() const;
  // The same at the end of the budget: steps() * B / n.
  double BudgetEpochs() const;
  int64_t pixels_per_image() const { return static_cast<int64_t>(d_.rows) * d_.cols; }

 private:
  const std::vector<uint32_t>& Order(int64_t epoch) const;

  const VisionDataset& d_;
  VisionBatchOptions o_;
  int64_t batch_, n_, steps_, step_ = 0;
  // The two most recent epochs' permutations: a batch touches at most two consecutive epochs when
  // B <= n, and the permutation is regenerated otherwise.
  mutable int64_t cached_epoch_[2] = {-1, -1};
  mutable std::vector<uint32_t> order_[2];
};

}  // namespace ot::data
