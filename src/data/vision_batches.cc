// VisionBatcher: the sample stream of per-epoch permutations, cut into batches of augmented images.
#include "data/vision_batches.h"

#include <algorithm>
#include <string>

#include "core/check.h"
#include "core/rng.h"

namespace ot::data {

VisionBatcher::VisionBatcher(const VisionDataset& d, const VisionBatchOptions& o,
                             int64_t start_step)
    : d_(d), o_(o), batch_(o.batch), n_(static_cast<int64_t>(d.size())) {
  if (batch_ <= 0) throw Error(d.name + ": vision batch size must be > 0");
  if (n_ == 0) throw Error(d.name + ": no images to batch");
  OT_CHECK(d.images.size() == static_cast<size_t>(n_) * d.rows * d.cols)
      << d.name << ": " << d.images.size() << " pixels for " << n_ << " images";
  if (o.budget_images < batch_)
    throw Error(d.name + ": a budget of " + std::to_string(o.budget_images) +
                " images seen is less than one batch of " + std::to_string(batch_));
  ValidateAugment(o.augment);
  if (!(o.norm.std > 0.0f)) throw Error(d.name + ": vision normalisation std must be > 0");
  steps_ = o.budget_images / batch_;
  SetStep(start_step);
}

void VisionBatcher::SetStep(int64_t step) {
  if (step < 0 || step > steps_)
    throw Error(d_.name + ": vision batcher step " + std::to_string(step) + " is outside 0.." +
                std::to_string(steps_));
  step_ = step;
}

const std::vector<uint32_t>& VisionBatcher::Order(int64_t epoch) const {
  const int slot = static_cast<int>(epoch & 1);
  if (cached_epoch_[slot] == epoch) return order_[slot];
  std::vector<uint32_t>& perm = order_[slot];
  perm.resize(static_cast<size_t>(n_));
  for (int64_t i = 0; i < n_; ++i) perm[i] = static_cast<uint32_t>(i);
  const uint64_t key = RngKey(o_.seed, StreamId("vision/order"), static_cast<uint64_t>(epoch));
  for (int64_t i = n_ - 1; i >= 1; --i) {
    // j uniform in 0..i; u < 1 makes floor(u*(i+1)) <= i, the min guards rounding of the product.
    const auto j = std::min<int64_t>(
        static_cast<int64_t>(UniformAt(key, static_cast<uint64_t>(i)) * static_cast<double>(i + 1)),
        i);
    std::swap(perm[i], perm[j]);
  }
  cached_epoch_[slot] = epoch;
  return perm;
}

std::vector<uint32_t> VisionBatcher::BatchImages(int64_t step) const {
  OT_CHECK(step >= 0 && step < steps_) << "vision batch " << step << " outside 0.." << steps_;
  std::vector<uint32_t> images(static_cast<size_t>(batch_));
  for (int64_t b = 0; b < batch_; ++b) {
    const int64_t s = step * batch_ + b;  // the sample's place in the stream
    images[b] = Order(s / n_)[static_cast<size_t>(s % n_)];
  }
  return images;
}

void VisionBatcher::Batch(int64_t step, std::span<float> pixels, std::span<int32_t> labels) const {
  const int64_t P = pixels_per_image();
  OT_CHECK(static_cast<int64_t>(pixels.size()) == batch_ * P &&
           static_cast<int64_t>(labels.size()) == batch_)
      << "VisionBatcher::Batch expects (B, rows*cols) pixels and (B) labels, B = " << batch_;
  const std::vector<uint32_t> images = BatchImages(step);
  for (int64_t b = 0; b < batch_; ++b) {
    const uint64_t epoch = static_cast<uint64_t>((step * batch_ + b) / n_);
    const uint32_t i = images[b];
    AugmentImage(o_.augment, o_.seed, i, 2 * epoch,
                 std::span(d_.images).subspan(static_cast<size_t>(i) * P, P), d_.rows, d_.cols,
                 o_.norm, pixels.subspan(b * P, P));
    labels[b] = d_.labels[i];
  }
}

void VisionBatcher::BatchViews(int64_t step, std::span<float> view_a, std::span<float> view_b,
                               std::span<int32_t> labels) const {
  const int64_t P = pixels_per_image();
  OT_CHECK(static_cast<int64_t>(view_a.size()) == batch_ * P &&
           static_cast<int64_t>(view_b.size()) == batch_ * P &&
           static_cast<int64_t>(labels.size()) == batch_)
      << "VisionBatcher::BatchViews expects two (B, rows*cols) views and (B) labels, B = "
      << batch_;
  const std::vector<uint32_t> images = BatchImages(step);
  for (int64_t b = 0; b < batch_; ++b) {
    const uint64_t epoch = static_cast<uint64_t>((step * batch_ + b) / n_);
    const uint32_t i = images[b];
    AugmentViews(o_.augment, o_.seed, i, epoch,
                 std::span(d_.images).subspan(static_cast<size_t>(i) * P, P), d_.rows, d_.cols,
                 o_.norm, view_a.subspan(b * P, P), view_b.subspan(b * P, P));
    labels[b] = d_.labels[i];
  }
}

bool VisionBatcher::Next(std::span<float> pixels, std::span<int32_t> labels) {
  if (step_ >= steps_) return false;
  Batch(step_++, pixels, labels);
  return true;
}

bool VisionBatcher::NextViews(std::span<float> view_a, std::span<float> view_b,
                              std::span<int32_t> labels) {
  if (step_ >= steps_) return false;
  BatchViews(step_++, view_a, view_b, labels);
  return true;
}

double VisionBatcher::Epochs() const {
  return static_cast<double>(images_seen()) / static_cast<double>(n_);
}

double VisionBatcher::BudgetEpochs() const {
  return static_cast<double>(steps_ * batch_) / static_cast<double>(n_);
}

}  // namespace ot::data
